"""Positional encodings in NumPy.

Shapes use T (positions) and D (model width).
"""

from __future__ import annotations

import numpy as np

from transformer_tutorial.checks import check_positive_int


# --8<-- [start:sinusoidal_encoding]
def sinusoidal_encoding(length: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """The paper's sinusoidal position table: (T, D), sines in even columns, cosines in odd ones.

    Column pair (2i, 2i + 1) holds sin and cos of ``pos / base**(2i / D)``: the first pair turns once every
    2π positions, and each later pair turns more slowly, down to once every 2π·base positions. With an odd D the
    last column is a sine whose cosine partner would fall outside the table.

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
    positions = np.arange(length)[:, None]  # (T, 1)
    two_i = np.arange(0, d_model, 2)  # the even column of each pair
    angles = positions / base ** (two_i / d_model)  # (T, ceil(D / 2))
    table = np.zeros((length, d_model))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return table


# --8<-- [end:sinusoidal_encoding]
