"""The exercises of encoder-only models: their cases, references and the mistakes they recognise."""

from __future__ import annotations

import numpy as np

from transformer_tutorial.exercises import mistakes as wrong
from transformer_tutorial.exercises.catalogue.common import (
    PACKAGE,
    normal,
    torch_and_functional,
)
from transformer_tutorial.exercises.checker import Case, Exercise, Mistake
from transformer_tutorial.exercises.comparison import to_numpy
from transformer_tutorial.numpy import encoder_only as np_encoder_only
from transformer_tutorial.numpy import layers as np_layers
from transformer_tutorial.numpy import masks as np_masks


def _mean_pool_cases() -> list[Case]:
    specs = [
        (
            "one sequence of 3 tokens, 1 of them padding",
            np.arange(6.0).reshape(1, 3, 2),
            np.array([[5, 7, 0]]),
            0,
        ),
        (
            "B=3, T=5, D=4, different lengths",
            normal(1, 3, 5, 4),
            np.array([[4, 5, 6, 0, 0], [7, 0, 0, 0, 0], [1, 2, 3, 4, 5]]),
            0,
        ),
        (
            "no padding at all: (2, 4, 3)",
            normal(2, 2, 4, 3),
            np.array([[1, 2, 3, 4], [5, 6, 7, 8]]),
            0,
        ),
        (
            "pad_id=1: (2, 3, 4)",
            normal(3, 2, 3, 4),
            np.array([[0, 4, 1], [5, 1, 1]]),
            1,
        ),
        ("T=1: (2, 1, 5)", normal(4, 2, 1, 5), np.array([[3], [9]]), 0),
        (
            "float32: (2, 6, 8)",
            normal(5, 2, 6, 8, dtype=np.float32),
            np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 0]]),
            0,
        ),
    ]
    return [
        Case(
            d,
            (h, t, p),
            {PACKAGE: lambda h=h, t=t, p=p: np_encoder_only.mean_pool(h, t, p)},
        )
        for d, h, t, p in specs
    ]


def _gelu_cases() -> list[Case]:
    torch, F = torch_and_functional()
    specs = [
        ("x = -4, -3, …, 4", np.arange(-4.0, 5.0)),
        ("x (2, 3, 4)", normal(1, 2, 3, 4)),
        ("float32: x (5, 6)", normal(2, 5, 6, dtype=np.float32)),
        ("large |x|: ±20", np.array([-20.0, -10.0, 10.0, 20.0])),
        ("zeros (3,)", np.zeros(3)),
    ]
    return [
        Case(
            description,
            (x,),
            {
                PACKAGE: lambda x=x: np_layers.gelu(x),
                "F.gelu (approximate='none')": lambda x=x: to_numpy(
                    F.gelu(torch.from_numpy(x))
                ),
            },
        )
        for description, x in specs
    ]


ENCODER = [
    Exercise(
        "encoder-only-models/mean-pool",
        "implement",
        "Mean pooling over the real tokens",
        "mean_pool",
        ("hidden", "tokens", "pad_id"),
        _mean_pool_cases,
        (
            Mistake(
                "the padding is averaged in",
                "Multiply by a 0/1 mask of the real tokens and divide by their number, not by T.",
                wrong.mean_pool_over_padding,
            ),
            Mistake(
                "the vectors are summed, not averaged",
                "Divide the sum by the number of real tokens of each sequence.",
                wrong.sum_pool,
            ),
        ),
    ),
    Exercise(
        "encoder-only-models/tanh-gelu",
        "bug",
        "A GELU that is close, but not the checkpoint's",
        "gelu",
        ("x",),
        _gelu_cases,
        (
            Mistake(
                "this is the tanh approximation of GELU",
                "BERT and all-MiniLM-L6-v2 use the exact form x·Φ(x), with Φ(x) = (1 + erf(x / √2)) / 2; the"
                " approximation differs by up to about 5e-4.",
                wrong.gelu_tanh,
            ),
            Mistake(
                "this is the sigmoid approximation x·σ(1.702x)",
                "Use the exact form x·Φ(x), with Φ(x) = (1 + erf(x / √2)) / 2.",
                wrong.gelu_sigmoid,
            ),
        ),
        rtol=1e-7,
        atol=1e-9,
    ),
    Exercise(
        "encoder-only-models/predict-padding-mask",
        "predict",
        "The shape of a padding mask",
        answer=lambda: (
            np_masks.padding_mask(
                np.array([[5, 7, 0, 0], [3, 0, 0, 0]]), pad_id=0
            ).shape
        ),
        answer_hint="a tuple of ints",
    ),
]
