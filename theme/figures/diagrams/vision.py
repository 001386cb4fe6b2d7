"""The Vision Transformer diagram: an image cut into patches, flattened into a sequence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from figures import style

if TYPE_CHECKING:  # drawing needs torch only when it is called
    pass

from figures.diagrams.canvas import draw_arrow, draw_frame, draw_label, new_canvas

# 7. An image cut into patches, flattened into a sequence.


def patch_sequence(image: np.ndarray, patch_size: int) -> dict[str, Any]:
    """A (H, W) grey image as the sequence a Vision
    Transformer reads: ``patches`` (N, P·P) from ``patchify``.

    ``corners`` gives each patch's top-left pixel (row, column), in the order of the sequence.
    """
    from transformer_tutorial.numpy.vision import patchify

    height, width = image.shape
    patches = patchify(image[None, None], patch_size)[0]
    corners = [
        (row, col)
        for row in range(0, height, patch_size)
        for col in range(0, width, patch_size)
    ]
    return {
        "image": image,
        "patches": patches,
        "corners": corners,
        "patch_size": patch_size,
    }


def vit_patches(patch_size: int = 4) -> Figure:
    """An 8 × 8 digit cut into patches, each patch flattened
    into a row, and the sequence the encoder reads."""
    # scikit-learn loads only when this figure is drawn
    from transformer_tutorial.data.digits import (
        load_digits,
    )

    digits = load_digits()
    # (8, 8): the first 4
    image = digits.train_images[np.flatnonzero(digits.train_labels == 4)[0]][0]
    data = patch_sequence(image, patch_size)
    patches, corners = data["patches"], data["corners"]
    count, pixels = patches.shape
    side = image.shape[0]
    cell = 0.55  # a flattened pixel is drawn about half as wide as an image pixel
    x_tiles = side + 1.6
    x_rows = x_tiles + patch_size + 1.8
    x_seq = x_rows + pixels * cell + 0.8
    wide = x_seq + 5.0
    top = 1.6
    spacing = patch_size + 0.6
    high = top + count * spacing + 0.4
    figure, ax = new_canvas(
        style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high
    )
    gray = "gray_r"
    ax.imshow(image, cmap=gray, vmin=0, vmax=1, extent=(0, side, side + top, top))
    for number, (row, col) in enumerate(corners):
        draw_frame(ax, col, top + row, patch_size, patch_size, style.ink(), lw=1.4)
        ax.text(
            col + 0.3,
            top + row + 0.3,
            str(number + 1),
            ha="left",
            va="top",
            fontsize=9,
            weight="bold",
            bbox={
                "boxstyle": "round,pad=0.15",
                "fc": mpl.rcParams["axes.facecolor"],
                "ec": "none",
            },
        )
    draw_label(ax, 0, top - 0.4, f"{count} patches of {patch_size} × {patch_size}")
    draw_label(ax, x_tiles, top - 0.4, "cut")
    draw_label(ax, x_rows, top - 0.4, f"flatten: {pixels} numbers")
    draw_label(ax, x_seq, top - 0.4, "the sequence")
    for number, ((row, col), flat) in enumerate(zip(corners, patches, strict=True)):
        y = top + number * spacing
        tile = image[row : row + patch_size, col : col + patch_size]
        ax.imshow(
            tile,
            cmap=gray,
            vmin=0,
            vmax=1,
            extent=(x_tiles, x_tiles + patch_size, y + patch_size, y),
        )
        draw_frame(ax, x_tiles, y, patch_size, patch_size, style.ink(), lw=1.2)
        ax.text(
            x_tiles - 0.2,
            y + patch_size / 2,
            str(number + 1),
            ha="right",
            va="center",
            fontsize=9,
            weight="bold",
        )
        middle = y + patch_size / 2
        strip_top = middle - cell / 2
        ax.imshow(
            flat[None],
            cmap=gray,
            vmin=0,
            vmax=1,
            extent=(x_rows, x_rows + pixels * cell, strip_top + cell, strip_top),
        )
        draw_frame(ax, x_rows, strip_top, pixels * cell, cell, style.ink(), lw=1.0)
        for edge in range(patch_size, pixels, patch_size):
            ax.plot(
                [x_rows + edge * cell] * 2,
                [strip_top, strip_top + cell],
                color=style.muted(),
                lw=0.8,
            )
        draw_arrow(ax, (x_tiles + patch_size + 0.2, middle), (x_rows - 0.2, middle))
        ax.text(
            x_seq,
            middle,
            f"{number + 1}: patch {number + 1} · E + b",
            va="center",
            fontsize=9,
            bbox={
                "boxstyle": "round",
                "fc": style.MASK_ALLOWED,
                "alpha": 0.3,
                "ec": "none",
            },
        )
    ax.text(
        x_seq,
        top + 0.4,
        "0: class token",
        va="center",
        fontsize=9,
        bbox={
            "boxstyle": "round",
            "fc": style.MASK_ALLOWED,
            "alpha": 0.3,
            "ec": "none",
        },
    )
    ax.set_xlim(0, wide)
    ax.set_ylim(high, 0)
    return figure
