"""The decoder-only (GPT-style) model: NumPy equals PyTorch, no position sees the future, the cache changes
nothing, weight tying, and temperature and top-k sampling as documented."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from project import randomise

from transformer_tutorial.config import DecoderOnlyConfig
from transformer_tutorial.numpy import decoder_only as np_decoder
from transformer_tutorial.torch.decoder_only import (
    DecoderOnly,
    evaluate_language_model,
    generate,
    language_model_loss,
    next_token_probabilities,
    sample_from,
    train_language_model,
)

SMALL = {
    "vocab_size": 11,
    "d_model": 16,
    "num_heads": 4,
    "num_layers": 2,
    "d_ff": 32,
    "max_len": 24,
}


def small_model(
    seed: int = 0, dtype: torch.dtype = torch.float64, **changes
) -> DecoderOnly:
    """A random model whose LayerNorm γ, β and biases are random too (ones and zeros would hide a mix-up)."""
    torch.manual_seed(seed)
    model = randomise(
        DecoderOnly(DecoderOnlyConfig(**{**SMALL, **changes})).to(dtype).eval(),
        norms_and_biases_only=True,
    )
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "embedding" in name or "positions" in name:
                # std 1 instead of 0.02, so that the logits are far from uniform
                parameter.mul_(50.0)
    return model


TOKENS = torch.tensor([[1, 5, 2, 9, 9, 0, 3, 7, 4, 10], [6, 6, 1, 0, 2, 8, 5, 3, 3, 1]])


def test_numpy_forward_equals_the_pytorch_model():
    model = small_model()
    with torch.no_grad():
        expected = model(TOKENS).numpy()
    logits = np_decoder.decoder_only(TOKENS.numpy(), model.numpy_params())
    assert logits.shape == (2, 10, SMALL["vocab_size"])
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-10)


def test_the_output_layer_is_the_token_embedding():
    model = small_model()
    assert model.output.weight is model.token_embedding.weight
    # a shared Parameter is listed once
    counted = sum(parameter.numel() for parameter in model.parameters())
    v, d, f, n, t = (
        SMALL[key] for key in ("vocab_size", "d_model", "d_ff", "num_layers", "max_len")
    )
    # attention, feed-forward, two norms
    per_layer = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 2 * 2 * d
    # the (V, D) matrix once; no separate output layer
    assert counted == v * d + t * d + n * per_layer + 2 * d


@settings(max_examples=8, deadline=None)
@given(cut=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_no_position_sees_the_future(cut, seed):
    """Changing the tokens from position ``cut`` on leaves every earlier position's logits exactly as they were."""
    model = small_model()
    rng = np.random.default_rng(seed)
    changed = TOKENS.clone()
    changed[:, cut:] = torch.from_numpy(
        rng.integers(0, SMALL["vocab_size"], size=(2, 10 - cut))
    )
    # at least one token really changes
    changed[:, cut] = (TOKENS[:, cut] + 1) % SMALL["vocab_size"]
    with torch.no_grad():
        before, after = model(TOKENS), model(changed)
    torch.testing.assert_close(after[:, :cut], before[:, :cut], rtol=0, atol=1e-12)
    # the changed position itself does see it
    assert (after[:, cut] - before[:, cut]).abs().max() > 1e-3
    params = model.numpy_params()
    np_before = np_decoder.decoder_only(TOKENS.numpy(), params)
    np_after = np_decoder.decoder_only(changed.numpy(), params)
    np.testing.assert_allclose(
        np_after[:, :cut], np_before[:, :cut], rtol=0, atol=1e-12
    )


def test_one_pass_gives_every_prefix_its_own_prediction():
    """Position t of the full pass equals the last position of a pass over tokens 0 … t alone."""
    model = small_model()
    with torch.no_grad():
        full = model(TOKENS)
        for t in range(TOKENS.shape[1]):
            torch.testing.assert_close(
                model(TOKENS[:, : t + 1])[:, -1], full[:, t], rtol=0, atol=1e-12
            )


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64], ids=["float32", "float64"]
)
def test_the_cache_gives_the_logits_of_the_full_pass(dtype):
    model = small_model(dtype=dtype)
    cache = model.new_cache()
    with torch.no_grad():
        full = model(TOKENS)
        # a prompt of four tokens, then one token at a time
        pieces = [model(TOKENS[:, :4], cache)]
        for t in range(4, TOKENS.shape[1]):
            pieces.append(model(TOKENS[:, t : t + 1], cache))
    assert len(cache[0]) == TOKENS.shape[1]
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=0, atol=tolerance)


@pytest.mark.parametrize(
    "sampling", [{}, {"temperature": 0.7}, {"temperature": 1.5, "top_k": 4}]
)
def test_cached_sampling_equals_uncached_sampling(sampling):
    model = small_model(dtype=torch.float32)
    prompt = TOKENS[:, :3]
    with_cache = generate(
        prompt, model, 20, torch.Generator().manual_seed(3), use_cache=True, **sampling
    )
    without = generate(
        prompt, model, 20, torch.Generator().manual_seed(3), use_cache=False, **sampling
    )
    assert with_cache.shape == (2, 23)
    assert torch.equal(with_cache[:, :3], prompt)
    assert torch.equal(with_cache, without)
    other_seed = generate(
        prompt, model, 20, torch.Generator().manual_seed(4), **sampling
    )
    # the tokens really are drawn at random
    assert not torch.equal(other_seed, with_cache)


def greedy(model: DecoderOnly, prompt: torch.Tensor, steps: int) -> torch.Tensor:
    """Greedy decoding written independently: the argmax of the full pass, one step at a time."""
    tokens = prompt
    with torch.no_grad():
        for _ in range(steps):
            tokens = torch.cat(
                [tokens, model(tokens)[:, -1].argmax(dim=-1, keepdim=True)], dim=1
            )
    return tokens


def test_top_k_1_and_a_tiny_temperature_are_greedy_decoding():
    model = small_model(dtype=torch.float32)
    prompt = TOKENS[:, :2]
    expected = greedy(model, prompt, 15)
    assert torch.equal(
        generate(prompt, model, 15, torch.Generator().manual_seed(0), top_k=1), expected
    )
    assert torch.equal(
        generate(prompt, model, 15, torch.Generator().manual_seed(0), temperature=1e-4),
        expected,
    )


def test_numpy_sampling_is_greedy_with_top_k_1_too():
    model = small_model()
    expected = greedy(model, TOKENS[:, :2], 10).numpy()
    tokens = np_decoder.generate(
        TOKENS[:, :2].numpy(),
        model.numpy_params(),
        10,
        np.random.default_rng(0),
        top_k=1,
    )
    np.testing.assert_array_equal(tokens, expected)


LOGITS = np.array(
    [
        [1.3, -0.2, 2.9, 0.4, 2.1, -1.7, 0.0, 1.1],
        [0.5, 0.6, -0.3, 3.0, 1.9, 1.0, -2.0, 0.2],
    ]
)


def reference_distribution(
    logits: np.ndarray, temperature: float, top_k: int | None
) -> np.ndarray:
    """softmax(logits / T) over the k largest entries, from the formula (no ties in LOGITS)."""
    scaled = np.exp(
        logits / temperature - (logits / temperature).max(axis=-1, keepdims=True)
    )
    if top_k is not None:
        ranks = np.argsort(np.argsort(-logits, axis=-1), axis=-1)  # 0 for the largest
        scaled = np.where(ranks < top_k, scaled, 0.0)
    return scaled / scaled.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize(
    ("temperature", "top_k"),
    [(1.0, None), (0.5, None), (3.0, None), (1.0, 3), (0.7, 1), (2.0, 8)],
)
def test_next_token_probabilities_follow_the_formula(temperature, top_k):
    expected = reference_distribution(LOGITS, temperature, top_k)
    np.testing.assert_allclose(
        next_token_probabilities_np(temperature, top_k), expected, rtol=0, atol=1e-15
    )
    ours = next_token_probabilities(
        torch.from_numpy(LOGITS), temperature, top_k
    ).numpy()
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-15)
    if top_k is not None:
        assert ((ours > 0).sum(axis=-1) == top_k).all()


def next_token_probabilities_np(temperature: float, top_k: int | None) -> np.ndarray:
    return np_decoder.next_token_probabilities(LOGITS, temperature, top_k)


def test_temperature_sharpens_towards_greedy_and_flattens_towards_uniform():
    best = LOGITS.argmax(axis=-1)
    peaks = [
        next_token_probabilities_np(t, None)[[0, 1], best]
        for t in (4.0, 1.0, 0.5, 0.1, 0.01)
    ]
    assert all((later > earlier).all() for earlier, later in itertools.pairwise(peaks))
    one_hot = np.eye(LOGITS.shape[1])[best]
    np.testing.assert_allclose(
        next_token_probabilities_np(1e-3, None), one_hot, rtol=0, atol=1e-12
    )
    uniform = np.full(LOGITS.shape, 1 / LOGITS.shape[1])
    np.testing.assert_allclose(
        next_token_probabilities_np(1e6, None), uniform, rtol=0, atol=1e-6
    )


def test_top_k_keeps_entries_tied_with_the_kth():
    probabilities = np_decoder.next_token_probabilities(
        np.array([1.0, 3.0, 3.0, 0.0]), top_k=1
    )
    np.testing.assert_allclose(probabilities, [0.0, 0.5, 0.5, 0.0])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_draws_follow_the_distribution(backend):
    """20 000 draws from softmax(logits / 0.8) over the top 5 of 8 logits.

    Each observed frequency must lie within 5 standard errors, sqrt(p (1 - p) / n), of its probability: for a
    correct sampler one category falls outside with probability about 6e-7, so 5 of them about 3e-6 (the seed is
    fixed, so the test is repeatable anyway). A sampler that ignored the temperature would be off by 0.02 to 0.06
    in several categories, 7 to 20 standard errors. Categories outside the top 5 must never be drawn.
    """
    n = 20_000
    expected = reference_distribution(LOGITS[0], 0.8, 5)
    if backend == "numpy":
        probabilities = np.broadcast_to(
            np_decoder.next_token_probabilities(LOGITS[0], 0.8, 5), (n, 8)
        )
        draws = np_decoder.sample_from(probabilities, np.random.default_rng(0))
    else:
        probabilities = next_token_probabilities(
            torch.from_numpy(LOGITS[0]), 0.8, 5
        ).expand(n, 8)
        draws = sample_from(probabilities, torch.Generator().manual_seed(0)).numpy()
    frequencies = np.bincount(draws, minlength=8) / n
    assert (frequencies[expected == 0] == 0).all()
    standard_error = np.sqrt(expected * (1 - expected) / n)
    assert (np.abs(frequencies - expected) <= 5 * standard_error).all(), (
        frequencies,
        expected,
    )
    untempered = reference_distribution(LOGITS[0], 1.0, 5)
    # the test can tell the difference
    assert (np.abs(frequencies - untempered) > 5 * standard_error).sum() >= 3


def test_sample_from_never_draws_an_entry_of_probability_zero():
    probabilities = torch.tensor([[0.0, 0.5, 0.0, 0.5, 0.0]]).expand(5000, 5)
    draws = sample_from(probabilities, torch.Generator().manual_seed(1))
    assert set(draws.tolist()) == {1, 3}


def test_an_untrained_model_starts_at_the_uniform_baseline():
    """Embeddings of standard deviation 0.02, tied to the output, give near-zero logits: a loss of ln V."""
    torch.manual_seed(0)
    model = DecoderOnly(DecoderOnlyConfig(vocab_size=40, max_len=16))
    windows = torch.randint(0, 40, (8, 17), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert abs(language_model_loss(model, windows).item() - math.log(40)) < 0.02


def test_training_learns_a_repeating_text():
    # 0 1 2 3 4 0 1 2 …: each token determines the next one
    ids = np.tile(np.arange(5), 60)
    torch.manual_seed(0)
    model = DecoderOnly(
        DecoderOnlyConfig(
            vocab_size=5, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=8
        )
    )
    before = evaluate_language_model(model, ids)
    losses = train_language_model(
        model, ids, steps=25, batch_size=8, learning_rate=2e-2
    )
    after = evaluate_language_model(model, ids)
    assert len(losses) == 25 and not model.training
    assert before > math.log(5) - 0.05 and after < 0.1 * before


def test_generate_refuses_to_run_past_the_position_table():
    model = small_model(dtype=torch.float32)
    with pytest.raises(
        ValueError,
        match=r"prompt of 20 tokens plus max_new_tokens=5 is more than .* max_len=24",
    ):
        generate(torch.zeros(1, 20, dtype=torch.int64), model, 5)
    with pytest.raises(ValueError, match=r"plus max_new_tokens=5 is more than"):
        np_decoder.generate(
            np.zeros((1, 20), dtype=np.int64),
            model.numpy_params(),
            5,
            np.random.default_rng(0),
        )


def test_the_cache_refuses_positions_past_the_table():
    model = small_model(dtype=torch.float32)
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(1, 20, dtype=torch.int64), cache)
        with pytest.raises(
            ValueError,
            match="5 new positions after the 20 cached ones are more than max_len=24",
        ):
            model(torch.zeros(1, 5, dtype=torch.int64), cache)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"temperature": 0.0},
            ValueError,
            "temperature must be a finite number above 0, got 0.0",
        ),
        (
            {"temperature": -1.0},
            ValueError,
            "temperature must be a finite number above 0",
        ),
        ({"top_k": 0}, ValueError, "top_k must be at least 1, got 0"),
        ({"top_k": 9}, ValueError, "top_k=9 is more than the 8 entries of logits"),
        ({"top_k": 2.0}, TypeError, "top_k must be an int, got float 2.0"),
    ],
)
def test_bad_sampling_settings_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        np_decoder.next_token_probabilities(LOGITS, **kwargs)
    with pytest.raises(error, match=message):
        next_token_probabilities(torch.from_numpy(LOGITS), **kwargs)


def test_tokens_outside_the_vocabulary_are_refused():
    model = small_model()
    with pytest.raises(
        ValueError,
        match=r"tokens holds ids from 0 to 11, outside the vocabulary \[0, 11\)",
    ):
        model(torch.tensor([[0, 11]]))
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 11\)"):
        np_decoder.decoder_only(np.array([[0, 11]]), model.numpy_params())


def test_the_config_checks_its_sizes():
    with pytest.raises(ValueError, match="d_model=10 is not divisible by num_heads=4"):
        DecoderOnlyConfig(vocab_size=5, d_model=10, num_heads=4)
    with pytest.raises(ValueError, match="dropout must be in"):
        DecoderOnlyConfig(vocab_size=5, dropout=1.0)
