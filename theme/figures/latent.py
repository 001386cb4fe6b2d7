"""Figures of the chapter on multi-head latent attention: the key/value cache of published models."""

from __future__ import annotations

from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH, ink, muted
from transformer_tutorial.costs import PUBLISHED

CONTEXT = 128 * 1024

# One colour per kind of attention, readable on both page backgrounds.
KIND_COLOURS = {
    "multi-head": "#3b6fb6",
    "grouped-query": "#2b8a3e",
    "multi-query": "#862e9c",
    "sliding-window": "#e67700",
    "latent": "#d9480f",
}
KIND_LABELS = {"latent": "MLA", "sliding-window": "sliding window of 4096"}


def published_cache_sizes() -> Figure:
    """Gigabytes of cache for one 128k-token sequence,
    16-bit numbers, for each published configuration."""
    figure = Figure(figsize=(PAGE_WIDTH, 4.0), layout="constrained")
    ax = figure.subplots()
    rows = list(reversed(PUBLISHED))  # the first entry on top
    sizes = [config.bytes_per_token(CONTEXT) * CONTEXT / 1e9 for config in rows]
    ax.barh(
        [config.model for config in rows],
        sizes,
        color=[KIND_COLOURS[config.attention] for config in rows],
    )
    for y, (config, size) in enumerate(zip(rows, sizes, strict=True)):
        ax.text(
            size + 0.8,
            y,
            f"{size:.1f} GB, {KIND_LABELS.get(config.attention, config.attention)}",
            va="center",
            fontsize=9,
            color=ink(),
        )
    ax.set_xlim(0, max(sizes) * 1.45)
    ax.set_xlabel("key/value cache of one 131,072-token sequence (GB, 16-bit numbers)")
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color=muted(), alpha=0.3)
    ax.set_axisbelow(True)
    return figure
