"""Positions inside attention in PyTorch: RoPE, which rotates queries and keys by their
positions, and ALiBi, which adds a bias that grows with the distance between query and key.

Shapes use B (batch), H (heads), T (positions, or query positions), S (key positions) and d_k (one head's width), as in
the site's notation table.
"""

from __future__ import annotations

import torch

from transformer_tutorial.checks import (
    check_array,
    check_positive_int,
    check_positive_number,
    format_shape,
)


# --8<-- [start:rotary_embedding]
def rotary_embedding(
    x: torch.Tensor,
    positions: torch.Tensor | None = None,
    base: float = 10000.0,
) -> torch.Tensor:
    """RoPE: rotate each pair of features of a query
    or key by an angle proportional to its position.

    Features pair up as (2i, 2i + 1), like the columns of the sinusoidal table, and pair i of the row at position p
    turns through the angle p·θ_i, with θ_i = 1 / base**(2i / d_k):

    (x_2i, x_2i+1) -> (x_2i cos pθ_i - x_2i+1 sin pθ_i,  x_2i sin pθ_i + x_2i+1 cos pθ_i)

    Apply it to the queries and to the keys of every head (never to the values), after the projections and before the
    scores. A query at position m and a key at position n then score as if the key alone had been turned by n - m: the
    score depends on the offset, not on where the pair sits.

    Args:
        x: (..., T, d_k) queries or keys, usually (B, H, T, d_k); d_k must be even.
        positions: (T,) the position of each row; 0, 1, …, T - 1 when None. A decoder that has already cached t
            positions passes t, t + 1, … for its new rows.
        base: The wavelength scale; 10000 in the RoPE paper.

    Returns:
        A tensor of ``x.shape`` and dtype (float32 if ``x`` holds integers): ``x`` with every pair rotated. The angles
        are computed in float64.

    Examples:
        >>> rotary_embedding(torch.tensor([[1.0, 0.0], [1.0, 0.0]])).round(decimals=4)  # turned by 0 and 1 rad
        tensor([[1.0000, 0.0000],
                [0.5403, 0.8415]])
    """
    check_array("x", x, torch.Tensor, "torch.Tensor")
    if not x.is_floating_point():
        x = x.float()
    if x.ndim < 2:
        raise ValueError(
            f"x must have at least 2 dimensions (..., T, d_k), got shape {format_shape(x.shape)}"
        )
    length, width = x.shape[-2:]
    if width % 2:
        raise ValueError(
            f"x must have an even number of features d_k to pair them, got shape {format_shape(x.shape)}"
        )
    if positions is None:
        positions = torch.arange(length, device=x.device)
    positions = torch.as_tensor(positions)
    if positions.shape != (length,):
        raise ValueError(
            f"positions must have shape (T,) = ({length},) for x of shape "
            f"{format_shape(x.shape)}, "
            f"got {format_shape(positions.shape)}"
        )
    check_positive_number("base", base)
    two_i = torch.arange(0, width, 2, dtype=torch.float64, device=x.device)
    theta = 1.0 / base ** (two_i / width)  # (d_k / 2,)
    # (T, d_k / 2)
    angles = positions.to(device=x.device, dtype=torch.float64)[:, None] * theta
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    # the two members of every pair: (..., T, d_k / 2) each
    even, odd = (
        x[..., 0::2],
        x[..., 1::2],
    )
    # (..., T, d_k / 2, 2)
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
    return rotated.reshape(x.shape)


# --8<-- [end:rotary_embedding]


# --8<-- [start:alibi]
def alibi_slopes(
    num_heads: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor:
    """The ALiBi slope of each head: (H,), a geometric
    sequence that starts at 2**(-8 / H) and shrinks by it.

    With 8 heads the slopes are 1/2, 1/4, …, 1/256. When H is not a power of two, the ALiBi code takes the H' slopes of
    the closest lower power of two H', then every other slope of 2H' (its 1st, 3rd, 5th, …) until there are H: those
    fall between the ones already taken.

    Args:
        num_heads: H.
        dtype: Of the result; the slopes are computed in float64 either way.
        device: Of the result.

    Returns:
        (H,) slopes, the steepest first.

    Examples:
        >>> torch.log2(alibi_slopes(8))
        tensor([-1., -2., -3., -4., -5., -6., -7., -8.])
        >>> torch.log2(alibi_slopes(6))  # the 4 slopes of 4 heads, then the 1st and 3rd of 8 heads
        tensor([-2., -4., -6., -8., -1., -3.])
    """
    check_positive_int("num_heads", num_heads)

    def geometric(n: int) -> torch.Tensor:
        ratio = 2.0 ** (-8.0 / n)
        return ratio ** torch.arange(1, n + 1, dtype=torch.float64, device=device)

    # the largest power of two that is at most H
    lower = 1 << (int(num_heads).bit_length() - 1)
    if lower == num_heads:
        return geometric(num_heads).to(dtype)
    return torch.cat(
        [geometric(lower), geometric(2 * lower)[0::2][: num_heads - lower]],
    ).to(dtype)


def alibi_bias(
    num_heads: int,
    query_length: int,
    key_length: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor:
    """The ALiBi bias added to the attention scores: (H,
    T, S), -slope_h · |query position - key position|.

    The queries are the last T of the S positions, as in ``causal_mask``. The ALiBi
    paper trains decoders, where
    a causal mask hides every key after its query, and the bias there is -slope · (i
    - j). Keys after the query
    get the same penalty by distance here, the usual choice when ALiBi is used
    without a causal mask.

    Args:
        num_heads: H, one slope per head (see ``alibi_slopes``).
        query_length: T.
        key_length: S ≥ T; T when None.
        dtype: Of the result; the slopes are computed in float64 either way.
        device: Of the result.

    Returns:
        (H, T, S), to add to scores of shape (B, H, T, S) before the softmax.

    Examples:
        >>> alibi_bias(2, 1, 4) * 256  # slopes 1/16 and 1/256; one query, at position 3 of keys 0 to 3
        tensor([[[-48., -32., -16.,   0.]],
        <BLANKLINE>
                [[ -3.,  -2.,  -1.,   0.]]])
    """
    key_length = query_length if key_length is None else key_length
    check_positive_int("query_length", query_length, allow_zero=True)
    check_positive_int("key_length", key_length, allow_zero=True)
    if key_length < query_length:
        raise ValueError(
            f"key_length={key_length} is shorter than query_length={query_length}",
        )
    # (T,)
    query_positions = torch.arange(key_length - query_length, key_length, device=device)
    # (T, S)
    key_positions = torch.arange(key_length, device=device)
    distance = (query_positions[:, None] - key_positions[None, :]).abs()
    slopes = alibi_slopes(num_heads, dtype=torch.float64, device=device)
    return (slopes[:, None, None] * -distance).to(dtype)  # (H, T, S)


# --8<-- [end:alibi]
