"""The exercises of attention recap: their cases, references and the mistakes they recognise."""

from __future__ import annotations

import numpy as np

from transformer_tutorial.exercises import mistakes as wrong
from transformer_tutorial.exercises.catalogue.common import (
    PACKAGE,
    normal,
    random_mask,
    torch_and_functional,
)
from transformer_tutorial.exercises.checker import Case, Exercise, Mistake
from transformer_tutorial.exercises.comparison import to_numpy
from transformer_tutorial.numpy import attention as np_attention


def _softmax_cases() -> list[Case]:
    torch, _ = torch_and_functional()
    specs = [
        ("x = [1, 2, 3]", np.array([1.0, 2.0, 3.0]), -1),
        ("(2, 3, 5) float64, axis=-1", normal(1, 2, 3, 5), -1),
        ("scores near ±1000 (exp would overflow)", normal(2, 3, 4, scale=1000.0), -1),
        ("(4, 7) float32", normal(3, 4, 7, dtype=np.float32), -1),
        ("(3, 4), axis=0", normal(4, 3, 4), 0),
        ("(2, 3, 4), axis=1", normal(5, 2, 3, 4), 1),
        ("one entry, (1, 1)", np.array([[5.0]]), -1),
    ]
    return [
        Case(
            description,
            (x, axis),
            {
                PACKAGE: lambda x=x, axis=axis: np_attention.softmax(x, axis=axis),
                "torch.softmax": lambda x=x, axis=axis: to_numpy(
                    torch.softmax(torch.from_numpy(x), dim=axis)
                ),
            },
        )
        for description, x, axis in specs
    ]


def _attention_case(description: str, q, k, v, mask) -> Case:
    torch, F = torch_and_functional()

    def pytorch():
        t_mask = None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))
        tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
        output = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=t_mask)
        # PyTorch returns no weights
        _, weights = np_attention.scaled_dot_product_attention(q, k, v, mask)
        return to_numpy(output), weights

    return Case(
        description,
        (q, k, v, mask),
        {
            PACKAGE: lambda: np_attention.scaled_dot_product_attention(q, k, v, mask),
            "F.scaled_dot_product_attention": pytorch,
        },
    )


def _attention_cases(
    fully_masked: bool = True, always_masked: bool = False
) -> list[Case]:
    def qkv(seed, shape_q, shape_k, d_v, dtype=np.float64, scale=1.0):
        q = normal(seed, *shape_q, dtype=dtype, scale=scale)
        k = normal(seed + 1, *shape_k, dtype=dtype, scale=scale)
        v = normal(seed + 2, *shape_k[:-1], d_v, dtype=dtype)
        return q, k, v

    cases = []
    if not always_masked:
        cases.append(
            _attention_case("T=3, S=4, d=2, no mask", *qkv(10, (3, 2), (4, 2), 2), None)
        )
    cases += [
        _attention_case(
            "B=2, T=3, S=5, d=4, d_v=6, random mask",
            *qkv(20, (2, 3, 4), (2, 5, 4), 6),
            random_mask((3, 5), 1),
        ),
        _attention_case(
            "B=2, H=3, T=4, S=4, d=8, per-sequence mask (2, 1, 4, 4)",
            *qkv(30, (2, 3, 4, 8), (2, 3, 4, 8), 8),
            random_mask((2, 1, 4, 4), 2),
        ),
    ]
    if fully_masked:
        cases.append(
            _attention_case(
                "T=3, S=4, row 1 fully masked (must give zeros)",
                *qkv(40, (3, 4), (4, 4), 3),
                random_mask((3, 4), 3, 1),
            )
        )
    cases += [
        _attention_case(
            "T=1, S=1", *qkv(50, (1, 4), (1, 4), 4), np.ones((1, 1), dtype=bool)
        ),
        _attention_case(
            "float32, B=2, T=6, S=6, d=8",
            *qkv(60, (2, 6, 8), (2, 6, 8), 8, np.float32),
            random_mask((6, 6), 4),
        ),
        _attention_case(
            "large scores (q, k × 30)",
            *qkv(70, (4, 16), (5, 16), 4, scale=30.0),
            random_mask((4, 5), 5),
        ),
    ]
    if always_masked:
        cases = [case for case in cases if case.args[3] is not None]
    return cases


ATTENTION_MISTAKES = (
    Mistake(
        "mask polarity: True must mean 'may attend'",
        "This treats True as blocked, which is nn.MultiheadAttention's convention; fill the scores where the mask"
        " is False.",
        wrong.attention_with_flipped_mask,
    ),
    Mistake(
        "the scores are not divided by √d",
        "Divide Q Kᵀ by the square root of the query width d before the softmax.",
        wrong.attention_without_scaling,
    ),
    Mistake(
        "a fully masked row gives NaN",
        "With -inf in every entry of a row, max subtraction computes -inf - (-inf) = NaN; give such a row zero"
        " weights instead.",
        wrong.attention_with_infinite_fill,
    ),
    Mistake(
        "the softmax runs over the queries (axis -2), not the keys",
        "Each query's weights over the keys must sum to 1: normalise along the last axis of the scores.",
        wrong.attention_softmax_over_queries,
    ),
)


def _shapes_answer():
    q, k, v = np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 5, 7))
    output, weights = np_attention.scaled_dot_product_attention(q, k, v)
    return (output.shape, weights.shape)


ATTENTION = [
    Exercise(
        "attention/softmax",
        "implement",
        "A softmax that does not overflow",
        "softmax",
        ("x", "axis"),
        _softmax_cases,
        (
            Mistake(
                "exp overflows: the largest entry is not subtracted first",
                "exp(1000) is inf in float64, and inf / inf is NaN; subtract the maximum along the axis before"
                " exp (softmax does not change when a constant is added to a whole row).",
                wrong.softmax_without_shift,
            ),
            Mistake(
                "normalised over the whole array, not along axis",
                "Sum with axis=axis and keepdims=True, so that every slice along the axis sums to 1.",
                wrong.softmax_over_everything,
            ),
        ),
    ),
    Exercise(
        "attention/scaled-dot-product-attention",
        "implement",
        "Scaled dot-product attention with a mask",
        "scaled_dot_product_attention",
        ("query", "key", "value", "mask"),
        _attention_cases,
        ATTENTION_MISTAKES,
    ),
    Exercise(
        "attention/mask-polarity",
        "bug",
        "A mask that blocks the wrong entries",
        "attention",
        ("query", "key", "value", "mask"),
        lambda: _attention_cases(fully_masked=False, always_masked=True),
        # no fully masked row here
        tuple(mistake for mistake in ATTENTION_MISTAKES if "NaN" not in mistake.name),
    ),
    Exercise(
        "attention/predict-shapes",
        "predict",
        "The shapes of the output and the weights",
        answer=_shapes_answer,
        answer_hint="a tuple of two shapes, such as ((1, 2), (3, 4))",
    ),
]
