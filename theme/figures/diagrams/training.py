"""Diagrams of the training chapter: the trained reversal model's cross-attention and the key/value cache."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from figures import style
from figures.plotting import WEIGHT_COLORMAP

if TYPE_CHECKING:  # drawing needs torch only when it is called
    import torch

    from transformer_tutorial.torch.model import Transformer

from figures.diagrams.canvas import new_canvas

# 4. Cross-attention of the trained reversal model (a stored result: training takes about 20 seconds).


def cross_attention_map(result: dict[str, Any], layer: int = -1) -> dict[str, Any]:
    """The stored cross-attention of one layer, averaged
    over its heads: (T, S), with its row and column labels.

    ``result`` is the stored result ``reversal-attention`` (``experiments/cross_attention.py``). Rows are the decoder's
    queries (the target so far, starting with <s>), columns the encoder's keys and values (the source); ``strongest`` is
    the source position each query reads most.
    """
    # (H, T, S) -> (T, S)
    weights = np.asarray(result["cross_attention"][layer], dtype=float).mean(axis=0)
    return {
        "weights": weights,
        "queries": result["target_tokens"],
        "keys": result["source_tokens"],
        "strongest": weights.argmax(axis=1),
        "layer": len(result["cross_attention"]) + layer if layer < 0 else layer,
    }


def cross_attention(result: dict[str, Any]) -> Figure:
    """Which sequence gives the queries and which the keys
    and values, and the trained model's real weights."""
    data = cross_attention_map(result)
    weights, queries, keys = data["weights"], data["queries"], data["keys"]
    rows, cols = weights.shape
    figure = Figure(figsize=(style.FULL_WIDTH, 3.9), layout="constrained")
    schematic, heat = figure.subplots(1, 2, width_ratios=[1.15, 1])
    # Left: the source on top (keys and values), the target below (queries), a line per strong weight.
    schematic.set_xlim(-0.7, max(rows, cols) - 0.3)
    schematic.set_ylim(-0.9, 3.3)
    schematic.axis("off")
    for position, token in enumerate(keys):
        schematic.text(
            position,
            2.5,
            token,
            ha="center",
            va="center",
            fontsize=10,
            bbox={"boxstyle": "round", "fc": style.KEY, "alpha": 0.35, "ec": "none"},
        )
    for position, token in enumerate(queries):
        schematic.text(
            position,
            0.5,
            token,
            ha="center",
            va="center",
            fontsize=10,
            bbox={"boxstyle": "round", "fc": style.QUERY, "alpha": 0.35, "ec": "none"},
        )
    for query in range(rows):
        for key in range(cols):
            if weights[query, key] > 0.1:
                schematic.plot(
                    [query, key],
                    [0.8, 2.2],
                    color=style.ink(),
                    alpha=float(weights[query, key]),
                    lw=0.5 + 2.5 * weights[query, key],
                )
    schematic.text(
        -0.6,
        3.15,
        "source, read by the encoder: keys and values",
        fontsize=9,
        color=style.KEY,
    )
    schematic.text(
        -0.6,
        -0.35,
        "target so far, in the decoder: queries",
        fontsize=9,
        color=style.QUERY,
        va="top",
    )
    # Right: the weights themselves.
    image = heat.imshow(weights, cmap=WEIGHT_COLORMAP, vmin=0, vmax=1)
    heat.set_xticks(range(cols), keys)
    heat.set_yticks(range(rows), queries)
    for label in heat.get_xticklabels():
        label.set_color(style.KEY)
    for label in heat.get_yticklabels():
        label.set_color(style.QUERY)
    heat.set_xlabel("source position (key)")
    heat.set_ylabel("target position (query)")
    heat.tick_params(length=0)
    heat.set_title(f"layer {data['layer'] + 1}, mean of the heads", fontsize=10)
    figure.colorbar(image, ax=heat, shrink=0.8, label="weight")
    return figure


# ---------------------------------------------------------------------------------------------------------------


# 5. The key/value cache.


def kv_cache_steps(
    model: Transformer, source: torch.Tensor, steps: int
) -> dict[str, Any]:
    """Decode ``steps`` tokens greedily with a real cache,
    and record how long the caches are after each step.

    Args:
        model: A ``transformer_tutorial.torch.Transformer`` in eval mode.
        source: (1, S) source ids.
        steps: How many tokens to generate.

    Returns:
        ``self_lengths`` and ``cross_lengths``: the number of positions in layer 0's self-attention and cross-attention
        cache after each step; ``computed_with_cache`` and ``computed_without``: how many positions each step projects
        with the cache (the new one) and without it (the whole prefix, recomputed); ``tokens``: the decoder's input, <s>
        first; ``cache``: the final cache, for the tests.
    """
    import torch

    from transformer_tutorial.data.tasks import BOS

    with torch.no_grad():
        memory, src_mask = model.encode(source)
        cache = model.new_cache()
        tokens, self_lengths, cross_lengths, computed = [BOS], [], [], []
        for _ in range(steps):
            before = len(cache.layers[0].self_attention)
            hidden = model.decode(torch.tensor([[tokens[-1]]]), memory, src_mask, cache)
            self_lengths.append(len(cache.layers[0].self_attention))
            cross_lengths.append(len(cache.layers[0].cross_attention))
            computed.append(self_lengths[-1] - before)
            tokens.append(int(model.output(hidden[:, -1]).argmax(dim=-1)))
    return {
        "self_lengths": self_lengths,
        "cross_lengths": cross_lengths,
        "computed_with_cache": computed,
        "computed_without": [len(tokens[: step + 1]) for step in range(steps)],
        "tokens": tokens[:steps],
        "cache": cache,
    }


def kv_cache(steps: int = 6) -> Figure:
    """Step by step: the self-attention cache grows by one
    key and value; without it every step redoes the prefix."""
    import torch

    from transformer_tutorial.config import TransformerConfig
    from transformer_tutorial.torch.model import Transformer
    from transformer_tutorial.torch.modes import seeded

    with seeded(0):  # the caller's global random state is given back
        model = Transformer(
            TransformerConfig(
                12, 12, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=32
            )
        ).eval()
        source = torch.tensor([[3, 4, 5, 6]])
    data = kv_cache_steps(model, source, steps)
    size = 0.9
    left_with, left_without = 1.9, 1.9 + steps * size + 2.4
    wide = left_without + steps * size + 1.9
    top = 2.2
    high = top + steps * size + 1.7
    figure, ax = new_canvas(
        style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high
    )
    ax.text(left_with, 0.5, "with the cache", fontsize=10, weight="bold", va="top")
    ax.text(
        left_without,
        0.5,
        "without: recompute the prefix",
        fontsize=10,
        weight="bold",
        va="top",
    )
    ax.text(
        left_with,
        1.5,
        "solid: computed · faint: read from the cache",
        fontsize=8,
        va="bottom",
    )
    ax.text(
        left_without,
        1.5,
        "every step computes every position again",
        fontsize=8,
        va="bottom",
    )
    for left in (left_with, left_without):
        ax.text(
            left - 0.12,
            top + size / 4,
            "k",
            ha="right",
            va="center",
            fontsize=8,
            color=style.KEY,
            weight="bold",
        )
        ax.text(
            left - 0.12,
            top + 3 * size / 4,
            "v",
            ha="right",
            va="center",
            fontsize=8,
            color=style.VALUE,
            weight="bold",
        )
    for step in range(steps):
        y = top + step * size
        ax.text(0.1, y + size / 2, f"step {step + 1}", va="center", fontsize=9)
        cached = data["self_lengths"][step]
        new = data["computed_with_cache"][step]
        for position in range(cached):
            fresh = position >= cached - new
            for half, color in ((0, style.KEY), (1, style.VALUE)):
                for left, computed in ((left_with, fresh), (left_without, True)):
                    if (
                        left == left_without
                        and position >= data["computed_without"][step]
                    ):
                        continue
                    alpha = 0.85 if computed else 0.25
                    rect = Rectangle(
                        (left + position * size, y + half * size / 2),
                        size,
                        size / 2,
                        facecolor=color,
                        alpha=alpha,
                        lw=0,
                    )
                    ax.add_patch(rect)
            # the outline of the cell, in both rows
            for left in (left_with, left_without):
                ax.add_patch(
                    Rectangle(
                        (left + position * size, y),
                        size,
                        size,
                        fill=False,
                        edgecolor=style.muted(),
                        lw=0.6,
                    )
                )
        ax.text(
            left_with + steps * size + 0.2,
            y + size / 2,
            f"{new} new",
            va="center",
            fontsize=8,
        )
        ax.text(
            left_without + steps * size + 0.2,
            y + size / 2,
            f"{data['computed_without'][step]} new",
            va="center",
            fontsize=8,
        )
    total_with, total_without = (
        sum(data["computed_with_cache"]),
        sum(data["computed_without"]),
    )
    bottom = top + steps * size + 0.35
    ax.text(
        left_with,
        bottom,
        f"{total_with} keys and values computed in all",
        fontsize=9,
        va="top",
    )
    ax.text(
        left_without, bottom, f"{total_without} computed in all", fontsize=9, va="top"
    )
    ax.text(
        left_with,
        bottom + 0.6,
        f"cross-attention: the memory's {data['cross_lengths'][0]} keys and values, computed at step 1, reused",
        fontsize=8,
        va="top",
    )
    return figure


# ---------------------------------------------------------------------------------------------------------------
