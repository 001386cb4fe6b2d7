"""Vision Transformers: the stored run of the tiny ViT on the digits (the patches are in ``diagrams``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH, muted


def vit_digits_confusion(results: dict[str, Any]) -> Figure:
    """Measured: the confusion matrix of the tiny ViT on
    the 450 test digits (the stored result ``vit-digits``)."""
    run = results["runs"][0]
    confusion = np.array(run["confusion"])
    figure = Figure(figsize=(5.6, 4.8), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(confusion, cmap="Blues")
    for (row, col), count in np.ndenumerate(confusion):
        if count:
            color = "white" if count > confusion.max() / 2 else "black"
            ax.text(
                col, row, str(count), ha="center", va="center", fontsize=9, color=color
            )
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(
        f"patch {run['settings']['patch_size']}: {run['correct']} of {results['data']['test']} test digits right "
        f"({run['accuracy']:.1%})"
    )
    figure.colorbar(image, ax=ax, shrink=0.8, label="test digits")
    return figure


def vit_digits_attention(results: dict[str, Any]) -> Figure:
    """Measured: what the class token attends to, in each
    layer (mean over heads), for one test image per digit.

    Each row is one image: the digits side by side, then each layer's weights on the patches, spread over the pixels of
    their patch, with a blank column between digits (one image per row draws much faster than one small axes per digit).
    """
    from matplotlib.patches import Rectangle

    run = results["runs"][0]
    patch_size = run["settings"]["patch_size"]
    side = 8 // patch_size
    examples = run["examples"]
    layers = len(examples[0]["class_attention"])
    step = 9  # 8 pixels and a blank column per digit
    figure = Figure(
        figsize=(PAGE_WIDTH, 1.2 * (layers + 1) + 0.6), layout="constrained"
    )
    axes = figure.subplots(layers + 1, 1)
    strip = np.full((8, step * len(examples) - 1), np.nan)
    for col, example in enumerate(examples):
        strip[:, col * step : col * step + 8] = example["image"]
        for edge in range(patch_size, 8, patch_size):
            axes[0].plot(
                [col * step + edge - 0.5] * 2, [-0.5, 7.5], color="#d9480f", linewidth=1
            )
            axes[0].plot(
                [col * step - 0.5, col * step + 7.5],
                [edge - 0.5] * 2,
                color="#d9480f",
                linewidth=1,
            )
        axes[0].text(
            col * step + 3.5,
            -1,
            f"{example['label']} → {example['predicted']}",
            ha="center",
            fontsize=10,
        )
        frame = Rectangle(
            (col * step - 0.5, -0.5), 8, 8, fill=False, edgecolor=muted(), linewidth=0.8
        )
        axes[0].add_patch(frame)
    axes[0].imshow(strip, cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_ylabel("test image", fontsize=9)
    for layer, ax in enumerate(axes[1:]):
        strip = np.full((8, step * len(examples) - 1), np.nan)
        for col, example in enumerate(examples):
            # (T,): mean over the heads
            weights = np.array(example["class_attention"][layer]).mean(axis=0)
            grid = weights[1:].reshape(side, side)
            strip[:, col * step : col * step + 8] = np.kron(
                grid, np.ones((patch_size, patch_size))
            )
            if side <= 4:
                for (row, c), value in np.ndenumerate(grid):
                    x, y = (
                        col * step + (c + 0.5) * patch_size - 0.5,
                        (row + 0.5) * patch_size - 0.5,
                    )
                    color = "white" if value > 0.6 else "black"
                    ax.text(
                        x,
                        y,
                        f"{value:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7.5,
                        color=color,
                    )
            ax.text(
                col * step + 3.5,
                8.6,
                f"self {weights[0]:.2f}",
                ha="center",
                va="top",
                fontsize=8,
            )
        ax.imshow(strip, cmap="Blues", vmin=0, vmax=1)
        ax.set_ylabel(f"layer {layer + 1}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    figure.suptitle(
        "the class token's attention over the patches (mean of the heads);\n'self' is the weight it keeps on itself",
        fontsize=10,
    )
    return figure
