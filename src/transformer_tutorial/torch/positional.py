"""Positional encodings in PyTorch.

Shapes use T (positions) and D (model width).
"""

from __future__ import annotations

import torch

from transformer_tutorial.checks import check_positive_int


# --8<-- [start:sinusoidal_encoding]
def sinusoidal_encoding(
    length: int,
    d_model: int,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor:
    """The paper's sinusoidal position table: (T, D), sines in even columns, cosines in odd ones.

    Column pair (2i, 2i + 1) holds sin and cos of ``pos / base**(2i / D)``: the first pair turns once every
    2π positions, and each later pair turns more slowly, down to once every 2π·base positions. With an odd D the
    last column is a sine whose cosine partner would fall outside the table.

    Args:
        length: T, the number of positions (0, 1, …, T - 1).
        d_model: D, the width of the embeddings the table is added to.
        base: The wavelength scale; the paper uses 10000.
        dtype, device: Of the result; the angles are computed in float64 either way.

    Returns:
        A tensor of shape (T, D) with entries in [-1, 1].

    Examples:
        >>> sinusoidal_encoding(3, 4).round(decimals=4)
        tensor([[ 0.0000,  1.0000,  0.0000,  1.0000],
                [ 0.8415,  0.5403,  0.0100,  1.0000],
                [ 0.9093, -0.4161,  0.0200,  0.9998]])
    """
    check_positive_int("length", length, allow_zero=True)
    check_positive_int("d_model", d_model)
    positions = torch.arange(length, dtype=torch.float64, device=device)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64, device=device)  # the even column of each pair
    angles = positions / base ** (two_i / d_model)  # (T, ceil(D / 2))
    table = torch.zeros(length, d_model, dtype=torch.float64, device=device)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return table.to(dtype)


# --8<-- [end:sinusoidal_encoding]
