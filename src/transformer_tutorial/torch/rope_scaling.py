"""RoPE beyond its training length, in PyTorch: position interpolation, NTK-aware scaling and YaRN,
each written as a change to the rotation frequencies, and a rotation that takes any frequencies.

A model trained at length L has seen every pair of features turn through angles p·θ_i for p < L only. At longer lengths
the slow pairs reach angles they never saw. Each method maps the frequencies θ_i to new ones θ'_i so that a context s =
L' / L times longer stays, for the pairs where it matters, inside what training showed. YaRN also sharpens the softmax a
little (its attention temperature).

Shapes use B (batch), H (heads), T (positions) and d_k (one head's width); the frequencies are (d_k / 2,).
"""

from __future__ import annotations

import math

import torch

from transformer_tutorial.checks import (
    check_array,
    check_positive_int,
    check_positive_number,
    format_shape,
)

METHODS = ("plain", "linear", "ntk", "yarn")


def _check_scaling(factor: float, original_length: int | None = None) -> None:
    check_positive_number("factor", factor)
    if factor < 1:
        raise ValueError(
            f"factor is the length ratio L' / L and must be at least 1, got {factor}"
        )
    if original_length is not None:
        check_positive_int("original_length", original_length)


# --8<-- [start:rope_frequencies]
def rope_frequencies(
    d_k: int, base: float = 10000.0, device: torch.device | None = None
) -> torch.Tensor:
    """RoPE's angle per position of each pair of features: θ_i = base^(-2i / d_k).

    (d_k / 2,), the fastest pair first. ``rotary_embedding`` turns pair i of the row at position p through p·θ_i.
    """
    check_positive_int("d_k", d_k)
    if d_k % 2:
        raise ValueError(f"d_k must be even to pair the features, got {d_k}")
    check_positive_number("base", base)
    two_i = torch.arange(0, d_k, 2, dtype=torch.float64, device=device)
    return 1.0 / base ** (two_i / d_k)


# --8<-- [end:rope_frequencies]


# --8<-- [start:linear_frequencies]
def linear_frequencies(frequencies: torch.Tensor, factor: float) -> torch.Tensor:
    """Position interpolation: every frequency divided by s = L' / L.

    (d_k / 2,) -> (d_k / 2,). Turning position m by θ / s is turning position m / s by θ: the L' positions are squeezed
    into the L that training saw (Chen et al., arXiv 2306.15595v2, Eq. 4).
    """
    _check_scaling(factor)
    return torch.as_tensor(frequencies, dtype=torch.float64) / factor


# --8<-- [end:linear_frequencies]


# --8<-- [start:ntk_frequencies]
def ntk_frequencies(
    d_k: int,
    factor: float,
    base: float = 10000.0,
    device: torch.device | None = None,
) -> torch.Tensor:
    """NTK-aware scaling: RoPE's frequencies with
    the base raised to base · s^(d_k / (d_k - 2)).

    (d_k / 2,). The fastest pair (i = 0) keeps θ_0 = 1; the slowest is divided by exactly s; the pairs between are
    divided by less the faster they turn (Peng et al., arXiv 2309.00071v2, Eqs. 14 to 16).
    """
    _check_scaling(factor)
    check_positive_int("d_k", d_k)
    if d_k < 4:
        raise ValueError(f"NTK-aware scaling needs d_k of at least 4, got {d_k}")
    return rope_frequencies(d_k, base * factor ** (d_k / (d_k - 2)), device)


# --8<-- [end:ntk_frequencies]


# --8<-- [start:yarn_frequencies]
def yarn_frequencies(
    frequencies: torch.Tensor,
    factor: float,
    original_length: int,
    alpha: float = 1.0,
    beta: float = 32.0,
) -> torch.Tensor:
    """YaRN's "NTK-by-parts" frequencies: interpolate the
    slow pairs, keep the fast ones, and blend those between.

    (d_k / 2,) -> (d_k / 2,). Pair i turns r_i = L / λ_i times inside the training length L, λ_i = 2π / θ_i being its
    wavelength. With the ramp γ = clip((r - α) / (β - α), 0, 1), the new frequency is (1 - γ) θ / s + γ θ: a pair that
    turns fewer than α times is interpolated like position interpolation, one that turns more than β times is left
    alone (arXiv 2309.00071v2, Eqs. 17, 18 and 20).
    """
    _check_scaling(factor, original_length)
    check_positive_number("alpha", alpha)
    if beta <= alpha:
        raise ValueError(
            f"beta must be larger than alpha, got alpha={alpha} and beta={beta}"
        )
    frequencies = torch.as_tensor(frequencies, dtype=torch.float64)
    wavelengths = 2 * math.pi / frequencies  # λ_i, positions per full turn
    turns = original_length / wavelengths  # r_i
    ramp = ((turns - alpha) / (beta - alpha)).clamp(0.0, 1.0)  # γ(r_i)
    interpolated = frequencies / factor
    # (1 - γ) θ / s + γ θ, written so that s = 1 gives θ back to the last bit
    return interpolated + ramp * (frequencies - interpolated)


def yarn_attention_factor(factor: float) -> float:
    """YaRN's attention temperature as a factor
    on queries and keys: √(1/t) = 0.1 ln s + 1.

    Multiplying both the queries and the keys by it multiplies every score by 1/t (arXiv 2309.00071v2, Eqs. 21
    and 22).
    """
    _check_scaling(factor)
    return 0.1 * math.log(factor) + 1.0


# --8<-- [end:yarn_frequencies]


def scaled_frequencies(
    d_k: int,
    method: str,
    factor: float = 1.0,
    original_length: int | None = None,
    base: float = 10000.0,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, float]:
    """The frequencies (d_k / 2,) and the query/key factor
    of one method: "plain", "linear", "ntk" or "yarn".

    "plain" ignores ``factor``; "yarn" needs ``original_length``, L. The factor is 1 except for YaRN.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    plain = rope_frequencies(d_k, base, device)
    if method == "plain":
        return plain, 1.0
    if method == "linear":
        return linear_frequencies(plain, factor), 1.0
    if method == "ntk":
        return ntk_frequencies(d_k, factor, base, device), 1.0
    if original_length is None:
        raise ValueError("method 'yarn' needs original_length, the training length L")
    return (
        yarn_frequencies(plain, factor, original_length),
        yarn_attention_factor(factor),
    )


# --8<-- [start:rotate]
def rotate(
    x: torch.Tensor,
    frequencies: torch.Tensor,
    positions: torch.Tensor | None = None,
) -> torch.Tensor:
    """RoPE with any frequencies: turn pair i of the row at position p through p·θ_i.

    x: (..., T, d_k); frequencies: (d_k / 2,); positions: (T,), or (B, T) for x of shape (B, H, T, d_k) when every
    sequence has its own positions.
    """
    check_array("x", x, torch.Tensor, "torch.Tensor")
    if not x.is_floating_point():
        x = x.float()
    if x.ndim < 2 or x.shape[-1] % 2:
        raise ValueError(
            f"x must be (..., T, d_k) with an even d_k, got shape {format_shape(x.shape)}"
        )
    length, width = x.shape[-2:]
    frequencies = torch.as_tensor(frequencies, dtype=torch.float64, device=x.device)
    if frequencies.shape != (width // 2,):
        raise ValueError(
            f"frequencies must have shape (d_k / 2,) = ({width // 2},) for x of shape "
            f"{format_shape(x.shape)}, got {format_shape(frequencies.shape)}"
        )
    if positions is None:
        positions = torch.arange(length, device=x.device)
    positions = torch.as_tensor(positions, device=x.device)
    if positions.shape != (length,) and not (
        x.ndim == 4 and positions.shape == (x.shape[0], length)
    ):
        raise ValueError(
            f"positions must have shape (T,) = ({length},) or (B, T) = ({x.shape[0]}, {length}) "
            f"for x of shape {format_shape(x.shape)}, got {format_shape(positions.shape)}"
        )
    if positions.ndim == 2:
        positions = positions[:, None]  # (B, 1, T): the same positions for every head
    # the angles in float64, as in rotary_embedding, then cos and sin in x's dtype
    angles = positions.to(torch.float64)[..., None] * frequencies  # (..., T, d_k / 2)
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
    return rotated.reshape(x.shape)


# --8<-- [end:rotate]
