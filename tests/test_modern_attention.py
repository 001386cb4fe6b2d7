"""Grouped-query attention, tiled attention and sliding windows, against PyTorch's fused kernel and our own
explicit attention."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transformer_tutorial.numpy import attention as np_attention
from transformer_tutorial.numpy import masks as np_masks
from transformer_tutorial.numpy import modern as np_modern
from transformer_tutorial.torch import modern
from transformer_tutorial.torch.attention import KeyValueCache, MultiHeadAttention
from transformer_tutorial.torch.masks import causal_mask, padding_mask

RNG = np.random.default_rng(17)


def heads(batch, num_heads, length, width, dtype=torch.float64, seed=0):
    return torch.randn(
        batch,
        num_heads,
        length,
        width,
        generator=torch.Generator().manual_seed(seed),
        dtype=dtype,
    )


def reference_gqa(q, k, v, mask=None):
    """The fused kernel with enable_gqa=True (PyTorch 2.5+)."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)


@pytest.mark.parametrize("num_kv_heads", [1, 2, 3, 6])
@pytest.mark.parametrize(
    ("dtype", "tolerance"), [(torch.float32, 2e-6), (torch.float64, 1e-13)]
)
def test_grouped_query_attention_equals_pytorch_enable_gqa(
    num_kv_heads, dtype, tolerance
):
    q, k, v = (
        heads(2, 6, 5, 8, dtype, 1),
        heads(2, num_kv_heads, 7, 8, dtype, 2),
        heads(2, num_kv_heads, 7, 4, dtype, 3),
    )
    # (B,1,1,S)
    pad = padding_mask(
        torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]]), pad_id=0
    )[:, None]
    for mask in (None, causal_mask(5, 7), pad, pad & causal_mask(5, 7)):
        ours, weights = modern.grouped_query_attention(q, k, v, mask)
        expected = reference_gqa(q, k, v, mask)
        assert ours.shape == (2, 6, 5, 4) and weights.shape == (2, 6, 5, 7)
        torch.testing.assert_close(ours, expected, rtol=0, atol=tolerance)
        numpy_out, numpy_weights = np_modern.grouped_query_attention(
            q.double().numpy(),
            k.double().numpy(),
            v.double().numpy(),
            None if mask is None else mask.numpy(),
        )
        np.testing.assert_allclose(
            numpy_out, expected.double().numpy(), rtol=0, atol=10 * tolerance
        )
        np.testing.assert_allclose(
            numpy_weights, weights.double().numpy(), rtol=0, atol=10 * tolerance
        )


def test_query_head_h_reads_key_value_head_h_over_group_size():
    """A per-head mask (B, H, T, S) follows each query head; head h's weights depend only on kv head h // (H/G)."""
    q, k, v = heads(1, 4, 3, 8), heads(1, 2, 5, 8, seed=1), heads(1, 2, 5, 8, seed=2)
    _, weights = modern.grouped_query_attention(q, k, v)
    for h in range(4):
        _, single = np_attention.scaled_dot_product_attention(
            q[0, h].numpy(), k[0, h // 2].numpy(), v[0, h // 2].numpy()
        )
        np.testing.assert_allclose(weights[0, h].numpy(), single, rtol=0, atol=1e-14)
    per_head = torch.rand(1, 4, 3, 5, generator=torch.Generator().manual_seed(3)) > 0.4
    torch.testing.assert_close(
        modern.grouped_query_attention(q, k, v, per_head)[0],
        reference_gqa(q, k, v, per_head),
    )


def test_a_fully_masked_row_gives_zeros_not_nan():
    q, k, v = heads(1, 4, 2, 8), heads(1, 1, 3, 8, seed=1), heads(1, 1, 3, 8, seed=2)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    out, weights = modern.grouped_query_attention(q, k, v, mask)
    assert torch.equal(out[:, :, 1], torch.zeros(1, 4, 8)) and torch.equal(
        weights[:, :, 1], torch.zeros(1, 4, 3)
    )
    np_out, _ = np_modern.grouped_query_attention(
        q.numpy(), k.numpy(), v.numpy(), mask.numpy()
    )
    assert not np.isnan(np_out).any() and (np_out[:, :, 1] == 0).all()


def test_the_module_with_g_equal_h_is_our_multi_head_attention():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).double().eval()
    gqa = modern.GroupedQueryAttention.from_multi_head(mha).eval()
    x, memory = (
        torch.randn(2, 5, 16, dtype=torch.float64),
        torch.randn(2, 7, 16, dtype=torch.float64),
    )
    mask = padding_mask(torch.tensor([[1] * 7, [1, 1, 1, 0, 0, 0, 0]]), pad_id=0)
    for fused in (False, True):
        ours, ours_weights = gqa(x, memory, memory, mask, fused=fused)
        mha.fused = fused
        theirs, theirs_weights = mha(x, memory, memory, mask)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-14)
        if not fused:
            torch.testing.assert_close(ours_weights, theirs_weights, rtol=0, atol=1e-15)
    numpy_out, _ = np_modern.grouped_query_attention_layer(
        x.numpy(),
        memory.numpy(),
        memory.numpy(),
        np_modern.GroupedQueryAttentionParams.from_multi_head(mha.numpy_params()),
        mask.numpy(),
    )
    expected, _ = np_attention.multi_head_attention(
        x.numpy(), memory.numpy(), memory.numpy(), mha.numpy_params(), mask.numpy()
    )
    np.testing.assert_allclose(numpy_out, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("rope", [False, True])
def test_numpy_and_pytorch_layers_agree_and_the_paths_agree(rope):
    torch.manual_seed(1)
    layer = modern.GroupedQueryAttention(24, 6, 2, rope=rope).double().eval()
    x = torch.randn(2, 6, 24, dtype=torch.float64)
    mask = causal_mask(6)
    with torch.no_grad():
        explicit, weights = layer(x, x, x, mask)
        fused, none = layer(x, x, x, mask, fused=True)
    # G·d = 2·4 rows: three times fewer than D
    assert none is None and layer.k_proj.weight.shape == (
        8,
        24,
    )
    torch.testing.assert_close(fused, explicit, rtol=0, atol=1e-14)
    numpy_out, numpy_weights = np_modern.grouped_query_attention_layer(
        x.numpy(), x.numpy(), x.numpy(), layer.numpy_params(), mask.numpy(), rope=rope
    )
    np.testing.assert_allclose(numpy_out, explicit.numpy(), rtol=0, atol=1e-13)
    np.testing.assert_allclose(numpy_weights, weights.numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("rope", [False, True])
def test_the_cache_holds_g_heads_and_gives_the_same_outputs(rope):
    torch.manual_seed(2)
    layer = modern.GroupedQueryAttention(16, 4, 2, rope=rope).double().eval()
    x = torch.randn(1, 6, 16, dtype=torch.float64)
    full, _ = layer(x, x, x, causal_mask(6))
    cache = KeyValueCache()
    steps = [layer(x[:, :2], x[:, :2], x[:, :2], causal_mask(2), cache=cache)[0]]
    for t in range(2, 6):
        steps.append(
            layer(
                x[:, t : t + 1],
                x[:, t : t + 1],
                x[:, t : t + 1],
                causal_mask(1, t + 1),
                cache=cache,
            )[0]
        )
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0, atol=1e-14)
    assert cache.keys.shape == (1, 2, 6, 4) and cache.values.shape == (1, 2, 6, 4)


def test_errors_name_the_heads():
    with pytest.raises(ValueError, match="num_kv_heads=3 does not divide num_heads=8"):
        modern.GroupedQueryAttention(32, 8, 3)
    with pytest.raises(ValueError, match=r"num_kv_heads=3 does not divide num_heads=4"):
        np_modern.GroupedQueryAttentionParams(
            *(np.zeros(s) for s in [(8, 8), (8, 6), (8, 6), (8, 8), 8, 6, 6, 8]), 4, 3
        )
    q, k = heads(1, 4, 2, 8), heads(1, 3, 2, 8)
    message = (
        r"key has 3 heads, which does not divide the 4 heads of query "
        r"\(shapes \(1, 4, 2, 8\) and \(1, 3, 2, 8\)\)"
    )
    with pytest.raises(ValueError, match=message):
        modern.grouped_query_attention(q, k, k)
    with pytest.raises(ValueError, match=message):
        np_modern.grouped_query_attention(q.numpy(), k.numpy(), k.numpy())
    with pytest.raises(
        ValueError,
        match=r"query must have 4 dimensions \(B, H, T, d_k\), got shape \(4, 2, 8\)",
    ):
        modern.grouped_query_attention(q[0], k, k)


# Tiled attention: equal to the explicit softmax(QKᵀ/√d)V for every block size, in float64.

LENGTH, KEYS = 7, 11
Q, K, V = (
    RNG.normal(size=(2, 3, LENGTH, 8)),
    RNG.normal(size=(2, 3, KEYS, 8)),
    RNG.normal(size=(2, 3, KEYS, 5)),
)
PADDING = np_masks.padding_mask(
    np.array([[1] * KEYS, [1] * 4 + [0] * (KEYS - 4)]), pad_id=0
)[:, None]
FULLY_MASKED = np.ones((LENGTH, KEYS), dtype=bool)
FULLY_MASKED[2] = False  # query 2 may attend to nothing
MASKS = {
    "none": None,
    "causal": np_masks.causal_mask(LENGTH, KEYS),
    "padding": PADDING,
    "padding and causal": PADDING & np_masks.causal_mask(LENGTH, KEYS),
    "sliding window": np_modern.sliding_window_mask(LENGTH, 3, KEYS),
    "a fully masked row": FULLY_MASKED,
}


@pytest.mark.parametrize("mask_name", list(MASKS))
def test_tiled_attention_equals_explicit_attention_for_every_block_size(mask_name):
    mask = MASKS[mask_name]
    expected, _ = np_attention.scaled_dot_product_attention(Q, K, V, mask)
    torch_mask = None if mask is None else torch.from_numpy(mask)
    # 1 … S: most leave a partial last block of queries or keys
    for block_size in range(1, KEYS + 1):
        ours = np_modern.tiled_attention(Q, K, V, mask, block_size)
        np.testing.assert_allclose(
            ours, expected, rtol=0, atol=1e-12, err_msg=f"block_size={block_size}"
        )
        theirs = modern.tiled_attention(
            torch.from_numpy(Q),
            torch.from_numpy(K),
            torch.from_numpy(V),
            torch_mask,
            block_size,
        )
        np.testing.assert_allclose(
            theirs.numpy(),
            expected,
            rtol=0,
            atol=1e-12,
            err_msg=f"block_size={block_size}",
        )
    if mask_name == "a fully masked row":
        assert (ours[:, :, 2] == 0).all() and not np.isnan(ours).any()


def test_tiled_attention_equals_the_fused_kernel_and_survives_large_scores():
    q, k, v = (torch.from_numpy(a) for a in (Q, K, V))
    mask = torch.from_numpy(MASKS["padding and causal"])
    fused = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(
        modern.tiled_attention(q, k, v, mask, block_size=4), fused, rtol=0, atol=1e-12
    )
    # scores in the thousands: exp would overflow
    big = np_modern.tiled_attention(1000 * Q, K, V, block_size=3)
    np.testing.assert_allclose(
        big,
        np_attention.scaled_dot_product_attention(1000 * Q, K, V)[0],
        rtol=0,
        atol=1e-12,
    )


def test_tiled_attention_rejects_a_bad_block_size_and_mask():
    with pytest.raises(ValueError, match="block_size must be at least 1, got 0"):
        np_modern.tiled_attention(Q, K, V, block_size=0)
    with pytest.raises(TypeError, match="block_size must be an int"):
        modern.tiled_attention(
            torch.from_numpy(Q),
            torch.from_numpy(K),
            torch.from_numpy(V),
            block_size=2.0,
        )
    with pytest.raises(ValueError, match="mask has shape"):
        np_modern.tiled_attention(Q, K, V, np.ones((KEYS, LENGTH), dtype=bool))


# Sliding windows.


@pytest.mark.parametrize("length", [1, 5, 9])
def test_a_window_as_long_as_the_sequence_is_the_causal_mask(length):
    for window in (length, length + 3):
        assert (
            np_modern.sliding_window_mask(length, window)
            == np_masks.causal_mask(length)
        ).all()
        assert torch.equal(
            modern.sliding_window_mask(length, window), causal_mask(length)
        )


def test_a_window_of_one_attends_only_to_itself():
    assert (np_modern.sliding_window_mask(6, 1) == np.eye(6, dtype=bool)).all()
    # two new queries after three cached positions
    cached = modern.sliding_window_mask(2, 1, key_length=5)
    assert torch.equal(
        cached, torch.tensor([[0, 0, 0, 1, 0], [0, 0, 0, 0, 1]], dtype=torch.bool)
    )


def test_each_row_sees_the_last_w_positions_and_the_backends_agree():
    mask = np_modern.sliding_window_mask(12, 4)
    # the first rows have fewer than w positions to see
    assert mask.sum() == 4 * 12 - (1 + 2 + 3)
    for t in range(12):
        assert np.flatnonzero(mask[t]).tolist() == list(range(max(0, t - 3), t + 1))
    assert (
        modern.sliding_window_mask(3, 4, key_length=12).numpy()
        == np_modern.sliding_window_mask(3, 4, 12)
    ).all()


@pytest.mark.parametrize(("window", "layers"), [(2, 1), (3, 2), (4, 3)])
def test_the_receptive_field_grows_by_w_minus_1_positions_per_layer(window, layers):
    """Stacking layers composes the masks: position t reaches back (w - 1) positions per layer."""
    mask = np_modern.sliding_window_mask(16, window).astype(int)
    reach = np.linalg.matrix_power(mask, layers) > 0
    for t in range(16):
        assert np.flatnonzero(reach[t]).min() == max(0, t - layers * (window - 1))


def test_sliding_window_errors():
    with pytest.raises(ValueError, match="window must be at least 1, got 0"):
        np_modern.sliding_window_mask(4, 0)
    with pytest.raises(TypeError, match="window must be an int"):
        modern.sliding_window_mask(4, 2.5)
