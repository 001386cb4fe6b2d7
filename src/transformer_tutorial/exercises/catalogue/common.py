"""What the chapters' exercises share: seeded inputs, the torch import, and the reference's name."""

from __future__ import annotations

import numpy as np

PACKAGE = "the package's NumPy reference"


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def normal(
    seed: int, *shape: int, dtype: type = np.float64, scale: float = 1.0
) -> np.ndarray:
    return (rng(seed).normal(size=shape) * scale).astype(dtype)


def torch_and_functional():
    import torch
    import torch.nn.functional as F

    return torch, F


def random_mask(
    shape: tuple[int, ...], seed: int, fully_masked_row: int | None = None
) -> np.ndarray:
    """A random boolean mask with at least one
    True per row, optionally one row all False."""
    mask = rng(seed).random(shape) < 0.6
    mask[..., 0] = True
    if fully_masked_row is not None:
        mask[..., fully_masked_row, :] = False
    return mask
