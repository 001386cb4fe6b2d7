"""The site's figures, each drawn by the package's own code.

The site build renders every entry of ``FIGURES`` and ``DATA_FIGURES`` to ``figures/<name>.svg`` with
``figure_svg`` (see ``theme/hooks/figures.py``); in a notebook, call the function and the figure appears.
Every figure is seeded, so it is the same each time.
Figures of stored measurements are in ``DATA_FIGURES``: each takes the parsed JSON file named beside it (a path
inside ``docs/``), so that the site plots what was measured instead of measuring again at build time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from transformer_tutorial.benchmark_plots import (
    benchmark_memory,
    benchmark_ratios,
    benchmark_throughput,
    benchmark_times,
)
from transformer_tutorial.numpy import (
    MultiHeadAttentionParams,
    causal_mask,
    multi_head_attention,
    padding_mask,
    softmax,
)
from transformer_tutorial.plotting import plot_mask, plot_weights, svg_bytes


def attention_masks() -> Figure:
    """The padding mask, the causal mask, and the two combined, for a sentence of three tokens and two pads."""
    tokens = ["the", "cat", "sat", "<pad>", "<pad>"]
    ids = np.array([[1, 2, 3, 0, 0]])
    padding = np.broadcast_to(padding_mask(ids, pad_id=0)[0], (5, 5))
    causal = causal_mask(5)
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    for ax, mask, title in zip(
        figure.subplots(1, 3),
        (padding, causal, padding & causal),
        ("padding: no query reads a pad", "causal: no query reads ahead", "padding and causal"),
        strict=True,
    ):
        plot_mask(ax, mask, title, tokens, tokens)
    return figure


def dot_product_scaling(samples: int = 1000, num_keys: int = 16) -> Figure:
    """Measured: the variance of q·k grows like d_k, and unscaled scores push softmax towards a single key."""
    rng = np.random.default_rng(0)
    widths = 2 ** np.arange(1, 10)  # d_k = 2 ... 512
    variances, peak_unscaled, peak_scaled = [], [], []
    for d_k in widths:
        q = rng.standard_normal((samples, 1, d_k))
        k = rng.standard_normal((samples, num_keys, d_k))
        scores = (q @ k.transpose(0, 2, 1))[:, 0, :]  # (samples, keys), entries of variance d_k
        variances.append(scores.var())
        peak_unscaled.append(softmax(scores).max(axis=-1).mean())
        peak_scaled.append(softmax(scores / np.sqrt(d_k)).max(axis=-1).mean())
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    left.loglog(widths, variances, "o", label="measured variance of q·k")
    left.loglog(widths, widths, "-", color="gray", label="d_k")
    left.set_xlabel("d_k")
    left.set_title("q·k for random unit-variance q and k")
    left.legend()
    right.semilogx(widths, peak_unscaled, "o-", label="softmax(q·k)")
    right.semilogx(widths, peak_scaled, "s-", label="softmax(q·k / √d_k)")
    right.axhline(1 / num_keys, color="gray", linestyle=":", label=f"uniform over {num_keys} keys")
    right.set_ylim(0, 1.05)
    right.set_xlabel("d_k")
    right.set_title("average largest weight among 16 keys")
    right.legend()
    for ax in (left, right):
        ax.set_xticks(widths, [str(w) for w in widths], minor=False)
    return figure


SENTENCE = ["the", "cat", "sat", "on", "the", "mat"]


def multi_head_weights(num_heads: int = 4, d_model: int = 16) -> Figure:
    """The weights of every head of an untrained multi-head attention layer, for one short sentence."""
    rng = np.random.default_rng(1)
    vocabulary = sorted(set(SENTENCE))
    table = rng.standard_normal((len(vocabulary), d_model))  # a seeded embedding table, one row per word
    x = table[[vocabulary.index(word) for word in SENTENCE]][None]  # (1, T, D)
    params = MultiHeadAttentionParams.random(d_model, num_heads, rng)
    params.w_q *= 4  # sharper scores than the default scale, so that the heads' preferences are visible
    _, weights = multi_head_attention(x, x, x, params)  # weights: (1, H, T, T)
    figure = Figure(figsize=(3 * num_heads + 1, 3.4), layout="constrained")
    axes = figure.subplots(1, num_heads)
    for head, ax in enumerate(axes):
        plot_weights(ax, weights[0, head], f"head {head}", SENTENCE, SENTENCE)
        if head:
            ax.set_ylabel("")
    figure.colorbar(axes[-1].images[0], ax=axes, label="attention weight", shrink=0.8)
    return figure


def gradient_at_first_layer(depth: int, residual: bool, layer_norm: bool, d_model: int = 64) -> float:
    """The norm of the loss gradient at the first layer's weights, in a stack of ``depth`` feed-forward layers.

    Each layer is ``x + FFN(x)`` (``residual``) or ``FFN(x)``, followed by a LayerNorm when ``layer_norm`` is
    set (post-norm); the loss is the mean squared error against a random target. Seeded, so repeatable.
    """
    import torch

    from transformer_tutorial.torch.layers import FeedForward, LayerNorm

    torch.manual_seed(0)
    blocks = [FeedForward(d_model, 4 * d_model) for _ in range(depth)]
    norms = [LayerNorm(d_model) for _ in range(depth)]
    x, target = torch.randn(2, 16, 10, d_model)
    for block, norm in zip(blocks, norms, strict=True):
        x = x + block(x) if residual else block(x)
        x = norm(x) if layer_norm else x
    torch.nn.functional.mse_loss(x, target).backward()
    return blocks[0].linear_1.weight.grad.norm().item()


def residual_gradients(depths: tuple[int, ...] = (2, 4, 8, 16, 32)) -> Figure:
    """Measured: the gradient reaching the first layer of a deep stack, with and without residual connections."""
    figure = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = figure.subplots()
    for residual, layer_norm, style in (
        (True, False, "o-"),
        (False, False, "o--"),
        (True, True, "s-"),
        (False, True, "s--"),
    ):
        norms = [max(gradient_at_first_layer(depth, residual, layer_norm), 1e-30) for depth in depths]
        label = f"{'residual' if residual else 'no residual'}, {'LayerNorm' if layer_norm else 'no LayerNorm'}"
        ax.semilogy(depths, norms, style, label=label)
    ax.set_xticks(depths, [str(depth) for depth in depths])
    ax.set_xlabel("layers in the stack")
    ax.set_ylabel("gradient norm at the first layer")
    ax.set_title("how much gradient reaches the bottom of the stack")
    ax.legend(fontsize=8)
    return figure


def sinusoidal_encoding_map(length: int = 100, d_model: int = 128) -> Figure:
    """The paper's sinusoidal table as a heat map: one row per position, one column per feature."""
    from transformer_tutorial.numpy.positional import sinusoidal_encoding

    figure = Figure(figsize=(9, 4.6), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(sinusoidal_encoding(length, d_model), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xlabel("column of the encoding (even: sine, odd: cosine; the frequency falls from left to right)")
    ax.set_ylabel("position")
    ax.set_title(f"sinusoidal encoding, {length} positions, d_model = {d_model}")
    figure.colorbar(image, ax=ax, label="value", shrink=0.9)
    return figure


def sinusoidal_dimensions(length: int = 120, d_model: int = 128) -> Figure:
    """A few columns of the sinusoidal table over the positions: each pair of columns is a wave of its own length."""
    from transformer_tutorial.numpy.positional import sinusoidal_encoding

    table = sinusoidal_encoding(length, d_model)
    positions = np.arange(length)
    columns = (0, 1, 16, 32, 64)
    figure = Figure(figsize=(9, 6.2), layout="constrained")
    axes = figure.subplots(len(columns), 1, sharex=True)
    for ax, column, color in zip(axes, columns, ("C0", "C0", "C1", "C2", "C3"), strict=True):
        two_i = column - column % 2
        wavelength = 2 * np.pi * 10000 ** (two_i / d_model)
        wave = "sin" if column % 2 == 0 else "cos"
        style = ("-" if column % 2 == 0 else "--") + ("o" if column < 2 else "")  # dots: positions are integers
        ax.plot(positions, table[:, column], style, color=color, markersize=2.5)
        ax.set_ylim(-1.15, 1.15)
        ax.set_yticks([-1, 0, 1])
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.text(
            1.01, 0.5, f"column {column}: {wave}\nwavelength {wavelength:,.1f}", transform=ax.transAxes, va="center"
        )
    axes[-1].set_xlabel("position")
    axes[0].set_title(f"five columns of the sinusoidal table (d_model = {d_model})")
    return figure


def sinusoidal_dot_products(length: int = 100, d_model: int = 128) -> Figure:
    """PE[p]·PE[q] for every pair of positions, and as a function of the offset from two different starts."""
    from transformer_tutorial.numpy.positional import sinusoidal_encoding

    table = sinusoidal_encoding(400, d_model)
    figure = Figure(figsize=(10, 4.2), layout="constrained")
    left, right = figure.subplots(1, 2)
    image = left.imshow(table[:length] @ table[:length].T, cmap="viridis")
    left.set_xlabel("position q")
    left.set_ylabel("position p")
    left.set_title("PE[p]·PE[q]: constant along each diagonal")
    figure.colorbar(image, ax=left, label="dot product", shrink=0.85)
    offsets = np.arange(-60, 61)
    for start, style in ((100, "-"), (300, "o")):
        right.plot(offsets, table[start + offsets] @ table[start], style, markersize=3, label=f"p = {start}")
    right.set_xlabel("offset k")
    right.set_ylabel("PE[p]·PE[p + k]")
    right.set_title("the same curve from every starting position")
    right.legend()
    return figure


def sinusoidal_variants(length: int = 100, d_model: int = 64) -> Figure:
    """The paper's interleaved table next to tensor2tensor's concatenated one, same length and width."""
    from transformer_tutorial.numpy.positional import concatenated_sinusoidal_encoding, sinusoidal_encoding

    figure = Figure(figsize=(10, 4.2), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    tables = (sinusoidal_encoding(length, d_model), concatenated_sinusoidal_encoding(length, d_model))
    titles = ("the paper: sin and cos interleaved", "tensor2tensor: all sines, then all cosines")
    for ax, table, title in zip(axes, tables, titles, strict=True):
        image = ax.imshow(table, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        ax.set_title(title)
        ax.set_xlabel("column")
    axes[0].set_ylabel("position")
    figure.colorbar(image, ax=axes, label="value", shrink=0.9)
    return figure


def alibi_biases(num_heads: int = 8, length: int = 8) -> Figure:
    """ALiBi: the bias of the steepest head under a causal mask, and the bias of every head against distance."""
    from transformer_tutorial.numpy.positional import alibi_bias, alibi_slopes

    bias = alibi_bias(num_heads, length)
    mask = causal_mask(length)
    figure = Figure(figsize=(10.5, 4.2), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=(1, 1.3))
    left.imshow(np.where(mask, bias[0], np.nan), cmap="Blues_r", vmin=bias[0].min(), vmax=0)
    for (row, col), value in np.ndenumerate(bias[0]):
        if mask[row, col]:
            left.text(
                col,
                row,
                f"{value:g}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value < bias[0].min() / 2 else "black",
            )
    left.set_xticks(range(length))
    left.set_yticks(range(length))
    left.set_xlabel("key position j")
    left.set_ylabel("query position i")
    left.set_title("head 0 (slope 1/2): -(i - j)/2; blank = masked")
    distance = np.arange(0, 33)
    for head, slope in enumerate(alibi_slopes(num_heads)):
        right.plot(distance, -slope * distance, label=f"head {head}: slope 1/{round(1 / slope)}")
    right.set_xlabel("distance i - j")
    right.set_ylabel("bias added to the score")
    right.set_title(f"all {num_heads} heads")
    right.legend(fontsize=8, ncols=2)
    return figure


def sampling_distributions() -> Figure:
    """One next-token distribution reshaped by temperature and by top-k (fixed logits over ten characters)."""
    from transformer_tutorial.numpy.decoder_only import next_token_probabilities

    characters = ["␣", "e", "t", "a", "o", "i", "n", "s", "r", "h"]  # ␣ stands for the space character
    logits = np.array([2.4, 2.0, 1.5, 1.2, 1.0, 0.8, 0.5, 0.2, -0.2, -0.6])
    settings = [(1.0, None), (0.5, None), (2.0, None), (1.0, 3)]
    figure = Figure(figsize=(12, 3.2), layout="constrained")
    axes = figure.subplots(1, len(settings), sharey=True)
    for ax, (temperature, top_k) in zip(axes, settings, strict=True):
        probabilities = next_token_probabilities(logits, temperature, top_k)
        ax.bar(range(len(characters)), probabilities, color="#3b6fb6")
        ax.set_xticks(range(len(characters)), characters)
        ax.set_title(f"temperature {temperature:g}" + ("" if top_k is None else f", top-k {top_k}"))
        ax.set_xlabel("next character")
    axes[0].set_ylabel("probability")
    axes[0].set_ylim(0, 1)
    return figure


def minilm_head_scores() -> Figure:
    """Measured over many sentences: how much each of all-MiniLM-L6-v2's 72 heads attends to the previous token,
    to the next token, and from a pronoun to the noun it stands for; the best head of each is boxed."""
    from matplotlib.patches import Rectangle

    from transformer_tutorial.heads import COREFERENCES, PROBE_SENTENCES, measure_minilm_heads

    found = measure_minilm_heads()
    panels = [
        (found.previous, found.best_previous, f"previous token ({len(PROBE_SENTENCES)} sentences)"),
        (found.next, found.best_next, f"next token ({len(PROBE_SENTENCES)} sentences)"),
        (found.to_antecedent, found.best_pronoun, f"pronoun to its noun ({len(COREFERENCES)} sentences)"),
    ]
    figure = Figure(figsize=(13, 3.2), layout="constrained")
    axes = figure.subplots(1, 3)
    for ax, (scores, (layer, head), title) in zip(axes, panels, strict=True):
        image = ax.imshow(scores, cmap="Blues", vmin=0, vmax=1)
        ax.add_patch(Rectangle((head - 0.5, layer - 0.5), 1, 1, fill=False, edgecolor="#d9480f", linewidth=2.5))
        ax.set_title(f"{title}\nbest: layer {layer}, head {head} ({scores[layer, head]:.2f})")
        ax.set_xticks(range(scores.shape[1]))
        ax.set_yticks(range(scores.shape[0]))
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.tick_params(length=0)
    figure.colorbar(image, ax=axes, label="average attention weight", shrink=0.9)
    return figure


def minilm_heads() -> Figure:
    """The three heads found by ``minilm_head_scores``, on one sentence: every query's weights over the keys."""
    from matplotlib.patches import Rectangle

    from transformer_tutorial.heads import measure_minilm_heads

    found = measure_minilm_heads()
    tokens = found.animal_tokens
    panels = [
        (found.best_previous, "attends to the previous token"),
        (found.best_next, "attends to the next token"),
        (found.best_pronoun, "pronoun to its noun"),
    ]
    figure = Figure(figsize=(15, 5.4), layout="constrained")
    axes = figure.subplots(1, 3)
    for ax, ((layer, head), what) in zip(axes, panels, strict=True):
        plot_weights(ax, found.animal_weights[layer, head], f"layer {layer}, head {head}: {what}", tokens, tokens)
    for ax in axes[1:]:
        ax.set_ylabel("")
    it, animal = tokens.index("it"), tokens.index("animal")
    axes[2].add_patch(Rectangle((animal - 0.5, it - 0.5), 1, 1, fill=False, edgecolor="#d9480f", linewidth=2))
    figure.colorbar(axes[-1].images[0], ax=axes, label="attention weight", shrink=0.7)
    return figure


def learning_rate_schedule() -> Figure:
    """The warm-up schedule: the paper's base model, and the small reversal model of the training chapter."""
    from transformer_tutorial.torch.training import learning_rate

    figure = Figure(figsize=(9, 3.4), layout="constrained")
    for ax, (d_model, warmup, factor, steps, title) in zip(
        figure.subplots(1, 2),
        ((512, 4000, 1.0, 100_000, "the paper's base model"), (64, 200, 0.3, 400, "the reversal model here")),
        strict=True,
    ):
        step = np.unique(np.linspace(1, steps, 400).astype(int))
        ax.plot(step, [learning_rate(int(s), d_model, warmup, factor) for s in step])
        ax.axvline(warmup, color="gray", linestyle=":", label=f"warm-up ends (step {warmup:,})")
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        ax.set_title(f"{title}\nd_model={d_model}, warmup={warmup:,}, factor={factor}")
        ax.legend()
    return figure


def smoothed_target_distribution(vocab_size: int = 13, smoothing: float = 0.1, correct: int = 5) -> Figure:
    """What label smoothing asks the model to predict, next to the one-hot target it replaces."""
    import torch

    from transformer_tutorial.torch.training import smoothed_targets

    target = torch.tensor([correct])
    figure = Figure(figsize=(9, 3), layout="constrained")
    for ax, eps, title in zip(
        figure.subplots(1, 2, sharey=True),
        (0.0, smoothing),
        ("one-hot target", f"label smoothing, ε = {smoothing}"),
        strict=True,
    ):
        probabilities = smoothed_targets(target, vocab_size, eps)[0].numpy()
        ax.bar(range(vocab_size), probabilities, color="#3b6fb6")
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
        ax.set_xlabel(f"token id (the correct one is {correct})")
        ax.set_title(title)
    figure.axes[0].set_ylabel("target probability")
    return figure


def vit_patches(patch_size: int = 4) -> Figure:
    """An 8 × 8 digit cut into patches, the patches flattened into rows, and the sequence the encoder reads."""
    from transformer_tutorial.digits import load_digits  # scikit-learn loads only when this figure is drawn
    from transformer_tutorial.numpy.vision import patchify

    digits = load_digits()
    image = digits.train_images[np.flatnonzero(digits.train_labels == 4)[0]]  # (1, 8, 8): the first 4
    patches = patchify(image[None], patch_size)[0]  # (N, P·P)
    count, side = len(patches), 8 // patch_size
    figure = Figure(figsize=(11, 3.4), layout="constrained")
    left, middle, right = figure.subplots(1, 3, width_ratios=[1, 1.6, 1.7])
    left.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
    for edge in range(patch_size, 8, patch_size):
        left.axhline(edge - 0.5, color="#d9480f", linewidth=2)
        left.axvline(edge - 0.5, color="#d9480f", linewidth=2)
    for number in range(count):
        row, col = divmod(number, side)
        center = (col + 0.5) * patch_size - 0.5, (row + 0.5) * patch_size - 0.5
        left.text(*center, str(number + 1), color="#d9480f", fontsize=16, ha="center", va="center", weight="bold")
    left.set_title(f"{count} patches of {patch_size} × {patch_size} pixels")
    left.set_xticks([])
    left.set_yticks([])
    middle.imshow(patches, cmap="gray_r", vmin=0, vmax=1, aspect="auto")
    middle.set_yticks(range(count), [f"patch {number + 1}" for number in range(count)])
    middle.set_xticks(range(0, patches.shape[1], patch_size))
    middle.set_xlabel(f"pixel of the patch, row by row ({patch_size * patch_size} numbers)")
    middle.set_title(f"patchify: ({count}, {patches.shape[1]}), one row per patch")
    right.set_xlim(0, 10)
    right.set_ylim(0, count + 2.2)
    right.axis("off")
    right.set_title("the sequence the encoder reads")
    rows = [("class token (learned)", 0)] + [(f"patch {number} · E + b", number) for number in range(1, count + 1)]
    for index, (label, position) in enumerate(rows):
        y = count + 1 - index
        right.text(
            0.2, y, label, va="center", fontsize=10, bbox={"boxstyle": "round", "fc": "#e7f0fb", "ec": "#3b6fb6"}
        )
        right.text(5.0, y, f"+ position {position}", va="center", fontsize=10, color="#444444")
    right.annotate(
        "",
        xy=(7.9, 0.6),
        xytext=(7.9, count + 1),
        arrowprops={"arrowstyle": "->", "color": "#444444", "linewidth": 1.5},
    )
    right.text(8.1, count / 2 + 0.8, "encoder\nlayers", va="center", fontsize=10)
    right.text(0.2, 0.2, "class token's output → linear → 10 scores", fontsize=10, color="#d9480f")
    return figure


def vit_digits_confusion(results: dict[str, Any]) -> Figure:
    """Measured: the confusion matrix of the tiny ViT on the 450 test digits (``docs/vision/vit-digits.json``)."""
    run = results["runs"][0]
    confusion = np.array(run["confusion"])
    figure = Figure(figsize=(5.6, 4.8), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(confusion, cmap="Blues")
    for (row, col), count in np.ndenumerate(confusion):
        if count:
            color = "white" if count > confusion.max() / 2 else "black"
            ax.text(col, row, str(count), ha="center", va="center", fontsize=9, color=color)
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
    """Measured: what the class token attends to, in each layer (mean over heads), for one test image per digit.

    Each row is one image: the digits side by side, then each layer's weights on the patches, spread over the
    pixels of their patch, with a blank column between digits (one image per row draws much faster than one
    small axes per digit).
    """
    from matplotlib.patches import Rectangle

    run = results["runs"][0]
    patch_size = run["settings"]["patch_size"]
    side = 8 // patch_size
    examples = run["examples"]
    layers = len(examples[0]["class_attention"])
    step = 9  # 8 pixels and a blank column per digit
    figure = Figure(figsize=(13, 1.55 * (layers + 1) + 0.3), layout="constrained")
    axes = figure.subplots(layers + 1, 1)
    strip = np.full((8, step * len(examples) - 1), np.nan)
    for col, example in enumerate(examples):
        strip[:, col * step : col * step + 8] = example["image"]
        for edge in range(patch_size, 8, patch_size):
            axes[0].plot([col * step + edge - 0.5] * 2, [-0.5, 7.5], color="#d9480f", linewidth=1)
            axes[0].plot([col * step - 0.5, col * step + 7.5], [edge - 0.5] * 2, color="#d9480f", linewidth=1)
        axes[0].text(col * step + 3.5, -1, f"{example['label']} → {example['predicted']}", ha="center", fontsize=10)
        frame = Rectangle((col * step - 0.5, -0.5), 8, 8, fill=False, edgecolor="#999999", linewidth=0.8)
        axes[0].add_patch(frame)
    axes[0].imshow(strip, cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_ylabel("test image", fontsize=9)
    for layer, ax in enumerate(axes[1:]):
        strip = np.full((8, step * len(examples) - 1), np.nan)
        for col, example in enumerate(examples):
            weights = np.array(example["class_attention"][layer]).mean(axis=0)  # (T,): mean over the heads
            grid = weights[1:].reshape(side, side)
            strip[:, col * step : col * step + 8] = np.kron(grid, np.ones((patch_size, patch_size)))
            if side <= 4:
                for (row, c), value in np.ndenumerate(grid):
                    x, y = col * step + (c + 0.5) * patch_size - 0.5, (row + 0.5) * patch_size - 0.5
                    color = "white" if value > 0.6 else "black"
                    ax.text(x, y, f"{value:.2f}", ha="center", va="center", fontsize=7, color=color)
            ax.text(col * step + 3.5, 8.6, f"self {weights[0]:.2f}", ha="center", va="top", fontsize=8)
        ax.imshow(strip, cmap="Blues", vmin=0, vmax=1)
        ax.set_ylabel(f"layer {layer + 1}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    figure.suptitle(
        "the class token's attention over the patches (mean of the heads); 'self' is the weight it keeps on itself",
        fontsize=10,
    )
    return figure


def parallelism(results: dict[str, Any]) -> Figure:
    """Stored timings (``python -m transformer_tutorial.parallelism``): Transformer layers against an LSTM over
    growing lengths, and a teacher-forced pass against generating the same tokens one at a time."""
    batches = sorted({row["batch"] for row in results["layers"]})
    figure = Figure(figsize=(5 * (len(batches) + 1), 3.9), layout="constrained")
    axes = figure.subplots(1, len(batches) + 1)
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
        ax.set(xlabel="sequence length", ylabel="forward time (ms)", title=f"one layer, width {width}, batch {batch}")
        ax.set_xticks(lengths, [str(length) for length in lengths])
        ax.legend(fontsize=8)
    decoder = results["decoder"]
    targets = [row["target_length"] for row in decoder]
    for key, style, label in (
        ("teacher_forced_ms", "o-", "teacher forcing: one pass"),
        ("generate_cached_ms", "s-", "generation, key/value cache"),
        ("generate_recomputed_ms", "^-", "generation, prefix recomputed"),
    ):
        axes[-1].loglog(targets, [row[key] for row in decoder], style, label=label)
    axes[-1].set(xlabel="target tokens", ylabel="time (ms)", title="computing T target positions")
    axes[-1].set_xticks(targets, [str(target) for target in targets])
    axes[-1].legend(fontsize=8)
    machine = results["machine"]
    figure.suptitle(f"measured on {machine['cpu']}, {machine['torch_threads']} thread, {results['date']}", fontsize=9)
    return figure


FIGURES: dict[str, Callable[[], Figure]] = {
    "attention-masks": attention_masks,
    "dot-product-scaling": dot_product_scaling,
    "multi-head-weights": multi_head_weights,
    "residual-gradients": residual_gradients,
    "learning-rate-schedule": learning_rate_schedule,
    "smoothed-targets": smoothed_target_distribution,
    "sinusoidal-encoding": sinusoidal_encoding_map,
    "sinusoidal-dimensions": sinusoidal_dimensions,
    "sinusoidal-dot-products": sinusoidal_dot_products,
    "sinusoidal-variants": sinusoidal_variants,
    "alibi-bias": alibi_biases,
    "sampling-distributions": sampling_distributions,
    "minilm-head-scores": minilm_head_scores,
    "minilm-heads": minilm_heads,
    "vit-patches": vit_patches,
}

# name -> (function of the parsed JSON, path of the JSON file relative to docs/)
DATA_FIGURES: dict[str, tuple[Callable[[Any], Figure], str]] = {
    "vit-digits-confusion": (vit_digits_confusion, "vision/vit-digits.json"),
    "vit-digits-attention": (vit_digits_attention, "vision/vit-digits.json"),
    "benchmark-times": (benchmark_times, "benchmarks/cpu.json"),
    "benchmark-ratios": (benchmark_ratios, "benchmarks/cpu.json"),
    "benchmark-memory": (benchmark_memory, "benchmarks/cpu.json"),
    "benchmark-throughput": (benchmark_throughput, "benchmarks/cpu.json"),
    "parallelism": (parallelism, "measurements/parallelism.json"),
}


def figure_svg(name: str, docs_dir: Path) -> bytes:
    """Draw figure ``name`` as SVG; a figure of stored measurements reads its JSON file under ``docs_dir``."""
    if name in DATA_FIGURES:
        draw, data_path = DATA_FIGURES[name]
        return svg_bytes(draw(json.loads((docs_dir / data_path).read_text(encoding="utf-8"))))
    return svg_bytes(FIGURES[name]())
