"""Drawing helpers shared by the diagrams, in cell units: one square cell is one number."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from figures import style

if TYPE_CHECKING:  # drawing needs torch only when it is called
    pass

# ---------------------------------------------------------------------------------------------------------------
# Drawing helpers, in cell units on an axes whose y axis points down.


def new_canvas(
    width: float, height: float, units_wide: float, units_high: float
) -> tuple[Figure, Axes]:
    """A figure of ``width`` × ``height`` inches with one
    frameless axes spanning ``units_wide`` × ``units_high``."""
    figure = Figure(figsize=(width, height))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, units_wide)
    ax.set_ylim(units_high, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    return figure, ax


def draw_cells(
    ax: Axes,
    x0: float,
    y0: float,
    values: np.ndarray | None,
    colors: Any,
    fmt: str = "{:.0f}",
    alpha: Any = style.FILL_ALPHA,
    fontsize: float = 9,
    size: float = 1.0,
) -> None:
    """Draw a (rows, cols) grid of cells with its top-left
    corner at (x0, y0): a fill per cell and its value.

    ``colors`` is one colour or a (rows, cols) array of them; ``alpha`` one opacity or an array; ``values`` may be None
    for a grid without numbers.
    """
    shape = np.shape(values) if values is not None else np.shape(colors)[:2]
    rows, cols = shape
    colors = np.broadcast_to(np.asarray(colors, dtype=object), shape)
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), shape)
    for row in range(rows):
        for col in range(cols):
            x, y = x0 + col * size, y0 + row * size
            if colors[row, col] != "none":
                ax.add_patch(
                    Rectangle(
                        (x, y),
                        size,
                        size,
                        facecolor=colors[row, col],
                        alpha=alpha[row, col],
                        lw=0,
                    )
                )
            ax.add_patch(
                Rectangle(
                    (x, y), size, size, fill=False, edgecolor=style.muted(), lw=0.6
                )
            )
            if values is not None:
                text = fmt.format(values[row, col])
                # no "-0.0"
                text = (
                    text[1:] if text.startswith("-") and not text.strip("-0.") else text
                )
                ax.text(
                    x + size / 2,
                    y + size / 2,
                    text,
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                )


def draw_frame(
    ax: Axes,
    x: float,
    y: float,
    width: float,
    height: float,
    color: str | None = None,
    lw: float = 1.6,
):
    ax.add_patch(
        Rectangle(
            (x, y), width, height, fill=False, edgecolor=color or style.ink(), lw=lw
        )
    )


def draw_arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    color=None,
    **text,
):
    color = color or style.ink()
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=12, color=color, lw=1.3
        )
    )
    if label:
        middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 - 0.35)
        ax.text(
            *middle,
            label,
            ha="center",
            va="bottom",
            fontsize=text.pop("fontsize", 9),
            color=color,
            **text,
        )


def draw_label(ax: Axes, x: float, y: float, text: str, **options) -> None:
    options.setdefault("fontsize", 9)
    options.setdefault("ha", "left")
    options.setdefault("va", "bottom")
    ax.text(x, y, text, **options)


# ---------------------------------------------------------------------------------------------------------------
