"""Exercises a reader can check: each chapter's exercises, and a checker that compares a reader's
answer with the package's reference and, where PyTorch has the operation, with PyTorch's own.

In a Python session::

    from transformer_tutorial.exercises import check
    check("multi-head/split-heads", my_split_heads)   # a function, NumPy or PyTorch
    check("multi-head/predict-split-shape", (2, 8, 10, 8))   # an answer to a "predict" exercise

From a shell::

    python -m transformer_tutorial.exercises list
    python -m transformer_tutorial.exercises check multi-head/split-heads my_solution.py
    python -m transformer_tutorial.exercises check --all my_solutions/

The checker runs nothing but the named file: the function the exercise names (or the variable ``answer``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformer_tutorial.exercises.catalogue import CHAPTERS, EXERCISES
from transformer_tutorial.exercises.checker import (
    KINDS,
    Exercise,
    ReaderError,
    Report,
    load_file,
    run_check,
)


def get(exercise_id: str) -> Exercise:
    """The exercise called ``exercise_id`` ("chapter/name");
    a ``KeyError`` that lists the chapter's ids if none."""
    if exercise_id not in EXERCISES:
        chapter = exercise_id.split("/")[0]
        known = [key for key in EXERCISES if key.startswith(chapter + "/")] or list(
            EXERCISES
        )
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(known)}")
    return EXERCISES[exercise_id]


def check(exercise_id: str, answer: Any, backend: str = "auto") -> Report:
    """Check a function (or, for a "predict" exercise,
    a value) against the exercise's references.

    Args:
        exercise_id: "chapter/name", as listed on the exercises page.
        answer: The reader's function, or their answer to a "predict" exercise.
        backend: "numpy" or "torch": which arrays the function receives. "auto" gives tensors to a function whose code
            refers to torch, NumPy arrays to any other.

    Returns:
        A ``Report``: true when the answer is right; printing it says what was checked, or the first case that differs,
        with the inputs, the expected and the actual values, and the known mistake that explains it.
    """
    return run_check(get(exercise_id), answer, backend)


def check_file(exercise_id: str, path: str | Path, backend: str = "auto") -> Report:
    """Run the reader's file and check what it defines under the exercise's name."""
    exercise = get(exercise_id)
    try:
        answer = load_file(path, exercise.function)
    except ReaderError as error:
        return Report(
            exercise.id,
            "error",
            f"error: {exercise.id}\n  {error}",
            summary=str(error).splitlines()[0],
        )
    return run_check(exercise, answer, backend)


def solution_path(folder: str | Path, exercise_id: str) -> Path:
    """Where ``check --all`` looks for an exercise's
    solution: ``FOLDER/chapter/name.py``."""
    chapter, name = exercise_id.split("/")
    return Path(folder) / chapter / f"{name}.py"


__all__ = [
    "CHAPTERS",
    "EXERCISES",
    "KINDS",
    "Exercise",
    "Report",
    "check",
    "check_file",
    "get",
    "solution_path",
]
