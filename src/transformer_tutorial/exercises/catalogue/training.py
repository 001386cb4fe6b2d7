"""The exercises of training and inference: their cases, references and the mistakes they recognise."""

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
from transformer_tutorial.numpy import masks as np_masks


def _learning_rate_reference(step: int, d_model: int, warmup: int) -> float:
    from transformer_tutorial.torch.training import learning_rate

    return learning_rate(step, d_model, warmup)


def _learning_rate_cases() -> list[Case]:
    specs = [
        (1, 512, 4000),
        (100, 512, 4000),
        (3999, 512, 4000),
        (4000, 512, 4000),
        (4001, 512, 4000),
    ]
    specs += [(100_000, 512, 4000), (1, 64, 10), (50, 64, 10)]
    return [
        Case(
            f"step={s}, d_model={d}, warmup={w}",
            (s, d, w),
            {
                "the package's learning_rate": lambda s=s, d=d, w=w: float(
                    _learning_rate_reference(s, d, w)
                )
            },
        )
        for s, d, w in specs
    ]


def _cache_case(
    description: str,
    seed: int,
    shape: tuple[int, ...],
    d_v: int,
    dtype: type = np.float64,
) -> Case:
    """One step with a cache of S - 1 earlier positions;
    the references attend over all S positions at once."""
    *lead, length, d = shape
    q_all = normal(seed, *lead, length, d, dtype=dtype)
    k_all = normal(seed + 1, *lead, length, d, dtype=dtype)
    v_all = normal(seed + 2, *lead, length, d_v, dtype=dtype)
    args = (
        q_all[..., -1:, :],
        k_all[..., -1:, :],
        v_all[..., -1:, :],
        k_all[..., :-1, :],
        v_all[..., :-1, :],
    )
    torch, F = torch_and_functional()

    def full_causal_pass():
        output = F.scaled_dot_product_attention(
            *(torch.from_numpy(a) for a in (q_all, k_all, v_all)), is_causal=True
        )
        return to_numpy(output)[..., -1:, :], k_all, v_all

    def package():
        output, _ = np_attention.scaled_dot_product_attention(
            q_all, k_all, v_all, np_masks.causal_mask(length)
        )
        return output[..., -1:, :], k_all, v_all

    return Case(
        description,
        args,
        {
            PACKAGE: package,
            "the last row of a causal F.scaled_dot_product_attention over all positions": full_causal_pass,
        },
    )


TRAINING = [
    Exercise(
        "training/kv-cache-step",
        "implement",
        "One step with a key/value cache",
        "attend_with_cache",
        ("query", "key", "value", "cached_keys", "cached_values"),
        lambda: [
            _cache_case("an empty cache: first position, d=4", 1, (1, 4), 4),
            _cache_case("4 cached positions, d=4, d_v=3", 2, (5, 4), 3),
            _cache_case("B=2, 6 cached positions, d=8", 3, (2, 7, 8), 8),
            _cache_case("B=2, H=3, 3 cached positions, d=4", 4, (2, 3, 4, 4), 4),
            _cache_case(
                "float32, B=2, 9 cached positions, d=8", 5, (2, 10, 8), 8, np.float32
            ),
        ],
        (
            Mistake(
                "the new token attends before its key and value are in the cache",
                "Append the new key and value first, then attend over all of them: a position may attend to itself.",
                wrong.attend_before_appending,
            ),
            Mistake(
                "the new key and value are put before the cached ones",
                "The attention output does not change, but the cache must stay in position order for the next"
                " step: concatenate the cache first, then the new entries.",
                wrong.prepend_to_cache,
            ),
        ),
    ),
    Exercise(
        "training/no-warmup",
        "bug",
        "A schedule without a warm-up",
        "learning_rate",
        ("step", "d_model", "warmup"),
        _learning_rate_cases,
        (
            Mistake(
                "there is no warm-up: the ramp uses warmup^-0.5",
                "The rising branch is step · warmup^-1.5, which meets step^-0.5 exactly at step = warmup.",
                wrong.learning_rate_without_warmup,
            ),
            Mistake(
                "max instead of min",
                "The schedule takes the smaller of the two branches: the ramp before the warm-up ends, the decay"
                " after.",
                wrong.learning_rate_with_max,
            ),
        ),
        rtol=1e-9,
    ),
    Exercise(
        "training/predict-peak",
        "predict",
        "The largest learning rate of the paper's schedule",
        answer=lambda: float(_learning_rate_reference(4000, 512, 4000)),
        answer_hint="a float, three significant figures are enough",
        rtol=5e-3,
    ),
]
