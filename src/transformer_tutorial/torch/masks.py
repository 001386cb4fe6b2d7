"""Attention masks in PyTorch: causal and padding masks in this site's convention (True =
may attend), and the conversions to and from ``nn.MultiheadAttention``'s (True = blocked).

Shapes use B (batch), H (heads), T (query positions) and S (key positions).
"""

from __future__ import annotations

import torch

from transformer_tutorial.checks import (
    check_bool,
    check_ndim,
    check_positive_int,
    format_shape,
)


# --8<-- [start:masks]
def causal_mask(
    query_length: int,
    key_length: int | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """(T, S) boolean mask that lets each query
    see its own position and the ones before it.

    The queries are taken to be the last T of the S positions, so the same mask serves a decoder that has cached S - T
    earlier keys.

    Examples:
        >>> causal_mask(3).int()
        tensor([[1, 0, 0],
                [1, 1, 0],
                [1, 1, 1]], dtype=torch.int32)
        >>> causal_mask(1, 3).int()  # one new query after two cached positions
        tensor([[1, 1, 1]], dtype=torch.int32)
    """
    key_length = query_length if key_length is None else key_length
    check_positive_int("query_length", query_length, allow_zero=True)
    check_positive_int("key_length", key_length, allow_zero=True)
    if key_length < query_length:
        raise ValueError(
            f"key_length={key_length} is shorter than query_length={query_length}",
        )
    offset = key_length - query_length
    keys = torch.arange(key_length, device=device)
    queries = torch.arange(query_length, device=device)
    return keys[None, :] <= queries[:, None] + offset


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, 1, S) boolean mask, True at real tokens: every
    query may attend to every key that is not padding.

    The middle axis has size 1 so that it broadcasts over the T queries of a (B, T, S) score tensor.

    Examples:
        >>> padding_mask(torch.tensor([[5, 7, 0, 0], [3, 0, 0, 0]]), pad_id=0).int()
        tensor([[[1, 1, 0, 0]],
        <BLANKLINE>
                [[1, 0, 0, 0]]], dtype=torch.int32)
    """
    check_ndim("tokens", tokens, 2, "(B, S)")
    return (tokens != pad_id)[:, None, :]


# --8<-- [end:masks]


def to_mha_mask(mask: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Our mask (True = may attend) as
    ``nn.MultiheadAttention``'s ``attn_mask`` (True = blocked).

    Args:
        mask: (T, S), or (B, T, S) for a mask that differs between sequences.
        num_heads: PyTorch wants a per-sequence mask once for every head: (B·H, T, S), sequence-major.

    Returns:
        (T, S) or (B·H, T, S) boolean, True where attention is blocked.

    Examples:
        >>> to_mha_mask(causal_mask(3), num_heads=2).int()
        tensor([[0, 1, 1],
                [0, 0, 1],
                [0, 0, 0]], dtype=torch.int32)
    """
    check_bool("mask", mask)
    if mask.ndim == 2:
        return ~mask
    check_ndim("mask", mask, 3, "(T, S) or (B, T, S)")
    return torch.repeat_interleave(~mask, num_heads, dim=0)


def to_mha_key_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """A (B, 1, S) padding mask of ours as ``nn.MultiheadAttention``'s
    ``key_padding_mask``: (B, S), True at padding.

    Examples:
        >>> to_mha_key_padding_mask(padding_mask(torch.tensor([[4, 2, 0]]), pad_id=0))
        tensor([[False, False,  True]])
    """
    check_bool("mask", mask)
    if mask.ndim != 3 or mask.shape[1] != 1:
        raise ValueError(
            f"mask must have shape (B, 1, S), got {format_shape(mask.shape)}",
        )
    return ~mask[:, 0, :]


def from_mha_mask(
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``nn.MultiheadAttention``'s masks (True =
    blocked) as one of ours (True = may attend).

    Args:
        attn_mask: (T, S) boolean or None.
        key_padding_mask: (B, S) boolean, True at padding, or None.

    Returns:
        (T, S) when there is no key padding mask, else (B, T, S), or (B, 1, S) when ``attn_mask`` is None.
    """
    if attn_mask is None and key_padding_mask is None:
        raise ValueError("from_mha_mask needs attn_mask, key_padding_mask or both")
    allowed = None if attn_mask is None else ~attn_mask
    if key_padding_mask is None:
        return allowed
    check_ndim("key_padding_mask", key_padding_mask, 2, "(B, S)")
    keys = ~key_padding_mask[:, None, :]  # (B, 1, S)
    return keys if allowed is None else keys & allowed[None]
