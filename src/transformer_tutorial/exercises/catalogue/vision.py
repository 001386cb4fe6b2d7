"""The exercises of Vision Transformers: their cases, references and the mistakes they recognise."""

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
from transformer_tutorial.numpy import vision as np_vision


def _patchify_cases() -> list[Case]:
    torch, F = torch_and_functional()
    specs = [
        (
            "one 4 × 4 image numbered 0…15, patch_size=2",
            np.arange(16.0).reshape(1, 1, 4, 4),
            2,
        ),
        ("B=2, C=3, 8 × 8, patch_size=4", normal(1, 2, 3, 8, 8), 4),
        ("not square: C=2, 4 × 6, patch_size=2", normal(2, 1, 2, 4, 6), 2),
        ("patch_size=1: every pixel a patch", normal(3, 2, 3, 3, 3), 1),
        ("patch_size = the image: one patch", normal(4, 2, 1, 4, 4), 4),
        (
            "float32, B=3, C=1, 8 × 8, patch_size=2",
            normal(5, 3, 1, 8, 8, dtype=np.float32),
            2,
        ),
    ]
    return [
        Case(
            description,
            (images, p),
            {
                PACKAGE: lambda images=images, p=p: np_vision.patchify(images, p),
                "F.unfold (nn.Unfold)": lambda images=images, p=p: to_numpy(
                    F.unfold(torch.from_numpy(images), p, stride=p).transpose(1, 2)
                ),
            },
        )
        for description, images, p in specs
    ]


PATCHIFY_MISTAKES = (
    Mistake(
        "a plain reshape: each 'patch' is a strip of pixels, not a P × P square",
        "Reshape to (B, C, H / P, P, W / P, P), move the two patch-grid axes in front of C, then flatten.",
        wrong.patchify_by_reshape,
    ),
    Mistake(
        "the patches are numbered column by column",
        "Number them row by row, left to right: the patch-row axis before the patch-column axis.",
        wrong.patchify_column_major,
    ),
    Mistake(
        "each patch is flattened with the channel last",
        "Flatten channel first, then pixel row, then pixel column, the order of a Conv2d weight (and of F.unfold).",
        wrong.patchify_channels_last,
    ),
)

VISION = [
    Exercise(
        "vision-transformers/patchify",
        "implement",
        "Cut images into patches",
        "patchify",
        ("images", "patch_size"),
        _patchify_cases,
        PATCHIFY_MISTAKES,
    ),
    Exercise(
        "vision-transformers/patch-strips",
        "bug",
        "Patches that are not square",
        "patchify",
        ("images", "patch_size"),
        _patchify_cases,
        PATCHIFY_MISTAKES,
    ),
    Exercise(
        "vision-transformers/predict-sequence-length",
        "predict",
        "How many tokens an image becomes",
        answer=lambda: np_vision.patchify(np.zeros((1, 1, 28, 28)), 7).shape[1] + 1,
        answer_hint="an int",
    ),
]
