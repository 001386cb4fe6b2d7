"""Wrong on purpose: the mistakes the checker recognises, each a short NumPy function with one real bug.

Each has the signature of an exercise, so that the checker can run it on the same inputs as a reader's function and say
"this is that mistake" when both give the same result. The ones marked with snippet sections are the functions of the
"find the bug" exercises, shown on the pages. The mistakes that are whole models, kept to measure what they cost in
training, are in ``transformer_tutorial.torch.mistakes`` (``TokenSplitAttention`` is the token split below, inside
multi-head attention).
"""

from __future__ import annotations

import math

import numpy as np

from transformer_tutorial.numpy.attention import (
    merge_heads,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)
from transformer_tutorial.numpy.positional import concatenated_sinusoidal_encoding

# --- attention -------------------------------------------------------------------------------------------------


def softmax_without_shift(x: np.ndarray, axis: int = -1) -> np.ndarray:
    # overflows to inf for scores above about 709 (float64) or 88 (float32)
    exps = np.exp(x)
    return exps / exps.sum(axis=axis, keepdims=True)


def softmax_over_everything(x: np.ndarray, axis: int = -1) -> np.ndarray:
    exps = np.exp(x - x.max())
    return exps / exps.sum()


# --8<-- [start:flipped_mask]
def attention(query, key, value, mask=None):
    """softmax(Q Kᵀ / √d) V with a boolean mask, True = may attend."""
    d = query.shape[-1]
    scores = query @ np.swapaxes(key, -1, -2) / math.sqrt(d)
    if mask is not None:
        scores = np.where(mask, -1e9, scores)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ value, weights


# --8<-- [end:flipped_mask]
attention_with_flipped_mask = attention


def attention_without_scaling(query, key, value, mask=None):
    scores = query @ np.swapaxes(key, -1, -2)
    weights = softmax(scores, axis=-1, mask=mask)
    return weights @ value, weights


def attention_with_infinite_fill(query, key, value, mask=None):
    scores = query @ np.swapaxes(key, -1, -2) / math.sqrt(query.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    # -inf - -inf = NaN on a fully masked row
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ value, weights


def attention_softmax_over_queries(query, key, value, mask=None):
    scores = query @ np.swapaxes(key, -1, -2) / math.sqrt(query.shape[-1])
    weights = softmax(
        scores,
        axis=-2,
        mask=None if mask is None else np.broadcast_to(mask, scores.shape),
    )
    return weights @ value, weights


# --- multi-head attention --------------------------------------------------------------------------------------


def split_tokens(x: np.ndarray, num_heads: int) -> np.ndarray:
    # The seed module's split: np.split(Q, h) on a (T, D) matrix cuts the rows, that is the tokens.
    return np.stack(np.split(x, num_heads, axis=1), axis=1)  # (B, H, T / H, D)


def reshape_without_transpose(x: np.ndarray, num_heads: int) -> np.ndarray:
    batch, length, width = x.shape
    return x.reshape(batch, num_heads, length, width // num_heads)


# --8<-- [start:scale_by_d_model]
def multi_head_attention(query, key, value, num_heads):
    """Attention in num_heads heads, projections
    left out: (B, T, D), (B, S, D) -> (B, T, D)."""
    d_model = query.shape[-1]
    q, k, v = (split_heads(x, num_heads) for x in (query, key, value))
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(d_model)  # (B, H, T, S)
    weights = softmax(scores, axis=-1)
    return merge_heads(weights @ v)


# --8<-- [end:scale_by_d_model]
multi_head_attention_scaled_by_d_model = multi_head_attention


def multi_head_attention_with_token_split(query, key, value, num_heads):
    q, k, v = (split_tokens(x, num_heads) for x in (query, key, value))
    output, _ = scaled_dot_product_attention(q, k, v)  # (B, H, T / H, D)
    return np.concatenate(list(np.moveaxis(output, 1, 0)), axis=1)


def multi_head_attention_without_scaling(query, key, value, num_heads):
    q, k, v = (split_heads(x, num_heads) for x in (query, key, value))
    weights = softmax(q @ np.swapaxes(k, -1, -2), axis=-1)
    return merge_heads(weights @ v)


# --- positional encodings --------------------------------------------------------------------------------------


# --8<-- [start:exponent_i]
def sinusoidal_encoding(length, d_model):
    """The sinusoidal table (T, D): sin in even columns, cos in odd ones."""
    positions = np.arange(length)[:, None]
    i = np.arange((d_model + 1) // 2)  # the index of each (sin, cos) pair
    angles = positions / 10000 ** (i / d_model)
    table = np.zeros((length, d_model))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return table


# --8<-- [end:exponent_i]
sinusoidal_with_exponent_i = sinusoidal_encoding


def sinusoidal_concatenated(length, d_model):
    return concatenated_sinusoidal_encoding(length, d_model)


def sinusoidal_sin_cos_swapped(length, d_model):
    angles = np.arange(length)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
    table = np.zeros((length, d_model))
    table[:, 0::2] = np.cos(angles)
    table[:, 1::2] = np.sin(angles[:, : d_model // 2])
    return table


# --- the architecture ------------------------------------------------------------------------------------------


# --8<-- [start:unbiased_variance]
def layer_norm(x, weight, bias, eps=1e-5):
    """Normalise each position's features to
    mean 0, variance 1, then scale and shift."""
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, ddof=1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


# --8<-- [end:unbiased_variance]
layer_norm_unbiased = layer_norm


def layer_norm_eps_outside(x, weight, bias, eps=1e-5):
    centred = x - x.mean(axis=-1, keepdims=True)
    return (
        centred
        / (np.sqrt(np.square(centred).mean(axis=-1, keepdims=True)) + eps)
        * weight
        + bias
    )


def layer_norm_over_batch(x, weight, bias, eps=1e-5):
    centred = x - x.mean(axis=0, keepdims=True)
    return (
        centred / np.sqrt(np.square(centred).mean(axis=0, keepdims=True) + eps) * weight
        + bias
    )


# --- training and inference ------------------------------------------------------------------------------------


# --8<-- [start:no_warmup]
def learning_rate(step, d_model, warmup):
    """The paper's schedule: a linear warm-up for `warmup` steps, then 1/√step."""
    return d_model**-0.5 * min(step**-0.5, step * warmup**-0.5)


# --8<-- [end:no_warmup]
learning_rate_without_warmup = learning_rate


def learning_rate_with_max(step, d_model, warmup):
    return d_model**-0.5 * max(step**-0.5, step * warmup**-1.5)


def attend_before_appending(query, key, value, cached_keys, cached_values):
    output, _ = scaled_dot_product_attention(query, cached_keys, cached_values)
    return (
        output,
        np.concatenate([cached_keys, key], axis=-2),
        np.concatenate([cached_values, value], axis=-2),
    )


def prepend_to_cache(query, key, value, cached_keys, cached_values):
    keys, values = (
        np.concatenate([key, cached_keys], axis=-2),
        np.concatenate([value, cached_values], axis=-2),
    )
    output, _ = scaled_dot_product_attention(query, keys, values)
    return output, keys, values


# --- causal self-attention -------------------------------------------------------------------------------------


def causal_mask_transposed(query_length, key_length):
    return np.triu(
        np.ones((query_length, key_length), dtype=bool), k=key_length - query_length
    )


def causal_mask_without_diagonal(query_length, key_length):
    return np.tril(
        np.ones((query_length, key_length), dtype=bool), k=key_length - query_length - 1
    )


def causal_mask_aligned_to_start(query_length, key_length):
    return np.tril(np.ones((query_length, key_length), dtype=bool))


# --8<-- [start:mask_after_softmax]
def causal_attention(query, key, value):
    """Attention in which query t sees keys 0…t only;
    the queries are the last T of the S positions."""
    length, keys = query.shape[-2], key.shape[-2]
    scores = query @ np.swapaxes(key, -1, -2) / math.sqrt(query.shape[-1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    weights = weights * np.tril(np.ones((length, keys)), k=keys - length)
    return weights @ value


# --8<-- [end:mask_after_softmax]
causal_attention_masked_after_softmax = causal_attention


def causal_attention_with_transposed_mask(query, key, value):
    length, keys = query.shape[-2], key.shape[-2]
    output, _ = scaled_dot_product_attention(
        query, key, value, causal_mask_transposed(length, keys)
    )
    return output


def top_k_keeping_smallest(logits, k):
    kth_smallest = np.sort(logits, axis=-1)[..., k - 1, None]
    return softmax(logits, axis=-1, mask=logits <= kth_smallest)


def top_k_with_zero_logits(logits, k):
    kth_largest = np.sort(logits, axis=-1)[..., -k, None]
    return softmax(np.where(logits >= kth_largest, logits, 0.0), axis=-1)


def top_k_not_renormalised(logits, k):
    kth_largest = np.sort(logits, axis=-1)[..., -k, None]
    return np.where(logits >= kth_largest, softmax(logits, axis=-1), 0.0)


# --- encoder-only models ---------------------------------------------------------------------------------------


def mean_pool_over_padding(hidden, tokens, pad_id):
    return hidden.mean(axis=1)


def sum_pool(hidden, tokens, pad_id):
    return (hidden * (tokens != pad_id)[..., None]).sum(axis=1)


# --8<-- [start:tanh_gelu]
def gelu_tanh(x):
    """GELU, x·Φ(x), with Φ the standard normal distribution function."""
    inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    return 0.5 * x * (1 + np.tanh(inner))


# --8<-- [end:tanh_gelu]


def gelu_sigmoid(x):
    return x / (1 + np.exp(-1.702 * x))


# --- vision transformers ---------------------------------------------------------------------------------------


# --8<-- [start:patch_strips]
def patchify(images, patch_size):
    """Cut (B, C, H, W) images into P × P patches, flattened: (B, N, C·P·P)."""
    batch, channels, height, width = images.shape
    count = (height // patch_size) * (width // patch_size)
    return images.reshape(batch, count, channels * patch_size * patch_size)


# --8<-- [end:patch_strips]
patchify_by_reshape = patchify


def patchify_column_major(images, patch_size):
    batch, channels, height, width = images.shape
    grid = images.reshape(
        batch,
        channels,
        height // patch_size,
        patch_size,
        width // patch_size,
        patch_size,
    )
    return grid.transpose(0, 4, 2, 1, 3, 5).reshape(batch, -1, channels * patch_size**2)


def patchify_channels_last(images, patch_size):
    batch, channels, height, width = images.shape
    grid = images.reshape(
        batch,
        channels,
        height // patch_size,
        patch_size,
        width // patch_size,
        patch_size,
    )
    return grid.transpose(0, 2, 4, 3, 5, 1).reshape(batch, -1, channels * patch_size**2)


# --- attention in today's models -------------------------------------------------------------------------------


def grouped_query_attention_tiled_heads(query, key, value, mask=None):
    # np.tile (torch's .repeat) lays the G heads out G, G, …: query head h meets key/value head h % G.
    group = query.shape[1] // key.shape[1]
    keys, values = np.tile(key, (1, group, 1, 1)), np.tile(value, (1, group, 1, 1))
    output, _ = scaled_dot_product_attention(query, keys, values, mask)
    return output


def grouped_query_attention_without_scaling(query, key, value, mask=None):
    group = query.shape[1] // key.shape[1]
    keys, values = np.repeat(key, group, axis=1), np.repeat(value, group, axis=1)
    scores = query @ np.swapaxes(keys, -1, -2)
    return (
        softmax(
            scores,
            axis=-1,
            mask=None if mask is None else np.broadcast_to(mask, scores.shape),
        )
        @ values
    )


# --8<-- [start:nucleus_drops_crossing]
def nucleus_mask(probabilities, top_p):
    """True for the smallest set of most probable tokens whose sum reaches top_p."""
    order = np.argsort(-probabilities, axis=-1)  # most probable first
    ranked = np.take_along_axis(probabilities, order, axis=-1)
    kept = np.cumsum(ranked, axis=-1) <= top_p
    mask = np.zeros(probabilities.shape, dtype=bool)
    np.put_along_axis(mask, order, kept, axis=-1)  # back to the vocabulary's order
    return mask


# --8<-- [end:nucleus_drops_crossing]
nucleus_mask_dropping_crossing = nucleus_mask


def nucleus_mask_in_vocabulary_order(probabilities, top_p):
    before = np.cumsum(probabilities, axis=-1) - probabilities
    return before < top_p


def nucleus_mask_least_probable_first(probabilities, top_p):
    order = np.argsort(probabilities, axis=-1)
    ranked = np.take_along_axis(probabilities, order, axis=-1)
    mask = np.zeros(probabilities.shape, dtype=bool)
    np.put_along_axis(mask, order, np.cumsum(ranked, axis=-1) - ranked < top_p, axis=-1)
    return mask


# --8<-- [start:online_softmax_sum]
def online_attention(query, key, value, block_size):
    """softmax(Q Kᵀ / √d) V, with the keys read block_size at a time."""
    q = query / math.sqrt(query.shape[-1])
    best = np.full((*q.shape[:-1], 1), -np.inf)  # running maximum m
    total = np.zeros_like(best)  # running sum of exp(score - m)
    out = np.zeros((*q.shape[:-1], value.shape[-1]))  # running Σ exp(score - m) v
    for start in range(0, key.shape[-2], block_size):
        block = slice(start, start + block_size)
        scores = q @ np.swapaxes(key[..., block, :], -1, -2)
        new_best = np.maximum(best, scores.max(axis=-1, keepdims=True))
        exps = np.exp(scores - new_best)
        total = total + exps.sum(axis=-1, keepdims=True)
        out = out * np.exp(best - new_best) + exps @ value[..., block, :]
        best = new_best
    return out / total


# --8<-- [end:online_softmax_sum]
online_attention_sum_not_rescaled = online_attention


def online_attention_output_not_rescaled(query, key, value, block_size):
    q = query / math.sqrt(query.shape[-1])
    best = np.full((*q.shape[:-1], 1), -np.inf)
    total = np.zeros_like(best)
    out = np.zeros((*q.shape[:-1], value.shape[-1]))
    for start in range(0, key.shape[-2], block_size):
        block = slice(start, start + block_size)
        scores = q @ np.swapaxes(key[..., block, :], -1, -2)
        new_best = np.maximum(best, scores.max(axis=-1, keepdims=True))
        exps = np.exp(scores - new_best)
        total = total * np.exp(best - new_best) + exps.sum(axis=-1, keepdims=True)
        out = out + exps @ value[..., block, :]
        best = new_best
    return out / total


def online_attention_inverted_rescale(query, key, value, block_size):
    q = query / math.sqrt(query.shape[-1])
    best = np.full((*q.shape[:-1], 1), -np.inf)
    total = np.zeros_like(best)
    out = np.zeros((*q.shape[:-1], value.shape[-1]))
    for start in range(0, key.shape[-2], block_size):
        block = slice(start, start + block_size)
        scores = q @ np.swapaxes(key[..., block, :], -1, -2)
        new_best = np.maximum(best, scores.max(axis=-1, keepdims=True))
        exps = np.exp(scores - new_best)
        rescale = np.exp(new_best - best)  # the wrong way round: exp(m_new - m_old)
        total = total * rescale + exps.sum(axis=-1, keepdims=True)
        out = out * rescale + exps @ value[..., block, :]
        best = new_best
    return out / total


# --- long contexts ---------------------------------------------------------------------------------------------


def yarn_frequencies_ramp_reversed(frequencies, factor, original_length):
    turns = original_length * frequencies / (2 * np.pi)
    ramp = np.clip((turns - 1) / 31, 0, 1)
    # fast pairs squeezed, slow ones kept
    return ramp * frequencies / factor + (1 - ramp) * frequencies


def yarn_frequencies_wavelength_as_turns(frequencies, factor, original_length):
    turns = 2 * np.pi / frequencies  # the wavelength λ, not the turns L / λ
    ramp = np.clip((turns - 1) / 31, 0, 1)
    return (1 - ramp) * frequencies / factor + ramp * frequencies


# --8<-- [start:sinks_twice]
def kept_positions(total, num_sinks, window):
    """The positions a sink + window cache keeps after ``total`` positions."""
    sinks = np.arange(min(num_sinks, total))
    recent = np.arange(max(total - window, 0), total)
    return np.concatenate([sinks, recent])


# --8<-- [end:sinks_twice]
kept_positions_sinks_twice = kept_positions


def kept_positions_without_sinks(total, num_sinks, window):
    return np.arange(max(total - window, 0), total)


def kept_positions_window_includes_sinks(total, num_sinks, window):
    if total <= window:
        return np.arange(total)
    return np.concatenate(
        [np.arange(num_sinks), np.arange(total - window + num_sinks, total)]
    )
