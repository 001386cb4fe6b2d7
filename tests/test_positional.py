"""Positional encodings in both backends, checked against formulas written out independently here.

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


# References, written from the formulas.


def paper_row(pos: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """PE(pos, 2i) = sin(pos / base^(2i/D)), PE(pos, 2i + 1) = cos(pos / base^(2i/D)), one entry at a time."""
    row = np.zeros(d_model)
    for column in range(d_model):
        i = column // 2
        angle = pos / base ** (2 * i / d_model)
        row[column] = math.sin(angle) if column % 2 == 0 else math.cos(angle)
    return row


def paper_table(length: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    return np.array([paper_row(pos, d_model, base) for pos in range(length)]).reshape(
        length, d_model
    )


def tensor2tensor_table(
    length: int, channels: int, max_timescale: float = 1.0e4
) -> np.ndarray:
    """tensor2tensor's get_timing_signal_1d (min_timescale 1), rewritten with math: sines, cosines, zero padding."""
    num_timescales = channels // 2
    increment = math.log(max_timescale) / max(num_timescales - 1, 1)
    inv_timescales = [math.exp(-i * increment) for i in range(num_timescales)]
    rows = []
    for pos in range(length):
        sines = [math.sin(pos * inv) for inv in inv_timescales]
        cosines = [math.cos(pos * inv) for inv in inv_timescales]
        rows.append(sines + cosines + [0.0] * (channels % 2))
    return np.array(rows).reshape(length, channels)


# The sinusoidal table.


@pytest.mark.parametrize(
    "length, d_model, base",
    [
        (50, 16, 10000.0),
        (7, 5, 10000.0),
        (3, 1, 10000.0),
        (0, 4, 10000.0),
        (20, 9, 100.0),
        (120, 512, 10000.0),
    ],
)
def test_the_table_matches_the_papers_formula_entry_by_entry(length, d_model, base):
    expected = paper_table(length, d_model, base)
    np.testing.assert_allclose(
        tnp.sinusoidal_encoding(length, d_model, base), expected, rtol=0, atol=1e-12
    )
    table = ttorch.sinusoidal_encoding(length, d_model, base, dtype=torch.float64)
    np.testing.assert_allclose(table.numpy(), expected, rtol=0, atol=1e-12)
    table32 = ttorch.sinusoidal_encoding(length, d_model, base)
    assert table32.dtype == torch.float32
    np.testing.assert_allclose(table32.numpy(), expected, rtol=0, atol=1e-6)


def test_published_values_of_the_first_positions():
    # sin 1, cos 1, sin 2, cos 2 (first pair, frequency 1) and sin(1/100) (second pair of a width-4 table).
    table = tnp.sinusoidal_encoding(3, 4)
    assert table[1, 0] == pytest.approx(0.8414709848078965, abs=1e-15)
    assert table[1, 1] == pytest.approx(0.5403023058681398, abs=1e-15)
    assert table[2, 0] == pytest.approx(0.9092974268256817, abs=1e-15)
    assert table[2, 1] == pytest.approx(-0.4161468365471424, abs=1e-15)
    assert table[1, 2] == pytest.approx(0.009999833334166664, abs=1e-15)
    np.testing.assert_array_equal(table[0], [0.0, 1.0, 0.0, 1.0])


def test_the_slowest_pair_turns_once_every_two_pi_times_base_to_the_power_d_minus_two_over_d():
    d_model, base = 8, 10.0
    # the docstring's and the page's claim
    period = 2 * math.pi * base ** ((d_model - 2) / d_model)
    table = tnp.sinusoidal_encoding(200, d_model, base)
    # (sin, cos) of the last pair
    angle = np.unwrap(np.arctan2(table[:, d_model - 2], table[:, d_model - 1]))
    np.testing.assert_allclose(
        angle, 2 * math.pi * np.arange(200) / period, rtol=0, atol=1e-12
    )
    # "just under 2π·base" for a wide table, far under for this narrow one
    assert period < 2 * math.pi * base


def test_an_odd_width_ends_with_a_lone_sine_at_the_frequency_of_its_pair():
    table = tnp.sinusoidal_encoding(30, 5)
    positions = np.arange(30)
    np.testing.assert_allclose(
        table[:, 4], np.sin(positions / 10000 ** (4 / 5)), rtol=0, atol=1e-15
    )
    np.testing.assert_allclose(
        table[:, 3], np.cos(positions / 10000 ** (2 / 5)), rtol=0, atol=1e-15
    )


def test_the_table_is_on_the_requested_device_and_dtype():
    table = ttorch.sinusoidal_encoding(
        4, 6, dtype=torch.float64, device=torch.device("cpu")
    )
    assert (
        table.dtype == torch.float64
        and table.device.type == "cpu"
        and table.shape == (4, 6)
    )


# Property 1: moving k positions on is a rotation that depends only on k.


def rotation_by_blocks(offset: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """R(k) written block by block: [[cos ωk, sin ωk], [-sin ωk, cos ωk]] for each pair."""
    matrix = np.zeros((d_model, d_model))
    for i in range(d_model // 2):
        angle = offset / base ** (2 * i / d_model)
        matrix[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [
            [math.cos(angle), math.sin(angle)],
            [-math.sin(angle), math.cos(angle)],
        ]
    return matrix


@pytest.mark.parametrize(
    "offset, d_model", [(0, 2), (1, 4), (5, 16), (-3, 8), (1000, 64)]
)
def test_the_shift_matrix_is_the_block_diagonal_rotation(offset, d_model):
    expected = rotation_by_blocks(offset, d_model)
    np.testing.assert_allclose(
        tnp.shift_rotation(offset, d_model), expected, rtol=0, atol=1e-12
    )
    rotation = ttorch.shift_rotation(offset, d_model, dtype=torch.float64)
    np.testing.assert_allclose(rotation.numpy(), expected, rtol=0, atol=1e-12)


@few_examples
@given(
    st.integers(1, 32).map(lambda half: 2 * half),
    st.integers(0, 2000),
    st.integers(-1000, 1000),
    st.sampled_from([10000.0, 100.0]),
)
def test_the_encoding_of_p_plus_k_is_the_rotation_of_k_applied_to_the_encoding_of_p(
    d_model, p, k, base
):
    if p + k < 0:
        k = -k
    rotation = tnp.shift_rotation(k, d_model, base)
    np.testing.assert_allclose(
        rotation @ paper_row(p, d_model, base),
        paper_row(p + k, d_model, base),
        rtol=0,
        atol=LARGE_ANGLES,
    )


def test_one_rotation_serves_every_position():
    table = tnp.sinusoidal_encoding(200, 32)
    rotation = tnp.shift_rotation(7, 32)
    # all rows at once
    np.testing.assert_allclose(table[:-7] @ rotation.T, table[7:], rtol=0, atol=1e-12)
    torch_table = ttorch.sinusoidal_encoding(200, 32, dtype=torch.float64)
    torch_rotation = ttorch.shift_rotation(7, 32, dtype=torch.float64)
    torch.testing.assert_close(
        torch_table[:-7] @ torch_rotation.T, torch_table[7:], rtol=0, atol=1e-12
    )


@given(st.integers(-500, 500), st.integers(-500, 500))
@few_examples
def test_rotations_compose_and_are_orthogonal(a, b):
    ra, rb = tnp.shift_rotation(a, 16), tnp.shift_rotation(b, 16)
    np.testing.assert_allclose(
        ra @ rb, tnp.shift_rotation(a + b, 16), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(ra @ ra.T, np.eye(16), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ra.T, tnp.shift_rotation(-a, 16), rtol=0, atol=1e-12)


# Property 2: the dot product of two encodings depends only on their distance.


@few_examples
@given(
    st.integers(1, 32).map(lambda half: 2 * half),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.integers(0, 1000),
)
def test_the_dot_product_depends_only_on_the_distance(d_model, p, q, shift):
    table = tnp.sinusoidal_encoding(max(p, q) + shift + 1, d_model)
    # Σ_i sin(ω_i p) sin(ω_i q) + cos(ω_i p) cos(ω_i q) = Σ_i cos(ω_i (p - q)), written out:
    expected = sum(
        math.cos((p - q) / 10000 ** (2 * i / d_model)) for i in range(d_model // 2)
    )
    assert table[p] @ table[q] == pytest.approx(expected, abs=LARGE_ANGLES)
    assert table[p + shift] @ table[q + shift] == pytest.approx(
        expected, abs=LARGE_ANGLES
    )


def test_the_dot_product_cannot_tell_before_from_after():
    table = tnp.sinusoidal_encoding(100, 16)
    assert table[50] @ table[53] == pytest.approx(table[50] @ table[47], abs=1e-12)


def test_with_an_odd_width_the_lone_sine_breaks_the_distance_property():
    # The documented cost of an odd d_model: the last column has no cosine partner.
    table = tnp.sinusoidal_encoding(1002, 5)
    # the lone column's share at 1000 and 1001
    lone = math.sin(1000 / 10000**0.8) * math.sin(1001 / 10000**0.8)
    assert table[1000] @ table[1001] - table[0] @ table[1] == pytest.approx(
        lone, abs=1e-12
    )
    assert lone > 0.3
    even = tnp.sinusoidal_encoding(1002, 4)
    assert even[0] @ even[1] == pytest.approx(even[1000] @ even[1001], abs=1e-12)


# The concatenated variant of tensor2tensor.


@pytest.mark.parametrize(
    "length, d_model", [(50, 16), (10, 7), (5, 2), (4, 1), (60, 512)]
)
def test_the_concatenated_variant_matches_tensor2tensor(length, d_model):
    expected = tensor2tensor_table(length, d_model)
    np.testing.assert_allclose(
        tnp.concatenated_sinusoidal_encoding(length, d_model),
        expected,
        rtol=0,
        atol=1e-12,
    )
    table = ttorch.concatenated_sinusoidal_encoding(
        length, d_model, dtype=torch.float64
    )
    np.testing.assert_allclose(table.numpy(), expected, rtol=0, atol=1e-12)


def test_the_concatenated_variant_is_not_a_column_permutation_of_the_papers_table():
    paper, concatenated = (
        tnp.sinusoidal_encoding(1000, 64),
        tnp.concatenated_sinusoidal_encoding(1000, 64),
    )
    matching = [
        column
        for column in range(64)
        if any(
            np.allclose(concatenated[:, column], paper[:, other], rtol=0, atol=1e-9)
            for other in range(64)
        )
    ]
    # only sin(pos) and cos(pos), the pair of frequency 1, appear in both
    assert matching == [
        0,
        32,
    ]
    slowest_paper = 1 / 10000 ** (62 / 64)
    # t2t ends exactly at 1/10000
    assert concatenated[999, 31] == pytest.approx(math.sin(999 / 10000), abs=1e-15)
    # the paper stops before it
    assert paper[999, 62] == pytest.approx(math.sin(999 * slowest_paper), abs=1e-15)


# Adding positions to token embeddings.


def test_embed_positions_scales_by_the_root_of_d_model_and_adds_the_first_rows():
    rng = np.random.default_rng(5)
    tokens, table = rng.normal(size=(2, 5, 16)), rng.normal(size=(9, 16))
    expected = tokens * 4.0 + table[:5]
    np.testing.assert_allclose(
        tnp.embed_positions(tokens, table), expected, rtol=0, atol=1e-15
    )
    result = ttorch.embed_positions(torch.from_numpy(tokens), torch.from_numpy(table))
    np.testing.assert_allclose(result.numpy(), expected, rtol=0, atol=1e-15)


def test_numpy_dropout_zeroes_about_p_of_the_sum_and_rescales_the_rest():
    tokens, table = np.ones((4, 50, 100)), np.zeros((50, 100))
    out = tnp.embed_positions(
        tokens, table, dropout_p=0.25, rng=np.random.default_rng(6)
    )
    zeroed = out == 0
    # 20,000 entries: the standard error of the fraction is 0.003
    assert 0.23 < zeroed.mean() < 0.27
    np.testing.assert_allclose(out[~zeroed], 10.0 / 0.75, rtol=1e-15)
    again = tnp.embed_positions(
        tokens, table, dropout_p=0.25, rng=np.random.default_rng(6)
    )
    np.testing.assert_array_equal(out, again)  # seeded, so reproducible


def test_the_module_drops_out_only_in_training_and_otherwise_equals_the_function():
    torch.manual_seed(0)
    module = ttorch.EmbedPositions(d_model=64, max_length=32, dropout=0.5)
    tokens = torch.randn(3, 20, 64)
    expected = ttorch.embed_positions(tokens, ttorch.sinusoidal_encoding(20, 64))
    torch.testing.assert_close(module.eval()(tokens), expected, rtol=0, atol=0)
    trained = module.train()(tokens)
    zeroed = trained == 0
    assert 0.45 < zeroed.float().mean() < 0.55  # 3,840 entries: standard error 0.008
    torch.testing.assert_close(
        trained[~zeroed], 2 * expected[~zeroed], rtol=1e-6, atol=1e-6
    )


def test_adding_positions_breaks_the_permutation_symmetry_of_attention():
    rng = np.random.default_rng(7)
    params = tnp.MultiHeadAttentionParams.random(8, 2, rng)
    x = rng.normal(size=(1, 3, 8))
    order = [2, 1, 0]
    without, _ = tnp.multi_head_attention(x, x, x, params)
    reordered, _ = tnp.multi_head_attention(
        x[:, order], x[:, order], x[:, order], params
    )
    np.testing.assert_allclose(reordered, without[:, order], atol=1e-12)
    table = tnp.sinusoidal_encoding(3, 8)
    with_positions, _ = tnp.multi_head_attention(
        x + table, x + table, x + table, params
    )
    y = x[:, order] + table
    reordered_with_positions, _ = tnp.multi_head_attention(y, y, y, params)
    assert np.abs(reordered_with_positions - with_positions[:, order]).max() > 0.01


# Learned and sinusoidal position modules.


def test_a_learned_table_has_one_trainable_row_per_position():
    torch.manual_seed(0)
    learned = ttorch.LearnedPositionalEmbedding(max_length=16, d_model=8)
    assert sum(p.numel() for p in learned.parameters()) == 16 * 8
    rows = learned(5)
    assert rows.shape == (5, 8)
    torch.testing.assert_close(rows, learned.table.weight[:5], rtol=0, atol=0)
    # initialised with standard deviation 0.02
    assert 0.01 < learned.table.weight.std().item() < 0.03
    rows.sum().backward()
    grad = learned.table.weight.grad
    # rows no sequence reached get no training signal
    assert (grad[:5] == 1).all() and (grad[5:] == 0).all()


def test_a_learned_table_refuses_positions_beyond_its_rows():
    learned = ttorch.LearnedPositionalEmbedding(max_length=16, d_model=8)
    assert learned(16).shape == (16, 8)
    with pytest.raises(
        ValueError,
        match=r"length=17 is more than max_length=16: a learned table has no row",
    ):
        learned(17)
    module = ttorch.EmbedPositions(8, max_length=16, learned=True)
    with pytest.raises(ValueError, match=r"positions 16 to 19"):
        module(torch.zeros(1, 20, 8))


def test_the_sinusoidal_module_has_no_parameters_and_a_row_for_every_position():
    module = ttorch.SinusoidalPositionalEncoding(max_length=16, d_model=8)
    assert list(module.parameters()) == [] and module.state_dict() == {}
    torch.testing.assert_close(
        module(40), ttorch.sinusoidal_encoding(40, 8), rtol=0, atol=0
    )
    torch.testing.assert_close(
        module(10), ttorch.sinusoidal_encoding(10, 8), rtol=0, atol=0
    )
    # the buffer follows the module's dtype
    assert module.double()(40).dtype == torch.float64


def test_embed_positions_module_with_a_learned_table_trains_the_table():
    torch.manual_seed(1)
    module = ttorch.EmbedPositions(d_model=8, max_length=10, learned=True)
    module(torch.randn(2, 6, 8)).sum().backward()
    # two sequences each reach rows 0 to 5
    assert (module.positions.table.weight.grad[:6] == 2).all()


# NumPy and PyTorch agree.


def test_both_backends_agree_on_every_function():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 3, 7, 12))
    pairs = [
        (
            tnp.sinusoidal_encoding(33, 12),
            ttorch.sinusoidal_encoding(33, 12, dtype=torch.float64),
        ),
        (
            tnp.concatenated_sinusoidal_encoding(33, 12),
            ttorch.concatenated_sinusoidal_encoding(33, 12, dtype=torch.float64),
        ),
        (
            tnp.shift_rotation(-9, 12),
            ttorch.shift_rotation(-9, 12, dtype=torch.float64),
        ),
        (
            tnp.embed_positions(x[0], tnp.sinusoidal_encoding(7, 12)),
            ttorch.embed_positions(
                torch.from_numpy(x[0]),
                ttorch.sinusoidal_encoding(7, 12, dtype=torch.float64),
            ),
        ),
    ]
    for ours, theirs in pairs:
        assert theirs.dtype == torch.float64
        np.testing.assert_allclose(theirs.numpy(), ours, rtol=0, atol=1e-12)
