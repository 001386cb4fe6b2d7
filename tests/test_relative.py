"""RoPE and ALiBi in both backends, checked against formulas written out independently here.

The references in this file are written from the papers' formulas with plain loops, ``math`` and complex numbers,
never by calling the functions under test. Float64 results agree to about 1e-15 for small positions; sines and
cosines of angles in the thousands of radians lose a few more digits (about 1e-12 here), so tests that reach
such positions allow 1e-10 and say so.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_tutorial import numpy as tnp
from transformer_tutorial import torch as ttorch

few_examples = settings(max_examples=40, deadline=None)
LARGE_ANGLES = 1e-10  # positions up to a few thousand: see the module docstring


def rope_by_complex_numbers(
    x: np.ndarray, positions: np.ndarray, base: float = 10000.0
) -> np.ndarray:
    """RoPE as the RoFormer paper and Meta's LLaMA code write it: pair (2i, 2i+1) as one complex number, turned."""
    d = x.shape[-1]
    theta = np.array([base ** (-2 * i / d) for i in range(d // 2)])
    z = x[..., 0::2] + 1j * x[..., 1::2]
    z = z * np.exp(1j * positions[:, None] * theta)
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = z.real, z.imag
    return out


def rope_rotate_half(
    x: np.ndarray, positions: np.ndarray, base: float = 10000.0
) -> np.ndarray:
    """RoPE in the GPT-NeoX / Hugging Face LLaMA layout: feature j pairs with feature j + d/2 ("rotate_half")."""
    d = x.shape[-1]
    inv_freq = 1.0 / base ** (np.arange(0, d, 2) / d)
    freqs = positions[:, None] * inv_freq
    emb = np.concatenate([freqs, freqs], axis=-1)
    first, second = x[..., : d // 2], x[..., d // 2 :]
    rotate_half = np.concatenate([-second, first], axis=-1)
    return x * np.cos(emb) + rotate_half * np.sin(emb)


def alibi_reference_slopes(n: int) -> list[float]:
    """The slopes as the ALiBi paper's code computes them, for any number of heads."""

    def power_of_two(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n).is_integer():
        return power_of_two(n)
    closest = 2 ** math.floor(math.log2(n))
    return (
        power_of_two(closest) + alibi_reference_slopes(2 * closest)[0::2][: n - closest]
    )


# RoPE.


@pytest.mark.parametrize("shape", [(5, 2), (3, 7, 8), (2, 4, 6, 16)])
def test_rope_matches_the_complex_number_formula(shape):
    x = np.random.default_rng(0).normal(size=shape)
    positions = np.arange(shape[-2])
    expected = rope_by_complex_numbers(x, positions)
    np.testing.assert_allclose(tnp.rotary_embedding(x), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        ttorch.rotary_embedding(torch.from_numpy(x)).numpy(),
        expected,
        rtol=0,
        atol=1e-12,
    )
    # float32 of entries up to about 4
    np.testing.assert_allclose(
        ttorch.rotary_embedding(torch.from_numpy(x).float()).numpy(),
        expected,
        rtol=0,
        atol=1e-5,
    )


def test_rope_uses_interleaved_pairs_which_is_rotate_half_after_a_fixed_permutation():
    rng = np.random.default_rng(1)
    d = 8
    x = rng.normal(size=(2, 6, d))
    positions = np.arange(6)
    # Interleaved slot 2j holds feature j and slot 2j+1 holds feature j + d/2: the pairs of rotate_half.
    to_interleaved = np.ravel(
        np.column_stack([np.arange(d // 2), np.arange(d // 2, d)])
    )
    ours = tnp.rotary_embedding(x[..., to_interleaved])
    back = np.empty_like(ours)
    back[..., to_interleaved] = ours
    np.testing.assert_allclose(back, rope_rotate_half(x, positions), rtol=0, atol=1e-12)
    # Without the permutation the two conventions disagree: a checkpoint needs its own layout.
    assert not np.allclose(
        tnp.rotary_embedding(x), rope_rotate_half(x, positions), atol=1e-3
    )


@few_examples
@given(
    st.integers(1, 16).map(lambda half: 2 * half),
    st.integers(0, 2000),
    st.integers(0, 2000),
    st.integers(0, 2000),
    st.integers(0, 2**16),
)
def test_rope_scores_depend_only_on_the_offset(d, m, n, shift, seed):
    q, k = np.random.default_rng(seed).normal(size=(2, 1, d))
    score = tnp.rotary_embedding(q, [m]) @ tnp.rotary_embedding(k, [n]).T
    shifted = (
        tnp.rotary_embedding(q, [m + shift]) @ tnp.rotary_embedding(k, [n + shift]).T
    )
    # The same score as the unrotated query against the key turned by n - m:
    relative = q @ tnp.rotary_embedding(k, [n - m]).T
    np.testing.assert_allclose(shifted, score, rtol=0, atol=LARGE_ANGLES)
    np.testing.assert_allclose(relative, score, rtol=0, atol=LARGE_ANGLES)


@few_examples
@given(
    st.integers(1, 16).map(lambda half: 2 * half),
    st.integers(1, 8),
    st.integers(0, 2**16),
)
def test_rope_preserves_the_norm_of_every_row(d, length, seed):
    x = np.random.default_rng(seed).normal(size=(2, length, d))
    positions = np.random.default_rng(seed + 1).integers(0, 5000, size=length)
    rotated = tnp.rotary_embedding(x, positions)
    np.testing.assert_allclose(
        np.linalg.norm(rotated, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-12
    )
    rotated_t = ttorch.rotary_embedding(
        torch.from_numpy(x), torch.from_numpy(positions)
    )
    torch.testing.assert_close(
        rotated_t.norm(dim=-1), torch.from_numpy(x).norm(dim=-1), rtol=1e-12, atol=0
    )


def test_rope_at_position_p_is_the_shift_rotation_of_the_sinusoidal_table():
    x = np.random.default_rng(2).normal(size=(1, 16))
    for p in (0, 1, 9, 250):
        # A row vector times R(p) is R(p)ᵀ x: each pair turns through pθ_i, the angles of the table's pair i.
        np.testing.assert_allclose(
            tnp.rotary_embedding(x, [p]),
            x @ tnp.shift_rotation(p, 16),
            rtol=0,
            atol=1e-12,
        )


def test_rope_leaves_position_zero_alone_and_takes_explicit_positions_for_a_cache():
    x = np.random.default_rng(3).normal(size=(2, 3, 10, 8))
    full = tnp.rotary_embedding(x)
    np.testing.assert_array_equal(full[..., 0, :], x[..., 0, :])
    tail = tnp.rotary_embedding(x[..., 6:, :], positions=np.arange(6, 10))
    np.testing.assert_allclose(tail, full[..., 6:, :], rtol=0, atol=1e-15)
    tail_t = ttorch.rotary_embedding(
        torch.from_numpy(x[..., 6:, :]), positions=torch.arange(6, 10)
    )
    np.testing.assert_allclose(tail_t.numpy(), full[..., 6:, :], rtol=0, atol=1e-15)


def test_rope_passes_gradients_and_keeps_the_dtype():
    x = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    rotated = ttorch.rotary_embedding(x)
    assert rotated.dtype == torch.float64
    # a rotation keeps the squared norm, so the gradient is 2x
    (rotated**2).sum().backward()
    torch.testing.assert_close(x.grad, 2 * x.detach(), rtol=0, atol=1e-12)


# ALiBi.


def test_alibi_slopes_of_8_heads_are_the_published_ones():
    expected = [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]
    np.testing.assert_allclose(tnp.alibi_slopes(8), expected, rtol=1e-15)
    np.testing.assert_allclose(
        ttorch.alibi_slopes(8, dtype=torch.float64).numpy(), expected, rtol=1e-15
    )


def test_alibi_slopes_of_16_heads_start_at_one_over_root_two():
    expected = [2 ** (-k / 2) for k in range(1, 17)]
    # 2**-0.5 is rounded, then raised
    np.testing.assert_allclose(tnp.alibi_slopes(16), expected, rtol=1e-14)


@pytest.mark.parametrize(
    "num_heads, exponents",
    [
        (6, [2, 4, 6, 8, 1, 3]),  # 4 heads' slopes, then the 1st and 3rd of 8 heads'
        # 8 heads' slopes, then 4 of 16 heads'
        (
            12,
            [1, 2, 3, 4, 5, 6, 7, 8, 0.5, 1.5, 2.5, 3.5],
        ),
        (3, [4, 8, 2]),
    ],
)
def test_alibi_slopes_of_a_number_of_heads_that_is_not_a_power_of_two(
    num_heads, exponents
):
    expected = [2.0**-e for e in exponents]
    np.testing.assert_allclose(tnp.alibi_slopes(num_heads), expected, rtol=1e-15)
    np.testing.assert_allclose(
        ttorch.alibi_slopes(num_heads, dtype=torch.float64).numpy(),
        expected,
        rtol=1e-15,
    )
    # the reference agrees
    np.testing.assert_allclose(alibi_reference_slopes(num_heads), expected, rtol=1e-15)


@pytest.mark.parametrize("num_heads", range(1, 65))
def test_alibi_slopes_match_the_papers_code_for_every_head_count_up_to_64(num_heads):
    np.testing.assert_allclose(
        tnp.alibi_slopes(num_heads), alibi_reference_slopes(num_heads), rtol=1e-14
    )


@pytest.mark.parametrize("query_length, key_length", [(5, 5), (1, 6), (3, 7), (0, 4)])
def test_alibi_bias_is_minus_slope_times_distance(query_length, key_length):
    slopes = alibi_reference_slopes(4)
    expected = np.zeros((4, query_length, key_length))
    for h in range(4):
        for t in range(query_length):
            i = key_length - query_length + t  # queries are the last T positions
            for j in range(key_length):
                expected[h, t, j] = -slopes[h] * abs(i - j)
    np.testing.assert_allclose(
        tnp.alibi_bias(4, query_length, key_length), expected, rtol=0, atol=1e-15
    )
    bias = ttorch.alibi_bias(4, query_length, key_length, dtype=torch.float64)
    np.testing.assert_allclose(bias.numpy(), expected, rtol=0, atol=1e-15)


def test_with_a_causal_mask_alibi_gives_the_weights_of_the_papers_key_position_trick():
    # The ALiBi code adds slope · j (the key's position) and relies on softmax ignoring a constant per row:
    # slope · j = -slope · (i - j) + slope · i. Both must give the same weights.
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(8, 6, 6))
    mask = tnp.causal_mask(6)
    ours = tnp.softmax(scores + tnp.alibi_bias(8, 6), mask=mask)
    slopes = np.array(alibi_reference_slopes(8))[:, None, None]
    theirs = tnp.softmax(scores + slopes * np.arange(6), mask=mask)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)


def test_both_backends_agree_on_rope_and_alibi():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 3, 7, 12))
    positions = np.array([0, 3, 4, 10, 11, 12, 500])
    pairs = [
        (
            tnp.rotary_embedding(x, positions),
            ttorch.rotary_embedding(torch.from_numpy(x), torch.from_numpy(positions)),
        ),
        (tnp.alibi_slopes(12), ttorch.alibi_slopes(12, dtype=torch.float64)),
        (tnp.alibi_bias(12, 3, 7), ttorch.alibi_bias(12, 3, 7, dtype=torch.float64)),
    ]
    for ours, theirs in pairs:
        assert theirs.dtype == torch.float64
        np.testing.assert_allclose(theirs.numpy(), ours, rtol=0, atol=1e-12)
