"""Positional encodings in PyTorch: the sinusoidal table, the rotation that shifts it, learned
positions, and the sum of token embeddings and positions that the first layer receives.

Shapes use B (batch), H (heads), T (positions, or query positions), S (key positions), D (model width) and d_k (one
head's width), as in the site's notation table.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.checks import (
    check_int,
    check_ndim,
    check_positive_int,
    check_positive_number,
    check_probability,
    format_shape,
)


# --8<-- [start:sinusoidal_encoding]
def sinusoidal_encoding(
    length: int,
    d_model: int,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor:
    """The paper's sinusoidal position table: (T,
    D), sines in even columns, cosines in odd ones.

    Column pair (2i, 2i + 1) holds sin and cos of ``pos / base**(2i / D)``: the first pair turns once every 2π
    positions, and each later pair turns more slowly, down to once every 2π·base^((D - 2) / D) positions. With an odd D
    the last column is a sine whose cosine partner would fall outside the table.

    Args:
        length: T, the number of positions (0, 1, …, T - 1).
        d_model: D, the width of the embeddings the table is added to.
        base: The wavelength scale; the paper uses 10000.
        dtype: Of the result; the angles are computed in float64 either way.
        device: Of the result.

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
    check_positive_number("base", base)
    # (T, 1)
    positions = torch.arange(length, dtype=torch.float64, device=device)[:, None]
    # the even column of each pair
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64, device=device)
    angles = positions / base ** (two_i / d_model)  # (T, ceil(D / 2))
    table = torch.zeros(length, d_model, dtype=torch.float64, device=device)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return table.to(dtype)


# --8<-- [end:sinusoidal_encoding]


# --8<-- [start:concatenated_sinusoidal_encoding]
def concatenated_sinusoidal_encoding(
    length: int,
    d_model: int,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor:
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
        dtype: Of the result; the angles are computed in float64 either way.
        device: Of the result.

    Returns:
        A tensor of shape (T, D) with entries in [-1, 1].

    Examples:
        >>> concatenated_sinusoidal_encoding(3, 4).round(decimals=2)  # sin p, sin p/10000, cos p, cos p/10000
        tensor([[ 0.0000,  0.0000,  1.0000,  1.0000],
                [ 0.8400,  0.0000,  0.5400,  1.0000],
                [ 0.9100,  0.0000, -0.4200,  1.0000]])
    """
    check_positive_int("length", length, allow_zero=True)
    check_positive_int("d_model", d_model)
    check_positive_number("base", base)
    half = d_model // 2
    steps = torch.arange(half, dtype=torch.float64, device=device)
    # (D // 2,), from 1 down to 1 / base
    frequencies = base ** -(steps / max(half - 1, 1))
    # (T, D // 2)
    positions = torch.arange(length, dtype=torch.float64, device=device)
    angles = positions[:, None] * frequencies
    table = torch.zeros(length, d_model, dtype=torch.float64, device=device)
    table[:, :half] = torch.sin(angles)
    table[:, half : 2 * half] = torch.cos(angles)
    return table.to(dtype)


# --8<-- [end:concatenated_sinusoidal_encoding]


# --8<-- [start:shift_rotation]
def shift_rotation(
    offset: int,
    d_model: int,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor:
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
        dtype: Of the result; the angles are computed in float64 either way.
        device: Of the result.

    Returns:
        A (D, D) block-diagonal matrix: ``R @ table[p]`` equals ``table[p + k]``.

    Examples:
        >>> table = sinusoidal_encoding(10, 4)
        >>> torch.allclose(shift_rotation(3, 4) @ table[2], table[5])
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
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64, device=device)
    angles = offset / base ** (two_i / d_model)  # ωk, one angle per pair: (D / 2,)
    cos, sin = torch.cos(angles), torch.sin(angles)
    rotation = torch.zeros(d_model, d_model, dtype=torch.float64, device=device)
    rotation[0::2, 0::2] = torch.diag(cos)  # new sine from the old sine ...
    rotation[0::2, 1::2] = torch.diag(sin)  # ... and from the old cosine
    rotation[1::2, 0::2] = torch.diag(-sin)  # new cosine from the old sine ...
    rotation[1::2, 1::2] = torch.diag(cos)  # ... and from the old cosine
    return rotation.to(dtype)


# --8<-- [end:shift_rotation]


# --8<-- [start:embed_positions]
def embed_positions(
    token_embeddings: torch.Tensor,
    table: torch.Tensor,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """What the first layer receives: the token embeddings
    times √D, plus the position table, then dropout.

    Args:
        token_embeddings: (B, T, D), the embedding-table rows of the tokens.
        table: (T_max, D) with T_max ≥ T, sinusoidal or learned; row t is added to the token at position t.
        dropout_p: Probability of zeroing each entry of the sum while training (0.1 in the paper); the entries that
            survive are divided by 1 - dropout_p, so the expected sum is unchanged. Keep it 0 outside training
            (``EmbedPositions`` does that in ``eval()`` mode).

    Returns:
        (B, T, D).

    Examples:
        >>> token_embeddings = torch.full((1, 2, 4), 0.5)  # two tokens, D = 4, so √D = 2
        >>> embed_positions(token_embeddings, sinusoidal_encoding(8, 4)).round(decimals=4)
        tensor([[[1.0000, 2.0000, 1.0000, 2.0000],
                 [1.8415, 1.5403, 1.0100, 2.0000]]])
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
    x = token_embeddings * math.sqrt(width) + table[:length]  # (B, T, D) + (T, D)
    return F.dropout(x, dropout_p) if dropout_p else x


# --8<-- [end:embed_positions]


# --8<-- [start:learned]
class LearnedPositionalEmbedding(nn.Module):
    """Learned absolute positions (BERT, GPT-2): a
    trainable table with one row of D numbers per position.

    The table has ``max_length`` rows and nothing beyond them: asked for more positions than it has, it raises instead
    of inventing rows. Rows start as small random numbers (standard deviation 0.02, as in BERT) and are trained with the
    rest of the model; a row that no training sequence reached stays random.

    Args:
        max_length: The number of positions the table covers (512 in BERT, 1024 in GPT-2).
        d_model: D, the width of each row.
    """

    def __init__(self, max_length: int, d_model: int) -> None:
        super().__init__()
        check_positive_int("max_length", max_length)
        check_positive_int("d_model", d_model)
        self.max_length, self.d_model = max_length, d_model
        self.table = nn.Embedding(max_length, d_model)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, length: int) -> torch.Tensor:
        """The rows of positions 0 … T - 1: (T, D), a view of the trainable table.

        Raises:
            ValueError: ``length`` is more than ``max_length``.
        """
        check_positive_int("length", length, allow_zero=True)
        if length > self.max_length:
            raise ValueError(
                f"length={length} is more than max_length={self.max_length}: a "
                "learned table has no row for "
                f"positions {self.max_length} to {length - 1}, because no training "
                "ever set them"
            )
        return self.table.weight[:length]


# --8<-- [end:learned]


class SinusoidalPositionalEncoding(nn.Module):
    """The paper's sinusoidal table as a module:
    no parameters, a row for every position.

    The first ``max_length`` rows are computed once and kept in a buffer, which moves with the module across devices and
    dtypes but is not saved in its ``state_dict``; longer requests are computed on the spot.

    Args:
        max_length: The number of rows to compute in advance.
        d_model: D, the width of each row.
        base: The wavelength scale; the paper uses 10000.
    """

    def __init__(self, max_length: int, d_model: int, base: float = 10000.0) -> None:
        super().__init__()
        check_positive_int("max_length", max_length)
        self.base = base
        self.register_buffer(
            "table", sinusoidal_encoding(max_length, d_model, base), persistent=False
        )

    def forward(self, length: int) -> torch.Tensor:
        """The rows of positions 0, 1, …, T - 1: (T, D)."""
        check_positive_int("length", length, allow_zero=True)
        if length <= len(self.table):
            return self.table[:length]
        table = self.table
        return sinusoidal_encoding(
            length, table.shape[1], self.base, dtype=table.dtype, device=table.device
        )


# --8<-- [start:embed_positions_module]
class EmbedPositions(nn.Module):
    """``embed_positions`` as a module: token embeddings
    (B, T, D) -> Dropout(embeddings · √D + positions).

    Args:
        d_model: D.
        max_length: The positions a learned table covers, or the sinusoidal rows computed in advance.
        dropout: Probability of zeroing each entry of the sum in training mode (0.1 in the paper); none in ``eval()``
            mode.
        learned: A trainable ``LearnedPositionalEmbedding`` instead of the paper's sinusoidal table.
        base: The wavelength scale of the sinusoidal table.
    """

    def __init__(
        self,
        d_model: int,
        max_length: int,
        dropout: float = 0.0,
        learned: bool = False,
        base: float = 10000.0,
    ) -> None:
        super().__init__()
        check_positive_int("d_model", d_model)
        check_probability("dropout", dropout)
        self.dropout = dropout
        if learned:
            self.positions = LearnedPositionalEmbedding(max_length, d_model)
        else:
            self.positions = SinusoidalPositionalEncoding(max_length, d_model, base)

    def forward(self, token_embeddings: torch.Tensor) -> torch.Tensor:
        """(B, T, D) token embeddings -> (B, T, D), the input of the first layer."""
        check_ndim("token_embeddings", token_embeddings, 3, "(B, T, D)")
        table = self.positions(token_embeddings.shape[1])  # (T, D)
        return embed_positions(
            token_embeddings,
            table,
            self.dropout if self.training else 0.0,
        )


# --8<-- [end:embed_positions_module]
