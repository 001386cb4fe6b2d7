"""Attention as today's models run it, in PyTorch: grouped-query attention,
tiled attention with an online softmax, and sliding-window masks.

Shapes use B (batch), H (query heads), G (key/value heads, G divides H), T (query positions), S (key positions), D
(model width) and d_k (one head's width, D / H). Boolean masks mean True = may attend.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.checks import (
    check_attention_mask,
    check_float_arrays,
    check_grouped_heads,
    check_heads,
    check_kv_heads,
    check_multi_head_inputs,
    check_multi_head_mask,
    check_positive_int,
    check_query_key_value,
    check_scores_mask,
)
from transformer_tutorial.mask_shapes import grouped_mask, mask_tile, with_head_axis
from transformer_tutorial.numpy.modern import GroupedQueryAttentionParams
from transformer_tutorial.torch.attention import (
    KeyValueCache,
    MultiHeadAttention,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
    to_numpy,
)
from transformer_tutorial.torch.masks import causal_mask
from transformer_tutorial.torch.relative import rotary_embedding
from transformer_tutorial.validation import validated


def check_grouped_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> None:
    num_heads, _ = check_grouped_heads(query, key, value)
    if mask is not None:
        batch, _, length, _ = query.shape
        check_attention_mask(mask, (batch, num_heads, length, key.shape[2]))


# --8<-- [start:grouped_query_attention]
@validated(check_grouped_attention)
def grouped_query_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention where H query heads share G key/value heads.

    Query head h reads key/value head h // (H / G).

    G = H is multi-head attention, G = 1 is multi-query attention. The queries are regrouped as (B, G, H / G, T, d_k) so
    that every member of a group meets its group's keys by broadcasting: the keys and values are never copied H / G
    times.

    Args:
        query: (B, H, T, d_k). key: (B, G, S, d_k). value: (B, G, S, d_v); G divides H.
        mask: Optional boolean (T, S), or (B or 1, H or 1, T or 1, S); True = attend.
        dropout_p: Probability of zeroing each weight before it multiplies the values (training only).

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
    output, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p)
    shape = (batch, num_heads, length, -1)
    return output.reshape(shape), weights.reshape(shape)


# --8<-- [end:grouped_query_attention]


def check_grouped_call(
    module: GroupedQueryAttention,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    fused: bool | None = None,
    cache: KeyValueCache | None = None,
) -> None:
    arrays = {"query": query, "key": key, "value": value}
    weights = module.q_proj.weight.dtype
    check_float_arrays(arrays, torch.Tensor, "torch.Tensor", weights, "the weights")
    check_multi_head_inputs(query, key, value, module.d_model)
    keys = key.shape[1] + (0 if cache is None else len(cache))
    check_multi_head_mask(mask, len(query), query.shape[1], keys)


class GroupedQueryAttention(nn.Module):
    """Grouped-query attention, batch first: H query heads,
    G key/value heads, an explicit and a fused path.

    With G < H the key and value projections, and the key/value cache, are H / G times smaller than in
    ``MultiHeadAttention``. The fused path hands the heads to ``F.scaled_dot_product_attention`` with
    ``enable_gqa=True`` (PyTorch 2.5 or newer).

    Args:
        d_model: D, the width of the inputs and of the output.
        num_heads: H; D must be divisible by H.
        num_kv_heads: G; it must divide H.
        bias: Whether the four projections have biases.
        rope: Rotate queries and keys by their positions (RoPE) after the projections, before the cache.
        fused: Take the fused path by default.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        num_kv_heads: int,
        bias: bool = True,
        rope: bool = False,
        fused: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int("d_model", d_model)
        check_heads(d_model, num_heads)
        check_kv_heads(num_heads, num_kv_heads)
        self.d_model, self.num_heads, self.num_kv_heads = (
            d_model,
            num_heads,
            num_kv_heads,
        )
        self.rope, self.fused = rope, fused
        kv_width = num_kv_heads * (d_model // num_heads)  # G·d_k
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, kv_width, bias=bias)
        self.v_proj = nn.Linear(d_model, kv_width, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    # --8<-- [start:forward]
    @validated(check_grouped_call)
    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        fused: bool | None = None,
        cache: KeyValueCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``query`` (B, T, D) to ``key`` and ``value`` (B, S, D).

        Args:
            mask: Optional boolean (T, S), (B, T, S) or (B, 1, S); True = may attend. With a cache, S counts the cached
                positions too.
            fused: Use ``F.scaled_dot_product_attention(..., enable_gqa=True)``; no weights are returned then.
            cache: Keys and values of earlier calls, (B, G, S, d_k) each: what grouped-query attention shrinks.

        Returns:
            ``(output, weights)``: (B, T, D) and the per-head weights (B, H, T, S), or None when fused.
        """
        start = 0 if cache is None else len(cache)  # positions already cached
        q = split_heads(self.q_proj(query), self.num_heads)  # (B, H, T, d_k)
        k = split_heads(self.k_proj(key), self.num_kv_heads)  # (B, G, S, d_k)
        v = split_heads(self.v_proj(value), self.num_kv_heads)  # (B, G, S, d_k)
        if self.rope:
            q_positions = torch.arange(start, start + q.shape[2], device=q.device)
            k_positions = torch.arange(start, start + k.shape[2], device=k.device)
            q, k = rotary_embedding(q, q_positions), rotary_embedding(k, k_positions)
        if cache is not None:
            k, v = cache.update(k, v)
        head_mask = with_head_axis(mask)
        if self.fused if fused is None else fused:
            heads = F.scaled_dot_product_attention(q, k, v, head_mask, enable_gqa=True)
            weights = None
        else:
            heads, weights = grouped_query_attention(q, k, v, head_mask)
        return self.out_proj(merge_heads(heads)), weights

    # --8<-- [end:forward]

    @classmethod
    def from_multi_head(cls, module: MultiHeadAttention) -> GroupedQueryAttention:
        """A grouped-query copy of ``module`` with G =
        H and the same weights (same dtype and device)."""
        bias = module.q_proj.bias is not None
        ours = cls(module.d_model, module.num_heads, module.num_heads, bias=bias)
        ours.to(device=module.q_proj.weight.device, dtype=module.q_proj.weight.dtype)
        # the same four projections, under the same names
        ours.load_state_dict(module.state_dict())
        return ours

    def numpy_params(self) -> GroupedQueryAttentionParams:
        """The weights as float64 NumPy arrays, in the paper's orientation (x @ W)."""

        def bias(proj: nn.Linear) -> np.ndarray:
            if proj.bias is None:
                return np.zeros(proj.out_features)
            return to_numpy(proj.bias)

        projections = (self.q_proj, self.k_proj, self.v_proj, self.out_proj)
        return GroupedQueryAttentionParams(
            *(to_numpy(proj.weight.T) for proj in projections),
            *(bias(proj) for proj in projections),
            self.num_heads,
            self.num_kv_heads,
        )


def check_tiled_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
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
    scores: torch.Tensor | None = None
    running_max: torch.Tensor | None = None
    rescale: torch.Tensor | None = None
    running_sum: torch.Tensor | None = None
    accumulated: torch.Tensor | None = None


# --8<-- [start:tiled_attention]
@validated(check_tiled_attention)
def tiled_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    block_size: int = 64,
    on_tile: Callable[[TileStep], None] | None = None,
) -> torch.Tensor:
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
    batch_shape = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2])
    q = query / math.sqrt(query.shape[-1])
    output = q.new_zeros((*batch_shape, length, value.shape[-1]))
    for q_start in range(0, length, block_size):
        rows = slice(q_start, q_start + block_size)
        q_block = q[..., rows, :]  # (..., b, d_k)
        per_row = (*batch_shape, q_block.shape[-2], 1)  # one number per query row
        running_max = q.new_full(per_row, float("-inf"))  # m
        running_sum = torch.zeros_like(running_max)  # l
        accumulated = torch.zeros_like(output[..., rows, :])  # Σ exp(score - m) v
        for k_start in range(0, keys, block_size):
            cols = slice(k_start, k_start + block_size)
            scores = q_block @ key[..., cols, :].transpose(-1, -2)  # one (b, b) tile
            if mask is not None:
                allowed = mask_tile(mask, rows, cols)
                if not allowed.any():  # nothing in this tile may be attended to
                    if on_tile is not None:
                        on_tile(TileStep(q_start, k_start, skipped=True))
                    continue
                scores = scores.masked_fill(~allowed, float("-inf"))
            new_max = torch.maximum(running_max, scores.amax(dim=-1, keepdim=True))
            # A row masked so far has max -inf: it is shifted by 0, and rescaled by 0.
            shift = torch.where(torch.isfinite(new_max), new_max, 0.0)
            rescale = torch.exp(running_max - shift)  # exp(m_old - m_new)
            exps = torch.exp(scores - shift)  # masked scores give exp(-inf) = 0
            running_sum = running_sum * rescale + exps.sum(dim=-1, keepdim=True)
            accumulated = accumulated * rescale + exps @ value[..., cols, :]
            running_max = new_max
            if on_tile is not None:  # a record for the reader, never read back
                state = scores, running_max, rescale, running_sum, accumulated
                on_tile(TileStep(q_start, k_start, False, *state))
        safe_sum = torch.where(running_sum > 0, running_sum, 1.0)  # masked row: 0 / 1
        output[..., rows, :] = accumulated / safe_sum
    return output


# --8<-- [end:tiled_attention]


# --8<-- [start:sliding_window_mask]
def sliding_window_mask(
    query_length: int,
    window: int,
    key_length: int | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """(T, S) causal mask letting each query see only the last ``window`` positions.

    A query's own position is one of them. As in ``causal_mask``, the queries are the last T of the S positions. Each
    row has at most ``window`` True entries, so attention costs O(T·window) instead of O(T·S).

    Examples:
        >>> sliding_window_mask(5, window=2).int()
        tensor([[1, 0, 0, 0, 0],
                [1, 1, 0, 0, 0],
                [0, 1, 1, 0, 0],
                [0, 0, 1, 1, 0],
                [0, 0, 0, 1, 1]], dtype=torch.int32)
    """
    check_positive_int("window", window)
    causal = causal_mask(query_length, key_length, device=device)  # checks the lengths
    offset = causal.shape[1] - query_length
    keys = torch.arange(causal.shape[1], device=device)[None, :]
    queries = torch.arange(query_length, device=device)[:, None]
    too_old = keys <= queries + offset - window
    return causal & ~too_old


# --8<-- [end:sliding_window_mask]
