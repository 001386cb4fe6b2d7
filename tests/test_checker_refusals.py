"""The exercise checker at its edges: near misses it must refuse, and every case of every exercise run.

The answers here are built from each case's own reference, so they are right everywhere except where a test
spoils them on purpose: a checker that loosened its tolerance, or stopped before the last case, would call them
correct.
"""

from __future__ import annotations

import numpy as np
import pytest

from transformer_tutorial.exercises import EXERCISES, check
from transformer_tutorial.numpy import attention as np_attention

FUNCTION_EXERCISES = [
    exercise for exercise in EXERCISES.values() if exercise.kind != "predict"
]


def replaying(exercise, spoil=None, on_case=None):
    """A reader's function that returns, case by case, the first reference's value of that case.

    ``spoil(value)`` changes the value of case number ``on_case`` (1-based; the last case when None). A case
    whose result goes through ``post`` first (the split-heads case fed through attention) gets the package's
    own split instead, the input that ``post`` expects."""
    cases = exercise.cases()
    target = len(cases) if on_case is None else on_case
    calls = []

    def answer(*args):
        number = len(calls) + 1
        case = cases[number - 1]
        calls.append(number)
        post = case.post is not None  # post expects the split heads, not the answer
        reference = next(iter(case.references.values()))
        value = np_attention.split_heads(*args) if post else reference()
        return spoil(value) if spoil is not None and number == target else value

    return answer, calls, len(cases)


def off_by(value, relative: float):
    """``value`` moved by ``relative`` of its largest entry at its first entry (booleans: the first one flipped)."""
    if isinstance(value, tuple):
        return (off_by(value[0], relative), *value[1:])
    array = np.array(value, copy=True)
    if array.dtype == bool:
        array.flat[0] = ~array.flat[0]
    elif array.dtype.kind in "iu":  # integers: at least one off, whatever the scale
        scale = max(float(np.abs(array).max()), 1.0)
        array.flat[0] += max(1, round(relative * scale))
    else:
        scale = max(float(np.abs(array).max()), 1.0)
        array.flat[0] += relative * scale
    return array if isinstance(value, np.ndarray) else type(value)(array)


@pytest.mark.parametrize(
    "exercise", FUNCTION_EXERCISES, ids=lambda exercise: exercise.id
)
def test_every_case_of_every_exercise_runs(exercise):
    answer, calls, count = replaying(exercise)
    report = check(exercise.id, answer)
    assert report, str(report)
    assert calls == list(range(1, count + 1))
    assert len(report.checked) == count
    # and the last case decides as much as the others: a wrong last answer is refused there
    answer, _, _ = replaying(exercise, spoil=lambda value: off_by(value, 0.5))
    report = check(exercise.id, answer)
    assert report.status == "wrong" and f"case {count} of {count}" in str(report), str(
        report
    )


def first_array(value):
    return value[0] if isinstance(value, tuple) else value


def float64_cases(exercise, inputs_too: bool) -> list[int]:
    """The numbers of the cases whose answer (or the first of its answers) is a float64 array, and, with
    ``inputs_too``, whose float inputs are all float64."""
    numbers = []
    for number, case in enumerate(exercise.cases(), 1):
        floats = {
            a.dtype
            for a in case.args
            if isinstance(a, np.ndarray) and a.dtype.kind == "f"
        }
        expected = first_array(next(iter(case.references.values()))())
        wanted = not inputs_too or floats == {np.dtype(np.float64)}
        if (
            case.post is None
            and getattr(expected, "dtype", None) == np.float64
            and wanted
        ):
            numbers.append(number)
    return numbers


NEAR_MISS_EXERCISES = [
    exercise for exercise in FUNCTION_EXERCISES if float64_cases(exercise, False)
]
FLOAT64_INPUT_EXERCISES = [
    exercise for exercise in FUNCTION_EXERCISES if float64_cases(exercise, True)
]


@pytest.mark.parametrize(
    "exercise", NEAR_MISS_EXERCISES, ids=lambda exercise: exercise.id
)
def test_an_answer_one_thousandth_off_is_refused(exercise):
    number = float64_cases(exercise, False)[0]
    answer, _, _ = replaying(
        exercise, spoil=lambda value: off_by(value, 1e-3), on_case=number
    )
    report = check(exercise.id, answer)
    assert report.status == "wrong" and f"case {number} of" in str(report), str(report)


@pytest.mark.parametrize(
    "exercise", FLOAT64_INPUT_EXERCISES, ids=lambda exercise: exercise.id
)
def test_a_float32_answer_to_a_float64_case_is_refused(exercise):
    number = float64_cases(exercise, True)[0]

    def narrowed(value):
        return (
            tuple(v.astype(np.float32) for v in value)
            if isinstance(value, tuple)
            else value.astype(np.float32)
        )

    answer, _, _ = replaying(exercise, spoil=narrowed, on_case=number)
    report = check(exercise.id, answer)
    assert report.status == "wrong", str(report)
    assert "the result is float32, but the inputs are float64" in str(report)


def test_a_float32_case_still_takes_a_float32_answer_within_float32_rounding():
    exercise = EXERCISES["attention/softmax"]
    cases = exercise.cases()
    numbers = [n for n, case in enumerate(cases, 1) if "float32" in case.description]
    assert numbers

    def softmax(x, axis):
        x = np.asarray(x)
        result = np_attention.softmax(x.astype(np.float64), axis).astype(x.dtype)
        return result

    assert check(exercise.id, softmax)
