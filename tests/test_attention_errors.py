"""Bad input to attention: one test per mistake, each a clear error that names the argument and the shapes."""

from __future__ import annotations

import numpy as np
import torch
from helpers import raises

from transformer_tutorial import numpy as tnp
from transformer_tutorial import torch as ttorch


def zeros(*shape):
    return np.zeros(shape)


def test_d_model_not_divisible_by_the_number_of_heads():
    with raises(ValueError, "d_model=10 is not divisible by num_heads=4"):
        ttorch.MultiHeadAttention(10, 4)
    with raises(ValueError, "d_model=10 is not divisible by num_heads=4"):
        tnp.MultiHeadAttentionParams.random(10, 4, np.random.default_rng(0))


def test_split_heads_with_features_not_divisible_by_the_number_of_heads(backend):
    module, array = backend
    with raises(
        ValueError, "x has 10 features (shape (2, 3, 10)), not divisible by num_heads=4"
    ):
        module.split_heads(array(zeros(2, 3, 10)), 4)


def test_query_and_key_feature_sizes_differ(backend):
    module, array = backend
    with raises(
        ValueError,
        "query and key must have the same features (axis -1 and axis -1), got shapes (2, 5, 8) and (2, 6, 4)",
    ):
        module.scaled_dot_product_attention(
            array(zeros(2, 5, 8)), array(zeros(2, 6, 4)), array(zeros(2, 6, 4))
        )


def test_key_and_value_lengths_differ(backend):
    module, array = backend
    with raises(
        ValueError,
        "key and value must have the same length (axis -2 and axis -2), got shapes (2, 6, 8) and (2, 7, 8)",
    ):
        module.scaled_dot_product_attention(
            array(zeros(2, 5, 8)), array(zeros(2, 6, 8)), array(zeros(2, 7, 8))
        )


def test_mask_of_the_wrong_shape(backend):
    module, array = backend
    q, k = array(zeros(2, 5, 8)), array(zeros(2, 6, 8))
    with raises(
        ValueError, "mask has shape (6, 5), which does not broadcast to (2, 5, 6)"
    ):
        module.scaled_dot_product_attention(q, k, k, array(np.ones((6, 5), dtype=bool)))


def test_mask_that_would_line_up_with_the_wrong_axes(backend):
    module, array = backend
    # (B, H, T, d_k) with B = H = 2: a (B, 1, S) mask would broadcast over B as if H
    q = array(zeros(2, 2, 5, 8))
    with raises(
        ValueError,
        "mask must have 2 dimensions (T, S) or 4 like the scores (2, 2, 5, 5), got shape (2, 1, 5)",
    ):
        module.scaled_dot_product_attention(
            q, q, q, array(np.ones((2, 1, 5), dtype=bool))
        )


def test_multi_head_mask_of_the_wrong_shape():
    attention = ttorch.MultiHeadAttention(8, 2)
    x = torch.zeros(2, 5, 8)
    with raises(
        ValueError,
        "mask has shape (2, 5, 4), which does not broadcast to (2, 5, 5) (B, T, S)",
    ):
        attention(x, x, x, mask=torch.ones(2, 5, 4, dtype=torch.bool))
    with raises(
        ValueError,
        "mask must have shape (T, S) = (5, 5), (B, T, S) = (2, 5, 5) or (B, 1, S) = (2, 1, 5), got (1, 2, 5, 5)",
    ):
        attention(x, x, x, mask=torch.ones(1, 2, 5, 5, dtype=torch.bool))


def test_float_mask_where_a_boolean_one_is_expected(backend):
    module, array = backend
    q = array(zeros(2, 5, 8))
    with raises(TypeError, "mask must be boolean (True = may attend), got dtype"):
        module.scaled_dot_product_attention(q, q, q, array(np.ones((5, 5))))
    with raises(TypeError, "mask must be boolean"):
        ttorch.MultiHeadAttention(8, 2)(
            torch.zeros(1, 5, 8),
            torch.zeros(1, 5, 8),
            torch.zeros(1, 5, 8),
            mask=torch.zeros(5, 5),
        )


def test_wrong_number_of_dimensions(backend):
    module, array = backend
    with raises(
        ValueError,
        "query must have at least 2 dimensions (..., length, features), got shape (8,)",
    ):
        module.scaled_dot_product_attention(
            array(zeros(8)), array(zeros(8)), array(zeros(8))
        )
    with raises(
        ValueError,
        "query, key and value must have the same number of dimensions, got shapes (2, 5, 8), (5, 8) and (5, 8)",
    ):
        module.scaled_dot_product_attention(
            array(zeros(2, 5, 8)), array(zeros(5, 8)), array(zeros(5, 8))
        )
    with raises(
        ValueError, "x must have 4 dimensions (B, H, T, d_k), got shape (2, 5, 8)"
    ):
        module.merge_heads(array(zeros(2, 5, 8)))


def test_multi_head_inputs_with_the_wrong_width_or_batch():
    attention = ttorch.MultiHeadAttention(8, 2)
    with raises(ValueError, "query must have 3 dimensions (B, T, D), got shape (5, 8)"):
        attention(torch.zeros(5, 8), torch.zeros(5, 8), torch.zeros(5, 8))
    with raises(ValueError, "key must have d_model=8 features, got shape (2, 5, 6)"):
        attention(torch.zeros(2, 5, 8), torch.zeros(2, 5, 6), torch.zeros(2, 5, 8))
    with raises(
        ValueError,
        "query and key must have the same batch size (axis 0 and axis 0), got shapes (2, 5, 8) and (3, 5, 8)",
    ):
        attention(torch.zeros(2, 5, 8), torch.zeros(3, 5, 8), torch.zeros(3, 5, 8))
    params = attention.numpy_params()
    with raises(ValueError, "key must have d_model=8 features, got shape (2, 5, 6)"):
        tnp.multi_head_attention(zeros(2, 5, 8), zeros(2, 5, 6), zeros(2, 5, 8), params)


def test_wrong_argument_types(backend):
    module, _ = backend
    with raises(TypeError, "num_heads must be an int, got float 2.0"):
        module.split_heads(
            module.causal_mask(2)[None].float() if module is ttorch else zeros(1, 2, 2),
            2.0,
        )
    with raises(ValueError, "query_length must be at least 0, got -1"):
        module.causal_mask(-1)
    with raises(ValueError, "key_length=2 is shorter than query_length=3"):
        module.causal_mask(3, 2)
    with raises(TypeError, "module must be a torch.nn.MultiheadAttention, got Linear"):
        ttorch.MultiHeadAttention.from_pytorch(torch.nn.Linear(2, 2))


def test_params_with_mismatched_shapes():
    rng = np.random.default_rng(0)
    good = tnp.MultiHeadAttentionParams.random(8, 2, rng)
    with raises(ValueError, "w_o must have shape (8, 8) (D, D), got (8, 6)"):
        tnp.MultiHeadAttentionParams(
            good.w_q,
            good.w_k,
            good.w_v,
            good.w_o[:, :6],
            good.b_q,
            good.b_k,
            good.b_v,
            good.b_o,
            2,
        )


# Inputs a new user tries: nested lists, a dtype that differs from the weights', integer tensors.


def test_numpy_reads_nested_lists_as_numpy_would():
    q = [[1.0, 0.0]]
    k = [[1.0, 0.0], [0.0, 1.0]]
    v = [[10.0], [20.0]]
    output, weights = tnp.scaled_dot_product_attention(q, k, v)
    expected_output, expected_weights = tnp.scaled_dot_product_attention(
        np.array(q), np.array(k), np.array(v)
    )
    assert np.array_equal(output, expected_output) and np.array_equal(
        weights, expected_weights
    )
    params = tnp.MultiHeadAttentionParams.random(4, 2, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(1, 3, 4))
    listed, _ = tnp.multi_head_attention(x.tolist(), x.tolist(), x.tolist(), params)
    assert np.array_equal(listed, tnp.multi_head_attention(x, x, x, params)[0])


def test_pytorch_refuses_nested_lists_by_name():
    x = torch.zeros(1, 3, 4)
    with raises(TypeError, "key must be a torch.Tensor, got list"):
        ttorch.scaled_dot_product_attention(x, x.tolist(), x)
    with raises(TypeError, "query must be a torch.Tensor, got list"):
        ttorch.MultiHeadAttention(4, 2)(x.tolist(), x, x)


def test_a_float64_query_into_float32_weights_is_refused_by_name():
    x = torch.zeros(1, 3, 4)
    with raises(
        TypeError,
        "query has dtype torch.float64, the weights torch.float32; convert one of them with .to(dtype)",
    ):
        ttorch.MultiHeadAttention(4, 2)(x.double(), x, x)
    with raises(TypeError, "value has dtype torch.float64, query torch.float32"):
        ttorch.scaled_dot_product_attention(x, x, x.double())


def test_integer_tensors_into_pytorch_attention_are_refused_by_name():
    ids = torch.ones(1, 3, 4, dtype=torch.int64)
    with raises(
        TypeError, "query must hold floating-point numbers, got dtype torch.int64"
    ):
        ttorch.scaled_dot_product_attention(ids, ids, ids)
    with raises(
        TypeError, "query must hold floating-point numbers, got dtype torch.int64"
    ):
        ttorch.MultiHeadAttention(4, 2)(ids, ids, ids)
