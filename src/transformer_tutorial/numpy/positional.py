"""Positional encodings in NumPy: the sinusoidal table, the rotation that shifts it, RoPE, ALiBi, and the sum of
token embeddings and positions that the first layer receives.

Shapes use B (batch), H (heads), T (positions, or query positions), S (key positions), D (model width) and d_k
(one head's width), as in the site's notation table.
"""

from __future__ import annotations

import numpy as np

from transformer_tutorial.checks import (
    check_int,
    check_ndim,
    check_positive_int,
    check_positive_number,
    check_probability,
    format_shape,
)


# --8<-- [start:sinusoidal_encoding]
def sinusoidal_encoding(length: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """The paper's sinusoidal position table: (T, D),
    sines in even columns, cosines in odd ones.

    Column pair (2i, 2i + 1) holds sin and cos of ``pos / base**(2i / D)``: the first
    pair turns once every
    2π positions, and each later pair turns more slowly, down to once every
    2π·base^((D - 2) / D) positions. With an
    odd D the last column is a sine whose cosine partner would fall outside the
    table.

    Args:
        length: T, the number of positions (0, 1, …, T - 1).
        d_model: D, the width of the embeddings the table is added to.
        base: The wavelength scale; the paper uses 10000.

    Returns:
        A float64 array of shape (T, D) with entries in [-1, 1].

    Examples:
        >>> sinusoidal_encoding(3, 4).round(4)
        array([[ 0.    ,  1.    ,  0.    ,  1.    ],
               [ 0.8415,  0.5403,  0.01  ,  1.    ],
               [ 0.9093, -0.4161,  0.02  ,  0.9998]])
    """
    check_positive_int("length", length, allow_zero=True)
    check_positive_int("d_model", d_model)
    check_positive_number("base", base)
    positions = np.arange(length)[:, None]  # (T, 1)
    two_i = np.arange(0, d_model, 2)  # the even column of each pair
    angles = positions / base ** (two_i / d_model)  # (T, ceil(D / 2))
    table = np.zeros((length, d_model))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return table


# --8<-- [end:sinusoidal_encoding]


# --8<-- [start:concatenated_sinusoidal_encoding]
def concatenated_sinusoidal_encoding(
    length: int,
    d_model: int,
    base: float = 10000.0,
) -> np.ndarray:
    """The tensor2tensor variant: all the sines in the
    first half of the columns, then all the cosines.

    This is the table of tensor2tensor's ``get_timing_signal_1d`` with its default
    timescales, the one drawn in
    the heat map of The Illustrated Transformer. The layout is not the only
        difference from the paper: its
    D // 2 frequencies run geometrically from 1 down to exactly 1 / base, so
    frequency i is
    ``1 / base**(i / (D // 2 - 1))``, where the paper's is ``1 / base**(2i / D)``.
    With an odd D the last
    column is zero.

    Args:
        length: T, the number of positions (0, 1, …, T - 1).
        d_model: D, the width of the embeddings the table is added to.
        base: The longest timescale; tensor2tensor's default is 10000.

    Returns:
        A float64 array of shape (T, D) with entries in [-1, 1].

    Examples:
        >>> concatenated_sinusoidal_encoding(3, 4).round(2)  # sin p, sin p/10000, cos p, cos p/10000
        array([[ 0.  ,  0.  ,  1.  ,  1.  ],
               [ 0.84,  0.  ,  0.54,  1.  ],
               [ 0.91,  0.  , -0.42,  1.  ]])
    """
    check_positive_int("length", length, allow_zero=True)
    check_positive_int("d_model", d_model)
    check_positive_number("base", base)
    half = d_model // 2
    # (D // 2,), from 1 down to 1 / base
    frequencies = base ** -(np.arange(half) / max(half - 1, 1))
    angles = np.arange(length)[:, None] * frequencies  # (T, D // 2)
    table = np.zeros((length, d_model))
    table[:, :half] = np.sin(angles)
    table[:, half : 2 * half] = np.cos(angles)
    return table


# --8<-- [end:concatenated_sinusoidal_encoding]


# --8<-- [start:shift_rotation]
def shift_rotation(offset: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """The (D, D) matrix R(k) that moves a row of the
    sinusoidal table k positions on: PE[p + k] = R(k) PE[p].

    Columns (2i, 2i + 1) of the table hold (sin ωp, cos ωp), with ω = 1 / base**(2i /
    D). By the angle-sum
    formulas, sin ω(p + k) = cos ωk · sin ωp + sin ωk · cos ωp and cos ω(p + k) =
    -sin ωk · sin ωp + cos ωk · cos ωp:
    each pair turns through the angle ωk, whatever p is. R(k) holds these 2 × 2
    rotations on its diagonal, so it
    depends on the offset k and not on the position p.

    Args:
        offset: k, the number of positions to move on (negative moves back).
        d_model: D, even: with an odd D the last sine column has no cosine partner,
            and no matrix maps every
            row p to row p + k.
        base: The wavelength scale of the table; the paper uses 10000.

    Returns:
        A float64 (D, D) block-diagonal matrix: ``R @ table[p]`` equals ``table[p +
        k]``.

    Examples:
        >>> table = sinusoidal_encoding(10, 4)
        >>> bool(np.allclose(shift_rotation(3, 4) @ table[2], table[5]))
        True
    """
    check_int("offset", offset)
    check_positive_int("d_model", d_model)
    check_positive_number("base", base)
    if d_model % 2:
        raise ValueError(
            f"d_model must be even for the shift to be a rotation, got {d_model}: "
            "the last sine column would have no cosine partner"
        )
    # ωk, one angle per pair: (D / 2,)
    angles = offset / base ** (np.arange(0, d_model, 2) / d_model)
    cos, sin = np.cos(angles), np.sin(angles)
    rotation = np.zeros((d_model, d_model))
    rotation[0::2, 0::2] = np.diag(cos)  # new sine from the old sine ...
    rotation[0::2, 1::2] = np.diag(sin)  # ... and from the old cosine
    rotation[1::2, 0::2] = np.diag(-sin)  # new cosine from the old sine ...
    rotation[1::2, 1::2] = np.diag(cos)  # ... and from the old cosine
    return rotation


# --8<-- [end:shift_rotation]


# --8<-- [start:rotary_embedding]
def rotary_embedding(
    x: np.ndarray,
    positions: np.ndarray | None = None,
    base: float = 10000.0,
) -> np.ndarray:
    """RoPE: rotate each pair of features of a query
    or key by an angle proportional to its position.

    Features pair up as (2i, 2i + 1), like the columns of the sinusoidal table, and
    pair i of the row at
    position p turns through the angle p·θ_i, with θ_i = 1 / base**(2i / d_k):

        (x_2i, x_2i+1) -> (x_2i cos pθ_i - x_2i+1 sin pθ_i,  x_2i sin pθ_i + x_2i+1
        cos pθ_i)

    Apply it to the queries and to the keys of every head (never to the values),
    after the projections and
    before the scores. A query at position m and a key at position n then score as if
    the key alone had been
    turned by n - m: the score depends on the offset, not on where the pair sits.

    Args:
        x: (..., T, d_k) queries or keys, usually (B, H, T, d_k); d_k must be even.
        positions: (T,) the position of each row; 0, 1, …, T - 1 when None. A decoder
            that has already cached
            t positions passes t, t + 1, … for its new rows.
        base: The wavelength scale; 10000 in the RoPE paper.

    Returns:
        An array of ``x.shape``, float64 unless ``x`` is another float type: ``x``
        with every pair rotated.

    Examples:
        >>> rotary_embedding(np.array([[1.0, 0.0], [1.0, 0.0]])).round(4)  # positions 0 and 1: turned by 0 and 1 rad
        array([[1.    , 0.    ],
               [0.5403, 0.8415]])
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim < 2:
        raise ValueError(
            f"x must have at least 2 dimensions (..., T, d_k), got shape {format_shape(x.shape)}"
        )
    length, width = x.shape[-2:]
    if width % 2:
        raise ValueError(
            f"x must have an even number of features d_k to pair them, got shape {format_shape(x.shape)}"
        )
    positions = np.arange(length) if positions is None else np.asarray(positions)
    if positions.shape != (length,):
        raise ValueError(
            f"positions must have shape (T,) = ({length},) for x of shape "
            f"{format_shape(x.shape)}, "
            f"got {format_shape(positions.shape)}"
        )
    check_positive_number("base", base)
    theta = 1.0 / base ** (np.arange(0, width, 2) / width)  # (d_k / 2,)
    angles = positions[:, None] * theta  # (T, d_k / 2)
    cos, sin = np.cos(angles).astype(x.dtype), np.sin(angles).astype(x.dtype)
    even, odd = (
        x[..., 0::2],
        x[..., 1::2],
    )  # the two members of every pair: (..., T, d_k / 2) each
    rotated = np.stack(
        [even * cos - odd * sin, even * sin + odd * cos], axis=-1
    )  # (..., T, d_k / 2, 2)
    return rotated.reshape(x.shape)


# --8<-- [end:rotary_embedding]


# --8<-- [start:alibi]
def alibi_slopes(num_heads: int) -> np.ndarray:
    """The ALiBi slope of each head: (H,), a geometric
    sequence that starts at 2**(-8 / H) and shrinks by it.

    With 8 heads the slopes are 1/2, 1/4, …, 1/256. When H is not a power of two, the
    ALiBi code takes the H'
    slopes of the closest lower power of two H', then every other slope of 2H' (its
    1st, 3rd, 5th, …) until
    there are H: those fall between the ones already taken.

    Args:
        num_heads: H.

    Returns:
        (H,) slopes, the steepest first.

    Examples:
        >>> np.log2(alibi_slopes(8))
        array([-1., -2., -3., -4., -5., -6., -7., -8.])
        >>> np.log2(alibi_slopes(6))  # the 4 slopes of 4 heads, then the 1st and 3rd of 8 heads
        array([-2., -4., -6., -8., -1., -3.])
    """
    check_positive_int("num_heads", num_heads)

    def geometric(n: int) -> np.ndarray:
        ratio = 2.0 ** (-8.0 / n)
        return ratio ** np.arange(1, n + 1)

    # the largest power of two that is at most H
    lower = 1 << (int(num_heads).bit_length() - 1)
    if lower == num_heads:
        return geometric(num_heads)
    return np.concatenate(
        [geometric(lower), geometric(2 * lower)[0::2][: num_heads - lower]],
    )


def alibi_bias(
    num_heads: int,
    query_length: int,
    key_length: int | None = None,
) -> np.ndarray:
    """The ALiBi bias added to the attention scores:
    (H, T, S), -slope_h · |query position - key position|.

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

    Returns:
        (H, T, S), to add to scores of shape (B, H, T, S) before the softmax.

    Examples:
        >>> alibi_bias(2, 1, 4) * 256  # slopes 1/16 and 1/256; one query, at position 3 of keys 0 to 3
        array([[[-48., -32., -16.,   0.]],
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
    query_positions = np.arange(key_length - query_length, key_length)  # (T,)
    # (T, S)
    distance = np.abs(query_positions[:, None] - np.arange(key_length)[None, :])
    return alibi_slopes(num_heads)[:, None, None] * -distance  # (H, T, S)


# --8<-- [end:alibi]


# --8<-- [start:embed_positions]
def embed_positions(
    token_embeddings: np.ndarray,
    table: np.ndarray,
    dropout_p: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """What the first layer receives: the token embeddings
    times √D, plus the position table, then dropout.

    Args:
        token_embeddings: (B, T, D), the embedding-table rows of the tokens.
        table: (T_max, D) with T_max ≥ T, sinusoidal or learned; row t is added to
            the token at position t.
        dropout_p: Probability of zeroing each entry of the sum while training (0.1
            in the paper); the entries
            that survive are divided by 1 - dropout_p, so the expected sum is
            unchanged.
        rng: The random generator for dropout; needed when dropout_p > 0.

    Returns:
        (B, T, D).

    Examples:
        >>> token_embeddings = np.full((1, 2, 4), 0.5)  # two tokens, D = 4, so √D = 2
        >>> embed_positions(token_embeddings, sinusoidal_encoding(8, 4)).round(4)
        array([[[1.    , 2.    , 1.    , 2.    ],
                [1.8415, 1.5403, 1.01  , 2.    ]]])
    """
    check_ndim("token_embeddings", token_embeddings, 3, "(B, T, D)")
    check_ndim("table", table, 2, "(T_max, D)")
    length, width = token_embeddings.shape[1:]
    if table.shape[1] != width:
        raise ValueError(
            f"table must have D={width} columns like token_embeddings "
            f"{format_shape(token_embeddings.shape)}, "
            f"got shape {format_shape(table.shape)}"
        )
    if table.shape[0] < length:
        raise ValueError(
            f"table has {table.shape[0]} positions (shape "
            f"{format_shape(table.shape)}), fewer than the {length} "
            f"of token_embeddings {format_shape(token_embeddings.shape)}"
        )
    check_probability("dropout_p", dropout_p)
    x = token_embeddings * np.sqrt(width) + table[:length]  # (B, T, D) + (T, D)
    if dropout_p == 0:
        return x
    if rng is None:
        raise ValueError("rng must be a numpy Generator when dropout_p > 0, got None")
    keep = rng.random(x.shape) >= dropout_p
    return np.where(keep, x / (1 - dropout_p), 0.0)


# --8<-- [end:embed_positions]
