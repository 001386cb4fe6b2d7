"""An experiment of the architecture chapter: how much gradient reaches the bottom of a deep stack.

The control is the initialisation. PyTorch's default ``nn.Linear`` initialisation draws weights with variance
1/(3·fan_in), so each feed-forward block shrinks the size of what passes through it; a variance-preserving (He)
initialisation keeps that size. Comparing the two separates what depth does from what the initial scale of the weights
does.
"""

from __future__ import annotations

import torch
from torch import nn

from transformer_tutorial.torch.layers import FeedForward, LayerNorm
from transformer_tutorial.torch.modes import seeded

INITIALISATIONS = ("default", "variance-preserving")


def _variance_preserving(block: FeedForward) -> None:
    # He for the layer before the ReLU (which halves the second moment), 1/fan_in after it: the output of the
    # block has the variance of its input, on average.
    nn.init.kaiming_normal_(block.linear_1.weight, nonlinearity="relu")
    nn.init.kaiming_normal_(block.linear_2.weight, nonlinearity="linear")
    nn.init.zeros_(block.linear_1.bias)
    nn.init.zeros_(block.linear_2.bias)


def gradient_norms(
    depth: int,
    residual: bool,
    layer_norm: bool,
    d_model: int = 64,
    init: str = "default",
) -> tuple[float, float]:
    """The norm of the loss gradient at the first and at the last
    layer's weights, in a stack of ``depth`` feed-forward layers.

    Each layer is ``x + FFN(x)`` (``residual``) or ``FFN(x)``, followed by a LayerNorm when ``layer_norm`` is set
    (post-norm); the loss is the mean squared error against a random target. ``init`` is ``"default"`` (PyTorch's
    ``nn.Linear``) or ``"variance-preserving"`` (He). Seeded (``modes.seeded``), so repeatable, and the caller's random
    state is left as it was.
    """
    if init not in INITIALISATIONS:
        raise ValueError(f"init must be one of {INITIALISATIONS}, got {init!r}")
    with seeded(0):  # the caller's global random state is given back
        blocks = [FeedForward(d_model, 4 * d_model) for _ in range(depth)]
        if init == "variance-preserving":
            for block in blocks:
                _variance_preserving(block)
        norms = [LayerNorm(d_model) for _ in range(depth)]
        x, target = torch.randn(2, 16, 10, d_model)
    for block, norm in zip(blocks, norms, strict=True):
        x = x + block(x) if residual else block(x)
        x = norm(x) if layer_norm else x
    torch.nn.functional.mse_loss(x, target).backward()
    return (
        blocks[0].linear_1.weight.grad.norm().item(),
        blocks[-1].linear_1.weight.grad.norm().item(),
    )


def gradient_at_first_layer(
    depth: int,
    residual: bool,
    layer_norm: bool,
    d_model: int = 64,
    init: str = "default",
) -> float:
    """The norm of the loss gradient at the
    first layer's weights (``gradient_norms``)."""
    return gradient_norms(depth, residual, layer_norm, d_model, init)[0]


def variance_ratio(d_model: int = 64, init: str = "default") -> float:
    """How much one feed-forward block multiplies the
    variance of its input, at initialisation (seeded)."""
    if init not in INITIALISATIONS:
        raise ValueError(f"init must be one of {INITIALISATIONS}, got {init!r}")
    with seeded(0):
        block = FeedForward(d_model, 4 * d_model)
        if init == "variance-preserving":
            _variance_preserving(block)
        x = torch.randn(4096, d_model)
    with torch.no_grad():
        return (block(x).var() / x.var()).item()
