"""The exercises of the Transformer architecture: their cases, references and the mistakes they recognise."""

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
from transformer_tutorial.numpy import layers as np_layers


def _layer_norm_cases() -> list[Case]:
    torch, F = torch_and_functional()
    specs = [
        ("x (2, 3, 8)", normal(1, 2, 3, 8), 1e-5),
        ("float32: x (4, 16)", normal(2, 4, 16, dtype=np.float32), 1e-5),
        ("x (1, 1, 6), T=1", normal(3, 1, 1, 6), 1e-5),
        ("features around 1000 (x (3, 4) + 1000)", normal(4, 3, 4) + 1000.0, 1e-5),
        ("a constant row (variance 0: eps decides)", np.full((2, 5), 3.0), 1e-5),
        ("eps=1e-12, as BERT uses: x (2, 4, 12)", normal(5, 2, 4, 12), 1e-12),
        ("eps=0.1: x (3, 4)", normal(6, 3, 4) * 0.2, 0.1),
    ]
    cases = []
    for seed, (description, x, eps) in enumerate(specs):
        width = x.shape[-1]
        weight = (1.0 + 0.5 * normal(100 + seed, width)).astype(x.dtype)
        bias = (0.5 * normal(200 + seed, width)).astype(x.dtype)
        cases.append(
            Case(
                description,
                (x, weight, bias, eps),
                {
                    PACKAGE: lambda x=x, w=weight, b=bias, e=eps: np_layers.layer_norm(
                        x, np_layers.LayerNormParams(w, b, e)
                    ),
                    "F.layer_norm (nn.LayerNorm)": lambda x=x, w=weight, b=bias, e=eps: (
                        to_numpy(
                            F.layer_norm(
                                *(torch.from_numpy(a) for a in (x,)),
                                (x.shape[-1],),
                                torch.from_numpy(w),
                                torch.from_numpy(b),
                                e,
                            )
                        )
                    ),
                },
            )
        )
    return cases


LAYER_NORM_MISTAKES = (
    Mistake(
        "unbiased variance (divided by D - 1)",
        "LayerNorm divides the squared deviations by D, as nn.LayerNorm does: x.var(axis=-1) with NumPy's"
        " default ddof=0, or unbiased=False / correction=0 in PyTorch.",
        wrong.layer_norm_unbiased,
    ),
    Mistake(
        "eps is added outside the square root",
        "nn.LayerNorm computes (x - mean) / sqrt(var + eps); the difference shows where the variance is small.",
        wrong.layer_norm_eps_outside,
    ),
    Mistake(
        "the statistics are taken across the batch (axis 0), not across each position's features",
        "That is batch normalisation's axis; LayerNorm normalises every position on its own, over the last axis.",
        wrong.layer_norm_over_batch,
    ),
)


def _encoder_layer_parameters() -> int:
    torch, _ = torch_and_functional()
    layer = torch.nn.TransformerEncoderLayer(512, 8, 2048)
    return sum(parameter.numel() for parameter in layer.parameters())


ARCHITECTURE = [
    Exercise(
        "architecture/layer-norm",
        "implement",
        "LayerNorm from its definition",
        "layer_norm",
        ("x", "weight", "bias", "eps"),
        _layer_norm_cases,
        LAYER_NORM_MISTAKES,
        rtol=1e-7,
        atol=1e-9,
    ),
    Exercise(
        "architecture/unbiased-variance",
        "bug",
        "A LayerNorm that is almost right",
        "layer_norm",
        ("x", "weight", "bias", "eps"),
        _layer_norm_cases,
        LAYER_NORM_MISTAKES,
        rtol=1e-7,
        atol=1e-9,
    ),
    Exercise(
        "architecture/predict-parameter-count",
        "predict",
        "The parameters of one encoder layer",
        answer=_encoder_layer_parameters,
        answer_hint="an int",
    ),
]
