"""Measured: attention sinks, streaming caches, paged memory, RoPE beyond its
training length and QK-norm, on small LLaMA-style character models trained here.

Stored with the machine and the date as the result ``long-context`` (``results.load("long-context")``), which the
long-contexts page and its figures read:

* ``training``: for each seed, a LLaMA-style model trained on windows of L characters of the corpus, with and
  without QK-norm (same seed, same windows, same initial weights), and the largest attention logit on a
  fixed held-out batch every few steps (``qk_norm``).
* ``sinks``: per layer and head, the attention mass that queries put on the first ``num_sinks`` positions of
  held-out windows, against what uniform attention over the same keys would give; the mean attention map.
* ``streaming``: held-out loss on text four times the training length, decoded one character at a time with
  the full cache, a plain window, and sinks plus a window of the same size.
* ``extrapolation``: held-out loss per position bucket at 2L and 4L with plain RoPE, position interpolation,
  NTK-aware scaling and YaRN, without fine-tuning, and at 2L after a short fine-tune (plain as the control).
* ``paged``: the positions reserved by a contiguous max-length cache and by the paged cache for an assumed
  mixture of request lengths, and the waste inside each sequence's last block.

Every evaluation reads the last tenth of the corpus, which training never sees (``character_corpus``), less any
window that occurs word for word in the first nine tenths.

    python -m transformer_tutorial.experiments.long_context --store
    python -m transformer_tutorial.experiments.long_context --quick   # seconds; the tests run this
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from transformer_tutorial.config import LlamaConfig
from transformer_tutorial.data.text import character_corpus, evaluation_windows
from transformer_tutorial.experiments.running import (
    command_line,
    one_thread,
    stored_run,
)
from transformer_tutorial.torch.attention import split_heads
from transformer_tutorial.torch.cached_decoding import llama_forward
from transformer_tutorial.torch.llama import LlamaDecoder
from transformer_tutorial.torch.masks import causal_mask
from transformer_tutorial.torch.modes import seeded
from transformer_tutorial.torch.paged import PagedCache
from transformer_tutorial.torch.qk_norm import head_rms_norm
from transformer_tutorial.torch.relative import rotary_embedding
from transformer_tutorial.torch.rope_scaling import scaled_frequencies
from transformer_tutorial.torch.streaming import SinkWindowCache, attention_on_first

RESULT = "long-context"


@dataclass(frozen=True)
class LongContextSettings:
    """What one run trains and measures."""

    train_length: int = 64  # L
    width: int = 48
    heads: int = 4
    kv_heads: int = 2
    layers: int = 2
    d_ff: int = 128
    steps: int = 800
    batch: int = 16
    learning_rate: float = 5e-3
    finetune_steps: int = 50
    seeds: tuple[int, ...] = (0, 1, 2)
    probe_windows: int = 16  # the held-out batch on which the largest logit is read
    logit_every: int = 40
    num_sinks: int = 4
    cache_size: int = 32  # positions each streaming cache holds
    stream_windows: int = 8  # held-out texts of 4L decoded one character at a time
    eval_windows: int = 16  # held-out windows per length for the extrapolation losses
    paged_requests: int = 256
    paged_max_len: int = 4096
    paged_median: int = 400
    paged_sigma: float = 1.0
    paged_seed: int = 0
    block_sizes: tuple[int, ...] = (1, 8, 16, 32, 128)


QUICK = LongContextSettings(
    train_length=8,
    width=16,
    heads=2,
    kv_heads=1,
    layers=1,
    d_ff=24,
    steps=4,
    batch=4,
    finetune_steps=2,
    seeds=(0,),
    probe_windows=2,
    logit_every=2,
    num_sinks=2,
    cache_size=6,
    stream_windows=2,
    eval_windows=2,
    paged_requests=16,
    paged_max_len=64,
    paged_median=10,
)


def held_out_windows(
    train_ids: np.ndarray, held_out: np.ndarray, length: int, count: int
) -> torch.Tensor:
    """The first ``count`` consecutive, non-overlapping windows of ``length`` + 1 held-out characters, less any that
    occurs word for word in the training text (``evaluation_windows``)."""
    return torch.as_tensor(
        evaluation_windows(held_out, length, seen=train_ids, count=count)
    )


def build(settings: LongContextSettings, vocab_size: int, qk_norm: bool, seed: int):
    config = LlamaConfig(
        vocab_size=vocab_size,
        d_model=settings.width,
        num_heads=settings.heads,
        num_kv_heads=settings.kv_heads,
        num_layers=settings.layers,
        d_ff=settings.d_ff,
        max_len=4 * settings.train_length,
        qk_norm=qk_norm,
    )
    # QK-norm's scales start at one and draw nothing: the same initial weights
    with seeded(seed):  # the caller's global random state is given back
        return LlamaDecoder(config)


@torch.no_grad()
def largest_logit(model: LlamaDecoder, tokens: torch.Tensor) -> float:
    """The largest attention score q·k / √d_k that any
    causal query gives any key, over every layer and head."""
    length = tokens.shape[1]
    mask = causal_mask(length)
    x, largest = model.token_embedding(tokens), -math.inf
    for block in model.blocks:
        h, a = block.attention_norm(x), block.attention
        q = split_heads(a.q_proj(h), a.num_heads)
        k = split_heads(a.k_proj(h), a.num_kv_heads)
        if hasattr(a, "query_weight"):
            q = head_rms_norm(q, a.query_weight, a.eps)
            k = head_rms_norm(k, a.key_weight, a.eps)
        q, k = rotary_embedding(q), rotary_embedding(k)
        k = k.repeat_interleave(a.num_heads // a.num_kv_heads, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        largest = max(largest, scores.masked_fill(~mask, -math.inf).max().item())
        x = block(x, mask)
    return largest


def train(
    model: LlamaDecoder,
    ids: np.ndarray,
    steps: int,
    length: int,
    settings: LongContextSettings,
    seed: int,
    method: str = "plain",
    factor: float = 1.0,
    probe: torch.Tensor | None = None,
) -> list[dict[str, float]]:
    """AdamW on random windows of ``ids`` (seeded), through
    ``llama_forward`` with the method's frequencies.

    Returns the largest attention logit on ``probe`` every ``logit_every`` steps (none without a probe).
    """
    frequencies, attention_factor = scaled_frequencies(
        settings.width // settings.heads, method, factor, settings.train_length
    )
    ids = torch.as_tensor(ids, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    offsets = torch.arange(length + 1)
    curve = []
    model.train()
    for step in range(steps + 1):
        if probe is not None and (step % settings.logit_every == 0 or step == steps):
            curve.append(
                {"step": step, "largest_logit": round(largest_logit(model, probe), 3)}
            )
        if step == steps:
            break
        starts = torch.randint(
            0, len(ids) - length, (settings.batch, 1), generator=generator
        )
        windows = ids[starts + offsets]
        logits = llama_forward(
            model, windows[:, :-1], None, frequencies, attention_factor
        )
        loss = F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return curve


@torch.no_grad()
def position_losses(
    model: LlamaDecoder,
    windows: torch.Tensor,
    method: str = "plain",
    factor: float = 1.0,
    original_length: int | None = None,
) -> torch.Tensor:
    """(T,) the held-out cross-entropy at each
    position, averaged over the windows (B, T + 1)."""
    frequencies, attention_factor = scaled_frequencies(
        model.config.d_model // model.config.num_heads, method, factor, original_length
    )
    logits = llama_forward(model, windows[:, :-1], None, frequencies, attention_factor)
    losses = F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none")
    return losses.mean(dim=0)


def buckets(losses: torch.Tensor, width: int) -> list[float]:
    """Mean loss of each run of ``width`` positions: [0, L), [L, 2L), …"""
    return [round(chunk.mean().item(), 4) for chunk in losses.split(width)]


@torch.no_grad()
def sink_mass(
    model: LlamaDecoder, windows: torch.Tensor, num_sinks: int
) -> dict[str, Any]:
    """Per layer and head: the mean attention mass on the first
    ``num_sinks`` keys, over queries at positions ``num_sinks`` and later
    (the earlier ones have nothing else to read), and the uniform baseline."""
    tokens = windows[:, :-1]
    length = tokens.shape[1]
    mask = causal_mask(length)
    later = torch.arange(num_sinks, length)
    # k / (t + 1) for a query at t
    uniform = (num_sinks / (later + 1).double()).mean().item()
    x, rows, maps = model.token_embedding(tokens), [], []
    for layer, block in enumerate(model.blocks):
        h = block.attention_norm(x)
        _, weights = block.attention(h, h, h, mask)  # (B, H, T, T)
        # (H,)
        mass = attention_on_first(weights, num_sinks)[:, :, later].mean(dim=(0, 2))
        rows += [
            {"layer": layer, "head": head, "mass": round(value, 4)}
            for head, value in enumerate(mass.tolist())
        ]
        maps.append(weights.mean(dim=0).round(decimals=3).tolist())  # (H, T, T)
        x = block(x, mask)
    return {"uniform_mass": round(uniform, 4), "heads": rows, "maps": maps}


@torch.no_grad()
def streaming_losses(
    model: LlamaDecoder, windows: torch.Tensor, settings: LongContextSettings
) -> dict[str, Any]:
    """Held-out loss of decoding each window
    one character at a time through each cache."""
    size, sinks = settings.cache_size, settings.num_sinks
    caches = {
        "full": dict(),
        "window": dict(window=size),
        "sinks": dict(num_sinks=sinks, window=size - sinks),
        "sinks_text_positions": dict(
            num_sinks=sinks, window=size - sinks, positions="text"
        ),
    }
    tokens, targets = windows[:, :-1], windows[:, 1:]
    out = {}
    for name, options in caches.items():
        cache = SinkWindowCache(model.config.num_layers, **options)
        logits = torch.cat(
            [
                llama_forward(model, tokens[:, i : i + 1], cache)
                for i in range(tokens.shape[1])
            ],
            dim=1,
        )
        losses = F.cross_entropy(
            logits.transpose(1, 2), targets, reduction="none"
        ).mean(0)
        out[name] = {
            "all": round(losses.mean().item(), 4),
            # once the caches differ
            "after_eviction": round(losses[size:].mean().item(), 4),
            "buckets": buckets(losses, settings.train_length),
        }
    return out


def paged_memory(settings: LongContextSettings) -> dict[str, Any]:
    """Positions reserved for a batch of requests of
    log-normal lengths (an assumption, not measured traffic)."""
    rng = np.random.default_rng(settings.paged_seed)
    drawn = rng.lognormal(
        math.log(settings.paged_median), settings.paged_sigma, settings.paged_requests
    )
    lengths = np.clip(np.ceil(drawn), 1, settings.paged_max_len).astype(int)
    filled = int(lengths.sum())
    rows = []
    for block_size in settings.block_sizes:
        blocks = sum(math.ceil(n / block_size) for n in lengths)
        cache = PagedCache(blocks, block_size, 1, 1, 1)
        for length in lengths:
            cache.grow([cache.add_sequence()], int(length))
        reserved = cache.reserved_positions()
        rows.append(
            {
                "block_size": block_size,
                "reserved_positions": reserved,
                "last_block_waste": reserved - filled,
                "waste_share": round((reserved - filled) / reserved, 4),
            }
        )
    return {
        "requests": settings.paged_requests,
        "max_len": settings.paged_max_len,
        "median_length": int(np.median(lengths)),
        "mean_length": round(float(lengths.mean()), 1),
        "filled_positions": filled,
        "contiguous_reserved_positions": settings.paged_requests
        * settings.paged_max_len,
        "contiguous_waste_share": round(
            1 - filled / (settings.paged_requests * settings.paged_max_len), 4
        ),
        "paged": rows,
    }


def progress(message: str) -> None:
    print(f"[{time.process_time():7.1f} s CPU] {message}", file=sys.stderr, flush=True)


def run_seed(settings: LongContextSettings, seed: int, data) -> dict[str, Any]:
    tokenizer, train_ids, held_out = data
    length = settings.train_length
    probe = held_out_windows(train_ids, held_out, length, settings.probe_windows)
    probe = probe[:, :-1]  # the inputs only
    runs = {}
    for qk in (False, True):
        model = build(settings, len(tokenizer), qk, seed)
        curve = train(
            model, train_ids, settings.steps, length, settings, seed, probe=probe
        )
        held = position_losses(
            model, held_out_windows(train_ids, held_out, length, settings.eval_windows)
        )
        runs[qk] = (model, curve, round(held.mean().item(), 4))
        progress(f"seed {seed}: trained, QK-norm {qk}")
    model = runs[False][0]
    extrapolation = []
    for multiple in (2, 4):
        windows = held_out_windows(
            train_ids, held_out, multiple * length, settings.eval_windows
        )
        for method in ("plain", "linear", "ntk", "yarn"):
            losses = position_losses(model, windows, method, float(multiple), length)
            extrapolation.append(
                {"length": multiple * length, "method": method, "finetuned": False,
                 "buckets": buckets(losses, length)}
            )  # fmt: skip
    windows = held_out_windows(train_ids, held_out, 2 * length, settings.eval_windows)
    # plain: the control, the same steps at 2L
    for method in (
        "plain",
        "linear",
        "yarn",
    ):
        tuned = copy.deepcopy(model)
        train(
            tuned,
            train_ids,
            settings.finetune_steps,
            2 * length,
            settings,
            seed + 1000,
            method,
            2.0,
        )
        losses = position_losses(tuned, windows, method, 2.0, length)
        progress(f"seed {seed}: fine-tuned with {method}")
        extrapolation.append(
            {
                "length": 2 * length,
                "method": method,
                "finetuned": True,
                "buckets": buckets(losses, length),
            }
        )
    stream = held_out_windows(train_ids, held_out, 4 * length, settings.stream_windows)
    sinks = sink_mass(
        model,
        held_out_windows(train_ids, held_out, length, settings.eval_windows),
        settings.num_sinks,
    )
    if seed != settings.seeds[0]:
        del sinks["maps"]  # the figure draws the first seed's
    return {
        "seed": seed,
        "held_out_loss": runs[False][2],
        "held_out_loss_qk_norm": runs[True][2],
        "largest_logit": runs[False][1],
        "largest_logit_qk_norm": runs[True][1],
        "sinks": sinks,
        "streaming": streaming_losses(model, stream, settings),
        "extrapolation": extrapolation,
    }


def run(settings: LongContextSettings) -> dict[str, Any]:
    """Every measurement on one PyTorch thread and one
    BLAS thread, with the machine and the settings."""
    with one_thread():
        data = character_corpus()
        seeds = [run_seed(settings, seed, data) for seed in settings.seeds]
        measured = {
            "held_out_characters": len(data[2]),
            "seeds": seeds,
            "paged": paged_memory(settings),
        }
        return stored_run("long_context", settings, measured)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    return command_line("long_context", RESULT, run, LongContextSettings(), QUICK, argv)


if __name__ == "__main__":
    main()
