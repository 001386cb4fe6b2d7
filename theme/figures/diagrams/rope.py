"""The RoPE diagram: each pair of features rotated by an angle proportional to its position."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Arc, FancyArrowPatch, Rectangle

from figures import style
from transformer_tutorial.numpy import (
    rotary_embedding,
)

if TYPE_CHECKING:  # drawing needs torch only when it is called
    pass


# 6. RoPE.


def rope_example(q: np.ndarray, k: np.ndarray, length: int) -> dict[str, np.ndarray]:
    """One query vector and one key vector (d,) placed at
    every position 0 … length - 1 and rotated by RoPE.

    Returns ``queries`` and ``keys`` (length, d), the rotated copies from ``rotary_embedding``, and ``scores`` (length,
    length): ``scores[m, n]`` is the query at position m against the key at position n.
    """
    queries = rotary_embedding(np.tile(q, (length, 1)))
    keys = rotary_embedding(np.tile(k, (length, 1)))
    return {"queries": queries, "keys": keys, "scores": queries @ keys.T}


def _pair_panel(ax: Axes, data: dict[str, np.ndarray], m: int, n: int) -> None:
    q, k = data["queries"][m, :2], data["keys"][n, :2]
    ax.add_patch(
        FancyArrowPatch(
            (0, 0),
            tuple(q),
            arrowstyle="-|>",
            mutation_scale=12,
            color=style.QUERY,
            lw=2,
        )
    )
    ax.add_patch(
        FancyArrowPatch(
            (0, 0), tuple(k), arrowstyle="-|>", mutation_scale=12, color=style.KEY, lw=2
        )
    )
    ax.text(
        *(1.18 * q),
        f"q at {m}",
        color=style.QUERY,
        ha="center",
        va="center",
        fontsize=9,
    )
    ax.text(
        *(1.18 * k), f"k at {n}", color=style.KEY, ha="center", va="center", fontsize=9
    )
    start = np.degrees(np.arctan2(q[1], q[0]))
    # from q to k, within ±180°
    turn = (np.degrees(np.arctan2(k[1], k[0])) - start + 180) % 360 - 180
    theta1, theta2 = sorted((start, start + turn))
    ax.add_patch(
        Arc((0, 0), 0.7, 0.7, theta1=theta1, theta2=theta2, color=style.ink(), lw=1)
    )

    ax.add_patch(Arc((0, 0), 2.0, 2.0, color=style.muted(), lw=0.6, linestyle=":"))
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    where = "ahead of" if turn > 0 else "behind"
    score = data["scores"][m, n]
    ax.set_title(
        f"q at m = {m}, k at n = {n}\nk {abs(turn):.0f}° {where} q; score {score:.2f}",
        fontsize=9,
    )


def rope_rotation(length: int = 6, d: int = 4) -> Figure:
    """RoPE turns the first feature pair of q and k by its
    position; equal offsets give equal angles and scores."""
    angle = np.radians(20)
    q = np.zeros(d)
    k = np.zeros(d)
    # unit pairs 20° apart; the other pairs give 0.5
    q[:2], k[:2] = (
        (1.0, 0.0),
        (np.cos(angle), np.sin(angle)),
    )
    q[2:], k[2:] = 0.5 / np.sqrt(d - 2), 0.5 / np.sqrt(d - 2)
    data = rope_example(q, k, length)
    figure = Figure(figsize=(style.FULL_WIDTH, 2.9), layout="constrained")
    first, second, table = figure.subplots(1, 3, width_ratios=[1, 1, 1.35])
    _pair_panel(first, data, 1, 2)
    _pair_panel(second, data, 3, 4)
    scores = data["scores"]
    table.imshow(
        scores,
        cmap="Greys",
        vmin=scores.min() - 0.3,
        vmax=scores.max() + 0.3,
        alpha=0.5,
    )
    for (m, n), value in np.ndenumerate(scores):
        table.text(n, m, f"{value:.2f}", ha="center", va="center", fontsize=7.5)
    for m in range(length - 1):
        table.add_patch(
            Rectangle(
                (m + 1 - 0.5, m - 0.5), 1, 1, fill=False, edgecolor=style.ink(), lw=1.8
            )
        )
    table.set_xticks(range(length))
    table.set_yticks(range(length))
    table.set_xlabel("key position n", color=style.KEY)
    table.set_ylabel("query position m", color=style.QUERY)
    table.tick_params(length=0, labelsize=8)
    table.set_title("scores: equal along each diagonal", fontsize=9)
    return figure


# ---------------------------------------------------------------------------------------------------------------
