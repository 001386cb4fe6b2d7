"""How the checker compares a reader's result with a reference: arrays
and tensors alike, with the first differing entry described in words."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def to_numpy(value: Any) -> Any:
    """NumPy arrays for tensors (in tuples and lists too); other values as they are."""
    if isinstance(value, tuple | list):
        return type(value)(to_numpy(item) for item in value)
    if type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def to_torch(value: Any) -> Any:
    """Tensors for NumPy arrays (in tuples too); other values as they are."""
    import torch

    if isinstance(value, tuple):
        return tuple(to_torch(item) for item in value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    return value


def describe(value: Any) -> str:
    """An argument as the report shows it: arrays
    by shape and dtype, small arrays also by value."""
    if isinstance(value, np.ndarray):
        text = f"{value.shape} {value.dtype}"
        if value.size <= 8:
            text += " " + np.array2string(value, precision=4, separator=", ").replace(
                "\n", ""
            )
        return text
    return repr(value)


def _show(array: np.ndarray, index: tuple[int, ...]) -> str:
    """The row of ``array`` that holds ``index`` (its last axis), shortened."""
    row = array[index[:-1]] if array.ndim else array
    text = np.array2string(
        np.asarray(row)[:6], precision=5, separator=", ", suppress_small=True
    )
    return text.replace("\n", "") + (" …" if np.asarray(row).size > 6 else "")


def _position(index: tuple[int, ...]) -> str:
    return (
        "["
        + ", ".join(str(i) for i in index[:-1])
        + (", :]" if len(index) > 1 else ":]")
    )


def compare(
    expected: Any,
    actual: Any,
    rtol: float | None,
    atol: float | None,
    what: str = "result",
) -> str | None:
    """None when ``actual`` matches ``expected``;
    otherwise what differs, for the report."""
    if isinstance(expected, tuple):
        if not isinstance(actual, tuple | list) or len(actual) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {type(actual).__name__}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            difference = compare(e, a, rtol, atol, f"{what}[{i}]")
            if difference:
                return difference
        return None
    if isinstance(expected, np.ndarray):
        try:
            actual = np.asarray(actual)
        except Exception:  # any object that is not array-like
            return f"expected an array for {what}, got {type(actual).__name__}"
        if actual.shape != expected.shape:
            return (
                f"{what} has shape {actual.shape}, expected {expected.shape}\n"
                f"      expected{_position((0,) * expected.ndim)} = {_show(expected, (0,) * expected.ndim)}\n"
                f"      got     {_position((0,) * actual.ndim)} = {_show(actual, (0,) * actual.ndim)}"
            )
        if expected.dtype == bool:
            if actual.dtype != bool:
                return f"{what} must be a boolean array (True = may attend), got dtype {actual.dtype}"
            wrong = actual != expected
        else:
            if not np.issubdtype(actual.dtype, np.number):
                return f"{what} must hold numbers, got dtype {actual.dtype}"
            loose = np.float32 in (actual.dtype, expected.dtype) or np.float16 in (
                actual.dtype,
                expected.dtype,
            )
            r = (
                (1e-5 if loose else 1e-9)
                if rtol is None
                else (rtol * 1e4 if loose else rtol)
            )
            a = (
                (1e-5 if loose else 1e-10)
                if atol is None
                else (max(atol, 1e-5) if loose else atol)
            )
            with np.errstate(all="ignore"):
                wrong = ~np.isclose(
                    actual.astype(np.float64),
                    expected.astype(np.float64),
                    rtol=r,
                    atol=a,
                )
        if not wrong.any():
            return None
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        where = "[" + ", ".join(map(str, index)) + "]"
        return (
            f"{what}{where} is {actual[index].item()!r}, expected {expected[index].item()!r}"
            f" ({int(wrong.sum())} of {wrong.size} entries differ)\n"
            f"      expected{_position(index)} = {_show(expected, index)}\n"
            f"      got     {_position(index)} = {_show(actual, index)}"
        )
    if isinstance(expected, float):
        try:
            value = float(actual)
        except (TypeError, ValueError):
            return f"expected a number, got {actual!r}"
        close = math.isclose(
            value, expected, rel_tol=1e-9 if rtol is None else rtol, abs_tol=atol or 0.0
        )
        return None if close else f"{what} is {value!r}, expected {expected!r}"
    if isinstance(expected, list):
        if (
            np.asarray(actual, dtype=object).shape
            != np.asarray(expected, dtype=object).shape
        ):
            return f"{what} is {actual!r}, expected {expected!r}"
        return compare(
            np.asarray(expected, dtype=float),
            np.asarray(actual, dtype=float),
            rtol,
            atol,
            what,
        )
    if isinstance(expected, int) and not isinstance(expected, bool):
        same = (
            isinstance(actual, numbers.Number)
            and not isinstance(actual, bool)
            and actual == expected
        )
    else:
        same = actual == expected
    return None if same else f"{what} is {actual!r}, expected {expected!r}"


def same_result(a: Any, b: Any) -> bool:
    """Whether two results are the same (NaN equal
    to NaN), for recognising a known mistake."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(
            same_result(x, y) for x, y in zip(a, b, strict=True)
        )
    try:
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype == bool or b.dtype == bool:
            return a.dtype == b.dtype and bool((a == b).all())
        return bool(
            np.allclose(
                a.astype(np.float64),
                b.astype(np.float64),
                rtol=1e-4,
                atol=1e-5,
                equal_nan=True,
            )
        )
    except (TypeError, ValueError):
        return False
