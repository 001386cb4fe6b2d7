"""The machinery of the checker: cases, comparisons, known mistakes, and a reader's file or function.

An exercise is a list of cases. Each case holds inputs and one or more expected values, each from a named
reference (the package's NumPy code, or PyTorch's own operation where PyTorch has one). The reader's function
runs on each case in turn; the first case where its result differs from a reference is reported with the
inputs, the expected and the actual values, and the name of a known mistake if one of the exercise's planted
mistakes gives exactly what the reader's function gave.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import numbers
import runpy
import textwrap
import traceback
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE_DIR = Path(__file__).resolve().parent
KINDS = {"implement": "Implement", "predict": "Predict", "bug": "Find the bug"}


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: a function with the exercise's signature, and what it does wrong."""

    name: str  # short, shown to the reader: "this splits tokens, not features"
    explanation: str  # one or two sentences on what to change
    function: Callable[..., Any]


@dataclass
class Case:
    """One set of inputs, and what the right answer is according to each reference.

    ``references`` maps a reference's name to a function of no argument that computes the expected value as
    NumPy arrays (lazily, so that torch is imported only when a case compares with it).
    """

    description: str
    args: tuple
    references: dict[str, Callable[[], Any]]
    post: Callable[[Any], Any] | None = (
        None  # applied to the reader's result before comparing (NumPy)
    )


@dataclass(frozen=True)
class Exercise:
    """One exercise of one chapter.

    For "implement" and "bug" exercises the reader writes ``function`` with ``parameters``; for "predict"
    exercises the reader's file defines a variable ``answer``.
    """

    id: str  # "chapter/name"
    kind: str  # "implement", "predict" or "bug"
    title: str
    function: str = "answer"
    parameters: tuple[str, ...] = ()
    cases: Callable[[], list[Case]] = lambda: []
    mistakes: tuple[Mistake, ...] = ()
    answer: Callable[[], Any] | None = (
        None  # the expected answer of a "predict" exercise
    )
    answer_hint: str = ""  # what form the answer takes: "a tuple of ints", …
    rtol: float | None = (
        None  # tolerance for float64 results (float32 results get a looser one)
    )
    atol: float | None = None

    @property
    def chapter(self) -> str:
        return self.id.split("/")[0]

    @property
    def name(self) -> str:
        return self.id.split("/")[1]

    @property
    def signature(self) -> str:
        return f"{self.function}({', '.join(self.parameters)})"


@dataclass
class Report:
    """What the checker found. True when the answer is correct; ``str(report)`` is the message to read."""

    exercise: str
    status: str  # "correct", "wrong" or "error"
    message: str
    checked: list[str] = field(default_factory=list)
    mistake: str | None = None
    summary: str = ""  # one line for the table of ``check --all``

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__


class ReaderError(Exception):
    """Something about the reader's file or function, already phrased for the reader."""


# ---------------------------------------------------------------------------------------------------------------
# The reader's code


def load_file(path: str | Path, name: str) -> Any:
    """Run the reader's file (and nothing else) and return what it defines under ``name``.

    ``__name__`` is not ``"__main__"`` while it runs, so a reader's own tests under
    ``if __name__ == "__main__":`` stay out of the check.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(f"no file {path}")
    try:
        namespace = runpy.run_path(str(path), run_name="__exercise__")
    except (
        Exception
    ) as error:  # the reader's file raised while it was read: show where, in their file
        raise ReaderError(
            f"{path} raised an error while it was run:\n{reader_traceback(error)}"
        ) from None
    if name not in namespace:
        defined = sorted(
            key
            for key, value in namespace.items()
            if not key.startswith("_") and _is_own(value, path)
        )
        listing = ", ".join(defined) if defined else "nothing"
        raise ReaderError(f"{path} defines no {name!r} (it defines: {listing})")
    return namespace[name]


def _is_own(value: Any, path: Path) -> bool:
    """Whether ``value`` is a function or variable of the reader's file rather than a module it imported."""
    if isinstance(value, types.ModuleType):
        return False
    code = getattr(value, "__code__", None)
    return code is None or Path(code.co_filename).resolve() == path.resolve()


def reader_traceback(error: BaseException) -> str:
    """The traceback of an exception raised in the reader's code, without the checker's own frames."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not Path(frame.filename).resolve().is_relative_to(PACKAGE_DIR)
        and not frame.filename.endswith(("runpy.py", "<frozen runpy>"))
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(error), error)
    return "".join(
        "    " + line + "\n"
        for chunk in lines
        for line in chunk.rstrip("\n").split("\n")
    )


def _library(value: Any) -> str | None:
    origin = (
        value.__name__
        if isinstance(value, types.ModuleType)
        else getattr(value, "__module__", None)
    )
    return origin.split(".")[0] if isinstance(origin, str) else None


def uses_torch(function: Callable[..., Any]) -> bool:
    """Whether a function is written for tensors.

    True when its code refers to torch (a name bound to something from torch), or when it refers to neither
    torch nor NumPy and its module imported torch but not NumPy.
    """
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    names, stack = set(), [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(
            const for const in current.co_consts if isinstance(const, types.CodeType)
        )
    namespace = getattr(function, "__globals__", {})
    used = {_library(namespace[name]) for name in names if name in namespace}
    used |= {
        _library(value) for value in getattr(function, "__annotations__", {}).values()
    }
    if "torch" in used or "numpy" in used:
        return "torch" in used
    imported = {
        _library(value)
        for value in namespace.values()
        if isinstance(value, types.ModuleType)
    }
    return "torch" in imported and "numpy" not in imported


def check_signature(exercise: Exercise, function: Any) -> None:
    if not callable(function):
        raise ReaderError(
            f"{exercise.function} must be a function, got {type(function).__name__}"
        )
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return  # a builtin or C function: no signature to read
    try:
        signature.bind(*exercise.parameters)
    except TypeError:
        raise ReaderError(
            f"{exercise.function} must take {len(exercise.parameters)} arguments, as in {exercise.signature};"
            f" yours is {exercise.function}{signature}"
        ) from None


# ---------------------------------------------------------------------------------------------------------------
# Values


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
    """An argument as the report shows it: arrays by shape and dtype, small arrays also by value."""
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
    """None when ``actual`` matches ``expected``; otherwise what differs, for the report."""
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


def _matches(a: Any, b: Any) -> bool:
    """Whether two results are the same (NaN equal to NaN), for recognising a known mistake."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(
            _matches(x, y) for x, y in zip(a, b, strict=True)
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


def quietly(function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function`` with overflow and invalid-value warnings silenced (a wrong softmax makes NaN)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return function(*args)


# ---------------------------------------------------------------------------------------------------------------
# Checking


def check_function(
    exercise: Exercise, function: Callable[..., Any], backend: str = "auto"
) -> Report:
    """Run a reader's function on every case of an exercise and report the first difference, or success."""
    try:
        check_signature(exercise, function)
    except ReaderError as error:
        return Report(
            exercise.id, "error", f"error: {exercise.id}\n  {error}", summary=str(error)
        )
    guessed = backend == "auto"
    if guessed:
        backend = "torch" if uses_torch(function) else "numpy"
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy', 'torch' or 'auto', got {backend!r}")
    library = "PyTorch" if backend == "torch" else "NumPy"
    checked, references = [], set()
    cases = exercise.cases()
    for number, case in enumerate(cases, 1):
        inputs = to_torch(case.args) if backend == "torch" else case.args
        try:
            result = quietly(function, *_copies(inputs))
        except (
            Exception
        ) as error:  # the reader's code raised: show it with the reader's own lines
            result = (
                _retry_with_tensors(function, case)
                if guessed and number == 1 and backend == "numpy"
                else None
            )
            if result is None:
                other = "torch" if backend == "numpy" else "numpy"
                return Report(
                    exercise.id,
                    "error",
                    f"error: {exercise.id} ({library})\n  case {number} of {len(cases)}: {case.description}\n"
                    f"{_inputs(exercise, case)}  your function raised an error:\n{reader_traceback(error)}"
                    f"  (it was given {library} inputs; --backend {other} gives it the other kind)",
                    checked,
                    summary=f"case {number}: {type(error).__name__}: {error}",
                )
            backend, library = "torch", "PyTorch"
        actual = to_numpy(result)
        narrowed = narrowed_precision(case.args, actual)
        if narrowed is not None:
            return Report(
                exercise.id,
                "wrong",
                f"wrong: {exercise.id} ({library})\n  case {number} of {len(cases)}: {case.description}\n"
                f"{_inputs(exercise, case)}  {narrowed}",
                checked,
                summary=f"case {number}: {narrowed.split(':')[0]}",
            )
        if case.post is not None:
            with contextlib.suppress(
                Exception
            ):  # a result of the wrong shape for the follow-up computation
                actual = quietly(case.post, actual)
        for reference, compute in case.references.items():
            expected = compute()
            difference = compare(expected, actual, exercise.rtol, exercise.atol)
            if difference is None:
                references.add(reference)
                continue
            mistake = diagnose(exercise, case, actual, expected)
            message = (
                f"wrong: {exercise.id} ({library})\n  case {number} of {len(cases)}: {case.description}\n"
                f"{_inputs(exercise, case)}  compared with {reference}:\n    {difference}\n"
            )
            if mistake is not None:
                explanation = textwrap.fill(
                    mistake.explanation,
                    84,
                    initial_indent="    ",
                    subsequent_indent="    ",
                )
                message += f"  known mistake: {mistake.name}\n{explanation}\n"
            if checked:
                message += f"  (the {len(checked)} case{'s' if len(checked) > 1 else ''} before this one passed)\n"
            summary = (
                mistake.name
                if mistake
                else f"case {number}: {difference.splitlines()[0]}"
            )
            return Report(
                exercise.id,
                "wrong",
                message.rstrip(),
                checked,
                None if mistake is None else mistake.name,
                summary,
            )
        checked.append(case.description)
    listing = "".join(f"\n    - {description}" for description in checked)
    against = " and ".join(
        sorted(references, key=lambda name: (not name.startswith("the package"), name))
    )
    return Report(
        exercise.id,
        "correct",
        f"correct: {exercise.id} ({library})\n  {len(checked)} cases agree with {against}:{listing}",
        checked,
    )


def _float_dtypes(value: Any) -> set[np.dtype]:
    """The float dtypes of the arrays in ``value`` (in tuples and lists too)."""
    if isinstance(value, tuple | list):
        return set().union(*(_float_dtypes(item) for item in value))
    if isinstance(value, np.ndarray | np.floating) and np.issubdtype(
        value.dtype, np.floating
    ):
        return {np.dtype(value.dtype)}
    return set()


def narrowed_precision(args: tuple, actual: Any) -> str | None:
    """What to tell a reader whose result is float32 or float16 when every float input was float64, or None.

    Such a result can sit within float32's tolerance of the answer and still be wrong: the case asks for float64.
    """
    if _float_dtypes(args) != {np.dtype(np.float64)}:
        return None
    narrower = sorted(
        str(dtype) for dtype in _float_dtypes(actual) if dtype.itemsize < 8
    )
    if not narrower:
        return None
    return (
        f"the result is {narrower[0]}, but the inputs are float64: compute in the dtype of the inputs "
        "(float32 keeps about 7 significant digits, float64 about 16)"
    )


def _retry_with_tensors(function: Callable[..., Any], case: Case) -> Any:
    """The result for tensor inputs, or None if the function fails on those too (its NumPy error is shown)."""
    try:
        return quietly(function, *_copies(to_torch(case.args)))
    except Exception:
        return None


def _copies(args: tuple) -> tuple:
    """Fresh copies of array arguments, so that a function that writes into its input spoils nothing."""
    return tuple(
        arg.clone()
        if hasattr(arg, "clone")
        else arg.copy()
        if hasattr(arg, "copy")
        else arg
        for arg in args
    )


def _inputs(exercise: Exercise, case: Case) -> str:
    names = exercise.parameters or tuple(f"arg{i}" for i in range(len(case.args)))
    return "".join(
        f"    {name} = {describe(arg)}\n"
        for name, arg in zip(names, case.args, strict=False)
    )


def diagnose(
    exercise: Exercise, case: Case, actual: Any, expected: Any
) -> Mistake | None:
    """The known mistake that gives the reader's (wrong) result on this case, if there is one.

    A mistake that happens to give the right answer on this case explains nothing, and is passed over.
    """
    for mistake in exercise.mistakes:
        try:
            theirs = quietly(mistake.function, *_copies(case.args))
            if case.post is not None:
                theirs = quietly(case.post, theirs)
        except (
            Exception
        ):  # this mistake fails on these inputs, so it is not the reader's
            continue
        if _matches(theirs, actual) and compare(
            expected, to_numpy(theirs), exercise.rtol, exercise.atol
        ):
            return mistake
    return None


def check_answer(exercise: Exercise, answer: Any) -> Report:
    """Compare a reader's answer to a "predict" exercise with the value the code computes."""
    expected = exercise.answer()
    if isinstance(expected, tuple) and isinstance(answer, list):
        answer = tuple(answer)
    difference = compare(
        expected, to_numpy(answer), exercise.rtol, exercise.atol, what="your answer"
    )
    if difference is None:
        return Report(
            exercise.id,
            "correct",
            f"correct: {exercise.id}\n  answer {answer!r}",
            ["the answer"],
        )
    return Report(
        exercise.id,
        "wrong",
        f"wrong: {exercise.id}\n  your answer is {answer!r}; the code gives {expected!r}\n"
        "  (run the block on the page to see why)",
        summary=f"your answer is {answer!r}",
    )


def run_check(exercise: Exercise, value: Any, backend: str = "auto") -> Report:
    if exercise.kind == "predict":
        return check_answer(exercise, value)
    return check_function(exercise, value, backend)


def references(
    numpy_reference: Callable[..., Any], *args: Any, **others: Callable[[], Any]
) -> dict:
    """The usual ``references`` of a case: the package's NumPy function on ``args``, and others by name."""
    return {
        "the package's NumPy reference": lambda: quietly(numpy_reference, *args),
        **others,
    }


def cases_of(
    specs: Sequence[tuple[str, tuple]], make: Callable[[str, tuple], Case]
) -> list[Case]:
    return [make(description, args) for description, args in specs]
