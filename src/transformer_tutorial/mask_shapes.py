"""Mask shapes shared by both backends: each function here works on a NumPy array and a PyTorch tensor alike.

Only indexing, ``reshape``, ``ndim`` and ``shape`` are used, which the two libraries spell the same way, so the backends
call one implementation instead of keeping two copies in step.
"""

from __future__ import annotations

from typing import Any

from transformer_tutorial.checks import format_shape

Mask = Any  # a boolean numpy.ndarray or torch.Tensor; True = may attend


def grouped_mask(mask: Mask | None, num_heads: int, num_kv_heads: int) -> Mask | None:
    """A mask for (B, H, T, S) scores, reshaped
    for grouped (B, G, H / G, T, S) scores."""
    if mask is None or mask.ndim == 2:
        return mask
    if mask.ndim != 4:
        raise ValueError(
            f"mask must have 2 dimensions (T, S) or 4 (B, H, T, S), got shape {format_shape(mask.shape)}"
        )
    batch, heads, rows, cols = mask.shape
    if heads == num_heads and heads != 1:
        return mask.reshape(batch, num_kv_heads, num_heads // num_kv_heads, rows, cols)
    # A head axis of size 1 broadcasts over groups and their members alike.
    return mask[:, :, None]


def mask_tile(mask: Mask, rows: slice, cols: slice) -> Mask:
    """The part of a broadcastable mask for some query
    rows and key columns (an axis of size 1 stays whole)."""
    return mask[
        ...,
        rows if mask.shape[-2] > 1 else slice(None),
        cols if mask.shape[-1] > 1 else slice(None),
    ]


def with_head_axis(mask: Mask | None) -> Mask | None:
    """A multi-head attention mask with a head axis: (T, S) ->
    (1, 1, T, S), (B, T, S) or (B, 1, S) -> (B, 1, T or 1, S)."""
    if mask is None:
        return None
    return mask[None, None] if mask.ndim == 2 else mask[:, None]
