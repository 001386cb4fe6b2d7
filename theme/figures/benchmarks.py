"""Figures of stored benchmark results (what ``python -m transformer_tutorial.experiments.benchmark`` writes).

Each function takes the parsed results and returns a ``matplotlib.figure.Figure``; ``figures.DATA_FIGURES`` registers
them with the file they read, so the site plots what was measured instead of measuring at build time. Every figure says
on which machine, with which settings and on which date its numbers were taken. This module needs neither PyTorch nor
the machine that ran the benchmark: only the results.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH, grid, ink, muted

PASSES = ("forward", "forward+backward")
# Drawing order, colour, marker and legend label of each implementation.
STYLES: dict[str, tuple[str, str, str]] = {
    "numpy-float64": ("#8c564b", "v", "NumPy, float64"),
    "numpy-float32": ("#e377c2", "^", "NumPy, float32"),
    "torch-explicit": ("#d62728", "o", "ours, explicit"),
    "torch-mha-weights": ("#ff7f0e", "D", "nn.MultiheadAttention, need_weights"),
    "torch-mha": ("#2ca02c", "s", "nn.MultiheadAttention"),
    "torch-fused": ("#1f77b4", "o", "ours, fused"),
    "torch-sdpa": ("#7f7f7f", "x", "F.scaled_dot_product_attention alone"),
}
MIB = 2**20


def measured_on(results: dict[str, Any]) -> str:
    """One line naming the machine, the settings and
    the date of a results file, for a figure's title.

    Examples:
        >>> measured_on({"machine": {"device": "cpu", "cpu": "AMD EPYC", "torch_threads": 2},
        ...              "settings": {"dtype": "float32", "batch": 1, "num_heads": 8},
        ...              "date": "2026-11-26T23:00:00+00:00"})
        'Measured on AMD EPYC (CPU, 2 threads), 2026-11-26 · float32, batch 1, 8 heads · wall-clock time'
    """
    machine, settings = results["machine"], results["settings"]
    if machine["device"] == "cpu":
        threads = machine["torch_threads"]
        where = f"{machine['cpu']} (CPU, {threads} thread{'s' if threads > 1 else ''})"
    else:
        where = machine["device"]
    clock = (
        "CPU time of the process"
        if settings.get("clock") == "process"
        else "wall-clock time"
    )
    return (
        f"Measured on {where}, {results['date'][:10]} · {settings['dtype']}, batch {settings['batch']}, "
        f"{settings['num_heads']} heads · {clock}"
    )


def _series(
    rows: list[dict[str, Any]], name: str, pass_: str, width: int, field: str
) -> tuple[list, list]:
    points = sorted(
        (row["length"], row[field])
        for row in rows
        if row["implementation"] == name
        and row["pass"] == pass_
        and row["d_model"] == width
        and row.get(field) is not None
    )
    return [p[0] for p in points], [p[1] for p in points]


def _lengths_axis(ax: Axes, lengths: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.minorticks_off()
    ax.set_xlabel("sequence length T (= S)")
    ax.grid(True, which="major", color=grid(), linewidth=0.6)


def benchmark_times(results: dict[str, Any]) -> Figure:
    """Median time per call against sequence length, on
    log-log axes, with slopes 1 and 2 for reference.

    Time that grows in proportion to T (the projections) is a line of slope 1 on these axes, and time that grows like T²
    (the scores and the weighted sum) a line of slope 2; the curves bend from one to the other. Drawn for the largest
    width of the run.
    """
    rows, width = results["timings"], results["settings"]["widths"][-1]
    lengths = results["settings"]["lengths"]
    figure = Figure(figsize=(PAGE_WIDTH, 4.6), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    for ax, pass_ in zip(axes, PASSES, strict=True):
        longest = {}
        for name, (color, marker, label) in STYLES.items():
            x, y = _series(rows, name, pass_, width, "median_s")
            if x:
                ax.plot(
                    x,
                    y,
                    marker=marker,
                    color=color,
                    label=label,
                    markersize=5,
                    linewidth=1.4,
                )
                longest[name] = (x, y)
        ax.set_yscale("log")
        _lengths_axis(ax, lengths)
        ax.set_title(f"{pass_}, d_model = {width}")
        # Reference lines: slope 2 just above the slowest call at the longest length, slope 1 just below the
        # baseline (which has projections) at the shortest.
        top = max(longest.values(), key=lambda xy: xy[1][-1])
        flat = longest.get("torch-mha") or min(
            longest.values(), key=lambda xy: xy[1][0]
        )
        t = np.array(lengths, dtype=float)
        ax.plot(
            t,
            1.6 * top[1][-1] * (t / top[0][-1]) ** 2,
            "--",
            color=ink(),
            linewidth=0.9,
            label="∝ T² (slope 2)",
        )
        ax.plot(
            t,
            0.5 * flat[1][0] * (t / flat[0][0]),
            ":",
            color=ink(),
            linewidth=1.1,
            label="∝ T (slope 1)",
        )
    axes[0].set_ylabel("median time per call (s)")
    low = min(min(line.get_ydata()) for ax in axes for line in ax.get_lines()[:-2])
    high = max(max(line.get_ydata()) for ax in axes for line in ax.get_lines()[:-2])
    axes[0].set_ylim(low / 2, high * 3)
    _shared_legend(figure, axes, columns=2)
    _title(figure, measured_on(results))
    return figure


def _shared_legend(figure: Figure, axes: Any, columns: int) -> None:
    """One legend below the panels, with every line of every panel once."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    figure.legend(
        entries.values(),
        entries.keys(),
        loc="outside lower center",
        ncol=columns,
        frameon=False,
    )


def _title(figure: Figure, text: str) -> None:
    """The figure's title, wrapped to the width of the figure."""
    figure.suptitle("\n".join(textwrap.wrap(text, 90)), fontsize=9)


def benchmark_memory(results: dict[str, Any]) -> Figure:
    """Peak memory of one call against length:
    the explicit path against the fused one.

    The dashed line is the size of one (B, H, T, S) tensor of attention weights, which the explicit path must hold and
    the fused kernel never builds.
    """
    rows = results["memory"]
    width = rows[0]["d_model"] if rows else results["settings"]["widths"][-1]
    lengths = sorted({row["length"] for row in rows})
    figure = Figure(figsize=(PAGE_WIDTH, 4.4), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    for ax, pass_ in zip(axes, PASSES, strict=True):
        for name in ("torch-explicit", "torch-mha", "torch-fused"):
            color, marker, label = STYLES[name]
            x, y = _series(rows, name, pass_, width, "peak_bytes")
            ax.plot(
                x,
                np.array(y) / MIB,
                marker=marker,
                color=color,
                label=label,
                markersize=5,
            )
        x, y = _series(rows, "torch-explicit", pass_, width, "weights_bytes")
        ax.plot(
            x,
            np.array(y) / MIB,
            "--",
            color=ink(),
            linewidth=0.9,
            label="one (B, H, T, S) weights tensor",
        )
        ax.set_yscale("log")
        _lengths_axis(ax, lengths)
        ax.set_title(f"{pass_}, d_model = {width}")
    axes[0].set_ylabel("peak memory of one call (MiB)")
    _shared_legend(figure, axes, columns=2)
    _title(figure, f"{measured_on(results)} · {results['memory_method'].split(':')[0]}")
    return figure


def benchmark_ratios(results: dict[str, Any]) -> Figure:
    """The two speed targets of the run, as ratios at
    every width and length, with the limit drawn in."""
    targets = {row["name"]: row for row in results["targets"]}
    shown = [
        targets[name]
        for name in ("fused-vs-mha", "numpy-vs-explicit")
        if targets.get(name, {}).get("ratios")
    ]
    figure = Figure(figsize=(PAGE_WIDTH, 3.9), layout="constrained")
    axes = figure.subplots(1, len(shown), squeeze=False)[0]
    titles = {
        "fused-vs-mha": "ours, fused ÷ nn.MultiheadAttention\n(forward+backward)",
        "numpy-vs-explicit": "NumPy float32 ÷ ours, explicit\n(forward)",
    }
    for ax, target in zip(axes, shown, strict=True):
        widths = sorted({r["d_model"] for r in target["ratios"]})
        for width, style in zip(widths, ("o-", "s--", "^-."), strict=False):
            points = sorted(
                (r["length"], r["ratio"])
                for r in target["ratios"]
                if r["d_model"] == width
            )
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                style,
                label=f"d_model = {width}",
                markersize=5,
            )
        ax.axhline(
            target["limit"],
            color="#d62728",
            linewidth=1.2,
            label=f"target: at most {target['limit']:g}",
        )
        ax.axhline(1.0, color=muted(), linewidth=0.8, linestyle=":")
        _lengths_axis(
            ax,
            sorted({r["length"] for r in target["ratios"]})
            or results["settings"]["lengths"],
        )
        ax.set_ylim(
            0,
            max(
                [target["limit"] * 1.25] + [r["ratio"] * 1.1 for r in target["ratios"]]
            ),
        )
        ax.set_title(titles.get(target["name"], target["name"]))
        ax.set_ylabel(target.get("estimator", "ratio of medians"))
        ax.legend()
    _title(figure, measured_on(results))
    return figure


def benchmark_throughput(results: dict[str, Any]) -> Figure:
    """Model TFLOP/s against length, next to the device's
    matrix-product ceiling (forward+backward counts 3x)."""
    rows, width = results["timings"], results["settings"]["widths"][-1]
    lengths = results["settings"]["lengths"]
    ceiling = results["machine"]["matmul_tflops"]
    figure = Figure(figsize=(PAGE_WIDTH, 4.4), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    for ax, pass_ in zip(axes, PASSES, strict=True):
        for name in ("torch-explicit", "torch-mha", "torch-fused", "torch-sdpa"):
            color, marker, label = STYLES[name]
            x, y = _series(rows, name, pass_, width, "tflops")
            if x:
                ax.plot(x, y, marker=marker, color=color, label=label, markersize=5)
        size = results["settings"]["matmul_size"]
        ax.axhline(
            ceiling,
            color=ink(),
            linestyle="--",
            linewidth=0.9,
            label=f"one {size}×{size} matrix product",
        )
        _lengths_axis(ax, lengths)
        ax.set_title(f"{pass_}, d_model = {width}")
    highest = max(
        [ceiling] + [max(line.get_ydata()) for ax in axes for line in ax.get_lines()]
    )
    axes[0].set_ylim(0, highest * 1.1)
    axes[0].set_ylabel("model TFLOP/s")
    _shared_legend(figure, axes, columns=2)
    _title(figure, measured_on(results))
    return figure
