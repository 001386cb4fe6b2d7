"""The Vision Transformer: patches, the patch embedding against a strided convolution, NumPy against PyTorch,
the digits, a short training run, the stored measurement, and the errors bad input gets."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from helpers import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st
from project import randomise
from torch import nn

from transformer_tutorial import results as stored
from transformer_tutorial.data.digits import confusion_matrix, load_digits
from transformer_tutorial.experiments import vit_digits
from transformer_tutorial.numpy import vision as np_vision
from transformer_tutorial.torch import vision as torch_vision
from transformer_tutorial.torch.attention import recorded_attention
from transformer_tutorial.torch.vision import (
    PatchEmbedding,
    VisionTransformer,
    train_classifier,
)


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: a second thread saves nothing, and on a busy machine its waiting costs seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reference_patches(images: np.ndarray, patch_size: int) -> np.ndarray:
    """Patches cut out one by one with slices, row by row, each flattened channel, row, column."""
    batch, _, height, width = images.shape
    rows = []
    for b in range(batch):
        patches = [
            images[b, :, r : r + patch_size, c : c + patch_size].reshape(-1)
            for r in range(0, height, patch_size)
            for c in range(0, width, patch_size)
        ]
        rows.append(np.stack(patches))
    return np.stack(rows)


SHAPES = [
    (2, 1, 8, 8, 4),
    (2, 1, 8, 8, 2),
    (3, 3, 6, 10, 2),
    (1, 2, 12, 4, 4),
    (1, 1, 5, 5, 1),
    (1, 1, 6, 6, 6),
]


@pytest.mark.parametrize(("batch", "channels", "height", "width", "patch_size"), SHAPES)
def test_patchify_cuts_the_patches_a_slice_at_a_time_would(
    batch, channels, height, width, patch_size
):
    images = np.random.default_rng(0).normal(size=(batch, channels, height, width))
    expected = reference_patches(images, patch_size)
    np.testing.assert_array_equal(np_vision.patchify(images, patch_size), expected)
    np.testing.assert_array_equal(
        torch_vision.patchify(torch.from_numpy(images), patch_size).numpy(), expected
    )


@pytest.mark.parametrize(("batch", "channels", "height", "width", "patch_size"), SHAPES)
def test_unpatchify_undoes_patchify_and_patchify_undoes_unpatchify(
    batch, channels, height, width, patch_size
):
    rng = np.random.default_rng(1)
    images = rng.normal(size=(batch, channels, height, width))
    np.testing.assert_array_equal(
        np_vision.unpatchify(
            np_vision.patchify(images, patch_size), patch_size, height, width
        ),
        images,
    )
    tensor = torch.from_numpy(images)
    back = torch_vision.unpatchify(
        torch_vision.patchify(tensor, patch_size), patch_size, height, width
    )
    assert torch.equal(back, tensor)
    patches = rng.normal(
        size=(
            batch,
            (height // patch_size) * (width // patch_size),
            channels * patch_size**2,
        )
    )
    again = np_vision.patchify(
        np_vision.unpatchify(patches, patch_size, height, width), patch_size
    )
    np.testing.assert_array_equal(again, patches)


@settings(max_examples=30, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 3),
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    patch_size=st.integers(1, 4),
)
def test_patching_round_trip_for_any_grid(batch, channels, rows, cols, patch_size):
    height, width = rows * patch_size, cols * patch_size
    images = np.arange(batch * channels * height * width, dtype=float).reshape(
        batch, channels, height, width
    )
    patches = np_vision.patchify(images, patch_size)
    assert patches.shape == (batch, rows * cols, channels * patch_size**2)
    assert sorted(patches.ravel()) == sorted(images.ravel())  # every pixel exactly once
    np.testing.assert_array_equal(
        np_vision.unpatchify(patches, patch_size, height, width), images
    )


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64], ids=["float32", "float64"]
)
@pytest.mark.parametrize(
    ("channels", "height", "width", "patch_size"),
    [(1, 8, 8, 4), (3, 8, 12, 4), (2, 6, 6, 2)],
)
def test_patch_embedding_is_a_convolution_with_kernel_and_stride_equal_to_the_patch(
    dtype, channels, height, width, patch_size
):
    torch.manual_seed(0)
    ours = PatchEmbedding(patch_size, channels, d_model=16).to(dtype)
    conv = nn.Conv2d(channels, 16, kernel_size=patch_size, stride=patch_size).to(dtype)
    with torch.no_grad():
        conv.weight.copy_(
            ours.linear.weight.reshape(16, channels, patch_size, patch_size)
        )
        conv.bias.copy_(ours.linear.bias)
    images = torch.randn(3, channels, height, width, dtype=dtype)
    # (B, D, rows, cols) -> (B, M, D), patches row by row
    expected = conv(images).flatten(2).transpose(1, 2)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    assert_close(ours(images), expected, tolerance)
    numpy_result = np_vision.patch_embedding(
        images.double().numpy(), ours.numpy_params()
    )
    np.testing.assert_allclose(
        numpy_result, expected.double().detach().numpy(), rtol=0, atol=tolerance
    )


def small_model(seed: int = 0, **overrides) -> VisionTransformer:
    torch.manual_seed(seed)
    options = {
        "image_size": (8, 12),
        "patch_size": 4,
        "num_classes": 5,
        "d_model": 12,
        "num_heads": 3,
    }
    options |= {"num_layers": 2, "d_ff": 20, "in_channels": 2} | overrides
    return randomise(VisionTransformer(**options), seed).double().eval()


def test_numpy_forward_equals_pytorch_in_float64():
    model = small_model()
    images = torch.randn(
        4, 2, 8, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        expected = model(images).numpy()
    ours = np_vision.vision_transformer(images.numpy(), model.numpy_params())
    assert ours.shape == (4, 5)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


def test_numpy_embedding_puts_the_class_token_first_and_adds_positions():
    model = small_model()
    params = model.numpy_params()
    images = np.random.default_rng(2).normal(size=(2, 2, 8, 12))
    embedded = np_vision.embed_image(images, params)
    assert embedded.shape == (2, 7, 12)
    np.testing.assert_allclose(
        embedded[:, 0],
        np.broadcast_to(params.class_token + params.positions[0], (2, 12)),
    )
    patches = (
        np_vision.patchify(images, 4) @ params.patch_embedding.weight
        + params.patch_embedding.bias
    )
    np.testing.assert_allclose(
        embedded[:, 1:], patches + params.positions[1:], rtol=0, atol=1e-14
    )
    with torch.no_grad():
        assert_close(model.embed_image(torch.from_numpy(images)), embedded, 1e-12)


def test_without_position_embeddings_the_model_cannot_tell_the_patches_apart():
    model = small_model(image_size=8, in_channels=1)
    images = torch.randn(
        3, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3)
    )
    swapped = images.clone()
    # patches (1, 2) <-> (3, 4)
    swapped[..., :4, :], swapped[..., 4:, :] = (
        images[..., 4:, :],
        images[..., :4, :],
    )
    with torch.no_grad():
        # learned positions tell them apart
        assert not torch.allclose(model(images), model(swapped), atol=1e-6)
        model.positions.table.weight.zero_()
        assert_close(model(images), model(swapped), 1e-12)  # attention alone cannot


def test_attention_weights_are_the_softmax_of_scaled_scores_of_each_layer():
    model = small_model(image_size=8, in_channels=1)
    images = torch.randn(
        2, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4)
    )
    with torch.no_grad(), recorded_attention(model) as records:
        model(images)
    maps = [records[f"layers.{i}.self_attention"][0] for i in range(2)]
    assert [tuple(m.shape) for m in maps] == [(2, 3, 5, 5)] * 2
    with torch.no_grad():
        first = model.layers[0]
        # pre-norm: attention reads the normalised input
        x = first.add_norm_1.norm(model.embed_image(images))
        attention = first.self_attention
        heads = [slice(h * 4, (h + 1) * 4) for h in range(3)]
        q, k = attention.q_proj(x), attention.k_proj(x)
        expected = torch.stack(
            [
                torch.softmax(q[..., s] @ k[..., s].mT / math.sqrt(4), dim=-1)
                for s in heads
            ],
            1,
        )
    assert_close(maps[0], expected, 1e-12)


def test_load_digits_splits_all_1797_images_once_and_scales_them_to_0_1():
    from sklearn.datasets import load_digits as sklearn_load_digits

    digits = load_digits()
    reference = sklearn_load_digits()
    assert digits.train_images.shape == (
        1347,
        1,
        8,
        8,
    ) and digits.test_images.shape == (450, 1, 8, 8)
    assert (
        digits.train_images.dtype == np.float32
        and digits.train_labels.dtype == np.int64
    )
    images = np.concatenate([digits.train_images, digits.test_images])[:, 0].reshape(
        1797, 64
    )
    labels = np.concatenate([digits.train_labels, digits.test_labels])
    order = np.lexsort(np.column_stack([images, labels]).T)
    expected = np.column_stack([reference.data / 16, reference.target])
    np.testing.assert_allclose(
        np.column_stack([images, labels])[order],
        expected[np.lexsort(expected.T)],
        atol=1e-7,
    )
    assert images.min() == 0 and images.max() == 1
    again = load_digits()
    # the split is seeded
    np.testing.assert_array_equal(again.test_labels, digits.test_labels)
    assert not np.array_equal(load_digits(seed=1).test_labels, digits.test_labels)


def test_confusion_matrix_counts_each_pair():
    rng = np.random.default_rng(5)
    labels, predictions = rng.integers(0, 10, 200), rng.integers(0, 10, 200)
    expected = np.zeros((10, 10), dtype=int)
    for label, prediction in zip(labels, predictions, strict=True):
        expected[label, prediction] += 1
    np.testing.assert_array_equal(confusion_matrix(labels, predictions), expected)


def test_the_learning_rate_warms_up_then_decays_to_zero():
    model = VisionTransformer(4, 2, 3, d_model=8, num_heads=2, num_layers=1, d_ff=8)
    images, labels = torch.rand(16, 1, 4, 4), torch.arange(16) % 3
    log = train_classifier(
        model, images, labels, epochs=5, batch_size=4, lr=0.01, warmup_fraction=0.2
    )
    assert len(log.losses) == 20 and not model.training
    # 4 warm-up steps
    np.testing.assert_allclose(log.learning_rates[:4], [0.0025, 0.005, 0.0075, 0.01])
    expected_after = [0.005 * (1 + math.cos(math.pi * step / 16)) for step in range(16)]
    np.testing.assert_allclose(log.learning_rates[4:], expected_after)


def test_a_short_training_run_beats_chance_by_a_wide_margin():
    results = vit_digits.train_and_test(vit_digits.QUICK, patch_size=4)
    assert results["accuracy"] > 0.6  # chance is 0.1; three epochs reach about 0.86
    assert results["epoch_losses"][-1] < results["epoch_losses"][0] < math.log(10) + 0.3
    confusion = np.array(results["confusion"])
    assert confusion.sum() == 450 and np.trace(confusion) == results["correct"]
    assert len(results["examples"]) == 10
    # layers × heads × positions
    attention = np.array(results["examples"][0]["class_attention"])
    assert attention.shape == (2, 4, 5)
    # each row of weights sums to one
    np.testing.assert_allclose(attention.sum(axis=-1), 1, atol=1e-3)


def test_the_stored_measurement_is_a_full_run_of_the_current_settings_and_meets_the_goal():
    results = stored.load("vit-digits")
    assert (
        results["schema"] == vit_digits.SCHEMA
        and results["schema_version"] == vit_digits.SCHEMA_VERSION
    )
    assert results["mode"] == "full" and results["command"].startswith(
        "python -m transformer_tutorial.experiments.vit_digits"
    )
    assert [run["settings"]["patch_size"] for run in results["runs"]] == list(
        vit_digits.FULL.patch_sizes
    )
    main = results["runs"][0]
    recorded = {
        key: value for key, value in main["settings"].items() if key != "patch_size"
    }
    expected = {
        key: value
        for key, value in dataclasses.asdict(vit_digits.FULL).items()
        if key != "patch_sizes"
    }
    assert recorded == expected
    for run in results["runs"]:
        confusion = np.array(run["confusion"])
        assert (
            confusion.shape == (10, 10)
            and confusion.sum() == results["data"]["test"] == 450
        )
        assert np.trace(confusion) == run["correct"]
        assert run["accuracy"] == round(run["correct"] / 450, 4)
    assert main["accuracy"] >= 0.95 and main["seconds"] < 60  # the goal of the page


# Bad input: one test per case, on both backends, with the message a reader sees.

BACKENDS = pytest.mark.parametrize(
    ("patchify", "unpatchify", "array"),
    [
        (np_vision.patchify, np_vision.unpatchify, np.zeros),
        (torch_vision.patchify, torch_vision.unpatchify, torch.zeros),
    ],
    ids=["numpy", "torch"],
)


@BACKENDS
def test_an_image_size_not_divisible_by_the_patch_size_is_refused(
    patchify, unpatchify, array
):
    with pytest.raises(
        ValueError,
        match=r"images has height 8 and width 6 \(shape \(2, 1, 8, 6\)\), not both divisible by patch_size=4",
    ):
        patchify(array((2, 1, 8, 6)), 4)


@BACKENDS
def test_images_without_the_channel_axis_are_refused(patchify, unpatchify, array):
    with pytest.raises(
        ValueError,
        match=r"images must have 4 dimensions \(B, C, height, width\), got shape \(2, 8, 8\)",
    ):
        patchify(array((2, 8, 8)), 4)


@BACKENDS
def test_a_patch_size_that_is_not_a_positive_int_is_refused(
    patchify, unpatchify, array
):
    with pytest.raises(TypeError, match=r"patch_size must be an int, got float 2\.0"):
        patchify(array((1, 1, 8, 8)), 2.0)
    with pytest.raises(ValueError, match="patch_size must be at least 1, got 0"):
        patchify(array((1, 1, 8, 8)), 0)


@BACKENDS
def test_unpatchify_refuses_patches_that_do_not_tile_the_image(
    patchify, unpatchify, array
):
    message = r"patches must have shape \(B, 4, C·4·4\) to tile a 8 × 8 image with patches of size 4, got \(1, 3, 16\)"
    with pytest.raises(ValueError, match=message):
        unpatchify(array((1, 3, 16)), 4, 8, 8)
    with pytest.raises(ValueError, match=r"got \(1, 4, 15\)"):
        unpatchify(array((1, 4, 15)), 4, 8, 8)
    with pytest.raises(
        ValueError, match="height=8 and width=6, not both divisible by patch_size=4"
    ):
        unpatchify(array((1, 4, 16)), 4, 8, 6)
    with pytest.raises(
        ValueError,
        match=r"patches must have 3 dimensions \(B, M, C·P·P\), got shape \(4, 16\)",
    ):
        unpatchify(array((4, 16)), 4, 8, 8)


def test_the_model_refuses_images_of_another_size():
    model = VisionTransformer(8, 4, 10, d_model=8, num_heads=2, num_layers=1, d_ff=8)
    with pytest.raises(
        ValueError,
        match=r"images must have shape \(B, C, height, width\) = \(B, 1, 8, 8\), got \(2, 1, 12, 12\)",
    ):
        model(torch.zeros(2, 1, 12, 12))
    with pytest.raises(
        ValueError,
        match=r"images must have 4 dimensions \(B, C, height, width\), got shape \(1, 8, 8\)",
    ):
        model(torch.zeros(1, 8, 8))
    params = model.numpy_params()
    with pytest.raises(
        ValueError,
        match="give 9 patches of size 4, but the position table has rows for 4",
    ):
        np_vision.vision_transformer(np.zeros((2, 1, 12, 12)), params)


def test_a_model_whose_image_does_not_split_into_patches_is_refused():
    with pytest.raises(
        ValueError, match="image_size 8 × 6, not both divisible by patch_size=4"
    ):
        VisionTransformer((8, 6), 4, 10, d_model=8, num_heads=2, num_layers=1, d_ff=8)
