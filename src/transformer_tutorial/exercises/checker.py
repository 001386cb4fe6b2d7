"""The machinery of the checker: cases, comparisons, known mistakes, and a reader's file or function.

An exercise is a list of cases. Each case holds inputs and one or more expected values, each from a named reference (the
package's NumPy code, or PyTorch's own operation where PyTorch has one). The reader's function runs on each case in
turn; the first case where its result differs from a reference is reported with the inputs, the expected and the actual
values, and the name of a known mistake if one of the exercise's planted mistakes gives exactly what the reader's
function gave.
"""

from __future__ import annotations

import contextlib
import inspect
import runpy
import textwrap
import traceback
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from transformer_tutorial.exercises.comparison import (
    compare,
    describe,
    same_result,
    to_numpy,
    to_torch,
)

PACKAGE_DIR = Path(__file__).resolve().parent
KINDS = {"implement": "Implement", "predict": "Predict", "bug": "Find the bug"}


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: a function with the
    exercise's signature, and what it does wrong."""

    name: str  # short, shown to the reader: "this splits tokens, not features"
    explanation: str  # one or two sentences on what to change
    function: Callable[..., Any]


@dataclass
class Case:
    """One set of inputs, and what the right answer is according to each reference.

    ``references`` maps a reference's name to a function of no argument that computes the expected value as NumPy arrays
    (lazily, so that torch is imported only when a case compares with it).
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

    For "implement" and "bug" exercises the reader writes ``function`` with ``parameters``; for "predict" exercises the
    reader's file defines a variable ``answer``.
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
    """What the checker found. True when the answer is
    correct; ``str(report)`` is the message to read."""

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
    """Run the reader's file (and nothing else)
    and return what it defines under ``name``.

    ``__name__`` is not ``"__main__"`` while it runs, so a reader's own tests under ``if __name__ == "__main__":`` stay
    out of the check.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(f"no file {path}")
    try:
        namespace = runpy.run_path(str(path), run_name="__exercise__")
    # the reader's file raised while it was read: show where, in their file
    except Exception as error:
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
    """Whether ``value`` is a function or variable of
    the reader's file rather than a module it imported."""
    if isinstance(value, types.ModuleType):
        return False
    code = getattr(value, "__code__", None)
    return code is None or Path(code.co_filename).resolve() == path.resolve()


def reader_traceback(error: BaseException) -> str:
    """The traceback of an exception raised in the
    reader's code, without the checker's own frames."""
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

    True when its code refers to torch (a name bound to something from torch), or when it refers to neither torch nor
    NumPy and its module imported torch but not NumPy.
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


def quietly(function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function`` with overflow and invalid-value
    warnings silenced (a wrong softmax makes NaN)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return function(*args)


# ---------------------------------------------------------------------------------------------------------------
# Checking


def check_function(
    exercise: Exercise, function: Callable[..., Any], backend: str = "auto"
) -> Report:
    """Run a reader's function on every case of an
    exercise and report the first difference, or success."""
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
        # the reader's code raised: show it with the reader's own lines
        except Exception as error:
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
            # a result of the wrong shape for the follow-up computation
            with contextlib.suppress(Exception):
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
    """What to tell a reader whose result is float32 or
    float16 when every float input was float64, or None.

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
    """The result for tensor inputs, or None if the
    function fails on those too (its NumPy error is shown)."""
    try:
        return quietly(function, *_copies(to_torch(case.args)))
    except Exception:
        return None


def _copies(args: tuple) -> tuple:
    """Fresh copies of array arguments, so that a
    function that writes into its input spoils nothing."""
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
    """The known mistake that gives the reader's
    (wrong) result on this case, if there is one.

    A mistake that happens to give the right answer on this case explains nothing, and is passed over.
    """
    for mistake in exercise.mistakes:
        try:
            theirs = quietly(mistake.function, *_copies(case.args))
            if case.post is not None:
                theirs = quietly(case.post, theirs)
        # this mistake fails on these inputs, so it is not the reader's
        except Exception:
            continue
        if same_result(theirs, actual) and compare(
            expected, to_numpy(theirs), exercise.rtol, exercise.atol
        ):
            return mistake
    return None


def check_answer(exercise: Exercise, answer: Any) -> Report:
    """Compare a reader's answer to a "predict"
    exercise with the value the code computes."""
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
    """The usual ``references`` of a case: the package's
    NumPy function on ``args``, and others by name."""
    return {
        "the package's NumPy reference": lambda: quietly(numpy_reference, *args),
        **others,
    }
