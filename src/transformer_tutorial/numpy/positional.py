"""Positional encodings in NumPy: the sinusoidal table, the rotation that shifts
it, and the sum of token embeddings and positions that the first layer receives.

Shapes use B (batch), H (heads), T (positions, or query positions), S (key positions), D (model width) and d_k (one
head's width), as in the site's notation table.
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
    """The paper's sinusoidal position table: (T,
    D), sines in even columns, cosines in odd ones.

    Column pair (2i, 2i + 1) holds sin and cos of ``pos / base**(2i / D)``: the first pair turns once every 2π
    positions, and each later pair turns more slowly, down to once every 2π·base^((D - 2) / D) positions. With an odd D
    the last column is a sine whose cosine partner would fall outside the table.

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

    This is the table of tensor2tensor's ``get_timing_signal_1d`` with its default timescales, the one drawn in the heat
    map of The Illustrated Transformer. The layout is not the only difference from the paper: its D // 2 frequencies run
    geometrically from 1 down to exactly 1 / base, so frequency i is ``1 / base**(i / (D // 2 - 1))``, where the paper's
    is ``1 / base**(2i / D)``. With an odd D the last column is zero.

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

    Columns (2i, 2i + 1) of the table hold (sin ωp, cos ωp), with ω = 1 / base**(2i / D). By the angle-sum formulas, sin
    ω(p + k) = cos ωk · sin ωp + sin ωk · cos ωp and cos ω(p + k) = -sin ωk · sin ωp + cos ωk · cos ωp: each pair turns
    through the angle ωk, whatever p is. R(k) holds these 2 × 2 rotations on its diagonal, so it depends on the offset k
    and not on the position p.

    Args:
        offset: k, the number of positions to move on (negative moves back).
        d_model: D, even: with an odd D the last sine column has no cosine partner, and no matrix maps every row p to
            row p + k.
        base: The wavelength scale of the table; the paper uses 10000.

    Returns:
        A float64 (D, D) block-diagonal matrix: ``R @ table[p]`` equals ``table[p + k]``.

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
        table: (T_max, D) with T_max ≥ T, sinusoidal or learned; row t is added to the token at position t.
        dropout_p: Probability of zeroing each entry of the sum while training (0.1 in the paper); the entries that
            survive are divided by 1 - dropout_p, so the expected sum is unchanged.
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
