"""An experiment of the architecture chapter: how much gradient reaches the bottom of a deep stack."""

from __future__ import annotations

import torch

from transformer_tutorial.torch.layers import FeedForward, LayerNorm


def gradient_at_first_layer(
    depth: int, residual: bool, layer_norm: bool, d_model: int = 64
) -> float:
    """The norm of the loss gradient at the first layer's
    weights, in a stack of ``depth`` feed-forward layers.

    Each layer is ``x + FFN(x)`` (``residual``) or ``FFN(x)``, followed by a LayerNorm when ``layer_norm`` is set
    (post-norm); the loss is the mean squared error against a random target. Seeded, so repeatable.
    """
    torch.manual_seed(0)
    blocks = [FeedForward(d_model, 4 * d_model) for _ in range(depth)]
    norms = [LayerNorm(d_model) for _ in range(depth)]
    x, target = torch.randn(2, 16, 10, d_model)
    for block, norm in zip(blocks, norms, strict=True):
        x = x + block(x) if residual else block(x)
        x = norm(x) if layer_norm else x
    torch.nn.functional.mse_loss(x, target).backward()
    return blocks[0].linear_1.weight.grad.norm().item()
