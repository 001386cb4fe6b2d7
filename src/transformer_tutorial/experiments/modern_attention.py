"""Measured: what grouped-query attention, tiled attention and the LLaMA-style block change, on this CPU.

Four measurements, stored with the machine and the date as the result ``modern-attention``
(``transformer_tutorial.results.load("modern-attention")``), which the chapter's page and figures read:

* ``memory``: the peak memory (``tracemalloc``) of NumPy's explicit attention, which holds T × S scores, and of
  NumPy's tiled attention, which holds one tile of them, for growing lengths.
* ``times``: time against length for NumPy explicit and tiled attention, and PyTorch's explicit, tiled and fused
  (``F.scaled_dot_product_attention``) paths.
* ``kv_cache``: for a LLaMA-style decoder with H = 8 query heads and G = 1, 2, 4, 8 key/value heads, the bytes
  per token of its real key/value cache, and the time of each generated token after a long prompt.
* ``character_models``: a paper-style decoder (post-norm, ReLU, sinusoids) and the LLaMA-style decoder with
  the same parameter budget, trained for the same steps on the character corpus; their held-out losses.

Run it from the repository root::

    python -m transformer_tutorial.experiments.modern_attention --store
    python -m transformer_tutorial.experiments.modern_attention --quick   # seconds; the tests run this
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from transformer_tutorial.config import LlamaConfig
from transformer_tutorial.experiments.benchmark import (
    Settings,
    time_interleaved,
)
from transformer_tutorial.experiments.character_models import train_character_models
from transformer_tutorial.experiments.running import (
    command_line,
    one_thread,
    stored_run,
)
from transformer_tutorial.numpy import attention as np_attention
from transformer_tutorial.numpy import modern as np_modern
from transformer_tutorial.torch import attention, modern
from transformer_tutorial.torch.attention import KeyValueCache
from transformer_tutorial.torch.llama import LlamaDecoder
from transformer_tutorial.torch.modes import seeded

RESULT = "modern-attention"


@dataclass(frozen=True)
class ModernSettings:
    """What one run measures. The timing itself (warm-up,
    rounds, clock) follows ``benchmark.Settings``."""

    head_width: int = 64
    lengths: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
    block_size: int = 128
    cache_width: int = 256
    cache_heads: int = 8
    cache_layers: int = 4
    prompt_length: int = 2048
    new_tokens: int = 16
    corpus_width: int = 48
    corpus_heads: int = 4
    corpus_kv_heads: int = 2
    corpus_layers: int = 2
    corpus_d_ff: int = 192
    corpus_context: int = 48
    corpus_steps: int = 150
    corpus_batch: int = 16
    corpus_learning_rate: float = 5e-3
    seeds: tuple[int, ...] = (0, 1)
    timing: Settings = field(
        default_factory=lambda: Settings(
            batch=0,
            num_heads=0,
            widths=(),
            lengths=(),
            memory_lengths=(),
            budget_s=1.0,
            min_repeats=3,
            max_repeats=9,
            pause_s=0.1,
            clock="process",  # CPU time of this one-thread process: a busy neighbour does not inflate it
        )
    )


QUICK = ModernSettings(
    head_width=8,
    lengths=(16, 32),
    block_size=8,
    cache_width=16,
    cache_heads=4,
    cache_layers=1,
    prompt_length=16,
    new_tokens=2,
    corpus_width=16,
    corpus_heads=2,
    corpus_kv_heads=1,
    corpus_layers=1,
    corpus_d_ff=32,
    corpus_context=16,
    corpus_steps=3,
    corpus_batch=4,
    seeds=(0,),
    timing=Settings(
        batch=0,
        num_heads=0,
        widths=(),
        lengths=(),
        memory_lengths=(),
        min_repeats=2,
        max_repeats=2,
        budget_s=0.0,
        pause_s=0.0,
        clock="process",
    ),
)


def _median_ms(samples) -> float:
    return round(median(samples.times) * 1e3, 4)


# --8<-- [start:peak_memory]
def traced_peak_bytes(call: Callable[[], Any]) -> int:
    """The most memory (``tracemalloc``) that ``call()`` held above what it found.

    NumPy reports every array buffer it allocates to ``tracemalloc``, so the peak counts the score matrices, the
    temporaries and the result, and nothing that existed before the call.
    """
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


# --8<-- [end:peak_memory]


def measure_memory(settings: ModernSettings) -> list[dict[str, Any]]:
    """Peak memory of explicit and tiled NumPy
    attention over one head, T = S, float64, no mask."""
    rng = np.random.default_rng(0)
    block = settings.block_size
    rows = []
    for length in settings.lengths:
        q, k, v = (
            rng.standard_normal((1, 1, length, settings.head_width)) for _ in range(3)
        )
        rows.append(
            {
                "length": length,
                "explicit_bytes": traced_peak_bytes(
                    lambda q=q, k=k, v=v: np_attention.scaled_dot_product_attention(
                        q, k, v
                    )
                ),
                "tiled_bytes": traced_peak_bytes(
                    lambda q=q, k=k, v=v: np_modern.tiled_attention(
                        q, k, v, None, block
                    )
                ),
                "output_bytes": length
                * settings.head_width
                * 8,  # the (T, d) result itself
            }
        )
    return rows


def measure_times(settings: ModernSettings) -> list[dict[str, Any]]:
    """Time of one head of self-attention, T = S,
    float32, no mask, for each implementation."""
    generator = torch.Generator().manual_seed(0)
    block = settings.block_size
    rows = []
    for length in settings.lengths:
        q, k, v = (
            torch.randn(1, 1, length, settings.head_width, generator=generator)
            for _ in range(3)
        )
        nq, nk, nv = q.numpy(), k.numpy(), v.numpy()
        calls = {
            "numpy_explicit": lambda nq=nq, nk=nk, nv=nv: (
                np_attention.scaled_dot_product_attention(nq, nk, nv)
            ),
            "numpy_tiled": lambda nq=nq, nk=nk, nv=nv: np_modern.tiled_attention(
                nq, nk, nv, None, block
            ),
            "torch_explicit": lambda q=q, k=k, v=v: (
                attention.scaled_dot_product_attention(q, k, v)
            ),
            "torch_tiled": lambda q=q, k=k, v=v: modern.tiled_attention(
                q, k, v, None, block
            ),
            "torch_fused": lambda q=q, k=k, v=v: F.scaled_dot_product_attention(
                q, k, v
            ),
        }
        with torch.no_grad():
            samples = time_interleaved(
                calls,
                dict.fromkeys(calls, lambda: None),
                settings.timing,
                torch.device("cpu"),
            )
        rows.append(
            {
                "length": length,
                **{f"{name}_ms": _median_ms(s) for name, s in samples.items()},
            }
        )
    return rows


def cache_bytes_per_token(cache: list[KeyValueCache]) -> float:
    """The bytes of every layer's cached keys and
    values, divided by the number of cached positions."""
    total = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache)
    return total / len(cache[0])


def measure_kv_cache(settings: ModernSettings) -> list[dict[str, Any]]:
    """For each G dividing H: the cache's bytes per token
    after the prompt, and the time per generated token."""
    heads = settings.cache_heads
    rows = []
    for num_kv_heads in [g for g in range(1, heads + 1) if heads % g == 0]:
        with seeded(0):  # the caller's global random state is given back
            config = LlamaConfig(
                vocab_size=64,
                d_model=settings.cache_width,
                num_heads=heads,
                num_kv_heads=num_kv_heads,
                num_layers=settings.cache_layers,
                d_ff=int(8 / 3 * settings.cache_width),
                max_len=settings.prompt_length + settings.new_tokens,
            )
            model = LlamaDecoder(config).eval()
        prompt = torch.randint(
            0,
            64,
            (1, settings.prompt_length),
            generator=torch.Generator().manual_seed(1),
        )
        next_tokens = torch.randint(
            0, 64, (1, settings.new_tokens), generator=torch.Generator().manual_seed(2)
        )
        with torch.no_grad():
            filled = model.new_cache()
            # the prompt's keys and values, computed once and not timed
            model(prompt, filled)
        bytes_per_token = cache_bytes_per_token(filled)
        state: dict[str, list[KeyValueCache]] = {}

        def restore(filled=filled, state=state) -> None:
            state["cache"] = [KeyValueCache() for _ in filled]
            for copy, layer in zip(state["cache"], filled, strict=True):
                # the same tensors: update concatenates new ones
                copy.update(layer.keys, layer.values)

        def decode(
            fused: bool, model=model, next_tokens=next_tokens, state=state
        ) -> None:
            for block in model.blocks:
                block.attention.fused = fused
            for t in range(next_tokens.shape[1]):
                model(next_tokens[:, t : t + 1], state["cache"])

        calls = {"explicit": lambda: decode(False), "fused": lambda: decode(True)}
        with torch.no_grad():
            samples = time_interleaved(
                calls,
                dict.fromkeys(calls, restore),
                settings.timing,
                torch.device("cpu"),
            )
        rows.append(
            {
                "num_kv_heads": num_kv_heads,
                "queries_per_kv_head": heads // num_kv_heads,
                "cache_bytes_per_token": bytes_per_token,
                "parameters": sum(p.numel() for p in model.parameters()),
                **{
                    f"{name}_ms_per_token": round(
                        median(s.times) * 1e3 / settings.new_tokens, 4
                    )
                    for name, s in samples.items()
                },
            }
        )
    return rows


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """The numbers a reader asks about: memory at the
    longest length, cache bytes per G, the mean losses."""
    longest = results["memory"][-1]
    losses = {}
    for name in ("paper", "gpt", "llama"):
        held_out = [
            run["held_out_loss"]
            for run in results["character_models"]["runs"]
            if run["model"] == name
        ]
        losses[name] = round(float(np.mean(held_out)), 4)
    return {
        "longest_length": longest["length"],
        "explicit_peak_mib": round(longest["explicit_bytes"] / 2**20, 2),
        "tiled_peak_mib": round(longest["tiled_bytes"] / 2**20, 2),
        "cache_bytes_per_token": {
            str(row["num_kv_heads"]): row["cache_bytes_per_token"]
            for row in results["kv_cache"]
        },
        "mean_held_out_loss": losses,
    }


def run(settings: ModernSettings) -> dict[str, Any]:
    """Every measurement on one PyTorch thread and one
    BLAS thread, with the machine and the settings."""
    with one_thread():
        measured = {
            "memory": measure_memory(settings),
            "times": measure_times(settings),
            "kv_cache": measure_kv_cache(settings),
            "character_models": train_character_models(settings),
        }
        results = stored_run("modern_attention", settings, measured)
    results["summary"] = summarise(results)
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    return command_line("modern_attention", RESULT, run, ModernSettings(), QUICK, argv)


if __name__ == "__main__":
    main()
