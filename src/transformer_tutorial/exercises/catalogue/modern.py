"""The exercises of attention in today's models: their cases, references and the mistakes they recognise."""

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
from transformer_tutorial.numpy import masks as np_masks
from transformer_tutorial.numpy import modern as np_modern
from transformer_tutorial.numpy import sampling as np_sampling


def _grouped_cases() -> list[Case]:
    torch, F = torch_and_functional()
    causal = np_masks.causal_mask(6)
    padding = np.ones((2, 1, 1, 7), dtype=bool)
    padding[1, ..., 4:] = False  # the second sequence has 4 real keys
    specs = [
        ("H=4, G=2, T=S=5, d=8, no mask", 1, (2, 4, 5, 8), (2, 2, 5, 8), 8, None, np.float64),
        ("H=8, G=2, T=S=6, causal mask (6, 6)", 2, (1, 8, 6, 4), (1, 2, 6, 4), 4, causal, np.float64),
        ("H=6, G=3, T=3, S=7, d_v=5, padding mask (2, 1, 1, 7)", 3, (2, 6, 3, 4), (2, 3, 7, 4), 5, padding, np.float64),
        ("multi-query: H=4, G=1, T=S=5", 4, (2, 4, 5, 8), (2, 1, 5, 8), 8, None, np.float64),
        ("multi-head: H=G=4, T=S=5", 5, (2, 4, 5, 8), (2, 4, 5, 8), 8, None, np.float64),
        ("H=4, G=2, T=3, S=4, row 1 fully masked (must give zeros)", 6, (1, 4, 3, 4), (1, 2, 4, 4), 4,
         random_mask((3, 4), 7, 1), np.float64),
        ("T=1, S=1: H=8, G=4", 7, (2, 8, 1, 8), (2, 4, 1, 8), 8, None, np.float64),
        ("float32: H=8, G=2, T=S=6, causal", 8, (2, 8, 6, 8), (2, 2, 6, 8), 8, causal, np.float32),
    ]  # fmt: skip
    cases = []
    for description, seed, q_shape, k_shape, d_v, mask, dtype in specs:
        q = normal(seed, *q_shape, dtype=dtype)
        k = normal(seed + 10, *k_shape, dtype=dtype)
        v = normal(seed + 20, *k_shape[:-1], d_v, dtype=dtype)

        def pytorch(q=q, k=k, v=v, mask=mask):
            t_mask = (
                None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))
            )
            tensors = (torch.from_numpy(a) for a in (q, k, v))
            return to_numpy(
                F.scaled_dot_product_attention(
                    *tensors, attn_mask=t_mask, enable_gqa=True
                )
            )

        cases.append(
            Case(
                description,
                (q, k, v, mask),
                {
                    PACKAGE: lambda q=q, k=k, v=v, mask=mask: (
                        np_modern.grouped_query_attention(q, k, v, mask)[0]
                    ),
                    "F.scaled_dot_product_attention(enable_gqa=True)": pytorch,
                },
            )
        )
    return cases


def _nucleus_cases() -> list[Case]:
    def probabilities(seed: int, *shape: int, dtype: type = np.float64) -> np.ndarray:
        return np_attention.softmax(normal(seed, *shape, scale=2.0)).astype(dtype)

    specs = [
        (
            "probabilities [0.5, 0.2, 0.15, 0.1, 0.05], top_p=0.6",
            np.array([0.5, 0.2, 0.15, 0.1, 0.05]),
            0.6,
        ),
        (
            "one token above top_p: [0.1, 0.7, 0.2], top_p=0.5",
            np.array([0.1, 0.7, 0.2]),
            0.5,
        ),
        ("(2, 3, 10), top_p=0.9", probabilities(1, 2, 3, 10), 0.9),
        ("(4, 8), top_p=0.3", probabilities(2, 4, 8), 0.3),
        ("(3, 6), top_p=1.0 keeps every token", probabilities(3, 3, 6), 1.0),
        (
            "float32: (2, 50), top_p=0.95",
            probabilities(4, 2, 50, dtype=np.float32),
            0.95,
        ),
    ]
    return [
        Case(
            d,
            (p, top_p),
            {PACKAGE: lambda p=p, t=top_p: np_sampling.nucleus_mask(p, t)},
        )
        for d, p, top_p in specs
    ]


def _online_cases() -> list[Case]:
    torch, F = torch_and_functional()
    specs = [
        ("one block: T=4, S=6, d=4, block_size=8", 1, (4, 4), 6, 8, np.float64, 1.0),
        ("T=4, S=8, d=4, block_size=2", 2, (4, 4), 8, 2, np.float64, 1.0),
        (
            "B=2, H=2, T=5, S=12, d=8, block_size=4",
            3,
            (2, 2, 5, 8),
            12,
            4,
            np.float64,
            1.0,
        ),
        ("block_size=1: one key at a time, S=7", 4, (3, 4), 7, 1, np.float64, 1.0),
        (
            "a partial last block: S=10, block_size=4",
            5,
            (2, 6, 8),
            10,
            4,
            np.float64,
            1.0,
        ),
        (
            "large scores (q, k × 10): S=9, block_size=3",
            6,
            (4, 8),
            9,
            3,
            np.float64,
            10.0,
        ),
        (
            "float32: B=2, T=6, S=16, d=8, block_size=5",
            7,
            (2, 6, 8),
            16,
            5,
            np.float32,
            1.0,
        ),
    ]
    cases = []
    for description, seed, q_shape, s, block, dtype, scale in specs:
        q = normal(seed, *q_shape, dtype=dtype, scale=scale)
        k = normal(seed + 10, *q_shape[:-2], s, q_shape[-1], dtype=dtype, scale=scale)
        v = normal(seed + 20, *q_shape[:-2], s, 3, dtype=dtype)

        def pytorch(q=q, k=k, v=v):
            return to_numpy(
                F.scaled_dot_product_attention(
                    *(torch.from_numpy(a) for a in (q, k, v))
                )
            )

        cases.append(
            Case(
                description,
                (q, k, v, block),
                {
                    PACKAGE: lambda q=q, k=k, v=v, b=block: np_modern.tiled_attention(
                        q, k, v, block_size=b
                    ),
                    "F.scaled_dot_product_attention": pytorch,
                },
            )
        )
    return cases


def _cache_bytes_per_token() -> int:
    """The bytes of keys and values a 6-layer LLaMA-style
    decoder caches per token (H=8, G=2, d=32, float32)."""
    torch, _ = torch_and_functional()
    from transformer_tutorial.config import LlamaConfig
    from transformer_tutorial.torch.llama import LlamaDecoder
    from transformer_tutorial.torch.modes import seeded

    with seeded(0):  # the caller's global random state is given back
        config = LlamaConfig(
            vocab_size=100, d_model=256, num_heads=8, num_kv_heads=2, num_layers=6
        )
        model = LlamaDecoder(config).eval()
        cache = model.new_cache()
        with torch.no_grad():
            model(torch.zeros(1, 10, dtype=torch.long), cache)
        return sum(layer.keys.nbytes + layer.values.nbytes for layer in cache) // 10


MODERN = [
    Exercise(
        "modern-attention/grouped-query-attention",
        "implement",
        "Grouped-query attention",
        "grouped_query_attention",
        ("query", "key", "value", "mask"),
        _grouped_cases,
        (
            Mistake(
                "query head h reads key/value head h % G, not h // (H / G)",
                "np.tile (torch's .repeat) lays the key/value heads out as 0, 1, 0, 1, …; a group is H / G"
                " consecutive query heads, so each key/value head must be repeated in place: np.repeat(key,"
                " H // G, axis=1), or torch.repeat_interleave.",
                wrong.grouped_query_attention_tiled_heads,
            ),
            Mistake(
                "the scores are not divided by √d",
                "Divide Q Kᵀ by the square root of one head's width d before the softmax.",
                wrong.grouped_query_attention_without_scaling,
            ),
        ),
    ),
    Exercise(
        "modern-attention/top-p-crossing",
        "bug",
        "A nucleus that stops one token short",
        "nucleus_mask",
        ("probabilities", "top_p"),
        _nucleus_cases,
        (
            Mistake(
                "the token that crosses top_p is dropped",
                "Keep a token while the tokens ranked above it add up to less than top_p: compare the"
                " cumulative sum before the token, np.cumsum(ranked) - ranked, not the one that includes it."
                " Otherwise the set can fall short of top_p, or be empty when one token alone exceeds it.",
                wrong.nucleus_mask_dropping_crossing,
            ),
            Mistake(
                "the cumulative sum runs in the vocabulary's order, not from the most probable token down",
                "Sort the probabilities in decreasing order first, and put the decisions back in the"
                " vocabulary's order afterwards.",
                wrong.nucleus_mask_in_vocabulary_order,
            ),
            Mistake(
                "the least probable tokens are kept",
                "Rank from the most probable token down: np.argsort(-probabilities).",
                wrong.nucleus_mask_least_probable_first,
            ),
        ),
    ),
    Exercise(
        "modern-attention/online-softmax-sum",
        "bug",
        "An online softmax that forgets its past",
        "online_attention",
        ("query", "key", "value", "block_size"),
        _online_cases,
        (
            Mistake(
                "the running sum is not rescaled when the maximum grows",
                "When a block raises the maximum from m to m', the terms already in the running sum were"
                " computed with m and are too large by exp(m' - m): multiply the sum by exp(m - m'), as the"
                " output is, before adding the block's terms.",
                wrong.online_attention_sum_not_rescaled,
            ),
            Mistake(
                "the running output is not rescaled when the maximum grows",
                "Multiply the accumulated output by exp(m - m') before adding the block's weighted values, as"
                " the running sum is.",
                wrong.online_attention_output_not_rescaled,
            ),
            Mistake(
                "the rescaling factor is inverted: exp(m' - m) instead of exp(m - m')",
                "The old terms are too large by exp(m' - m), so they are multiplied by its inverse; with m = -inf"
                " at the start, the inverted factor is inf and 0 · inf gives NaN.",
                wrong.online_attention_inverted_rescale,
            ),
        ),
    ),
    Exercise(
        "modern-attention/predict-cache-bytes",
        "predict",
        "The cache of one token",
        answer=_cache_bytes_per_token,
        answer_hint="an int (bytes)",
    ),
]
