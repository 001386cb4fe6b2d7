"""The four steps from a running mean to a causal attention head: each equals the next where it should, the last
equals the package's attention with a causal mask and PyTorch's own fused attention, and both backends agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transformer_tutorial.numpy import attention_steps as np_steps
from transformer_tutorial.numpy import causal_mask, scaled_dot_product_attention
from transformer_tutorial.torch import attention_steps as torch_steps

T, D, d = 7, 6, 4


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=(T, D))


def test_the_loop_takes_the_mean_of_each_prefix(x):
    # Independent of the code under test: the mean of rows 0..t written out with a running sum.
    running = np.cumsum(x, axis=0) / np.arange(1, T + 1)[:, None]
    np.testing.assert_allclose(np_steps.mean_with_loop(x), running, rtol=0, atol=1e-14)
    # the means are not the inputs: the check could fail
    assert not np.allclose(running[1:], x[1:])


def test_the_triangular_product_equals_the_loop_and_the_masked_softmax_of_zeros_equals_both(
    x,
):
    loop = np_steps.mean_with_loop(x)
    np.testing.assert_allclose(np_steps.mean_with_matrix(x), loop, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np_steps.mean_with_softmax(x), loop, rtol=0, atol=1e-14)


def test_the_weights_of_steps_one_to_three_are_the_same_triangle():
    # Every step computes weights @ x, so feeding the identity returns the weights themselves.
    expected = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
    for step in (
        np_steps.mean_with_loop,
        np_steps.mean_with_matrix,
        np_steps.mean_with_softmax,
    ):
        np.testing.assert_allclose(step(np.eye(T)), expected, rtol=0, atol=1e-15)


def test_zero_query_weights_turn_the_head_back_into_the_running_mean(x):
    rng = np.random.default_rng(1)
    w_value = rng.normal(size=(D, d))
    # every score 0: the softmax of step 3 again, now over values
    zeros = np.zeros((D, d))
    head = np_steps.causal_attention_head(x, zeros, rng.normal(size=(D, d)), w_value)
    np.testing.assert_allclose(
        head, np_steps.mean_with_softmax(x @ w_value), rtol=0, atol=1e-14
    )


def test_the_head_is_scaled_dot_product_attention_with_a_causal_mask(x):
    rng = np.random.default_rng(2)
    w_query, w_key, w_value = (rng.normal(size=(D, d)) for _ in range(3))
    head = np_steps.causal_attention_head(x, w_query, w_key, w_value)
    expected, _ = scaled_dot_product_attention(
        x @ w_query, x @ w_key, x @ w_value, causal_mask(T)
    )
    np.testing.assert_allclose(head, expected, rtol=0, atol=1e-13)
    # PyTorch's fused attention, an implementation this package did not write.
    q, k, v = (torch.from_numpy(x @ w) for w in (w_query, w_key, w_value))
    fused = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(head, fused.numpy(), rtol=0, atol=1e-12)
    # the scores do change the weights
    assert not np.allclose(head, np_steps.mean_with_softmax(x @ w_value))


def test_the_backends_agree_step_by_step(x):
    rng = np.random.default_rng(3)
    weights = [rng.normal(size=(D, d)) for _ in range(3)]
    x_t = torch.from_numpy(x)
    for name in ("mean_with_loop", "mean_with_matrix", "mean_with_softmax"):
        np.testing.assert_allclose(
            getattr(torch_steps, name)(x_t).numpy(),
            getattr(np_steps, name)(x),
            rtol=0,
            atol=1e-14,
        )
    head = torch_steps.causal_attention_head(
        x_t, *(torch.from_numpy(w) for w in weights)
    )
    np.testing.assert_allclose(
        head.numpy(), np_steps.causal_attention_head(x, *weights), rtol=0, atol=1e-13
    )


@pytest.mark.parametrize("steps", [np_steps, torch_steps], ids=["numpy", "torch"])
def test_bad_input_is_refused_with_the_shapes(steps):
    array = np.zeros if steps is np_steps else torch.zeros
    with pytest.raises(
        ValueError, match=r"x must have 2 dimensions \(T, D\), got shape \(2, 3, 4\)"
    ):
        steps.mean_with_loop(array((2, 3, 4)))
    with pytest.raises(TypeError, match="x must be a"):
        steps.mean_with_matrix([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"x and w_key must have the same width D"):
        steps.causal_attention_head(
            array((3, 4)), array((4, 2)), array((5, 2)), array((4, 2))
        )
