"""Plotting helpers shared by the site's figures and notebooks (matplotlib's object API, no global state).

Figures are drawn on white with dark text, so that they read the same in the site's light and dark modes (the
dark mode shows them as white cards).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# One fixed salt makes the ids inside an SVG, and so the whole file, the same from one build to the next.
mpl.rcParams["svg.hashsalt"] = "attention-executed"

WEIGHT_COLORMAP = "Blues"
MASK_COLORS = mpl.colors.ListedColormap(["#eeeeee", "#3b6fb6"])  # blocked, may attend


def svg_bytes(figure: Figure) -> bytes:
    """The figure as SVG bytes, without the creation date, so that an unchanged figure gives identical bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", facecolor="white", metadata={"Date": None})
    return buffer.getvalue()


def _label_axes(ax: Axes, query_labels: Sequence[str] | None, key_labels: Sequence[str] | None) -> None:
    rows, cols = ax.images[-1].get_array().shape
    ax.set_xticks(range(cols), key_labels if key_labels is not None else range(cols), rotation=90)
    ax.set_yticks(range(rows), query_labels if query_labels is not None else range(rows))
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.tick_params(length=0)


def plot_mask(
    ax: Axes,
    mask: np.ndarray,
    title: str,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
) -> None:
    """Draw a (T, S) boolean mask: a filled cell where the query of its row may attend to the key of its column."""
    ax.imshow(np.asarray(mask, dtype=float), cmap=MASK_COLORS, vmin=0, vmax=1)
    _label_axes(ax, query_labels, key_labels)
    ax.set_title(title)


def plot_weights(
    ax: Axes,
    weights: np.ndarray,
    title: str,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    annotate: bool = False,
) -> None:
    """Draw (T, S) attention weights as a heat map: row t shows how query t spreads its attention over the keys."""
    weights = np.asarray(weights, dtype=float)
    ax.imshow(weights, cmap=WEIGHT_COLORMAP, vmin=0, vmax=1)
    _label_axes(ax, query_labels, key_labels)
    ax.set_title(title)
    if annotate:
        for (row, col), value in np.ndenumerate(weights):
            ax.text(
                col,
                row,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value > 0.6 else "black",
            )
