"""Training and inference: the schedule, label smoothing, sampling, and the measured parallelism."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH, muted


def learning_rate_schedule() -> Figure:
    """The warm-up schedule: the paper's base model, and
    the small reversal model of the training chapter."""
    from transformer_tutorial.torch.training import learning_rate

    figure = Figure(figsize=(PAGE_WIDTH, 3.3), layout="constrained")
    for ax, (d_model, warmup, factor, steps, title) in zip(
        figure.subplots(1, 2),
        (
            (512, 4000, 1.0, 100_000, "the paper's base model"),
            (64, 200, 0.3, 400, "the reversal model here"),
        ),
        strict=True,
    ):
        step = np.unique(np.linspace(1, steps, 400).astype(int))
        ax.plot(step, [learning_rate(int(s), d_model, warmup, factor) for s in step])
        ax.axvline(
            warmup,
            color=muted(),
            linestyle=":",
            label=f"warm-up ends\n(step {warmup:,})",
        )
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        ax.set_title(
            f"{title}\nd_model={d_model}, warmup={warmup:,}, factor={factor}",
            fontsize=9,
        )
        ax.legend()
    return figure


def smoothed_target_distribution(
    vocab_size: int = 13, smoothing: float = 0.1, correct: int = 5
) -> Figure:
    """What label smoothing asks the model to
    predict, next to the one-hot target it replaces."""
    import torch

    from transformer_tutorial.torch.training import smoothed_targets

    target = torch.tensor([correct])
    figure = Figure(figsize=(PAGE_WIDTH, 3), layout="constrained")
    for ax, eps, title in zip(
        figure.subplots(1, 2, sharey=True),
        (0.0, smoothing),
        ("one-hot target", f"label smoothing, ε = {smoothing}"),
        strict=True,
    ):
        probabilities = smoothed_targets(target, vocab_size, eps)[0].numpy()
        ax.bar(range(vocab_size), probabilities, color="C0")
        for token in (correct, (correct + 1) % vocab_size):
            ax.annotate(
                f"{probabilities[token]:.4f}",
                (token, probabilities[token]),
                ha="center",
                xytext=(0, 3),
                textcoords="offset points",
                fontsize=8,
            )
        ax.set_ylim(0, 1.12)
        ax.set_xticks(range(vocab_size))
        ax.set_xlabel(f"token id (correct: {correct})")
        ax.set_title(title)
    figure.axes[0].set_ylabel("target probability")
    return figure


def sampling_distributions() -> Figure:
    """One next-token distribution reshaped by temperature
    and by top-k (fixed logits over ten characters)."""
    from transformer_tutorial.numpy.decoder_only import next_token_probabilities

    # ␣ stands for the space character
    characters = [
        "␣",
        "e",
        "t",
        "a",
        "o",
        "i",
        "n",
        "s",
        "r",
        "h",
    ]
    logits = np.array([2.4, 2.0, 1.5, 1.2, 1.0, 0.8, 0.5, 0.2, -0.2, -0.6])
    settings = [(1.0, None), (0.5, None), (2.0, None), (1.0, 3)]
    figure = Figure(figsize=(PAGE_WIDTH, 4.8), layout="constrained")
    axes = figure.subplots(2, len(settings) // 2, sharey=True, sharex=True).flat
    for ax, (temperature, top_k) in zip(axes, settings, strict=True):
        probabilities = next_token_probabilities(logits, temperature, top_k)
        ax.bar(range(len(characters)), probabilities, color="C0")
        ax.set_xticks(range(len(characters)), characters)
        ax.set_title(
            f"temperature {temperature:g}"
            + ("" if top_k is None else f", top-k {top_k}")
        )
    for ax in figure.axes[2:]:
        ax.set_xlabel("next character")
    for ax in figure.axes[::2]:
        ax.set_ylabel("probability")
    figure.axes[0].set_ylim(0, 1)
    return figure


def parallelism(results: dict[str, Any]) -> Figure:
    """Stored timings (``python -m transformer_tutorial.experiments.parallelism``):
    Transformer layers against an LSTM over growing lengths, and a teacher-forced
    pass against generating the same tokens one at a time."""
    batches = sorted({row["batch"] for row in results["layers"]})
    figure = Figure(figsize=(PAGE_WIDTH, 6.8), layout="constrained")
    # The layers at each batch size side by side on top, generation below across the whole width.
    panels = figure.subplot_mosaic(
        [[str(batch) for batch in batches], ["decoder"] * len(batches)]
    )
    axes = [*(panels[str(batch)] for batch in batches), panels["decoder"]]
    width = results["settings"]["width"]
    for ax, batch in zip(axes, batches, strict=False):
        rows = [row for row in results["layers"] if row["batch"] == batch]
        lengths = [row["length"] for row in rows]
        for key, style, label in (
            ("transformer_ms", "o-", "Transformer layer (ours)"),
            ("pytorch_transformer_ms", "o--", "Transformer layer (PyTorch)"),
            ("lstm_ms", "s-", "LSTM layer"),
        ):
            ax.loglog(lengths, [row[key] for row in rows], style, label=label)
        ax.set(
            xlabel="sequence length", title=f"one layer, width {width}, batch {batch}"
        )
        ax.set_xticks(lengths, [str(length) for length in lengths], rotation=45)
        ax.minorticks_off()  # the labels of a log axis's minor ticks would print over the lengths
    decoder = results["decoder"]
    targets = [row["target_length"] for row in decoder]
    for key, style, label in (
        ("teacher_forced_ms", "o-", "teacher forcing: one pass"),
        ("generate_cached_ms", "s-", "generation, key/value cache"),
        ("generate_recomputed_ms", "^-", "generation, prefix recomputed"),
    ):
        axes[-1].loglog(targets, [row[key] for row in decoder], style, label=label)
    axes[0].set_ylabel("forward time (ms)")
    axes[0].legend(fontsize=8)
    axes[-1].set(
        xlabel="target tokens T",
        ylabel="time (ms)",
        title="computing T target positions",
    )
    axes[-1].set_xticks(targets, [str(target) for target in targets])
    axes[-1].minorticks_off()
    axes[-1].legend()
    machine = results["machine"]
    figure.suptitle(
        f"measured on {machine['cpu']}, {machine['torch_threads']} thread, {results['date']}",
        fontsize=9,
    )
    return figure
