"""The exercises of multi-head attention: their cases, references and the mistakes they recognise."""

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
from transformer_tutorial.numpy import attention as np_attention


def _identity_mha(x: np.ndarray, num_heads: int) -> np.ndarray:
    """nn.MultiheadAttention's self-attention of x with
    every projection the identity: (B, T, D) -> (B, T, D)."""
    torch, _ = torch_and_functional()
    width = x.shape[-1]
    module = torch.nn.MultiheadAttention(
        width, num_heads, bias=False, batch_first=True, dtype=torch.float64
    )
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.eye(width, dtype=torch.float64).repeat(3, 1))
        module.out_proj.weight.copy_(torch.eye(width, dtype=torch.float64))
    tensor = torch.from_numpy(x.astype(np.float64))
    output, _ = module(tensor, tensor, tensor, need_weights=False)
    return to_numpy(output).astype(x.dtype)


def _attend_heads(heads: np.ndarray) -> np.ndarray:
    """Self-attention within each head of (B, H, T,
    d), heads merged again: what a split feeds into."""
    output, _ = np_attention.scaled_dot_product_attention(heads, heads, heads)
    return np_attention.merge_heads(output)


def _split_cases() -> list[Case]:
    specs = [
        (
            "x = arange(16).reshape(1, 2, 8), num_heads=2",
            np.arange(16.0).reshape(1, 2, 8),
            2,
        ),
        ("x (2, 4, 8), num_heads=2", normal(1, 2, 4, 8), 2),
        ("x (3, 8, 12), num_heads=4", normal(2, 3, 8, 12), 4),
        ("T=1: x (1, 1, 6), num_heads=3", normal(3, 1, 1, 6), 3),
        ("one head: x (2, 3, 4), num_heads=1", normal(4, 2, 3, 4), 1),
        ("one feature per head: x (2, 4, 4), num_heads=4", normal(5, 2, 4, 4), 4),
        ("float32: x (2, 6, 8), num_heads=2", normal(6, 2, 6, 8, dtype=np.float32), 2),
    ]
    cases = [
        Case(d, (x, h), {PACKAGE: lambda x=x, h=h: np_attention.split_heads(x, h)})
        for d, x, h in specs
    ]
    x = normal(7, 2, 6, 12)
    cases.append(
        Case(
            "x (2, 6, 12), num_heads=3, fed through attention in each head and merged",
            (x, 3),
            {
                PACKAGE: lambda: _attend_heads(np_attention.split_heads(x, 3)),
                "nn.MultiheadAttention (identity projections)": lambda: _identity_mha(
                    x, 3
                ),
            },
            post=_attend_heads,
        )
    )
    return cases


def _heads_cases() -> list[Case]:
    specs = [
        ("self-attention: (2, 4, 8), num_heads=2", 2, 4, 4, 8, 2, np.float64),
        ("cross-attention: T=3, S=5, D=12, num_heads=3", 2, 3, 5, 12, 3, np.float64),
        ("T=1, S=1: (1, 1, 8), num_heads=4", 1, 1, 1, 8, 4, np.float64),
        ("float32: (2, 6, 16), num_heads=4", 2, 6, 6, 16, 4, np.float32),
        (
            "large scores: (1, 5, 16), num_heads=2, inputs × 4",
            1,
            5,
            5,
            16,
            2,
            np.float64,
        ),
    ]
    cases = []
    for seed, (description, b, t, s, d, h, dtype) in enumerate(specs):
        scale = 4.0 if "large" in description else 1.0
        q = normal(seed, b, t, d, dtype=dtype, scale=scale)
        k = q if t == s else normal(seed + 10, b, s, d, dtype=dtype, scale=scale)
        v = q if t == s else normal(seed + 20, b, s, d, dtype=dtype)
        references = {
            PACKAGE: lambda q=q, k=k, v=v, h=h: np_attention.merge_heads(
                np_attention.scaled_dot_product_attention(
                    *(np_attention.split_heads(a, h) for a in (q, k, v))
                )[0]
            )
        }
        # self-attention, which nn.MultiheadAttention computes with identity projections
        if t == s:
            references["nn.MultiheadAttention (identity projections)"] = (
                lambda q=q, h=h: _identity_mha(q, h)
            )
        cases.append(Case(description, (q, k, v, h), references))
    return cases


TOKEN_SPLIT = "this splits tokens, not features"
MULTI_HEAD = [
    Exercise(
        "multi-head/split-heads",
        "implement",
        "Split the features into heads",
        "split_heads",
        ("x", "num_heads"),
        _split_cases,
        (
            Mistake(
                TOKEN_SPLIT,
                "Head h got a block of T/H consecutive positions with all D features, the way np.split(Q, h)"
                " cuts a (T, D) matrix. Every head must see every token through D/H of its features:"
                " x.reshape(B, T, H, D // H), then swap axes 1 and 2.",
                wrong.split_tokens,
            ),
            Mistake(
                "reshaped to (B, H, T, d) without a transpose",
                "Reshaping (B, T, D) straight to (B, H, T, D/H) mixes the features of different tokens in one"
                " head; reshape to (B, T, H, D/H) first, then swap axes 1 and 2.",
                wrong.reshape_without_transpose,
            ),
        ),
    ),
    Exercise(
        "multi-head/scale-by-d-model",
        "bug",
        "Heads that spread their weight too evenly",
        "multi_head_attention",
        ("query", "key", "value", "num_heads"),
        _heads_cases,
        (
            Mistake(
                "the scores are scaled by √d_model, not by √(d_model / H)",
                "Each head's dot products are sums over its own D/H features: divide them by √(D/H).",
                wrong.multi_head_attention_scaled_by_d_model,
            ),
            Mistake(
                TOKEN_SPLIT,
                "Each head must see every position, through D/H of its features.",
                wrong.multi_head_attention_with_token_split,
            ),
            Mistake(
                "the scores are not scaled at all",
                "Divide each head's scores by √(D/H).",
                wrong.multi_head_attention_without_scaling,
            ),
        ),
    ),
    Exercise(
        "multi-head/predict-split-shape",
        "predict",
        "The shape after the split",
        answer=lambda: np_attention.split_heads(np.zeros((2, 10, 64)), 8).shape,
        answer_hint="a tuple of ints",
    ),
]
