"""Positional encodings: the sinusoidal table, its properties, and the ALiBi biases."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH, muted
from transformer_tutorial.numpy import causal_mask


def sinusoidal_encoding_map(length: int = 100, d_model: int = 128) -> Figure:
    """The paper's sinusoidal table as a heat map:
    one row per position, one column per feature."""
    from transformer_tutorial.numpy.positional import sinusoidal_encoding

    figure = Figure(figsize=(PAGE_WIDTH, 3.9), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(
        sinusoidal_encoding(length, d_model),
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        aspect="auto",
    )
    ax.set_xlabel("column (even: sine, odd: cosine; the frequency falls to the right)")
    ax.set_ylabel("position")
    ax.set_title(f"sinusoidal encoding, {length} positions, d_model = {d_model}")
    figure.colorbar(image, ax=ax, label="value", shrink=0.9)
    return figure


def sinusoidal_dimensions(length: int = 120, d_model: int = 128) -> Figure:
    """A few columns of the sinusoidal table over the positions:
    each pair of columns is a wave of its own length."""
    from transformer_tutorial.numpy.positional import sinusoidal_encoding

    table = sinusoidal_encoding(length, d_model)
    positions = np.arange(length)
    columns = (0, 1, 16, 32, 64)
    figure = Figure(figsize=(PAGE_WIDTH, 5.6), layout="constrained")
    axes = figure.subplots(len(columns), 1, sharex=True)
    for ax, column, color in zip(
        axes, columns, ("C0", "C0", "C1", "C2", "C3"), strict=True
    ):
        two_i = column - column % 2
        wavelength = 2 * np.pi * 10000 ** (two_i / d_model)
        wave = "sin" if column % 2 == 0 else "cos"
        # dots: positions are integers
        style = ("-" if column % 2 == 0 else "--") + ("o" if column < 2 else "")
        ax.plot(positions, table[:, column], style, color=color, markersize=2.5)
        ax.set_ylim(-1.15, 1.15)
        ax.set_yticks([-1, 0, 1])
        ax.axhline(0, color=muted(), linewidth=0.6)
        label = f"column {column}: {wave}\nwavelength {wavelength:,.1f}"
        ax.text(1.01, 0.5, label, transform=ax.transAxes, va="center", fontsize=9)
    axes[-1].set_xlabel("position")
    axes[0].set_title(f"five columns of the table (d_model = {d_model})")
    return figure


def sinusoidal_dot_products(length: int = 100, d_model: int = 128) -> Figure:
    """PE[p]·PE[q] for every pair of positions, and as
    a function of the offset from two different starts."""
    from transformer_tutorial.numpy.positional import sinusoidal_encoding

    table = sinusoidal_encoding(400, d_model)
    figure = Figure(figsize=(PAGE_WIDTH, 3.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    image = left.imshow(table[:length] @ table[:length].T, cmap="viridis")
    left.set_xlabel("position q")
    left.set_ylabel("position p")
    left.set_title("PE[p]·PE[q]: constant\nalong each diagonal")
    figure.colorbar(image, ax=left, label="dot product", shrink=0.85)
    offsets = np.arange(-60, 61)
    for start, style in ((100, "-"), (300, "o")):
        right.plot(
            offsets,
            table[start + offsets] @ table[start],
            style,
            markersize=3,
            label=f"p = {start}",
        )
    right.set_xlabel("offset k")
    right.set_ylabel("PE[p]·PE[p + k]")
    right.set_title("the same curve from\nevery starting position")
    right.legend()
    return figure


def sinusoidal_variants(length: int = 100, d_model: int = 64) -> Figure:
    """The paper's interleaved table next to tensor2tensor's
    concatenated one, same length and width."""
    from transformer_tutorial.numpy.positional import (
        concatenated_sinusoidal_encoding,
        sinusoidal_encoding,
    )

    figure = Figure(figsize=(PAGE_WIDTH, 3.4), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    tables = (
        sinusoidal_encoding(length, d_model),
        concatenated_sinusoidal_encoding(length, d_model),
    )
    titles = (
        "the paper: sin and cos\ninterleaved",
        "tensor2tensor: all sines,\nthen all cosines",
    )
    for ax, table, title in zip(axes, tables, titles, strict=True):
        image = ax.imshow(table, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        ax.set_title(title)
        ax.set_xlabel("column")
    axes[0].set_ylabel("position")
    figure.colorbar(image, ax=axes, label="value", shrink=0.9)
    return figure


def alibi_biases(num_heads: int = 8, length: int = 8) -> Figure:
    """ALiBi: the bias of the steepest head under a causal
    mask, and the bias of every head against distance."""
    from transformer_tutorial.numpy.relative import alibi_bias, alibi_slopes

    bias = alibi_bias(num_heads, length)
    mask = causal_mask(length)
    figure = Figure(figsize=(PAGE_WIDTH, 3.6), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=(1, 1.3))
    left.imshow(
        np.where(mask, bias[0], np.nan), cmap="Blues_r", vmin=bias[0].min(), vmax=0
    )
    for (row, col), value in np.ndenumerate(bias[0]):
        if mask[row, col]:
            left.text(
                col,
                row,
                f"{value:g}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value < bias[0].min() / 2 else "black",
            )
    left.set_xticks(range(length))
    left.set_yticks(range(length))
    left.set_xlabel("key position j")
    left.set_ylabel("query position i")
    left.set_title("head 0 (slope 1/2): -(i - j)/2\nblank: masked")
    distance = np.arange(0, 33)
    for head, slope in enumerate(alibi_slopes(num_heads)):
        right.plot(distance, -slope * distance, label=f"{head}: 1/{round(1 / slope)}")
    right.set_xlabel("distance i - j")
    right.set_ylabel("bias added to the score")
    right.set_title(f"all {num_heads} heads")
    right.legend(fontsize=8, ncols=2, title="slope of each head", title_fontsize=8)
    return figure
