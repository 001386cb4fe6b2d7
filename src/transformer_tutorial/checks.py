"""Argument checks shared by the NumPy and PyTorch backends.

Both backends validate their inputs the same way and raise the same messages, so the checks live here. They
rely only on what NumPy arrays and PyTorch tensors have in common: ``.shape``, ``.ndim`` and ``.dtype``.
Every message names the argument, the shape it received and the shape it expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def format_shape(shape: Sequence[int]) -> str:
    """Write a shape the way Python writes a tuple: ``(2, 3)``, ``(5,)``, ``()``.

    Examples:
        >>> format_shape((2, 3))
        '(2, 3)'
        >>> format_shape([5])
        '(5,)'
    """
    return str(tuple(int(size) for size in shape))


def is_bool_dtype(array: Any) -> bool:
    """True for ``numpy.bool_`` arrays and ``torch.bool`` tensors."""
    return str(array.dtype) in ("bool", "torch.bool")


def check_array(name: str, value: Any, array_type: type, type_name: str) -> None:
    """Raise ``TypeError`` unless ``value`` is an instance of ``array_type``."""
    if not isinstance(value, array_type):
        raise TypeError(f"{name} must be a {type_name}, got {type(value).__name__}")


def check_ndim(name: str, array: Any, ndim: int, layout: str) -> None:
    """Raise ``ValueError`` unless ``array`` has ``ndim`` dimensions.

    Args:
        name: The argument's name, as the caller wrote it.
        array: The array or tensor to check.
        ndim: The number of dimensions it must have.
        layout: The expected shape in letters, for the message, such as ``"(B, T, D)"``.

    Examples:
        >>> import numpy as np
        >>> check_ndim("query", np.zeros((4, 8)), 3, "(B, T, D)")
        Traceback (most recent call last):
        ...
        ValueError: query must have 3 dimensions (B, T, D), got shape (4, 8)
    """
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions {layout}, got shape {format_shape(array.shape)}")


def check_axis(name: str, axis: int, ndim: int) -> None:
    """Raise ``ValueError`` unless ``axis`` indexes one of ``ndim`` dimensions (negative counts from the end)."""
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"{name} must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an input with {ndim} dimensions")


def broadcasts_to(shape: Sequence[int], target: Sequence[int]) -> bool:
    """True when an array of ``shape`` broadcasts to ``target`` without changing ``target``.

    Examples:
        >>> broadcasts_to((1, 4), (3, 4))
        True
        >>> broadcasts_to((4, 3), (3, 4))
        False
    """
    if len(shape) > len(target):
        return False
    return all(size in (1, goal) for size, goal in zip(reversed(shape), reversed(target), strict=False))


def check_bool_mask(name: str, mask: Any, target: Sequence[int], layout: str) -> None:
    """Raise unless ``mask`` is boolean and broadcasts to ``target`` without changing it.

    Raises:
        TypeError: ``mask`` is not boolean (a float mask of 0/1 or of -inf/0 is a different convention).
        ValueError: ``mask`` does not broadcast to ``target``.
    """
    if not is_bool_dtype(mask):
        raise TypeError(
            f"{name} must be boolean (True = may attend), got dtype {mask.dtype}; convert a 0/1 mask with mask == 1"
        )
    if not broadcasts_to(mask.shape, target):
        raise ValueError(
            f"{name} has shape {format_shape(mask.shape)}, which does not broadcast to {format_shape(target)} {layout}"
        )
