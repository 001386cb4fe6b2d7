"""Attention as today's models run it, in NumPy: grouped-query attention,
tiled attention with an online softmax, and sliding-window masks.

Shapes use B (batch), H (query heads), G (key/value heads, G divides H), T (query positions), S (key positions), D
(model width) and d_k (one head's width, D / H). Boolean masks mean True = may attend.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import (
    check_attention_mask,
    check_grouped_heads,
    check_heads,
    check_kv_heads,
    check_multi_head_inputs,
    check_multi_head_mask,
    check_positive_int,
    check_query_key_value,
    check_scores_mask,
    format_shape,
)
from transformer_tutorial.mask_shapes import grouped_mask, mask_tile, with_head_axis
from transformer_tutorial.numpy.attention import (
    MultiHeadAttentionParams,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from transformer_tutorial.numpy.masks import causal_mask
from transformer_tutorial.numpy.relative import rotary_embedding
from transformer_tutorial.validation import validated


def check_grouped_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None = None,
) -> None:
    num_heads, _ = check_grouped_heads(query, key, value)
    if mask is not None:
        batch, _, length, _ = query.shape
        check_attention_mask(mask, (batch, num_heads, length, key.shape[2]))


# --8<-- [start:grouped_query_attention]
@validated(check_grouped_attention)
def grouped_query_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Attention where H query heads share G key/value heads.

    Query head h reads key/value head h // (H / G).

    G = H is multi-head attention, G = 1 is multi-query attention. The queries are regrouped as (B, G, H / G, T, d_k) so
    that every member of a group meets its group's keys by broadcasting: the keys and values are never copied H / G
    times.

    Args:
        query: (B, H, T, d_k). key: (B, G, S, d_k). value: (B, G, S, d_v); G divides H.
        mask: Optional boolean (T, S), or (B or 1, H or 1, T or 1, S); True = attend.

    Returns:
        ``(output, weights)``: (B, H, T, d_v) and (B, H, T, S). A fully masked row gives zeros.
    """
    batch, num_heads, length, width = query.shape
    num_kv_heads = key.shape[1]
    group = num_heads // num_kv_heads
    # Query head h = g·(H/G) + member: (B, H, T, d_k) -> (B, G, H/G, T, d_k).
    q = query.reshape(batch, num_kv_heads, group, length, width)
    k, v = key[:, :, None], value[:, :, None]  # (B, G, 1, S, ·): one per group
    mask = grouped_mask(mask, num_heads, num_kv_heads)
    output, weights = scaled_dot_product_attention(q, k, v, mask)
    shape = (batch, num_heads, length, -1)
    return output.reshape(shape), weights.reshape(shape)


# --8<-- [end:grouped_query_attention]


@dataclass
class GroupedQueryAttentionParams:
    """The weights of grouped-query attention, in the
    paper's orientation (a projection is ``x @ w + b``).

    ``w_q`` and ``w_o`` are (D, D); ``w_k`` and ``w_v`` are (D, G·d_k): G key/value heads of d_k = D / H features, so
    they are H / G times smaller than in multi-head attention. Biases are (D,) or (G·d_k,).
    """

    w_q: np.ndarray
    w_k: np.ndarray
    w_v: np.ndarray
    w_o: np.ndarray
    b_q: np.ndarray
    b_k: np.ndarray
    b_v: np.ndarray
    b_o: np.ndarray
    num_heads: int
    num_kv_heads: int

    def __post_init__(self) -> None:
        width = self.w_q.shape[0]
        check_heads(width, self.num_heads)
        check_kv_heads(self.num_heads, self.num_kv_heads)
        kv_width = self.num_kv_heads * (width // self.num_heads)
        expected = {
            "w_q": (width, width),
            "w_k": (width, kv_width),
            "w_v": (width, kv_width),
            "w_o": (width, width),
            "b_q": (width,),
            "b_k": (kv_width,),
            "b_v": (kv_width,),
            "b_o": (width,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"{name} must have shape {format_shape(shape)}, got {format_shape(getattr(self, name).shape)}"
                )

    @property
    def d_model(self) -> int:
        return self.w_q.shape[0]

    @classmethod
    def from_multi_head(
        cls, params: MultiHeadAttentionParams
    ) -> GroupedQueryAttentionParams:
        """Multi-head attention's weights as grouped-query weights with G = H."""
        return cls(
            params.w_q, params.w_k, params.w_v, params.w_o, params.b_q, params.b_k, params.b_v, params.b_o,
            params.num_heads, params.num_heads,
        )  # fmt: skip


def check_grouped_layer_call(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    params: GroupedQueryAttentionParams,
    mask: np.ndarray | None = None,
    rope: bool = False,
) -> None:
    check_multi_head_inputs(query, key, value, params.d_model)
    check_multi_head_mask(mask, len(query), query.shape[1], key.shape[1])


@validated(check_grouped_layer_call)
def grouped_query_attention_layer(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    params: GroupedQueryAttentionParams,
    mask: np.ndarray | None = None,
    rope: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Project to H query heads and G key/value heads,
    attend with ``grouped_query_attention``, merge, project.

    Args:
        query: (B, T, D). key, value: (B, S, D).
        params: The weights.
        mask: Optional boolean (T, S), (B, T, S) or (B, 1, S); True = may attend.
        rope: Rotate the queries and keys of every head by their positions (RoPE) before the scores.

    Returns:
        ``(output, weights)``: (B, T, D) and the per-head weights (B, H, T, S).
    """
    head_mask = with_head_axis(mask)
    q = split_heads(query @ params.w_q + params.b_q, params.num_heads)  # (B, H, T, d_k)
    # (B, G, S, d_k)
    k = split_heads(key @ params.w_k + params.b_k, params.num_kv_heads)
    # (B, G, S, d_k)
    v = split_heads(value @ params.w_v + params.b_v, params.num_kv_heads)
    if rope:
        q, k = rotary_embedding(q), rotary_embedding(k)
    # (B, H, T, d_k), (B, H, T, S)
    heads, weights = grouped_query_attention(q, k, v, head_mask)
    return merge_heads(heads) @ params.w_o + params.b_o, weights


def check_tiled_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None = None,
    block_size: int = 64,
    on_tile: Callable[[TileStep], None] | None = None,
) -> None:
    check_query_key_value(query, key, value)
    check_positive_int("block_size", block_size)
    check_scores_mask(query, key, mask)


@dataclass(frozen=True)
class TileStep:
    """What ``tiled_attention`` did with one tile,
    for a reader who follows it step by step.

    ``rows`` and ``cols`` are the first query and the first key of the tile. A skipped tile (the mask blocks all of it)
    has only those; otherwise the fields hold the values just after the tile was read: its scaled scores (..., b, b_k)
    with -inf where masked, and per query row (..., b, 1) the running maximum m, the factor exp(m_old - m_new) that
    rescaled the old sum and output, the running sum l, and the unnormalised output (..., b, d_v).
    """

    rows: int
    cols: int
    skipped: bool
    scores: np.ndarray | None = None
    running_max: np.ndarray | None = None
    rescale: np.ndarray | None = None
    running_sum: np.ndarray | None = None
    accumulated: np.ndarray | None = None


# --8<-- [start:tiled_attention]
@validated(check_tiled_attention)
def tiled_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None = None,
    block_size: int = 64,
    on_tile: Callable[[TileStep], None] | None = None,
) -> np.ndarray:
    """softmax(Q Kᵀ / √d_k) V, tile by tile,
    never holding more than one tile of scores.

    For each block of queries, the keys are read one block at a time. Every query keeps a running maximum m of the
    scores it has seen, the running sum l of exp(score - m), and the running weighted sum of values. When a block raises
    the maximum, the old sum and the old output are multiplied by exp(m_old - m_new), which is what they would have been
    had the new maximum been subtracted from the start (the online softmax). At the end, the output is divided by l. A
    tile that the mask blocks entirely is skipped.

    Args:
        query: (..., T, d_k). key: (..., S, d_k). value: (..., S, d_v).
        mask: Optional boolean (T, S), or one size per score dimension (1 or full).
        block_size: Queries and keys per tile.
        on_tile: Called with a ``TileStep`` after each tile, skipped ones included.

    Returns:
        (..., T, d_v), equal to ``scaled_dot_product_attention``'s output up to rounding; a fully masked row gives
        zeros.
    """
    length, keys = query.shape[-2], key.shape[-2]
    batch_shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2])
    q = query / math.sqrt(query.shape[-1])
    dtype = np.result_type(q, value)
    output = np.zeros((*batch_shape, length, value.shape[-1]), dtype=dtype)
    for q_start in range(0, length, block_size):
        rows = slice(q_start, q_start + block_size)
        q_block = q[..., rows, :]  # (..., b, d_k)
        per_row = (*batch_shape, q_block.shape[-2], 1)  # one number per query row
        running_max = np.full(per_row, -np.inf, dtype=dtype)  # m
        running_sum = np.zeros_like(running_max)  # l
        accumulated = np.zeros_like(output[..., rows, :])  # Σ exp(score - m) v
        for k_start in range(0, keys, block_size):
            cols = slice(k_start, k_start + block_size)
            scores = q_block @ np.swapaxes(key[..., cols, :], -1, -2)  # one (b, b) tile
            if mask is not None:
                allowed = mask_tile(mask, rows, cols)
                if not allowed.any():  # nothing in this tile may be attended to
                    if on_tile is not None:
                        on_tile(TileStep(q_start, k_start, skipped=True))
                    continue
                scores = np.where(allowed, scores, -np.inf)
            new_max = np.maximum(running_max, scores.max(axis=-1, keepdims=True))
            # A row masked so far has max -inf: it is shifted by 0, and rescaled by 0.
            shift = np.where(np.isfinite(new_max), new_max, 0.0)
            rescale = np.exp(running_max - shift)  # exp(m_old - m_new)
            exps = np.exp(scores - shift)  # masked scores give exp(-inf) = 0
            running_sum = running_sum * rescale + exps.sum(axis=-1, keepdims=True)
            accumulated = accumulated * rescale + exps @ value[..., cols, :]
            running_max = new_max
            if on_tile is not None:  # a record for the reader, never read back
                state = scores, running_max, rescale, running_sum, accumulated
                on_tile(TileStep(q_start, k_start, False, *state))
        safe_sum = np.where(running_sum > 0, running_sum, 1.0)  # masked row: 0 / 1
        output[..., rows, :] = accumulated / safe_sum
    return output


# --8<-- [end:tiled_attention]


# --8<-- [start:sliding_window_mask]
def sliding_window_mask(
    query_length: int,
    window: int,
    key_length: int | None = None,
) -> np.ndarray:
    """(T, S) causal mask letting each query see only the last ``window`` positions.

    A query's own position is one of them. As in ``causal_mask``, the queries are the last T of the S positions. Each
    row has at most ``window`` True entries, so attention costs O(T·window) instead of O(T·S).

    Examples:
        >>> sliding_window_mask(5, window=2).astype(int)
        array([[1, 0, 0, 0, 0],
               [1, 1, 0, 0, 0],
               [0, 1, 1, 0, 0],
               [0, 0, 1, 1, 0],
               [0, 0, 0, 1, 1]])
    """
    check_positive_int("window", window)
    causal = causal_mask(query_length, key_length)  # checks the lengths
    offset = causal.shape[1] - query_length
    keys = np.arange(causal.shape[1])[None, :]
    queries = np.arange(query_length)[:, None]
    too_old = keys <= queries + offset - window
    return causal & ~too_old


# --8<-- [end:sliding_window_mask]
