"""RoPE beyond its training length, in NumPy: position interpolation, NTK-aware scaling and YaRN,
each written as a change to the rotation frequencies, and a rotation that takes any frequencies.

A model trained at length L has seen every pair of features turn through angles p·θ_i for p < L only. At longer lengths
the slow pairs reach angles they never saw. Each method maps the frequencies θ_i to new ones θ'_i so that a context s =
L' / L times longer stays, for the pairs where it matters, inside what training showed. YaRN also sharpens the softmax a
little (its attention temperature).

Shapes use B (batch), H (heads), T (positions) and d_k (one head's width); the frequencies are (d_k / 2,).
"""

from __future__ import annotations

import math

import numpy as np

from transformer_tutorial.checks import (
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
def rope_frequencies(d_k: int, base: float = 10000.0) -> np.ndarray:
    """RoPE's angle per position of each pair of features: θ_i = base^(-2i / d_k).

    (d_k / 2,), the fastest pair first. ``rotary_embedding`` turns pair i of the row at position p through p·θ_i.
    """
    check_positive_int("d_k", d_k)
    if d_k % 2:
        raise ValueError(f"d_k must be even to pair the features, got {d_k}")
    check_positive_number("base", base)
    return 1.0 / base ** (np.arange(0, d_k, 2) / d_k)


# --8<-- [end:rope_frequencies]


# --8<-- [start:linear_frequencies]
def linear_frequencies(frequencies: np.ndarray, factor: float) -> np.ndarray:
    """Position interpolation: every frequency divided by s = L' / L.

    (d_k / 2,) -> (d_k / 2,). Turning position m by θ / s is turning position m / s by θ: the L' positions are squeezed
    into the L that training saw (Chen et al., arXiv 2306.15595v2, Eq. 4).
    """
    _check_scaling(factor)
    return np.asarray(frequencies, dtype=np.float64) / factor


# --8<-- [end:linear_frequencies]


# --8<-- [start:ntk_frequencies]
def ntk_frequencies(d_k: int, factor: float, base: float = 10000.0) -> np.ndarray:
    """NTK-aware scaling: RoPE's frequencies with
    the base raised to base · s^(d_k / (d_k - 2)).

    (d_k / 2,). The fastest pair (i = 0) keeps θ_0 = 1; the slowest is divided by exactly s; the pairs between are
    divided by less the faster they turn (Peng et al., arXiv 2309.00071v2, Eqs. 14 to 16).
    """
    _check_scaling(factor)
    check_positive_int("d_k", d_k)
    if d_k < 4:
        raise ValueError(f"NTK-aware scaling needs d_k of at least 4, got {d_k}")
    return rope_frequencies(d_k, base * factor ** (d_k / (d_k - 2)))


# --8<-- [end:ntk_frequencies]


# --8<-- [start:yarn_frequencies]
def yarn_frequencies(
    frequencies: np.ndarray,
    factor: float,
    original_length: int,
    alpha: float = 1.0,
    beta: float = 32.0,
) -> np.ndarray:
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
    frequencies = np.asarray(frequencies, dtype=np.float64)
    wavelengths = 2 * math.pi / frequencies  # λ_i, positions per full turn
    turns = original_length / wavelengths  # r_i
    ramp = np.clip((turns - alpha) / (beta - alpha), 0.0, 1.0)  # γ(r_i)
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
) -> tuple[np.ndarray, float]:
    """The frequencies (d_k / 2,) and the query/key factor
    of one method: "plain", "linear", "ntk" or "yarn".

    "plain" ignores ``factor``; "yarn" needs ``original_length``, L. The factor is 1 except for YaRN.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    plain = rope_frequencies(d_k, base)
    if method == "plain":
        return plain, 1.0
    if method == "linear":
        return linear_frequencies(plain, factor), 1.0
    if method == "ntk":
        return ntk_frequencies(d_k, factor, base), 1.0
    if original_length is None:
        raise ValueError("method 'yarn' needs original_length, the training length L")
    return (
        yarn_frequencies(plain, factor, original_length),
        yarn_attention_factor(factor),
    )


# --8<-- [start:rotate]
def rotate(
    x: np.ndarray,
    frequencies: np.ndarray,
    positions: np.ndarray | None = None,
) -> np.ndarray:
    """RoPE with any frequencies: turn pair i of the row at position p through p·θ_i.

    x: (..., T, d_k); frequencies: (d_k / 2,); positions: (T,), or (B, T) for x of shape (B, H, T, d_k) when every
    sequence has its own positions.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim < 2 or x.shape[-1] % 2:
        raise ValueError(
            f"x must be (..., T, d_k) with an even d_k, got shape {format_shape(x.shape)}"
        )
    length, width = x.shape[-2:]
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if frequencies.shape != (width // 2,):
        raise ValueError(
            f"frequencies must have shape (d_k / 2,) = ({width // 2},) for x of shape "
            f"{format_shape(x.shape)}, got {format_shape(frequencies.shape)}"
        )
    positions = np.arange(length) if positions is None else np.asarray(positions)
    if positions.shape != (length,) and not (
        x.ndim == 4 and positions.shape == (x.shape[0], length)
    ):
        raise ValueError(
            f"positions must have shape (T,) = ({length},) or (B, T) = ({x.shape[0]}, {length}) "
            f"for x of shape {format_shape(x.shape)}, got {format_shape(positions.shape)}"
        )
    if positions.ndim == 2:
        positions = positions[:, None]  # (B, 1, T): the same positions for every head
    angles = positions[..., None] * frequencies  # (..., T, d_k / 2)
    cos, sin = np.cos(angles).astype(x.dtype), np.sin(angles).astype(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = np.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)
    return rotated.reshape(x.shape)


# --8<-- [end:rotate]
