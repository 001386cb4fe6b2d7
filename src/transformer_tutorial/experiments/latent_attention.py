"""Measured: multi-head latent attention beside multi-head and grouped-query attention, on this CPU.

Two measurements, stored with the machine and the date as the result ``latent-attention``
(``transformer_tutorial.results.load("latent-attention")``), which the chapter's page reads:

* ``character_models``: three LLaMA-style decoders that differ only in their attention (multi-head, grouped-query
  with half as many key/value heads, and MLA), each with SwiGLU's width chosen so that all three have the same
  parameter budget, trained for the same steps on the character corpus from several seeds; their held-out
  losses and the bytes per token of their real caches.
* ``decoding``: larger untrained decoders of the three kinds after a long prompt: the cache's bytes per token
  and the time of each generated token, MLA once with the absorbed path and once expanding its latents.

The training pieces (corpus, optimiser loop, evaluation, parameter matching, timing) are those of
``modern_attention``. Run it from the repository root::

    python -m transformer_tutorial.experiments.latent_attention --store
    python -m transformer_tutorial.experiments.latent_attention --quick   # seconds; the tests run this
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import numpy as np
import torch
from torch import nn

from transformer_tutorial.config import LlamaConfig
from transformer_tutorial.data.text import character_corpus, evaluation_windows
from transformer_tutorial.experiments.benchmark import (
    Settings,
    time_interleaved,
)
from transformer_tutorial.experiments.character_models import count_parameters
from transformer_tutorial.experiments.modern_attention import (
    QUICK as MODERN_QUICK,
)
from transformer_tutorial.experiments.modern_attention import ModernSettings
from transformer_tutorial.experiments.running import (
    command_line,
    one_thread,
    stored_run,
)
from transformer_tutorial.torch.decoder_only import (
    evaluate_language_model,
    train_language_model,
)
from transformer_tutorial.torch.latent import LatentCache, MultiHeadLatentAttention
from transformer_tutorial.torch.llama import LlamaBlock, LlamaDecoder
from transformer_tutorial.torch.modes import seeded

RESULT = "latent-attention"


@dataclass(frozen=True)
class LatentShape:
    """MLA's widths: d_h, d_R, d_c and d_q (the number
    of heads and D come from the ``LlamaConfig``)."""

    head_width: int
    rope_width: int
    kv_latent_width: int
    query_latent_width: int


class LatentBlock(LlamaBlock):
    """The LLaMA-style block with multi-head latent
    attention in place of grouped-query attention."""

    def __init__(self, config: LlamaConfig, shape: LatentShape) -> None:
        super().__init__(config)
        self.attention = MultiHeadLatentAttention(
            config.d_model, config.num_heads, *astuple(shape)
        )

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: LatentCache | None = None,
    ) -> torch.Tensor:
        normed = self.attention_norm(x)
        attended, _ = self.attention(normed, mask, cache)
        h = x + attended
        return h + self.feed_forward(self.feed_forward_norm(h))


class LatentDecoder(LlamaDecoder):
    """``LlamaDecoder`` whose blocks attend through MLA and cache latents."""

    def __init__(self, config: LlamaConfig, shape: LatentShape) -> None:
        super().__init__(config)
        self.blocks = nn.ModuleList(
            LatentBlock(config, shape) for _ in range(config.num_layers)
        )

    def new_cache(self) -> list[LatentCache]:
        return [LatentCache() for _ in self.blocks]


def astuple(shape: LatentShape) -> tuple[int, int, int, int]:
    return (
        shape.head_width,
        shape.rope_width,
        shape.kv_latent_width,
        shape.query_latent_width,
    )


@dataclass(frozen=True)
class LatentSettings:
    """What one run measures.

    The character models take their width, heads, layers, window, batch and learning rate from ``corpus`` (the settings
    of ``modern_attention``); ``corpus_steps`` and ``seeds`` here replace the steps and seeds stored there.
    """

    corpus: ModernSettings = field(default_factory=ModernSettings)
    corpus_latent: LatentShape = LatentShape(12, 6, 24, 36)
    corpus_steps: int = 400
    seeds: tuple[int, ...] = (0, 1, 2)
    decode_width: int = 256
    decode_heads: int = 8
    decode_layers: int = 4
    decode_latent: LatentShape = LatentShape(32, 16, 64, 96)
    prompt_length: int = 1024
    new_tokens: int = 16
    timing: Settings = field(default_factory=lambda: ModernSettings().timing)


QUICK = LatentSettings(
    corpus=MODERN_QUICK,
    corpus_latent=LatentShape(8, 4, 8, 8),
    corpus_steps=3,
    seeds=(0,),
    decode_width=16,
    decode_heads=2,
    decode_layers=1,
    decode_latent=LatentShape(8, 4, 8, 8),
    prompt_length=16,
    new_tokens=2,
    timing=MODERN_QUICK.timing,
)


def closest_budget(build: Callable[[int], nn.Module], budget: int) -> int:
    """The SwiGLU width F for which ``build(F)``
    has the parameter count closest to ``budget``."""
    base = count_parameters(build(1))
    per_unit = count_parameters(build(2)) - base
    return max(1, 1 + round((budget - base) / per_unit))


def builders(
    vocab_size: int,
    d_model: int,
    num_heads: int,
    num_layers: int,
    max_len: int,
    shape: LatentShape,
    budget: int | None = None,
) -> dict[str, Callable[[], nn.Module]]:
    """The three decoders; with a ``budget``, each with
    the SwiGLU width that matches it, else F = 8/3 D."""

    def config(num_kv_heads: int, d_ff: int) -> LlamaConfig:
        return LlamaConfig(
            vocab_size, d_model, num_heads, num_kv_heads, num_layers, d_ff, max_len
        )

    kinds: dict[str, Callable[[int], nn.Module]] = {
        "multi-head": lambda f: LlamaDecoder(config(num_heads, f)),
        "grouped-query": lambda f: LlamaDecoder(config(num_heads // 2, f)),
        "latent": lambda f: LatentDecoder(config(num_heads, f), shape),
    }
    widths = {
        name: int(8 * d_model / 3) if budget is None else closest_budget(build, budget)
        for name, build in kinds.items()
    }
    return {
        name: (lambda b=build, f=widths[name]: b(f)) for name, build in kinds.items()
    }


def cache_bytes_per_token(cache: list[Any]) -> float:
    """The bytes of every tensor in every layer's
    cache, divided by the number of cached positions."""
    total = sum(
        tensor.nbytes
        for layer in cache
        for tensor in vars(layer).values()
        if isinstance(tensor, torch.Tensor)
    )
    return total / len(cache[0])


def train_character_models(settings: LatentSettings) -> dict[str, Any]:
    """The three decoders, same budget, steps and windows,
    from each seed; held-out loss on the last 10%."""
    corpus = settings.corpus
    tokenizer, train_ids, held_out = character_corpus()
    sizes = (
        len(tokenizer),
        corpus.corpus_width,
        corpus.corpus_heads,
        corpus.corpus_layers,
        corpus.corpus_context,
        settings.corpus_latent,
    )
    budget = count_parameters(builders(*sizes)["multi-head"]())
    runs = []
    for name, build in builders(*sizes, budget=budget).items():
        for seed in settings.seeds:
            with seeded(seed):  # the caller's global random state is given back
                model = build()
            start = time.process_time()
            losses = train_language_model(
                model,
                train_ids,
                settings.corpus_steps,
                corpus.corpus_batch,
                corpus.corpus_context,
                corpus.corpus_learning_rate,
                seed=seed,
            )
            seconds = time.process_time() - start
            with torch.no_grad():
                cache = model.new_cache()
                model(torch.as_tensor(held_out[: corpus.corpus_context])[None], cache)
            runs.append(
                {
                    "model": name,
                    "seed": seed,
                    "parameters": count_parameters(model),
                    "cache_bytes_per_token": cache_bytes_per_token(cache),
                    "train_seconds": round(seconds, 2),
                    "final_train_loss": round(float(np.mean(losses[-10:])), 4),
                    "held_out_loss": round(
                        evaluate_language_model(
                            model, held_out, corpus.corpus_context, seen=train_ids
                        ),
                        4,
                    ),
                }
            )
    return {
        "budget": budget,
        "steps": settings.corpus_steps,
        "held_out_characters": len(held_out),
        "held_out_windows": len(
            evaluation_windows(held_out, corpus.corpus_context, seen=train_ids)
        ),
        "uniform_loss": round(math.log(len(tokenizer)), 4),
        "runs": runs,
    }


def measure_decoding(settings: LatentSettings) -> list[dict[str, Any]]:
    """Per kind: cache bytes per token after the prompt,
    and the time per generated token (MLA: both paths)."""
    max_len = settings.prompt_length + settings.new_tokens
    sizes = (
        64,
        settings.decode_width,
        settings.decode_heads,
        settings.decode_layers,
        max_len,
        settings.decode_latent,
    )
    prompt = torch.randint(
        0, 64, (1, settings.prompt_length), generator=torch.Generator().manual_seed(1)
    )
    next_tokens = torch.randint(
        0, 64, (1, settings.new_tokens), generator=torch.Generator().manual_seed(2)
    )
    rows = []
    for name, build in builders(*sizes).items():
        with seeded(0):
            model = build().eval()
        with torch.no_grad():
            filled = model.new_cache()
            model(prompt, filled)  # the prompt's cache, computed once and not timed
        state: dict[str, list[Any]] = {}

        def restore(filled=filled, state=state) -> None:
            state["cache"] = []
            for layer in filled:  # the same tensors: update concatenates new ones
                copy = type(layer)()
                copy.update(*(t for t in vars(layer).values() if torch.is_tensor(t)))
                state["cache"].append(copy)

        def decode(absorb: bool, model=model, state=state) -> None:
            for block in model.blocks:
                block.attention.absorb = absorb
            for t in range(next_tokens.shape[1]):
                model(next_tokens[:, t : t + 1], state["cache"])

        paths = {"absorbed": True, "expanded": False} if name == "latent" else {}
        calls = {path: lambda a=a: decode(a) for path, a in paths.items()}
        if not calls:
            calls = {"explicit": lambda: decode(False)}
        with torch.no_grad():
            samples = time_interleaved(
                calls,
                dict.fromkeys(calls, restore),
                settings.timing,
                torch.device("cpu"),
            )
        rows.append(
            {
                "model": name,
                "parameters": count_parameters(model),
                "cache_bytes_per_token": cache_bytes_per_token(filled),
                **{
                    f"{path}_ms_per_token": round(
                        median(s.times) * 1e3 / settings.new_tokens, 4
                    )
                    for path, s in samples.items()
                },
            }
        )
    return rows


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Mean held-out loss and cache bytes per
    kind, and MLA's time per token on both paths."""
    runs = results["character_models"]["runs"]
    summary: dict[str, Any] = {"mean_held_out_loss": {}, "cache_bytes_per_token": {}}
    for name in ("multi-head", "grouped-query", "latent"):
        ours = [run for run in runs if run["model"] == name]
        losses = [run["held_out_loss"] for run in ours]
        summary["mean_held_out_loss"][name] = round(float(np.mean(losses)), 4)
        summary["cache_bytes_per_token"][name] = ours[0]["cache_bytes_per_token"]
    latent = next(row for row in results["decoding"] if row["model"] == "latent")
    summary["absorbed_ms_per_token"] = latent["absorbed_ms_per_token"]
    summary["expanded_ms_per_token"] = latent["expanded_ms_per_token"]
    return summary


def run(settings: LatentSettings) -> dict[str, Any]:
    """Every measurement on one PyTorch thread and one
    BLAS thread, with the machine and the settings."""
    with one_thread():
        measured = {
            "character_models": train_character_models(settings),
            "decoding": measure_decoding(settings),
        }
        results = stored_run("latent_attention", settings, measured)
    results["summary"] = summarise(results)
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    return command_line("latent_attention", RESULT, run, LatentSettings(), QUICK, argv)


if __name__ == "__main__":
    main()
