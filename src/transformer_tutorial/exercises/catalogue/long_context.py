"""The exercises of long contexts: their cases, references and the mistakes they recognise."""

from __future__ import annotations

from transformer_tutorial.exercises import mistakes as wrong
from transformer_tutorial.exercises.catalogue.common import PACKAGE
from transformer_tutorial.exercises.checker import Case, Exercise, Mistake
from transformer_tutorial.numpy import paged as np_paged
from transformer_tutorial.numpy import rope_scaling as np_scaling
from transformer_tutorial.numpy import streaming as np_streaming


def _yarn_cases() -> list[Case]:
    specs = [
        ("d_k=16, s=4, L=256: all three regimes", 16, 4.0, 256),
        ("d_k=64, s=8, L=4096 (a LLaMA-sized head)", 64, 8.0, 4096),
        ("d_k=8, s=2, L=32", 8, 2.0, 32),
        ("s=1 gives RoPE's frequencies back: d_k=16, L=128", 16, 1.0, 128),
        ("d_k=32, s=16, L=64: most pairs slower than L", 32, 16.0, 64),
    ]
    cases = []
    for description, d_k, factor, length in specs:
        theta = np_scaling.rope_frequencies(d_k)
        cases.append(
            Case(
                description,
                (theta, factor, length),
                {
                    PACKAGE: lambda t=theta, s=factor, n=length: (
                        np_scaling.yarn_frequencies(t, s, n)
                    )
                },
            )
        )
    return cases


def _kept_cases() -> list[Case]:
    specs = [
        ("total=20, num_sinks=4, window=6", 20, 4, 6),
        ("not full yet: total=7, num_sinks=4, window=6", 7, 4, 6),
        ("exactly full: total=10, num_sinks=4, window=6", 10, 4, 6),
        ("no sinks: a plain window, total=12, num_sinks=0, window=5", 12, 0, 5),
        ("one more than full: total=11, num_sinks=4, window=6", 11, 4, 6),
        ("fewer positions than sinks: total=2, num_sinks=4, window=3", 2, 4, 3),
    ]
    return [
        Case(
            description,
            (total, sinks, window),
            {
                PACKAGE: lambda n=total, k=sinks, w=window: (
                    np_streaming.SinkWindowCache(1, k, w).kept(n)
                )
            },
        )
        for description, total, sinks, window in specs
    ]


def _blocks_taken() -> int:
    """Blocks of 16 positions that sequences of 5,
    16, 17 and 40 positions take from a paged cache."""
    cache = np_paged.PagedCache(32, 16, 1, 1, 1)
    for length in (5, 16, 17, 40):
        cache.grow([cache.add_sequence()], length)
    return sum(len(table) for table in cache.block_tables.values())


LONG_CONTEXT = [
    Exercise(
        "long-contexts/yarn-frequencies",
        "implement",
        "YaRN's frequencies",
        "yarn_frequencies",
        ("frequencies", "factor", "original_length"),
        _yarn_cases,
        (
            Mistake(
                "the ramp runs the wrong way: fast pairs are interpolated and slow ones kept",
                "γ is 1 for a pair that turns many times inside L (more than β = 32): such a pair keeps θ. A pair"
                " that turns less than α = 1 time gets θ / s. The new frequency is (1 - γ) θ / s + γ θ.",
                wrong.yarn_frequencies_ramp_reversed,
            ),
            Mistake(
                "the ramp is fed the wavelength λ instead of the number of turns r = L / λ",
                "r counts how many full turns pair i makes inside the training length: L · θ / (2π).",
                wrong.yarn_frequencies_wavelength_as_turns,
            ),
        ),
    ),
    Exercise(
        "long-contexts/sinks-twice",
        "bug",
        "A streaming cache that keeps its first positions twice",
        "kept_positions",
        ("total", "num_sinks", "window"),
        _kept_cases,
        (
            Mistake(
                "before the cache is full, the first positions are counted as sinks and again as recent",
                "While total ≤ num_sinks + window nothing is evicted: return np.arange(total). Only after that"
                " are the sinks and the last window positions two separate runs.",
                wrong.kept_positions_sinks_twice,
            ),
            Mistake(
                "the sinks are evicted: this is a plain sliding window",
                "Keep the first num_sinks positions in front of the window.",
                wrong.kept_positions_without_sinks,
            ),
            Mistake(
                "the sinks are taken out of the window instead of kept beside it",
                "The cache holds num_sinks + window positions once full: the sinks, then the last window.",
                wrong.kept_positions_window_includes_sinks,
            ),
        ),
    ),
    Exercise(
        "long-contexts/predict-blocks",
        "predict",
        "Blocks for four sequences",
        answer=_blocks_taken,
        answer_hint="an int (blocks)",
    ),
]
