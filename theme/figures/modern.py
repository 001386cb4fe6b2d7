"""Figures of the chapter on attention in today's models: which heads share keys and
values, sliding windows, and the stored measurements of ``experiments.modern_attention``."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH, plot_mask
from transformer_tutorial.numpy.modern import sliding_window_mask

GROUP_COLORS = [
    "#3b6fb6",
    "#d9480f",
    "#2b8a3e",
    "#862e9c",
    "#e67700",
    "#0b7285",
    "#c2255c",
    "#5c940d",
]


def shared_heads(num_heads: int = 8, groups: tuple[int, ...] = (8, 2, 1)) -> Figure:
    """Query heads (top row) and the key/value heads they
    read (bottom row), for G = H, a few groups, and G = 1."""
    names = {num_heads: "multi-head", 1: "multi-query"}
    figure = Figure(figsize=(PAGE_WIDTH, 2.6), layout="constrained")
    for ax, num_kv_heads in zip(figure.subplots(1, len(groups)), groups, strict=True):
        size = num_heads // num_kv_heads
        # each key/value head under its group
        kv_x = [(g + 0.5) * size - 0.5 for g in range(num_kv_heads)]
        for h in range(num_heads):
            color = GROUP_COLORS[h // size]
            ax.plot([h, kv_x[h // size]], [1, 0], color=color, linewidth=1.5)
            ax.scatter([h], [1], s=160, color=color, zorder=3)
        for g, x in enumerate(kv_x):
            ax.scatter([x], [0], s=260, marker="s", color=GROUP_COLORS[g], zorder=3)
        ax.text(-0.9, 1, "queries", ha="right", va="center", fontsize=9)
        ax.text(-0.9, 0, "keys and\nvalues", ha="right", va="center", fontsize=9)
        ax.set_xlim(-3.4, num_heads - 0.4)
        ax.set_ylim(-0.4, 1.4)
        ax.axis("off")
        label = names.get(num_kv_heads, "grouped-query")
        ax.set_title(f"H = {num_heads}, G = {num_kv_heads}: {label}", fontsize=10)
    return figure


def sliding_window(length: int = 12, window: int = 3) -> Figure:
    """A sliding-window mask, and what position t
    can reach through two and three such layers."""
    mask = sliding_window_mask(length, window)
    figure = Figure(figsize=(PAGE_WIDTH, 3.4), layout="constrained")
    for ax, layers in zip(figure.subplots(1, 3), (1, 2, 3), strict=True):
        reach = np.linalg.matrix_power(mask.astype(int), layers) > 0
        title = (
            f"window {window}: one layer"
            if layers == 1
            else f"reach through {layers} layers"
        )
        plot_mask(ax, reach, title)
    return figure


def tiled_memory(results: dict[str, Any]) -> Figure:
    """Stored peak memory of explicit and tiled NumPy
    attention, and the time of every path, against length."""
    memory, times = results["memory"], results["times"]
    lengths = [row["length"] for row in memory]
    block = results["settings"]["block_size"]
    figure = Figure(figsize=(PAGE_WIDTH, 4.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    mib = 2**20
    left.loglog(
        lengths,
        [row["explicit_bytes"] / mib for row in memory],
        "o-",
        label="explicit (T × S scores)",
    )
    left.loglog(
        lengths,
        [row["tiled_bytes"] / mib for row in memory],
        "s-",
        label=f"tiled, blocks of {block}",
    )
    two_arrays = [2 * row["output_bytes"] / mib for row in memory]
    left.loglog(
        lengths,
        two_arrays,
        ":",
        color="gray",
        label="two T × d arrays (output, scaled queries)",
    )
    left.set(
        xlabel="sequence length T = S",
        ylabel="peak memory (MiB)",
        title="NumPy, one head, float64",
    )
    left.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.2))
    for key, style, label in (
        ("numpy_explicit_ms", "o-", "NumPy explicit"),
        ("numpy_tiled_ms", "s-", "NumPy tiled"),
        ("torch_explicit_ms", "o--", "PyTorch explicit"),
        ("torch_tiled_ms", "s--", "PyTorch tiled"),
        ("torch_fused_ms", "^-", "PyTorch fused (F.scaled_dot_product_attention)"),
    ):
        right.loglog(
            [row["length"] for row in times],
            [row[key] for row in times],
            style,
            label=label,
        )
    right.set(
        xlabel="sequence length T = S",
        ylabel="time (ms)",
        title="one head, float32, one thread",
    )
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.2))
    for ax in (left, right):
        ax.set_xticks(lengths, [str(length) for length in lengths])
        ax.minorticks_off()
    return figure


def kv_cache_sizes(results: dict[str, Any]) -> Figure:
    """Stored bytes per token of the key/value cache
    for each G, and the time of each generated token."""
    rows = results["kv_cache"]
    settings = results["settings"]
    groups = [str(row["num_kv_heads"]) for row in rows]
    figure = Figure(figsize=(PAGE_WIDTH, 3.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    left.bar(
        groups, [row["cache_bytes_per_token"] / 1024 for row in rows], color="#3b6fb6"
    )
    left.set(
        xlabel="G, key/value heads",
        ylabel="KiB per token",
        title=f"cache of {settings['cache_layers']} layers, H = {settings['cache_heads']}, float32",
    )
    x = np.arange(len(rows))
    right.bar(
        x - 0.2,
        [row["explicit_ms_per_token"] for row in rows],
        0.4,
        label="explicit",
        color="#3b6fb6",
    )
    right.bar(
        x + 0.2,
        [row["fused_ms_per_token"] for row in rows],
        0.4,
        label="fused",
        color="#d9480f",
    )
    right.set_xticks(x, groups)
    right.set(
        xlabel="G, key/value heads",
        ylabel="ms per token",
        title=f"generating after a {settings['prompt_length']}-token prompt",
    )
    right.legend(fontsize=8)
    return figure
