"""Figures of the long-contexts chapter: sink columns, a paged cache's block tables, RoPE's
frequencies before and after each scaling, and the stored extrapolation and QK-norm measurements."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from figures.plotting import PAGE_WIDTH, WEIGHT_COLORMAP, ink, muted
from transformer_tutorial.numpy.paged import PagedCache
from transformer_tutorial.numpy.rope_scaling import (
    linear_frequencies,
    ntk_frequencies,
    rope_frequencies,
    yarn_frequencies,
)

SEQUENCE_COLORS = ["#3b6fb6", "#d9480f", "#2b8a3e", "#ae3ec9"]


def sink_columns(results: dict[str, Any]) -> Figure:
    """The mean attention map of every head of
    the first seed's model over held-out windows."""
    first, count = results["seeds"][0]["sinks"], results["settings"]["num_sinks"]
    maps = np.asarray(first["maps"])  # (layers, H, T, T)
    masses = {(row["layer"], row["head"]): row["mass"] for row in first["heads"]}
    layers, heads = maps.shape[:2]
    figure = Figure(figsize=(PAGE_WIDTH, 1.9 * layers + 0.4), layout="constrained")
    axes = np.asarray(figure.subplots(layers, heads, squeeze=False))
    for (layer, head), ax in np.ndenumerate(axes):
        ax.imshow(maps[layer, head], cmap=WEIGHT_COLORMAP, vmin=0, vmax=0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        share = masses[(layer, head)]
        ax.set_title(
            f"layer {layer}, head {head}\n{share:.0%} on first {count}", fontsize=8
        )
        if head == 0:
            ax.set_ylabel("query", fontsize=8)
        if layer == layers - 1:
            ax.set_xlabel("key", fontsize=8)
    return figure


def block_table(lengths: tuple[int, ...] = (7, 13, 3), block_size: int = 4) -> Figure:
    """Three sequences' block tables pointing into one
    pool of blocks, drawn from a real ``PagedCache``."""
    num_blocks = 8
    cache = PagedCache(num_blocks, block_size, 1, 1, 1)
    sequences = [cache.add_sequence() for _ in lengths]
    for step in range(
        max(lengths)
    ):  # the sequences grow together, one position at a time
        live = [s for s, n in zip(sequences, lengths, strict=True) if step < n]
        cache.grow(live, 1)
        for s in live:
            cache.lengths[s] += 1
    figure = Figure(figsize=(PAGE_WIDTH, 3.2), layout="constrained")
    ax = figure.subplots()
    owner = {b: s for s in sequences for b in cache.block_tables[s]}
    left, pitch, width, height = 1.7, 1.05, 0.95, 0.5
    slot = width / block_size
    for block in range(num_blocks):
        x, sequence = left + block * pitch, owner.get(block)
        for i in range(block_size):
            filled = sequence is not None and (
                cache.block_tables[sequence].index(block) * block_size + i
                < cache.lengths[sequence]
            )
            ax.add_patch(
                Rectangle((x + i * slot, 0.5), slot, height, linewidth=0.8,
                          facecolor=SEQUENCE_COLORS[sequence] if filled else "none",
                          edgecolor=muted())
            )  # fmt: skip
        ax.text(
            x + width / 2,
            0.38,
            f"block {block}",
            ha="center",
            va="top",
            fontsize=8,
            color=ink(),
        )
    ax.text(
        0,
        0.75,
        f"pool, {block_size}\npositions a block",
        va="center",
        fontsize=8,
        color=ink(),
    )
    for row, sequence in enumerate(sequences):
        y = 2.0 + row * 0.75
        color = SEQUENCE_COLORS[sequence]
        ax.text(0, y + height / 2, f"sequence {sequence}\n{lengths[row]} positions", va="center",
                fontsize=8, color=color)  # fmt: skip
        for j, block in enumerate(cache.block_tables[sequence]):
            tx = left + j * 0.55
            ax.add_patch(
                Rectangle(
                    (tx, y),
                    0.5,
                    height,
                    facecolor="none",
                    edgecolor=color,
                    linewidth=1.2,
                )
            )
            ax.text(
                tx + 0.25,
                y + height / 2,
                str(block),
                ha="center",
                va="center",
                fontsize=9,
                color=ink(),
            )
            target = left + block * pitch + width / 2
            ax.add_patch(
                FancyArrowPatch((tx + 0.25, y), (target, 0.5 + height), arrowstyle="-|>",
                                mutation_scale=8, linewidth=0.8, color=color, alpha=0.6)
            )  # fmt: skip
    ax.text(left, 2.0 + len(lengths) * 0.75, "block tables", fontsize=8, color=muted())
    ax.set_xlim(0, left + num_blocks * pitch)
    ax.set_ylim(0, 2.0 + len(lengths) * 0.75 + 0.3)
    ax.axis("off")
    return figure


def rope_frequencies_scaled(
    d_k: int = 64, factor: float = 4.0, length: int = 512
) -> Figure:
    """RoPE's frequency of every pair, and what each
    scaling makes of it, with the ratio to the plain one."""
    plain = rope_frequencies(d_k)
    scaled = {
        "plain RoPE": plain,
        f"position interpolation, θ / {factor:g}": linear_frequencies(plain, factor),
        "NTK-aware": ntk_frequencies(d_k, factor),
        f"YaRN (L = {length})": yarn_frequencies(plain, factor, length),
    }
    pairs = np.arange(d_k // 2)
    figure = Figure(figsize=(PAGE_WIDTH, 3.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    for (label, values), style in zip(
        scaled.items(), ("-", "--", "-.", ":"), strict=True
    ):
        left.semilogy(pairs, values, style, label=label, linewidth=1.6)
        right.plot(pairs, values / plain, style, label=label, linewidth=1.6)
    turns_once = (
        2 * np.pi / length
    )  # a pair slower than this turns less than once inside L
    left.axhline(turns_once, color=muted(), linewidth=0.8)
    left.text(0, turns_once * 1.4, "one turn in L", fontsize=7, color=muted())
    left.set(
        xlabel="pair i",
        ylabel="θ_i (radians per position)",
        title=f"d_k = {d_k}, s = {factor:g}",
    )
    right.set(xlabel="pair i", ylabel="θ'_i / θ_i", title="the change, pair by pair")
    right.axhline(1 / factor, color=muted(), linewidth=0.8)
    right.legend(fontsize=7, loc="center right")
    return figure


def extrapolation_losses(results: dict[str, Any]) -> Figure:
    """Stored held-out loss per position bucket at 2L and
    4L (no fine-tuning) and 2L (after it), mean over seeds."""
    length = results["settings"]["train_length"]
    rows = [row for seed in results["seeds"] for row in seed["extrapolation"]]
    figure = Figure(figsize=(PAGE_WIDTH, 3.2), layout="constrained")
    panels = ((2 * length, False), (4 * length, False), (2 * length, True))
    axes = figure.subplots(1, len(panels), sharey=True)
    for ax, (span, tuned) in zip(axes, panels, strict=True):
        for method, style in zip(
            ("plain", "linear", "ntk", "yarn"), ("o-", "s--", "^-.", "d:"), strict=True
        ):
            chosen = [r["buckets"] for r in rows if r["length"] == span and r["finetuned"] == tuned
                      and r["method"] == method]  # fmt: skip
            if not chosen:
                continue
            mean = np.mean(chosen, axis=0)
            starts = [i * length for i in range(len(mean))]
            ax.plot(starts, mean, style, label=method)
        ax.axvline(length, color=muted(), linewidth=0.8)
        ax.set_xlabel("positions from", fontsize=8)
        ax.set_title(f"{span} long, {'after' if tuned else 'no'} fine-tune", fontsize=9)
    left = axes[0]
    left.set_ylabel("held-out loss (nats)")
    left.legend(fontsize=8)
    return figure


def qk_norm_logits(results: dict[str, Any]) -> Figure:
    """Stored largest attention logit over
    training, with and without QK-norm, each seed."""
    figure = Figure(figsize=(PAGE_WIDTH, 2.8), layout="constrained")
    ax = figure.subplots()
    for seed in results["seeds"]:
        for key, style, label in (
            ("largest_logit", "-", "without QK-norm"),
            ("largest_logit_qk_norm", "--", "with QK-norm"),
        ):
            curve = seed[key]
            ax.plot([p["step"] for p in curve], [p["largest_logit"] for p in curve], style,
                    color="#3b6fb6" if "qk" not in key else "#d9480f",
                    label=label if seed is results["seeds"][0] else None)  # fmt: skip
    ax.set(xlabel="training step", ylabel="largest q·k / √d_k")
    ax.legend(fontsize=8)
    return figure
