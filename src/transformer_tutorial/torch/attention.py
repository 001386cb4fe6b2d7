"""Attention in PyTorch."""

from __future__ import annotations

import torch

from transformer_tutorial.checks import check_array, check_axis, check_bool_mask


# --8<-- [start:softmax]
def softmax(x: torch.Tensor, axis: int = -1, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Numerically stable softmax along ``axis``, with an optional mask.

    Softmax does not change when the same constant is added to every entry along ``axis``, so subtracting the
    largest entry first changes nothing mathematically, and keeps ``exp`` from overflowing.

    Args:
        x: Scores of any shape.
        axis: The axis along which the result sums to one.
        mask: Optional boolean tensor that broadcasts to ``x.shape``; True where an entry may receive weight.
            Masked entries get exactly zero, and a slice with no True entry is all zeros instead of NaN.

    Returns:
        A tensor of ``x.shape`` whose slices along ``axis`` are non-negative and sum to one (zero where the
        whole slice is masked).

    Examples:
        >>> softmax(torch.tensor([1.0, 2.0, 3.0])).round(decimals=4)
        tensor([0.0900, 0.2447, 0.6652])
        >>> softmax(torch.tensor([1000.0, 1000.0]))  # exp(1000) alone would overflow
        tensor([0.5000, 0.5000])
        >>> softmax(torch.tensor([1.0, 2.0, 3.0]), mask=torch.tensor([True, True, False])).round(decimals=4)
        tensor([0.2689, 0.7311, 0.0000])
    """
    check_array("x", x, torch.Tensor, "torch.Tensor")
    check_axis("axis", axis, x.ndim)
    if not x.is_floating_point():
        x = x.float()
    if mask is not None:
        check_bool_mask("mask", mask, x.shape, "(the shape of x)")
        x = x.masked_fill(~mask, float("-inf"))
    row_max = x.amax(dim=axis, keepdim=True)
    row_max = torch.where(torch.isfinite(row_max), row_max, 0.0)  # a fully masked slice has max -inf
    exps = torch.exp(x - row_max)
    total = exps.sum(dim=axis, keepdim=True)
    return exps / torch.where(total > 0, total, 1.0)


# --8<-- [end:softmax]
