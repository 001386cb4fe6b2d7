"""Properties of attention that hold for every input (Hypothesis draws the inputs)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_tutorial import numpy as tnp
from transformer_tutorial import torch as ttorch

few_examples = settings(max_examples=40, deadline=None)

shapes = st.tuples(
    st.integers(1, 3),
    st.integers(1, 6),
    st.sampled_from([(4, 1), (4, 2), (6, 3), (8, 4)]),
)


def layer(seed: int, d_model: int, num_heads: int) -> tnp.MultiHeadAttentionParams:
    return tnp.MultiHeadAttentionParams.random(
        d_model, num_heads, np.random.default_rng(seed)
    )


def sequence(seed: int, batch: int, length: int, d_model: int) -> np.ndarray:
    return np.random.default_rng(seed + 1).normal(size=(batch, length, d_model))


@few_examples
@given(shapes, st.integers(0, 2**16), st.randoms(use_true_random=False))
def test_self_attention_without_a_mask_is_permutation_equivariant(shape, seed, random):
    batch, length, (d_model, num_heads) = shape
    params, x = layer(seed, d_model, num_heads), sequence(seed, batch, length, d_model)
    order = list(range(length))
    random.shuffle(order)
    output, weights = tnp.multi_head_attention(x, x, x, params)
    shuffled_output, shuffled_weights = tnp.multi_head_attention(
        x[:, order], x[:, order], x[:, order], params
    )
    np.testing.assert_allclose(shuffled_output, output[:, order], atol=1e-12)
    np.testing.assert_allclose(
        shuffled_weights, weights[:, :, order][..., order], atol=1e-12
    )


@few_examples
@given(shapes, st.integers(0, 2**16), st.data())
def test_with_a_causal_mask_later_tokens_never_change_earlier_outputs(
    shape, seed, data
):
    batch, length, (d_model, num_heads) = shape
    params, x = layer(seed, d_model, num_heads), sequence(seed, batch, length, d_model)
    t = data.draw(st.integers(0, length - 1), label="last position kept")
    changed = x.copy()
    changed[:, t + 1 :] = (
        np.random.default_rng(seed + 2).normal(size=changed[:, t + 1 :].shape) * 10
    )
    mask = tnp.causal_mask(length)
    before, _ = tnp.multi_head_attention(x, x, x, params, mask)
    after, _ = tnp.multi_head_attention(changed, changed, changed, params, mask)
    np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], atol=1e-12)


@few_examples
@given(shapes, st.integers(0, 2**16))
def test_each_sequence_in_a_batch_is_independent_of_the_others(shape, seed):
    batch, length, (d_model, num_heads) = shape
    params, x = layer(seed, d_model, num_heads), sequence(seed, batch, length, d_model)
    mask = np.random.default_rng(seed).random((batch, length, length)) > 0.5
    output, _ = tnp.multi_head_attention(x, x, x, params, mask)
    for b in range(batch):
        alone, _ = tnp.multi_head_attention(
            x[b : b + 1], x[b : b + 1], x[b : b + 1], params, mask[b : b + 1]
        )
        np.testing.assert_allclose(output[b : b + 1], alone, atol=1e-12)


@few_examples
@given(shapes, st.integers(1, 6), st.integers(0, 2**16))
def test_weights_are_a_distribution_over_the_allowed_keys_or_all_zero(
    shape, key_length, seed
):
    batch, length, (d_model, num_heads) = shape
    rng = np.random.default_rng(seed)
    query, key = rng.normal(
        size=(2, batch, num_heads, max(length, key_length), d_model)
    )
    query, key = query[:, :, :length], key[:, :, :key_length]
    # some rows end up fully masked
    mask = rng.random((batch, 1, length, key_length)) > 0.5
    output, weights = tnp.scaled_dot_product_attention(query, key, key, mask)
    allowed_anywhere = np.broadcast_to(mask, weights.shape).any(axis=-1)
    np.testing.assert_allclose(
        weights.sum(axis=-1), allowed_anywhere.astype(float), atol=1e-12
    )
    assert (weights[~np.broadcast_to(mask, weights.shape)] == 0).all()
    assert np.isfinite(output).all()
    # nothing to attend to: zero output, not NaN
    assert (output[~allowed_anywhere] == 0).all()


@few_examples
@given(st.integers(1, 4), st.integers(1, 5), st.integers(0, 2**16))
def test_a_query_with_nothing_to_attend_to_gets_zeros_in_both_backends(
    length, key_length, seed
):
    rng = np.random.default_rng(seed)
    query, key, value = rng.normal(size=(3, 2, max(length, key_length), 4))
    query, key, value = query[:, :length], key[:, :key_length], value[:, :key_length]
    mask = np.zeros((length, key_length), dtype=bool)
    np_output, np_weights = tnp.scaled_dot_product_attention(query, key, value, mask)
    query_t, key_t, value_t = (
        torch.from_numpy(a).requires_grad_() for a in (query, key, value)
    )
    output, weights = ttorch.scaled_dot_product_attention(
        query_t, key_t, value_t, torch.from_numpy(mask)
    )
    output.sum().backward()
    assert (np_output == 0).all() and (np_weights == 0).all()
    assert (output == 0).all() and (weights == 0).all()
    assert all(torch.isfinite(t.grad).all() for t in (query_t, key_t, value_t))
