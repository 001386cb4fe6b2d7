"""Encoder-only models: the measured heads of all-MiniLM-L6-v2."""

from __future__ import annotations

from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH, plot_weights

SENTENCE = ["the", "cat", "sat", "on", "the", "mat"]


def minilm_head_scores() -> Figure:
    """Measured over many sentences: how much each of all-MiniLM-L6-v2's
    72 heads attends to the previous token, to the next token, and from
    a pronoun to the noun it stands for; the best head of each is boxed."""
    from matplotlib.patches import Rectangle

    from transformer_tutorial.experiments.heads import (
        COREFERENCES,
        PROBE_SENTENCES,
        measure_minilm_heads,
    )

    found = measure_minilm_heads()
    panels = [
        (
            found.previous,
            found.best_previous,
            f"previous token ({len(PROBE_SENTENCES)} sentences)",
        ),
        (found.next, found.best_next, f"next token ({len(PROBE_SENTENCES)} sentences)"),
        (
            found.to_antecedent,
            found.best_pronoun,
            f"pronoun to its noun ({len(COREFERENCES)} sentences)",
        ),
    ]
    figure = Figure(figsize=(PAGE_WIDTH, 8.4), layout="constrained")
    axes = figure.subplots(3, 1)
    for ax, (scores, (layer, head), title) in zip(axes, panels, strict=True):
        image = ax.imshow(scores, cmap="Blues", vmin=0, vmax=1)
        ax.add_patch(
            Rectangle(
                (head - 0.5, layer - 0.5),
                1,
                1,
                fill=False,
                edgecolor="#d9480f",
                linewidth=2.5,
            )
        )
        ax.set_title(
            f"{title}; best: layer {layer}, head {head} ({scores[layer, head]:.2f})"
        )
        ax.set_xticks(range(scores.shape[1]))
        ax.set_yticks(range(scores.shape[0]))
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.tick_params(length=0)
    figure.colorbar(image, ax=axes, label="average attention weight", shrink=0.9)
    return figure


def minilm_heads() -> Figure:
    """The three heads found by ``minilm_head_scores``,
    on one sentence: every query's weights over the keys."""
    from matplotlib.patches import Rectangle

    from transformer_tutorial.experiments.heads import measure_minilm_heads

    found = measure_minilm_heads()
    tokens = found.animal_tokens
    panels = [
        (found.best_previous, "attends to the previous token"),
        (found.best_next, "attends to the next token"),
        (found.best_pronoun, "pronoun to its noun"),
    ]
    figure = Figure(figsize=(PAGE_WIDTH, 7.6), layout="constrained")
    mosaic = figure.subplot_mosaic([["0", "1"], ["2", "."]])
    axes = [mosaic[str(index)] for index in range(3)]
    for ax, ((layer, head), what) in zip(axes, panels, strict=True):
        plot_weights(
            ax,
            found.animal_weights[layer, head],
            f"layer {layer}, head {head}:\n{what}",
            tokens,
            tokens,
        )
    axes[1].set_ylabel("")
    axes[0].set_xlabel("")
    it, animal = tokens.index("it"), tokens.index("animal")
    axes[2].add_patch(
        Rectangle(
            (animal - 0.5, it - 0.5), 1, 1, fill=False, edgecolor="#d9480f", linewidth=2
        )
    )
    figure.colorbar(
        axes[-1].images[0], ax=axes[-1], label="attention weight", shrink=0.8
    )
    return figure
