"""The exercises of positional encodings: their cases, references and the mistakes they recognise."""

from __future__ import annotations

from transformer_tutorial.exercises import mistakes as wrong
from transformer_tutorial.exercises.catalogue.common import (
    PACKAGE,
)
from transformer_tutorial.exercises.checker import Case, Exercise, Mistake
from transformer_tutorial.numpy import positional as np_positional


def _sinusoidal_cases() -> list[Case]:
    specs = [(3, 4), (50, 16), (1, 8), (7, 5), (20, 2), (100, 512)]
    return [
        Case(
            f"length={t}, d_model={d}" + (" (odd width)" if d % 2 else ""),
            (t, d),
            {PACKAGE: lambda t=t, d=d: np_positional.sinusoidal_encoding(t, d)},
        )
        for t, d in specs
    ]


SINUSOIDAL_MISTAKES = (
    Mistake(
        "the frequency exponent uses i, not 2i",
        "Pair i (columns 2i and 2i + 1) turns at pos / 10000^(2i / D): the exponent is the even column's index"
        " over D, so the wavelengths reach 10000·2π at the last pair.",
        wrong.sinusoidal_with_exponent_i,
    ),
    Mistake(
        "sines and cosines are concatenated, not interleaved",
        "This is tensor2tensor's layout, with its own frequencies; the paper puts sin in column 2i and cos in"
        " column 2i + 1.",
        wrong.sinusoidal_concatenated,
    ),
    Mistake(
        "sin and cos are swapped",
        "Even columns hold sines, odd columns cosines: row 0 is [0, 1, 0, 1, …].",
        wrong.sinusoidal_sin_cos_swapped,
    ),
)

POSITIONAL = [
    Exercise(
        "positional-encodings/sinusoidal",
        "implement",
        "The sinusoidal table",
        "sinusoidal_encoding",
        ("length", "d_model"),
        _sinusoidal_cases,
        SINUSOIDAL_MISTAKES,
        atol=1e-9,
    ),
    Exercise(
        "positional-encodings/frequency-exponent",
        "bug",
        "Frequencies that fall too slowly",
        "sinusoidal_encoding",
        ("length", "d_model"),
        _sinusoidal_cases,
        SINUSOIDAL_MISTAKES,
        atol=1e-9,
    ),
    Exercise(
        "positional-encodings/predict-first-row",
        "predict",
        "Row 0 of the table",
        answer=lambda: np_positional.sinusoidal_encoding(1, 6)[0].tolist(),
        answer_hint="a list of six numbers",
        atol=1e-3,
    ),
]
