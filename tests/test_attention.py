"""Attention in both backends, checked against PyTorch's own modules and against each other."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import DTYPES, assert_close
from torch import nn

from transformer_tutorial import numpy as tnp
from transformer_tutorial import torch as ttorch
from transformer_tutorial.costs import attention_multiply_adds
from transformer_tutorial.torch import MultiHeadAttention


def reference_pair(d_model: int, num_heads: int, dtype: torch.dtype, seed: int = 0):
    """PyTorch's nn.MultiheadAttention with random weights (biases too), and ours with the same weights."""
    torch.manual_seed(seed)
    reference = (
        nn.MultiheadAttention(d_model, num_heads, batch_first=True).to(dtype).eval()
    )
    with torch.no_grad():  # the default biases are zero, which would hide a bias that is dropped or misplaced
        reference.in_proj_bias.normal_()
        reference.out_proj.bias.normal_()
    return reference, MultiHeadAttention.from_pytorch(reference).eval()


def inputs(
    batch: int,
    query_length: int,
    key_length: int,
    d_model: int,
    dtype: torch.dtype,
    seed: int = 1,
):
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(batch, query_length, d_model, generator=generator, dtype=dtype)
    key = torch.randn(batch, key_length, d_model, generator=generator, dtype=dtype)
    value = torch.randn(batch, key_length, d_model, generator=generator, dtype=dtype)
    return query, key, value


def random_mask(
    batch: int, query_length: int, key_length: int, seed: int = 2
) -> torch.Tensor:
    """A (B, T, S) mask that leaves every query at least one key (nn.MultiheadAttention gives NaN otherwise)."""
    mask = (
        torch.rand(
            batch,
            query_length,
            key_length,
            generator=torch.Generator().manual_seed(seed),
        )
        > 0.4
    )
    mask[..., 0] = True
    return mask


# Ours against nn.MultiheadAttention, outputs and per-head weights.


@DTYPES
def test_self_attention_matches_nn_multihead_attention(dtype):
    reference, ours = reference_pair(32, 4, dtype)
    x, _, _ = inputs(3, 7, 7, 32, dtype)
    expected, expected_weights = reference(x, x, x, average_attn_weights=False)
    output, weights = ours(x, x, x)
    assert_close(output, expected, dtype)
    assert_close(weights, expected_weights, dtype)


@DTYPES
def test_cross_attention_with_different_lengths_matches(dtype):
    reference, ours = reference_pair(24, 3, dtype)
    query, key, value = inputs(2, 5, 9, 24, dtype)
    expected, expected_weights = reference(
        query, key, value, average_attn_weights=False
    )
    output, weights = ours(query, key, value)
    assert weights.shape == (2, 3, 5, 9)
    assert_close(output, expected, dtype)
    assert_close(weights, expected_weights, dtype)


@DTYPES
def test_causal_mask_matches(dtype):
    reference, ours = reference_pair(16, 2, dtype)
    x, _, _ = inputs(2, 6, 6, 16, dtype)
    mask = ttorch.causal_mask(6)
    expected, expected_weights = reference(
        x, x, x, attn_mask=ttorch.to_mha_mask(mask, 2), average_attn_weights=False
    )
    output, weights = ours(x, x, x, mask=mask)
    assert_close(output, expected, dtype)
    assert_close(weights, expected_weights, dtype)
    assert (weights[..., ~mask] == 0).all()


@DTYPES
def test_padding_mask_matches_key_padding_mask(dtype):
    reference, ours = reference_pair(16, 4, dtype)
    query, key, value = inputs(2, 4, 6, 16, dtype)
    tokens = torch.tensor([[3, 4, 5, 6, 0, 0], [7, 8, 0, 0, 0, 0]])
    mask = ttorch.padding_mask(tokens, pad_id=0)
    expected, expected_weights = reference(
        query,
        key,
        value,
        key_padding_mask=ttorch.to_mha_key_padding_mask(mask),
        average_attn_weights=False,
    )
    output, weights = ours(query, key, value, mask=mask)
    assert_close(output, expected, dtype)
    assert_close(weights, expected_weights, dtype)


@DTYPES
def test_per_sequence_mask_matches_a_per_head_attn_mask(dtype):
    reference, ours = reference_pair(16, 4, dtype)
    query, key, value = inputs(3, 5, 7, 16, dtype)
    mask = random_mask(3, 5, 7)
    expected, expected_weights = reference(
        query,
        key,
        value,
        attn_mask=ttorch.to_mha_mask(mask, 4),
        average_attn_weights=False,
    )
    output, weights = ours(query, key, value, mask=mask)
    assert_close(output, expected, dtype)
    assert_close(weights, expected_weights, dtype)


# The other paths and the other backend, against the explicit path or PyTorch.


def fused_path(module: ttorch.MultiHeadAttention) -> ttorch.MultiHeadAttention:
    """A copy of ``module`` that takes the fused path (the same weights, shared)."""
    fused = copy.copy(module)
    fused.fused = True
    return fused


@DTYPES
def test_fused_path_equals_explicit_path(dtype):
    _, ours = reference_pair(32, 8, dtype)
    query, key, value = inputs(2, 6, 10, 32, dtype)
    for mask in (None, random_mask(2, 6, 10), ttorch.causal_mask(6, 10)):
        explicit, _ = ours(query, key, value, mask=mask)
        fused, weights = fused_path(ours)(query, key, value, mask=mask)
        assert weights is None
        assert_close(fused, explicit, dtype)


@DTYPES
def test_per_head_loop_equals_batched_form(dtype):
    _, ours = reference_pair(24, 6, dtype)
    query, key, value = inputs(2, 4, 5, 24, dtype)
    mask = random_mask(2, 4, 5)
    loop_output, loop_weights = ours.per_head(query, key, value, mask)
    output, weights = ours(query, key, value, mask)
    assert_close(loop_output, output, dtype)
    assert_close(loop_weights, weights, dtype)


@DTYPES
def test_scaled_dot_product_attention_matches_torch_functional(dtype):
    query, key, value = (
        t.reshape(2, 3, t.shape[1], 4) for t in inputs(2, 5, 7, 12, dtype)
    )
    mask = torch.rand(2, 1, 5, 7, generator=torch.Generator().manual_seed(3)) > 0.5
    expected = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
    for ours in (ttorch.scaled_dot_product_attention, _numpy_sdpa):
        output, _ = ours(query, key, value, mask)
        assert_close(output.to(dtype), expected, dtype)


def _numpy_sdpa(query, key, value, mask):
    output, weights = tnp.scaled_dot_product_attention(
        query.double().numpy(),
        key.double().numpy(),
        value.double().numpy(),
        mask.numpy(),
    )
    return torch.from_numpy(output), torch.from_numpy(weights)


@DTYPES
@pytest.mark.parametrize("masked", [False, True])
def test_numpy_backend_matches_pytorch_on_the_same_weights(dtype, masked):
    reference, ours = reference_pair(20, 5, dtype)
    query, key, value = inputs(2, 3, 6, 20, dtype)
    mask = random_mask(2, 3, 6) if masked else None
    expected, expected_weights = reference(
        query,
        key,
        value,
        attn_mask=None if mask is None else ttorch.to_mha_mask(mask, 5),
        average_attn_weights=False,
    )
    params = ours.numpy_params()  # float64 copies, in the paper's orientation
    arrays = [t.double().numpy() for t in (query, key, value)]
    np_mask = None if mask is None else mask.numpy()
    for function in (tnp.multi_head_attention, tnp.multi_head_attention_per_head):
        output, weights = function(*arrays, params, np_mask)
        assert_close(torch.from_numpy(output).to(dtype), expected, dtype)
        assert_close(torch.from_numpy(weights).to(dtype), expected_weights, dtype)


def test_numpy_scaled_dot_product_attention_against_a_hand_computation():
    query = np.array([[1.0, 0.0]])
    key = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    value = np.array([[1.0], [2.0], [4.0]])
    scores = [1 / np.sqrt(2), 0.0, 1 / np.sqrt(2)]  # q·k / √2 for each key, written out
    weights = np.exp(scores) / np.exp(scores).sum()
    output, got = tnp.scaled_dot_product_attention(query, key, value)
    np.testing.assert_allclose(got[0], weights, rtol=1e-15)
    np.testing.assert_allclose(output[0, 0], weights @ [1.0, 2.0, 4.0], rtol=1e-15)


def test_from_pytorch_and_back_keeps_every_weight():
    reference, ours = reference_pair(16, 4, torch.float64)
    back = ours.to_pytorch()
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(back.state_dict()[name], tensor, rtol=0, atol=0)


def test_nn_multihead_attention_gives_nan_where_ours_gives_zeros():
    """The behaviour the site's table of conventions describes, for a query that may attend to nothing."""
    reference, ours = reference_pair(8, 2, torch.float64)
    x, _, _ = inputs(1, 3, 3, 8, torch.float64)
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1] = False
    theirs, _ = reference(x, x, x, attn_mask=ttorch.to_mha_mask(mask, 2))
    output, weights = ours(x, x, x, mask=mask)
    fused, _ = fused_path(ours)(x, x, x, mask=mask)
    assert torch.isnan(theirs[0, 1]).all() and not torch.isnan(theirs[0, [0, 2]]).any()
    assert (weights[0, :, 1] == 0).all()
    # no weights, so the head outputs are zero and only the output projection's bias is left
    assert_close(output[0, 1], ours.out_proj.bias, torch.float64)
    assert_close(fused, output, torch.float64)


def test_mask_conversions_round_trip():
    mask = random_mask(2, 3, 4)
    for backend, convert in ((ttorch, lambda t: t), (tnp, lambda t: t.numpy())):
        attn_mask = backend.to_mha_mask(convert(mask), num_heads=3)
        assert attn_mask.shape == (6, 3, 4)
        # sequence-major: B·H
        assert (np.asarray(attn_mask[4]) == ~np.asarray(convert(mask)[1])).all()
        assert (
            np.asarray(backend.from_mha_mask(attn_mask[::3]))
            == np.asarray(convert(mask))
        ).all()
    padding = ttorch.padding_mask(torch.tensor([[1, 2, 0], [3, 0, 0]]), pad_id=0)
    key_padding = ttorch.to_mha_key_padding_mask(padding)
    assert key_padding.tolist() == [[False, False, True], [False, True, True]]
    assert (ttorch.from_mha_mask(None, key_padding) == padding).all()
    causal = ttorch.causal_mask(3)
    combined = ttorch.from_mha_mask(ttorch.to_mha_mask(causal, 1), key_padding)
    assert (combined == (causal[None] & padding)).all()


def test_causal_mask_with_cached_keys_lets_the_last_queries_see_everything_before_them():
    assert tnp.causal_mask(2, 4).tolist() == [
        [True, True, True, False],
        [True, True, True, True],
    ]
    assert ttorch.causal_mask(2, 4).tolist() == tnp.causal_mask(2, 4).tolist()


def test_split_heads_splits_features_not_tokens():
    x = np.arange(2 * 3 * 8).reshape(2, 3, 8)
    heads = tnp.split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 2)
    # head 2, token 0 = features 4 and 5 of token 0
    assert (heads[1, 2, 0] == x[1, 0, 4:6]).all()
    torch.testing.assert_close(
        ttorch.split_heads(torch.from_numpy(x), 4), torch.from_numpy(heads)
    )


# The cost of attention, measured by PyTorch's FLOP counter.


@pytest.mark.parametrize(
    ("query_length", "key_length", "d_model"), [(7, 7, 32), (5, 11, 48)]
)
def test_multiply_adds_do_not_depend_on_the_number_of_heads(
    query_length, key_length, d_model
):
    from torch.utils.flop_counter import FlopCounterMode

    query, key, value = inputs(1, query_length, key_length, d_model, torch.float32)
    counted = set()
    for num_heads in (1, 2, 4, 8, 16):
        module = MultiHeadAttention(d_model, num_heads)
        with FlopCounterMode(display=False) as counter:
            module(query, key, value)
        # the counter counts a multiply-add as two FLOPs
        multiply_adds = counter.get_total_flops() // 2
        assert multiply_adds == sum(
            attention_multiply_adds(
                query_length, key_length, d_model, num_heads
            ).values()
        )
        counted.add(multiply_adds)
    assert len(counted) == 1


# Empty sequences: T = 0 gives an empty output; S = 0 leaves every query nothing to attend to.


@pytest.mark.parametrize("fused", [False, True])
def test_empty_sequences(fused):
    _, ours = reference_pair(8, 2, torch.float64)
    ours.fused = fused
    query, key, value = inputs(2, 0, 4, 8, torch.float64)
    output, _ = ours(query, key, value)
    assert output.shape == (2, 0, 8)
    query, key, value = inputs(2, 3, 0, 8, torch.float64)
    output, _ = ours(query, key, value)
    assert_close(output, ours.out_proj.bias.expand(2, 3, 8), torch.float64)
    np_output, np_weights = tnp.multi_head_attention(
        query.numpy(), key.numpy(), value.numpy(), ours.numpy_params()
    )
    assert np_weights.shape == (2, 2, 3, 0)
    np.testing.assert_allclose(np_output, output.detach().numpy(), atol=1e-12)


# Decoding one position at a time with a key/value cache gives what attending over the whole prefix gives.


def test_cached_self_attention_one_step_at_a_time_equals_the_full_causal_pass():
    _, ours = reference_pair(16, 4, torch.float64)
    x, _, _ = inputs(2, 6, 6, 16, torch.float64)
    full, _ = ours(x, x, x, mask=ttorch.causal_mask(6))
    cache = ttorch.KeyValueCache()
    steps = []
    for t in range(6):
        step = x[:, t : t + 1]
        output, weights = ours(
            step, step, step, mask=ttorch.causal_mask(1, t + 1), cache=cache
        )
        assert weights.shape == (2, 4, 1, t + 1) and len(cache) == t + 1
        steps.append(output)
    assert_close(torch.cat(steps, dim=1), full, torch.float64)


def test_static_cache_projects_the_memory_once():
    _, ours = reference_pair(16, 4, torch.float64)
    target, memory, _ = inputs(2, 5, 7, 16, torch.float64)
    full, _ = ours(target, memory, memory)
    cache = ttorch.KeyValueCache(static=True)
    first, _ = ours(target[:, :1], memory, memory, cache=cache)
    cached_keys = cache.keys
    # the memory passed now is ignored
    rest, _ = ours(target[:, 1:], memory * 0, memory * 0, cache=cache)
    assert cache.keys is cached_keys and len(cache) == 7
    assert_close(torch.cat([first, rest], dim=1), full, torch.float64)
