"""Attention in NumPy."""

from __future__ import annotations

import numpy as np

from transformer_tutorial.checks import check_axis, check_bool_mask


# --8<-- [start:softmax]
def softmax(x: np.ndarray, axis: int = -1, mask: np.ndarray | None = None) -> np.ndarray:
    """Numerically stable softmax along ``axis``, with an optional mask.

    Softmax does not change when the same constant is added to every entry along ``axis``, so subtracting the
    largest entry first changes nothing mathematically, and keeps ``exp`` from overflowing.

    Args:
        x: Scores of any shape.
        axis: The axis along which the result sums to one.
        mask: Optional boolean array that broadcasts to ``x.shape``; True where an entry may receive weight.
            Masked entries get exactly zero, and a slice with no True entry is all zeros instead of NaN.

    Returns:
        An array of ``x.shape`` whose slices along ``axis`` are non-negative and sum to one (zero where the
        whole slice is masked).

    Examples:
        >>> softmax(np.array([1.0, 2.0, 3.0])).round(4)
        array([0.09  , 0.2447, 0.6652])
        >>> softmax(np.array([1000.0, 1000.0]))  # exp(1000) alone would overflow
        array([0.5, 0.5])
        >>> softmax(np.array([1.0, 2.0, 3.0]), mask=np.array([True, True, False])).round(4)
        array([0.2689, 0.7311, 0.    ])
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    check_axis("axis", axis, x.ndim)
    if mask is not None:
        check_bool_mask("mask", mask, x.shape, "(the shape of x)")
        x = np.where(mask, x, -np.inf)
    row_max = x.max(axis=axis, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)  # a fully masked slice has max -inf
    exps = np.exp(x - row_max)
    total = exps.sum(axis=axis, keepdims=True)
    return exps / np.where(total > 0, total, 1.0)


# --8<-- [end:softmax]
