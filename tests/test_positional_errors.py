"""Bad input to positional encodings: one test per mistake, each a clear error that names the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import raises

from transformer_tutorial import numpy as tnp
from transformer_tutorial import torch as ttorch

TABLES = ["sinusoidal_encoding", "concatenated_sinusoidal_encoding"]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("d_model", [0, -4])
def test_a_table_of_width_zero_or_less(backend, table, d_model):
    module, _ = backend
    with raises(ValueError, f"d_model must be at least 1, got {d_model}"):
        getattr(module, table)(10, d_model)


@pytest.mark.parametrize("table", TABLES)
def test_a_negative_length(backend, table):
    module, _ = backend
    with raises(ValueError, "length must be at least 0, got -1"):
        getattr(module, table)(-1, 8)


@pytest.mark.parametrize("table", TABLES)
def test_a_length_that_is_not_an_integer(backend, table):
    module, _ = backend
    with raises(TypeError, "length must be an int, got float 10.0"):
        getattr(module, table)(10.0, 8)


@pytest.mark.parametrize("table", TABLES)
def test_a_width_that_is_not_an_integer(backend, table):
    module, _ = backend
    with raises(TypeError, "d_model must be an int, got str '8'"):
        getattr(module, table)(10, "8")
    with raises(TypeError, "d_model must be an int, got bool True"):
        getattr(module, table)(10, True)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("base", [0.0, -10.0, float("inf"), float("nan")])
def test_a_base_that_is_not_a_positive_number(backend, table, base):
    module, _ = backend
    with raises(ValueError, f"base must be a finite number above 0, got {base}"):
        getattr(module, table)(10, 8, base)


def test_a_shift_of_an_odd_width(backend):
    module, _ = backend
    with raises(
        ValueError, "d_model must be even for the shift to be a rotation, got 5"
    ):
        module.shift_rotation(1, 5)


def test_a_shift_by_a_fraction_of_a_position(backend):
    module, _ = backend
    with raises(TypeError, "offset must be an int, got float 1.5"):
        module.shift_rotation(1.5, 8)


def test_rope_on_an_odd_number_of_features(backend):
    module, array = backend
    with raises(
        ValueError,
        "x must have an even number of features d_k to pair them, got shape (2, 4, 5)",
    ):
        module.rotary_embedding(array(np.zeros((2, 4, 5))))


def test_rope_on_a_single_vector(backend):
    module, array = backend
    with raises(
        ValueError, "x must have at least 2 dimensions (..., T, d_k), got shape (8,)"
    ):
        module.rotary_embedding(array(np.zeros(8)))


def test_rope_with_one_position_too_few(backend):
    module, array = backend
    with raises(
        ValueError,
        "positions must have shape (T,) = (4,) for x of shape (2, 4, 8), got (3,)",
    ):
        module.rotary_embedding(array(np.zeros((2, 4, 8))), array(np.arange(3)))


def test_rope_with_positions_per_sequence(backend):
    module, array = backend
    with raises(
        ValueError,
        "positions must have shape (T,) = (4,) for x of shape (2, 4, 8), got (2, 4)",
    ):
        module.rotary_embedding(
            array(np.zeros((2, 4, 8))), array(np.zeros((2, 4), dtype=int))
        )


def test_rope_on_a_numpy_array_in_the_torch_backend():
    with raises(TypeError, "x must be a torch.Tensor, got ndarray"):
        ttorch.rotary_embedding(np.zeros((4, 8)))


def test_alibi_with_no_heads(backend):
    module, _ = backend
    with raises(ValueError, "num_heads must be at least 1, got 0"):
        module.alibi_slopes(0)


def test_alibi_with_a_fractional_number_of_heads(backend):
    module, _ = backend
    with raises(TypeError, "num_heads must be an int, got float 8.0"):
        module.alibi_bias(8.0, 4)


def test_alibi_with_fewer_keys_than_queries(backend):
    module, _ = backend
    with raises(ValueError, "key_length=3 is shorter than query_length=5"):
        module.alibi_bias(4, 5, 3)


def test_alibi_with_a_negative_length(backend):
    module, _ = backend
    with raises(ValueError, "query_length must be at least 0, got -2"):
        module.alibi_bias(4, -2)


def test_embed_positions_without_a_batch_axis(backend):
    module, array = backend
    with raises(
        ValueError,
        "token_embeddings must have 3 dimensions (B, T, D), got shape (5, 8)",
    ):
        module.embed_positions(array(np.zeros((5, 8))), array(np.zeros((10, 8))))


def test_embed_positions_with_a_table_of_the_wrong_width(backend):
    module, array = backend
    with raises(
        ValueError,
        "table must have D=8 columns like token_embeddings (2, 5, 8), got shape (10, 6)",
    ):
        module.embed_positions(array(np.zeros((2, 5, 8))), array(np.zeros((10, 6))))


def test_embed_positions_with_a_table_too_short(backend):
    module, array = backend
    with raises(
        ValueError,
        "table has 4 positions (shape (4, 8)), fewer than the 5 of token_embeddings (2, 5, 8)",
    ):
        module.embed_positions(array(np.zeros((2, 5, 8))), array(np.zeros((4, 8))))


def test_embed_positions_with_a_dropout_of_one(backend):
    module, array = backend
    with raises(ValueError, "dropout_p must be in [0, 1), got 1.0"):
        module.embed_positions(array(np.zeros((2, 5, 8))), array(np.zeros((5, 8))), 1.0)


def test_numpy_dropout_without_a_generator():
    with raises(
        ValueError, "rng must be a numpy Generator when dropout_p > 0, got None"
    ):
        tnp.embed_positions(np.zeros((2, 5, 8)), np.zeros((5, 8)), dropout_p=0.1)


def test_a_learned_table_with_no_rows():
    with raises(ValueError, "max_length must be at least 1, got 0"):
        ttorch.LearnedPositionalEmbedding(0, 8)


def test_a_learned_table_asked_for_more_positions_than_it_has():
    learned = ttorch.LearnedPositionalEmbedding(512, 8)
    with raises(
        ValueError,
        "length=600 is more than max_length=512: a learned table has no row for positions 512 to 599",
    ):
        learned(600)


def test_a_learned_table_asked_for_a_fractional_length():
    with raises(TypeError, "length must be an int, got float 3.0"):
        ttorch.LearnedPositionalEmbedding(16, 8)(3.0)


def test_the_module_with_a_dropout_above_one():
    with raises(ValueError, "dropout must be in [0, 1), got 1.5"):
        ttorch.EmbedPositions(8, 16, dropout=1.5)


def test_the_module_without_a_batch_axis():
    with raises(
        ValueError,
        "token_embeddings must have 3 dimensions (B, T, D), got shape (5, 8)",
    ):
        ttorch.EmbedPositions(8, 16)(torch.zeros(5, 8))
