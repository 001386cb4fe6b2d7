"""Figures of the beginner's path: attention grown in four steps, and what a vocabulary's size buys.

Each step's figure is drawn from the functions of ``numpy.attention_steps``; the tokenization figure plots the stored
measurement of ``experiments.tokenization``. Small, so that they read at phone width.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from transformer_tutorial.numpy import causal_mask, scaled_dot_product_attention
from transformer_tutorial.numpy.attention_steps import (
    mean_with_loop,
    mean_with_matrix,
    mean_with_softmax,
)

from .plotting import ink

T = 5
# one feature per position, small integers
X = np.array([[4.0], [0.0], [2.0], [6.0], [3.0]])
POSITIONS = [str(t) for t in range(T)]


def _grid(
    ax: Axes,
    values: np.ndarray,
    title: str,
    labels: list[list[str]],
    cmap: str,
    vmax: float,
) -> None:
    """A small matrix drawn as coloured cells with its entries written in them."""
    values = np.asarray(values, dtype=float)
    shown = np.where(np.isfinite(values), values, np.nan)
    ax.imshow(shown, cmap=cmap, vmin=0, vmax=vmax)
    for (row, col), text in np.ndenumerate(np.array(labels, dtype=object)):
        dark = np.isfinite(values[row, col]) and values[row, col] > 0.6 * vmax
        # An empty cell (a masked one) shows the page's background: its label takes the palette's ink.
        colour = (
            ("white" if dark else "black") if np.isfinite(values[row, col]) else ink()
        )
        ax.text(col, row, text, ha="center", va="center", fontsize=10, color=colour)
    ax.set_yticks(range(values.shape[0]), POSITIONS[: values.shape[0]])
    ax.set_xticks(
        range(values.shape[1]),
        POSITIONS[: values.shape[1]] if values.shape[1] > 1 else [""],
    )
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=11)


def _fractions(weights: np.ndarray) -> list[list[str]]:
    return [["0" if w == 0 else f"1/{round(1 / w)}" for w in row] for row in weights]


def _column(ax: Axes, values: np.ndarray, title: str) -> None:
    _grid(ax, values, title, [[f"{v:g}"] for v in values[:, 0]], "Oranges", 8)
    ax.set_xticks([])


def attention_step_loop() -> Figure:
    """Step 1: each output is the mean of the
    inputs up to its position, computed by a loop."""
    figure = Figure(figsize=(4.2, 3.0), layout="constrained")
    left, right = figure.subplots(1, 2)
    _column(left, X, "x")
    left.set_ylabel("position t")
    _column(right, mean_with_loop(X), "mean of x[0..t]")
    figure.suptitle("step 1: a loop over positions", fontsize=12)
    return figure


def attention_step_matrix() -> Figure:
    """Step 2: the same means as (lower-triangular weights) @ x."""
    # every step is weights @ x, so x = I gives the weights
    weights = mean_with_matrix(np.eye(T))
    figure = Figure(figsize=(6.0, 3.0), layout="constrained")
    axes = figure.subplots(1, 3, width_ratios=[T, 1.2, 1.2])
    _grid(axes[0], weights, "weights", _fractions(weights), "Blues", 1)
    axes[0].set_xlabel("key position j")
    axes[0].set_ylabel("query position t")
    _column(axes[1], X, "@ x")
    _column(axes[2], mean_with_matrix(X), "= out")
    figure.suptitle("step 2: one product with a triangular matrix", fontsize=12)
    return figure


def attention_step_softmax() -> Figure:
    """Step 3: scores 0 where a query may look and -inf
    elsewhere; their softmax is the triangle of step 2."""
    scores = np.where(causal_mask(T), 0.0, -np.inf)
    weights = mean_with_softmax(np.eye(T))
    figure = Figure(figsize=(6.0, 3.0), layout="constrained")
    left, right = figure.subplots(1, 2)
    _grid(
        left,
        np.where(causal_mask(T), 0.15, np.nan),
        "scores",
        [["0" if s == 0 else "−∞" for s in row] for row in scores],
        "Greys",
        1,
    )
    _grid(right, weights, "softmax(scores)", _fractions(weights), "Blues", 1)
    left.set_ylabel("query position t")
    for ax in (left, right):
        ax.set_xlabel("key position j")
    figure.suptitle("step 3: a softmax over masked scores", fontsize=12)
    return figure


def attention_step_head() -> Figure:
    """Step 4: scores q·k/√d_k from queries and keys (random
    weights); the softmax now weighs positions unevenly."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, 4))
    q, k = (
        x @ rng.normal(scale=0.6, size=(4, 4)),
        x @ rng.normal(scale=0.6, size=(4, 4)),
    )
    scores = q @ k.T / np.sqrt(4)
    _, weights = scaled_dot_product_attention(q, k, k, causal_mask(T))
    allowed = causal_mask(T)
    figure = Figure(figsize=(6.0, 3.0), layout="constrained")
    left, right = figure.subplots(1, 2)
    score_labels = [
        [f"{s:.1f}" if ok else "−∞" for s, ok in zip(row, oks, strict=True)]
        for row, oks in zip(scores, allowed, strict=True)
    ]
    _grid(
        left,
        np.where(allowed, 0.15, np.nan),
        "scores q·k / √d_k",
        score_labels,
        "Greys",
        1,
    )
    weight_labels = [
        [f"{w:.2f}" if ok else "0" for w, ok in zip(row, oks, strict=True)]
        for row, oks in zip(weights, allowed, strict=True)
    ]
    _grid(right, weights, "softmax(scores)", weight_labels, "Blues", 1)
    left.set_ylabel("query position t")
    for ax in (left, right):
        ax.set_xlabel("key position j")
    figure.suptitle("step 4: scores from queries and keys", fontsize=12)
    return figure


def tokenization_lengths(results: dict[str, Any]) -> Figure:
    """Measured: vocabulary size against the length of the
    site's text in tokens (stored as ``tokenization``)."""
    rows = results["rows"]
    sizes = [row["vocab_size"] for row in rows]
    tokens = [row["tokens"] / 1000 for row in rows]
    figure = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = figure.subplots()
    ax.semilogx(sizes, tokens, "o-", color="#3b6fb6")
    for row, size, count in zip(rows, sizes, tokens, strict=True):
        ax.annotate(
            row["tokenizer"],
            (size, count),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=10,
        )
    ax.set_xlabel("vocabulary size V (log scale)")
    ax.set_ylabel("length of the text (thousand tokens)")
    ax.set_title(f"the site's text, {results['characters']:,} characters", fontsize=11)
    ax.set_xlim(min(sizes) / 1.5, max(sizes) * 3)
    ax.set_ylim(0, max(tokens) * 1.15)
    ax.grid(alpha=0.3)
    return figure
