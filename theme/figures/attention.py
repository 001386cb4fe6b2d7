"""Attention: why scores are scaled, and what the heads of one layer look at (the masks are in ``diagrams``)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH, muted, plot_weights
from transformer_tutorial.numpy import (
    MultiHeadAttentionParams,
    multi_head_attention,
    softmax,
)

SENTENCE = ["the", "cat", "sat", "on", "the", "mat"]


def dot_product_scaling(samples: int = 1000, num_keys: int = 16) -> Figure:
    """Measured: the variance of q·k grows like d_k, and
    unscaled scores push softmax towards a single key."""
    rng = np.random.default_rng(0)
    widths = 2 ** np.arange(1, 10)  # d_k = 2 ... 512
    variances, peak_unscaled, peak_scaled = [], [], []
    for d_k in widths:
        q = rng.standard_normal((samples, 1, d_k))
        k = rng.standard_normal((samples, num_keys, d_k))
        # (samples, keys), entries of variance d_k
        scores = (q @ k.transpose(0, 2, 1))[:, 0, :]
        variances.append(scores.var())
        peak_unscaled.append(softmax(scores).max(axis=-1).mean())
        peak_scaled.append(softmax(scores / np.sqrt(d_k)).max(axis=-1).mean())
    figure = Figure(figsize=(PAGE_WIDTH, 3.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    left.loglog(widths, variances, "o", label="measured variance of q·k")
    left.loglog(widths, widths, "-", color=muted(), label="d_k")
    left.set_xlabel("d_k")
    left.set_title("q·k, random unit-variance q and k")
    left.legend()
    right.semilogx(widths, peak_unscaled, "o-", label="softmax(q·k)")
    right.semilogx(widths, peak_scaled, "s-", label="softmax(q·k / √d_k)")
    right.axhline(
        1 / num_keys,
        color=muted(),
        linestyle=":",
        label=f"uniform over {num_keys} keys",
    )
    right.set_ylim(0, 1.05)
    right.set_xlabel("d_k")
    right.set_title(f"largest weight among {num_keys} keys")
    right.legend()
    for ax in (left, right):
        ax.set_xticks(widths, [str(w) for w in widths], minor=False)
    return figure


def multi_head_weights(num_heads: int = 4, d_model: int = 16) -> Figure:
    """The weights of every head of an untrained
    multi-head attention layer, for one short sentence."""
    rng = np.random.default_rng(1)
    vocabulary = sorted(set(SENTENCE))
    # a seeded embedding table, one row per word
    table = rng.standard_normal((len(vocabulary), d_model))
    x = table[[vocabulary.index(word) for word in SENTENCE]][None]  # (1, T, D)
    params = MultiHeadAttentionParams.random(d_model, num_heads, rng)
    params.w_q *= 4  # sharper scores than the default scale, so that the heads' preferences are visible
    _, weights = multi_head_attention(x, x, x, params)  # weights: (1, H, T, T)
    rows = (num_heads + 1) // 2
    figure = Figure(figsize=(PAGE_WIDTH, 3.1 * rows + 0.2), layout="constrained")
    axes = figure.subplots(rows, 2, squeeze=False)
    for head, ax in enumerate(axes.flat):
        plot_weights(ax, weights[0, head], f"head {head}", SENTENCE, SENTENCE)
        if head % 2:
            ax.set_ylabel("")
        if head < num_heads - 2:
            ax.set_xlabel("")
    figure.colorbar(
        axes[0, -1].images[0], ax=axes, label="attention weight", shrink=0.6
    )
    return figure
