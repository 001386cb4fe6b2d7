"""The exercises of causal self-attention: their cases, references and the mistakes they recognise."""

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
from transformer_tutorial.numpy import decoder_only as np_decoder_only
from transformer_tutorial.numpy import masks as np_masks


def _causal_mask_cases() -> list[Case]:
    torch, _ = torch_and_functional()

    def pytorch(t, s):
        if t == s:  # PyTorch's own causal mask is a float mask, -inf above the diagonal
            return ~np.isinf(
                to_numpy(torch.nn.Transformer.generate_square_subsequent_mask(t))
            )
        return to_numpy(torch.ones(t, s, dtype=torch.bool).tril(s - t))

    specs = [(4, 4), (1, 1), (3, 5), (1, 6), (7, 7), (2, 2)]
    names = {(3, 5): " (2 cached keys)", (1, 6): " (one new query, 5 cached keys)"}
    return [
        Case(
            f"query_length={t}, key_length={s}{names.get((t, s), '')}",
            (t, s),
            {
                PACKAGE: lambda t=t, s=s: np_masks.causal_mask(t, s),
                "nn.Transformer.generate_square_subsequent_mask"
                if t == s
                else "torch.tril": lambda t=t, s=s: pytorch(t, s),
            },
        )
        for t, s in specs
    ]


def _causal_attention_cases() -> list[Case]:
    torch, F = torch_and_functional()
    specs = [
        ("T=S=4, d=3", (4, 3), 4, np.float64),
        ("B=2, T=S=5, d=4", (2, 5, 4), 5, np.float64),
        ("T=S=1", (1, 4), 1, np.float64),
        ("float32, B=2, T=S=6, d=8", (2, 6, 8), 6, np.float32),
        ("T=2 queries after 3 cached positions (S=5)", (2, 4), 5, np.float64),
    ]
    cases = []
    for seed, (description, q_shape, s, dtype) in enumerate(specs):
        q = normal(seed, *q_shape, dtype=dtype)
        k = normal(seed + 10, *q_shape[:-2], s, q_shape[-1], dtype=dtype)
        v = normal(seed + 20, *q_shape[:-2], s, 3, dtype=dtype)
        mask = np_masks.causal_mask(q_shape[-2], s)

        def pytorch(q=q, k=k, v=v, mask=mask):
            tensors = (torch.from_numpy(a) for a in (q, k, v))
            return to_numpy(
                F.scaled_dot_product_attention(
                    *tensors, attn_mask=torch.from_numpy(mask)
                )
            )

        cases.append(
            Case(
                description,
                (q, k, v),
                {
                    PACKAGE: lambda q=q, k=k, v=v, mask=mask: (
                        np_attention.scaled_dot_product_attention(q, k, v, mask)[0]
                    ),
                    "F.scaled_dot_product_attention with the causal mask": pytorch,
                },
            )
        )
    return cases


def _top_k_cases() -> list[Case]:
    torch, _ = torch_and_functional()

    def pytorch(logits, k):
        tensor = torch.from_numpy(logits)
        values, indices = tensor.topk(k, dim=-1)
        kept = torch.full_like(tensor, float("-inf")).scatter(-1, indices, values)
        return to_numpy(torch.softmax(kept, dim=-1))

    specs = [
        ("logits (6,), k=2", normal(1, 6), 2),
        ("logits (2, 3, 10), k=3", normal(2, 2, 3, 10), 3),
        ("k=1 (greedy): logits (4, 8)", normal(3, 4, 8), 1),
        ("k=V keeps all: logits (3, 5), k=5", normal(4, 3, 5), 5),
        ("float32: logits (2, 50), k=10", normal(5, 2, 50, dtype=np.float32), 10),
        ("large logits (× 500): (3, 7), k=3", normal(6, 3, 7, scale=500.0), 3),
    ]
    return [
        Case(
            description,
            (logits, k),
            {
                PACKAGE: lambda logits=logits, k=k: (
                    np_decoder_only.next_token_probabilities(logits, top_k=k)
                ),
                "torch.topk then torch.softmax": lambda logits=logits, k=k: pytorch(
                    logits, k
                ),
            },
        )
        for description, logits, k in specs
    ]


CAUSAL = [
    Exercise(
        "causal-self-attention/causal-mask",
        "implement",
        "A causal mask that works with a cache",
        "causal_mask",
        ("query_length", "key_length"),
        _causal_mask_cases,
        (
            Mistake(
                "the mask is transposed: it lets each position see the future, not the past",
                "Row t (a query) must allow columns 0…t: the lower triangle, np.tril, not np.triu.",
                wrong.causal_mask_transposed,
            ),
            Mistake(
                "the diagonal is masked: a position cannot attend to itself",
                "Keep the diagonal: query t may attend to key t.",
                wrong.causal_mask_without_diagonal,
            ),
            Mistake(
                "the queries are aligned with the first keys, not the last",
                "With S > T keys, the T queries are the last T positions (S - T are cached): shift the diagonal"
                " by S - T (np.tril(..., k=S - T)).",
                wrong.causal_mask_aligned_to_start,
            ),
        ),
    ),
    Exercise(
        "causal-self-attention/top-k",
        "implement",
        "Top-k sampling probabilities",
        "top_k_probabilities",
        ("logits", "k"),
        _top_k_cases,
        (
            Mistake(
                "this keeps the k smallest logits",
                "Keep the k largest: compare with the k-th largest value, np.sort(logits)[..., -k].",
                wrong.top_k_keeping_smallest,
            ),
            Mistake(
                "the dropped logits are set to 0, so they keep some probability",
                "A dropped token must get probability exactly 0: give it a logit of -inf, or mask it in the softmax.",
                wrong.top_k_with_zero_logits,
            ),
            Mistake(
                "the kept probabilities are not renormalised",
                "After zeroing the dropped tokens the row sums to less than 1: take the softmax over the kept"
                " logits only.",
                wrong.top_k_not_renormalised,
            ),
        ),
    ),
    Exercise(
        "causal-self-attention/mask-after-softmax",
        "bug",
        "Weights that no longer sum to one",
        "causal_attention",
        ("query", "key", "value"),
        _causal_attention_cases,
        (
            Mistake(
                "the mask is applied after the softmax, so the rows no longer sum to 1",
                "Mask the scores before the softmax (fill the future with -inf or leave it out of the softmax).",
                wrong.causal_attention_masked_after_softmax,
            ),
            Mistake(
                "the mask is transposed: each position reads the future",
                "Row t (a query) must allow columns 0…t.",
                wrong.causal_attention_with_transposed_mask,
            ),
        ),
    ),
    Exercise(
        "causal-self-attention/predict-first-row",
        "predict",
        "What the first position attends to",
        answer=lambda: np_attention.scaled_dot_product_attention(
            normal(9, 4, 8),
            normal(10, 4, 8),
            normal(11, 4, 8),
            np_masks.causal_mask(4),
        )[1][0].tolist(),
        answer_hint="a list of four numbers",
        atol=1e-3,
    ),
]
