"""Multi-head latent attention: the absorbed form equals the expanded one, a cached pass equals a full one, MLA
with identity-like factors is multi-head attention (ours, nn.MultiheadAttention and the fused kernel), NumPy
equals PyTorch, and RoPE applied to the keys that come out of the latent breaks absorption, by a measured
amount. Then the cache cost function against the package's own caches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transformer_tutorial.costs import PUBLISHED, kv_cache_bytes_per_token
from transformer_tutorial.numpy import attention as np_attention
from transformer_tutorial.numpy import latent as np_latent
from transformer_tutorial.numpy import masks as np_masks
from transformer_tutorial.numpy.relative import rotary_embedding as np_rope
from transformer_tutorial.torch import latent as torch_latent
from transformer_tutorial.torch.attention import KeyValueCache
from transformer_tutorial.torch.modern import GroupedQueryAttention

D, H, D_H, D_R, D_C, D_Q = 32, 4, 8, 4, 12, 20
T = 7

# The tolerances of float32: the inputs and weights are of order 1, so rounding leaves a few ulp (1.2e-7) of
# each output; 1e-5 is far below any real difference (the RoPE failure below is of order 1).
FLOAT32_TOLERANCE = 1e-5


def masks() -> dict[str, np.ndarray | None]:
    causal = np_masks.causal_mask(T)
    padding = np.ones((2, 1, T), dtype=bool)
    padding[1, :, 4:] = False  # the second sequence has 4 real tokens
    both = causal[None] & padding
    one_row_empty = causal.copy()
    one_row_empty[2] = False
    return {
        "none": None,
        "causal": causal,
        "padding": padding,
        "causal+padding": both,
        "empty row": one_row_empty,
    }


def inputs(dtype=np.float64, seed: int = 0):
    params = np_latent.LatentAttentionParams.random(D, H, D_H, D_R, D_C, D_Q, seed=seed)
    x = np.random.default_rng(seed + 100).normal(size=(2, T, D))
    return params, x.astype(dtype)


def cast(
    params: np_latent.LatentAttentionParams, dtype
) -> np_latent.LatentAttentionParams:
    arrays = {k: v.astype(dtype) for k, v in vars(params).items() if k != "num_heads"}
    return np_latent.LatentAttentionParams(**arrays, num_heads=params.num_heads)


def module_like(params: np_latent.LatentAttentionParams, dtype=torch.float64):
    d_c, d_q = params.w_dkv.shape[1], params.w_dq.shape[1]
    module = torch_latent.MultiHeadLatentAttention(D, H, D_H, D_R, d_c, d_q).to(dtype)
    names = (
        "q_down",
        "q_up",
        "q_rope",
        "kv_down",
        "k_up",
        "v_up",
        "k_rope",
        "out_proj",
    )
    weights = (
        params.w_dq, params.w_uq, params.w_qr, params.w_dkv,
        params.w_uk, params.w_uv, params.w_kr, params.w_o,
    )  # fmt: skip
    with torch.no_grad():
        for name, weight in zip(names, weights, strict=True):
            getattr(module, name).weight.copy_(torch.from_numpy(weight.T))
    return module


@pytest.mark.parametrize("mask_name", list(masks()))
def test_absorbed_equals_expanded_in_float64(mask_name):
    params, x = inputs()
    mask = masks()[mask_name]
    expanded, w_expanded = np_latent.multi_head_latent_attention(x, params, mask)
    absorbed, w_absorbed = np_latent.multi_head_latent_attention(
        x, params, mask, absorb=True
    )
    assert np.abs(absorbed - expanded).max() < 1e-12
    assert np.abs(w_absorbed - w_expanded).max() < 1e-12
    module = module_like(params)
    t_mask = None if mask is None else torch.from_numpy(mask)
    with torch.no_grad():
        t_expanded, _ = module(torch.from_numpy(x), t_mask)
        t_absorbed, _ = module(torch.from_numpy(x), t_mask, absorb=True)
    assert (t_absorbed - t_expanded).abs().max() < 1e-12
    # NumPy = PyTorch, with the same weights
    assert np.abs(t_expanded.numpy() - expanded).max() < 1e-12
    assert np.abs(t_absorbed.numpy() - absorbed).max() < 1e-12


@pytest.mark.parametrize("mask_name", list(masks()))
def test_absorbed_equals_expanded_in_float32(mask_name):
    params, x = inputs()
    mask = masks()[mask_name]
    reference, _ = np_latent.multi_head_latent_attention(x, params, mask)
    p32, x32 = cast(params, np.float32), x.astype(np.float32)
    for absorb in (False, True):
        out, _ = np_latent.multi_head_latent_attention(x32, p32, mask, absorb=absorb)
        assert out.dtype == np.float32
        assert np.abs(out - reference).max() < FLOAT32_TOLERANCE
    module = module_like(params, torch.float32)
    t_mask = None if mask is None else torch.from_numpy(mask)
    with torch.no_grad():
        for absorb in (False, True):
            out, _ = module(torch.from_numpy(x32), t_mask, absorb=absorb)
            assert np.abs(out.double().numpy() - reference).max() < FLOAT32_TOLERANCE


def test_a_fully_masked_row_gives_zeros_on_both_paths():
    params, x = inputs()
    mask = masks()["empty row"]
    for absorb in (False, True):
        out, weights = np_latent.multi_head_latent_attention(
            x, params, mask, absorb=absorb
        )
        assert np.all(weights[:, :, 2] == 0) and np.all(out[:, 2] == 0)
        assert not np.isnan(out).any()


@pytest.mark.parametrize("absorb", [False, True])
def test_the_cached_steps_equal_the_full_pass(absorb):
    params, x = inputs()
    full, _ = np_latent.multi_head_latent_attention(x, params, np_masks.causal_mask(T))
    cache = np_latent.LatentCache()
    first, _ = np_latent.multi_head_latent_attention(
        x[:, :3], params, np_masks.causal_mask(3), cache, absorb
    )
    steps = [first] + [
        np_latent.multi_head_latent_attention(
            x[:, t : t + 1], params, None, cache, absorb
        )[0]
        for t in range(3, T)
    ]
    assert np.abs(np.concatenate(steps, axis=1) - full).max() < 1e-12
    # the cache holds d_c + d_R numbers per token, nothing else
    assert cache.latents.shape == (2, T, D_C) and cache.rotated_keys.shape == (
        2,
        T,
        D_R,
    )
    module = module_like(params)
    t_cache = torch_latent.LatentCache()
    with torch.no_grad():
        t_steps = [
            module(torch.from_numpy(x[:, t : t + 1]), None, t_cache, absorb)[0]
            for t in range(T)
        ]
    assert np.abs(torch.cat(t_steps, dim=1).numpy() - full).max() < 1e-12


def multi_head_as_latent(seed: int = 3):
    """MLA weights that make it multi-head attention: d_c = d_q = H·d_h = D, W^DKV = W^DQ = I, W^QR = 0."""
    rng = np.random.default_rng(seed)
    w_q, w_k, w_v, w_o = (rng.normal(size=(D, D)) / math.sqrt(D) for _ in range(4))
    identity = np.eye(D)
    # The scores are divided by √(d_h + d_R); scaling the queries by √((d_h + d_R) / d_h) leaves √d_h.
    stretch = math.sqrt((D_H + D_R) / D_H)
    latent = np_latent.LatentAttentionParams(
        w_dq=identity,
        w_uq=w_q * stretch,
        w_qr=np.zeros((D, H * D_R)),  # no rotated part in the scores
        w_dkv=identity,
        w_uk=w_k,
        w_uv=w_v,
        w_kr=rng.normal(size=(D, D_R)),  # any: the zero queries ignore it
        w_o=w_o,
        num_heads=H,
    )
    zeros = np.zeros(D)
    heads = np_attention.MultiHeadAttentionParams(
        w_q, w_k, w_v, w_o, zeros, zeros, zeros, zeros, H
    )
    return latent, heads


@pytest.mark.parametrize("mask_name", ["none", "causal", "causal+padding"])
def test_mla_with_identity_factors_is_multi_head_attention(mask_name):
    latent, heads = multi_head_as_latent()
    _, x = inputs()
    mask = masks()[mask_name]
    ours, _ = np_attention.multi_head_attention(x, x, x, heads, mask)
    for absorb in (False, True):
        mla, _ = np_latent.multi_head_latent_attention(x, latent, mask, absorb=absorb)
        assert np.abs(mla - ours).max() < 1e-12
    # PyTorch's own: nn.MultiheadAttention (True = blocked) and the fused kernel (True = may attend)
    reference = torch.nn.MultiheadAttention(D, H, bias=False, batch_first=True).double()
    with torch.no_grad():
        reference.in_proj_weight.copy_(
            torch.from_numpy(np.concatenate([heads.w_q, heads.w_k, heads.w_v], 1).T)
        )
        reference.out_proj.weight.copy_(torch.from_numpy(heads.w_o.T))
    module = module_like(latent)
    tx = torch.from_numpy(x)
    full = (
        torch.ones(2, T, T, dtype=torch.bool)
        if mask is None
        else torch.from_numpy(np.broadcast_to(mask, (2, T, T)).copy())
    )
    with torch.no_grad():
        expected, _ = reference(
            tx, tx, tx, attn_mask=~full.repeat_interleave(H, dim=0), need_weights=False
        )
        q, k, v = (
            (tx @ torch.from_numpy(w)).unflatten(-1, (H, D_H)).transpose(1, 2)
            for w in (heads.w_q, heads.w_k, heads.w_v)
        )
        fused = F.scaled_dot_product_attention(q, k, v, attn_mask=full[:, None])
        fused = fused.transpose(1, 2).flatten(2) @ torch.from_numpy(heads.w_o)
        for absorb in (False, True):
            mla, _ = module(
                tx, None if mask is None else torch.from_numpy(mask), absorb=absorb
            )
            assert (mla - expected).abs().max() < 1e-12
            assert (mla - fused).abs().max() < 1e-12


def rope_on_latent_keys(seed: int = 0) -> dict[str, float]:
    """Scores when RoPE rotates the keys that come out of the latent, and the best absorbed attempt at them.

    Without a decoupled part, a RoPE model rotates each head's query q_C and key c W^UK_i. Absorption would
    fold W^UK_i into the query: (RoPE(q_C) W^UK_iᵀ) · c, which leaves out the rotation of the key.
    """
    params, x = inputs(seed=seed)
    positions = np.arange(T)
    q_content, _ = np_latent.latent_queries(x, params, positions)
    latents, _ = np_latent.compress(x, params, positions)
    q = np_rope(q_content, positions)  # (B, H, T, d_h)
    keys = np_rope(np_attention.split_heads(latents @ params.w_uk, H), positions)
    exact = q @ np.swapaxes(keys, -1, -2) / math.sqrt(D_H)
    w_uk_t = params.w_uk.reshape(D_C, H, D_H).transpose(1, 2, 0)  # (H, d_h, d_c)
    folded = (q @ w_uk_t) @ np.swapaxes(latents[:, None], -1, -2) / math.sqrt(D_H)
    error = np.abs(folded - exact)
    return {
        "max_error": float(error.max()),
        "relative_error": float(np.linalg.norm(folded - exact) / np.linalg.norm(exact)),
        # the key at position 0 is not rotated
        "error_at_key_0": float(error[..., 0].max()),
    }


def test_rope_on_the_latent_keys_breaks_absorption_by_a_measured_amount():
    failure = rope_on_latent_keys()
    # the fold is right where RoPE does nothing
    assert failure["error_at_key_0"] < 1e-12
    # and wrong elsewhere, by a good fraction of the scores themselves
    assert failure["relative_error"] > 0.3
    # the decoupled design absorbs exactly
    params, x = inputs()
    positions = np.arange(T)
    qc, qr = np_latent.latent_queries(x, params, positions)
    c, kr = np_latent.compress(x, params, positions)
    absorbed = np_latent.absorbed_scores(qc, qr, c, kr, params.w_uk)
    keys = np_attention.split_heads(c @ params.w_uk, H)
    exact = (qc @ np.swapaxes(keys, -1, -2) + qr @ np.swapaxes(kr[:, None], -1, -2)) / (
        math.sqrt(D_H + D_R)
    )
    assert np.abs(absorbed - exact).max() < 1e-12


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_module_runs_in_half_precision_and_on_meta(dtype):
    torch.manual_seed(0)
    module = torch_latent.MultiHeadLatentAttention(D, H, D_H, D_R, D_C, D_Q)
    x = torch.randn(2, T, D)
    reference, _ = module(x)
    half = module.to(dtype)
    for absorb in (False, True):
        out, _ = half(x.to(dtype), absorb=absorb)
        assert out.dtype == dtype
        assert (out.float() - reference).abs().max() < 0.05 * reference.abs().max()
    meta = torch_latent.MultiHeadLatentAttention(D, H, D_H, D_R, D_C, D_Q).to("meta")
    out, _ = meta(torch.empty(2, T, D, device="meta"), absorb=True)
    assert out.device.type == "meta" and out.shape == (2, T, D)


def test_bad_inputs_name_the_argument_and_the_shapes():
    params, x = inputs()
    with pytest.raises(
        ValueError, match=r"x must have d_model=32 features, got shape \(2, 7, 30\)"
    ):
        np_latent.multi_head_latent_attention(x[..., :30], params)
    with pytest.raises(ValueError, match=r"w_uv must have shape \(12, 32\)"):
        np_latent.LatentAttentionParams(**{**vars(params), "w_uv": np.zeros((12, 31))})
    qc, qr = np_latent.latent_queries(x, params, np.arange(T))
    c, kr = np_latent.compress(x, params, np.arange(T))
    with pytest.raises(
        ValueError, match=r"rotated_keys must have shape \(2, 7, 4\) .* got \(2, 6, 4\)"
    ):
        np_latent.absorbed_scores(qc, qr, c, kr[:, :6], params.w_uk)
    with pytest.raises(
        ValueError,
        match=r"mask has shape \(7, 6\), which does not broadcast to \(7, 7\)",
    ):
        np_latent.multi_head_latent_attention(x, params, np.ones((7, 6), dtype=bool))
    module = module_like(params)
    with pytest.raises(
        ValueError, match=r"x must have 3 dimensions \(B, T, D\), got shape \(7, 32\)"
    ):
        module(torch.from_numpy(x[0]))
    with pytest.raises(ValueError, match="rope_width=3 must be even"):
        torch_latent.MultiHeadLatentAttention(D, H, D_H, 3, D_C, D_Q)


# ----- what each kind of attention caches -------------------------------------------------------------------


@pytest.mark.parametrize("num_kv_heads", [1, 2, 4])
def test_the_cost_function_matches_a_grouped_query_cache(num_kv_heads):
    from transformer_tutorial.config import LlamaConfig
    from transformer_tutorial.experiments.latent_attention import cache_bytes_per_token
    from transformer_tutorial.torch.llama import LlamaDecoder

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=50, d_model=32, num_heads=4, num_kv_heads=num_kv_heads, num_layers=3
    )
    model = LlamaDecoder(config).eval()
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(1, 9, dtype=torch.long), cache)
    kind = {1: "multi-query", 2: "grouped-query", 4: "multi-head"}[num_kv_heads]
    expected = kv_cache_bytes_per_token(kind, 3, 8, num_kv_heads, bytes_per_number=4)
    assert cache_bytes_per_token(cache) == expected


def test_the_cost_function_matches_a_latent_cache():
    from transformer_tutorial.config import LlamaConfig
    from transformer_tutorial.experiments.latent_attention import (
        LatentDecoder,
        LatentShape,
        cache_bytes_per_token,
    )

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=50, d_model=32, num_heads=4, num_kv_heads=4, num_layers=3
    )
    model = LatentDecoder(config, LatentShape(8, 4, 12, 20)).eval()
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(2, 9, dtype=torch.long), cache)
    expected = kv_cache_bytes_per_token(
        "latent", 3, 8, kv_latent_width=12, rope_width=4, bytes_per_number=4
    )
    assert cache_bytes_per_token(cache) / 2 == expected  # two sequences in the batch


def test_the_cost_function_matches_a_sliding_window_cache():
    """Under a window of w, a cache of the last w positions gives the same output as the whole cache."""
    from transformer_tutorial.torch.modern import sliding_window_mask

    torch.manual_seed(0)
    layer = GroupedQueryAttention(32, 4, 2, rope=False).double().eval()
    context, window = 12, 5
    x = torch.randn(1, context + 1, 32, dtype=torch.float64)
    whole = KeyValueCache()
    with torch.no_grad():
        layer(
            x[:, :context],
            x[:, :context],
            x[:, :context],
            sliding_window_mask(context, window),
            cache=whole,
        )
        new = x[:, context:]
        full, _ = layer(
            new, new, new, sliding_window_mask(1, window, context + 1), cache=whole
        )
        kept = KeyValueCache()
        kept.update(whole.keys[:, :, -window:-1], whole.values[:, :, -window:-1])
        windowed, _ = layer(new, new, new, None, cache=kept)
    assert (windowed - full).abs().max() < 1e-12
    held = kept.keys.nbytes + kept.values.nbytes  # w positions, after the new one
    expected = kv_cache_bytes_per_token(
        "sliding-window",
        1,
        8,
        2,
        window=window,
        context_length=context + 1,
        bytes_per_number=8,
    )
    assert held / (context + 1) == pytest.approx(expected, rel=1e-15)


def test_published_mla_caches_576_numbers_per_layer_like_gqa_with_2_25_groups():
    v2 = next(config for config in PUBLISHED if config.model == "DeepSeek-V2")
    per_layer = v2.bytes_per_token(131072, bytes_per_number=1) / v2.num_layers
    assert per_layer == 576 == 2 * 2.25 * v2.head_width  # the paper's comparison
    for config in PUBLISHED:
        assert config.source and config.bytes_per_token(131072) > 0
    with pytest.raises(ValueError, match="attention must be one of"):
        kv_cache_bytes_per_token("linear", 2, 8)
    with pytest.raises(
        ValueError, match="a sliding window needs window and context_length"
    ):
        kv_cache_bytes_per_token("sliding-window", 2, 8, 2, window=4)
