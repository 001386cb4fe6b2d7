"""Figures of the multi-head chapter's measurement: one head against four on a task with two jobs.

Both plot the stored result ``head-count`` (``python -m transformer_tutorial.experiments.head_count --store``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH, plot_weights


def _labels(tokens: list[int], num_symbols: int) -> list[str]:
    """Symbols as letters, the marked one with a star."""
    return [
        chr(ord("a") + token % num_symbols) + ("*" if token >= num_symbols else "")
        for token in tokens
    ]


def head_count_accuracy(results: dict[str, Any]) -> Figure:
    """Held-out accuracy against training steps, one line per head count: the mean over seeds, and a band from
    the worst seed to the best."""
    figure = Figure(figsize=(PAGE_WIDTH, 3.2), layout="constrained")
    ax = figure.subplots()
    for heads in sorted({run["heads"] for run in results["runs"]}):
        runs = [run for run in results["runs"] if run["heads"] == heads]
        steps = [score["step"] for score in runs[0]["held_out"]]
        accuracy = np.array(
            [[score["held_out_accuracy"] for score in run["held_out"]] for run in runs]
        )
        label = f"{heads} head{'s' if heads > 1 else ''} of width {32 // heads}"
        (line,) = ax.plot(steps, accuracy.mean(axis=0), "o-", label=label)
        ax.fill_between(
            steps,
            accuracy.min(axis=0),
            accuracy.max(axis=0),
            alpha=0.25,
            color=line.get_color(),
        )
    ax.set_xscale("log")
    ax.set_xticks(steps, [str(step) for step in steps])
    ax.minorticks_off()
    ax.set(
        xlabel="training steps",
        ylabel="held-out accuracy",
        ylim=(0, 1.02),
        title=f"{len(runs)} seeds each: mean, and the range from worst to best seed",
    )
    ax.grid(alpha=0.5)
    ax.legend(loc="lower right")
    return figure


def head_count_patterns(results: dict[str, Any]) -> Figure:
    """The attention weights of the one-head model and of each head of the four-head model (seed 0, trained) on
    the same held-out sequence."""
    example = results["example"]
    labels = _labels(example["tokens"], results["task"]["num_symbols"])
    single = np.array(example["weights"]["1"])[0]  # (T, T)
    several = np.array(example["weights"]["4"])  # (4, T, T)
    figure = Figure(figsize=(PAGE_WIDTH, 5.6), layout="constrained")
    panels = figure.subplot_mosaic([["one", "h0", "h1"], ["one", "h2", "h3"]])
    plot_weights(panels["one"], single, "one head (width 32)", labels, labels)
    for h in range(4):
        ax = panels[f"h{h}"]
        plot_weights(ax, several[h], f"head {h} of 4 (width 8)", labels, labels)
        ax.set_xlabel("")
        ax.set_ylabel("")
    return figure
