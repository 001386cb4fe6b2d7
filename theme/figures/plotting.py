"""Plotting helpers shared by the site's figures and notebooks (matplotlib's object API, no global state).

Every figure is drawn for the page: ``PAGE_WIDTH`` wide, the width of the text column on a 1280 px screen, so that it is
shown at its own size and its smallest text (9 pt, 12 px) stays legible. The site draws each figure twice, once in each
of its colour schemes (``palette("light")`` and ``palette("dark")``), and the page shows the one that matches the
reader's scheme. Inside a figure function, take the colours of text, rules and grid lines from ``ink()``, ``muted()``
and ``grid()``, never a fixed black or grey, so that both drawings read.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

# One fixed salt makes the ids inside an SVG, and so the whole file, the same from one build to the next.
mpl.rcParams["svg.hashsalt"] = "attention-executed"

# Inches, at the 96 px per inch of a browser: 672 px, the width of the text column on a 1280 px screen.
PAGE_WIDTH = 7.0
PALETTES = ("light", "dark")

# The page background of each of the site's colour schemes (Material's default and slate), and the text on it.
_COLOURS = {
    "light": {
        "background": "#ffffff",
        "ink": "#1f2328",
        "muted": "#6e7781",
        "grid": "#d8dee4",
    },
    "dark": {
        "background": "#1e2129",
        "ink": "#d9dce2",
        "muted": "#9aa1ab",
        "grid": "#3a404b",
    },
}
# The same ten hues in both schemes; the dark scheme's are lighter, so that lines stand out on a dark page.
_CYCLES = {
    "light": [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
    ],
    "dark": [
        "#5aa9e6",
        "#ffa64d",
        "#5cc95c",
        "#ff6b6b",
        "#b99be0",
        "#c49c94",
        "#f2a6d8",
        "#b0b0b0",
    ],
}
# blocked, may attend
_MASKS = {
    "light": ("#eeeeee", "#3b6fb6"),
    "dark": ("#353b47", "#6b9be0"),
}

WEIGHT_COLORMAP = "Blues"


def style(name: str) -> dict[str, object]:
    """The matplotlib settings of palette ``name``
    ("light" or "dark"): colours and the sizes of text."""
    if name not in _COLOURS:
        raise ValueError(f"palette must be one of {PALETTES}, got {name!r}")
    colours = _COLOURS[name]
    return {
        "font.size": 10,
        "axes.titlesize": 10,
        "axes.labelsize": 10,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "figure.titlesize": 10,
        "figure.facecolor": colours["background"],
        "savefig.facecolor": colours["background"],
        "axes.facecolor": colours["background"],
        "legend.facecolor": colours["background"],
        "legend.edgecolor": colours["grid"],
        "text.color": colours["ink"],
        "axes.labelcolor": colours["ink"],
        "axes.titlecolor": colours["ink"],
        "axes.edgecolor": colours["muted"],
        "xtick.color": colours["muted"],
        "ytick.color": colours["muted"],
        "xtick.labelcolor": colours["ink"],
        "ytick.labelcolor": colours["ink"],
        "grid.color": colours["grid"],
        "axes.prop_cycle": mpl.cycler(color=_CYCLES[name]),
        "svg.hashsalt": "attention-executed",
    }


_current = ["light"]


@contextmanager
def palette(name: str) -> Iterator[None]:
    """Draw the figures made inside this block
    in palette ``name`` ("light" or "dark")."""
    settings = style(name)
    _current.append(name)
    try:
        with mpl.rc_context(settings):
            yield
    finally:
        _current.pop()


def ink() -> str:
    """The colour of text and of reference lines in the palette being drawn."""
    return _COLOURS[_current[-1]]["ink"]


def muted() -> str:
    """A quieter colour than ``ink()``, for secondary lines and notes."""
    return _COLOURS[_current[-1]]["muted"]


def grid() -> str:
    """The colour of grid lines and frames."""
    return _COLOURS[_current[-1]]["grid"]


def mask_colours() -> ListedColormap:
    """Two colours for a boolean mask in the
    palette being drawn: blocked, may attend."""
    return ListedColormap(list(_MASKS[_current[-1]]))


def svg_bytes(figure: Figure) -> bytes:
    """The figure as SVG bytes, at its own size and without the
    creation date, so that an unchanged figure gives identical bytes."""
    buffer = io.BytesIO()
    figure.savefig(
        buffer, format="svg", facecolor=figure.get_facecolor(), metadata={"Date": None}
    )
    return buffer.getvalue()


def _label_axes(
    ax: Axes, query_labels: Sequence[str] | None, key_labels: Sequence[str] | None
) -> None:
    rows, cols = ax.images[-1].get_array().shape
    ax.set_xticks(
        range(cols), key_labels if key_labels is not None else range(cols), rotation=90
    )
    ax.set_yticks(
        range(rows), query_labels if query_labels is not None else range(rows)
    )
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
    """Draw a (T, S) boolean mask: a filled cell where the
    query of its row may attend to the key of its column."""
    ax.imshow(np.asarray(mask, dtype=float), cmap=mask_colours(), vmin=0, vmax=1)
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
    """Draw (T, S) attention weights as a heat map: row t
    shows how query t spreads its attention over the keys."""
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
                fontsize=8,
                color="white" if value > 0.6 else "black",
            )
