"""The architecture chapter: how residual connections and LayerNorm carry the gradient down a stack."""

from __future__ import annotations

from matplotlib.figure import Figure

from figures.plotting import PAGE_WIDTH
from transformer_tutorial.experiments.gradients import gradient_at_first_layer


def residual_gradients(depths: tuple[int, ...] = (2, 4, 8, 16, 32)) -> Figure:
    """Measured: the gradient reaching the first layer of
    a deep stack, with and without residual connections."""
    figure = Figure(figsize=(PAGE_WIDTH, 3.8), layout="constrained")
    ax = figure.subplots()
    for residual, layer_norm, init, style in (
        (True, False, "default", "o-"),
        (False, False, "default", "o--"),
        (True, True, "default", "s-"),
        (False, True, "default", "s--"),
        (False, False, "variance-preserving", "^:"),
    ):
        norms = [
            max(gradient_at_first_layer(depth, residual, layer_norm, init=init), 1e-30)
            for depth in depths
        ]
        label = f"{'residual' if residual else 'no residual'}, {'LayerNorm' if layer_norm else 'no LayerNorm'}"
        if init != "default":
            label += ", He init (control)"
        ax.semilogy(depths, norms, style, label=label)
    ax.set_xticks(depths, [str(depth) for depth in depths])
    ax.set_xlabel("layers in the stack")
    ax.set_ylabel("gradient norm at the first layer")
    ax.set_title("how much gradient reaches the bottom of the stack")
    ax.legend()
    return figure
