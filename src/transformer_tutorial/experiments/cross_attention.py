"""What the trained reversal model's cross-attention looks at, stored for the picture of the training chapter.

Training the chapter's recipe takes about twenty seconds, too long for every site build, so the weights of one example
are measured once and stored in the package as ``reversal-attention``
(``transformer_tutorial.results.load("reversal-attention")``). Run ``python -m
transformer_tutorial.experiments.cross_attention --store`` to measure them again.
"""

from __future__ import annotations

import argparse
import json

import torch

from transformer_tutorial.data.tasks import BOS
from transformer_tutorial.experiments import add_destination, keep, provenance
from transformer_tutorial.torch.attention import recorded_attention
from transformer_tutorial.torch.model import Transformer
from transformer_tutorial.torch.training import ReversalRecipe, train_reversal

RESULT = "reversal-attention"
# eight distinct symbols (ids from FIRST_SYMBOL = 3), the longest trained on
SOURCE = (
    5,
    9,
    3,
    11,
    6,
    4,
    10,
    7,
)


def cross_attention_weights(
    model: Transformer, source: torch.Tensor, target: torch.Tensor
) -> list[torch.Tensor]:
    """The cross-attention weights of every decoder layer
    for one teacher-forced pass: (H, T, S) per layer.

    Args:
        model: A ``Transformer`` in eval mode.
        source: (1, S) source ids.
        target: (1, T) the decoder's input, BOS first.
    """
    with torch.no_grad(), recorded_attention(model) as weights:
        model(source, target)
    return [
        weights[f"decoder.layers.{i}.cross_attention"][0][0]
        for i in range(len(model.decoder.layers))
    ]


def measure_cross_attention(
    recipe: ReversalRecipe | None = None, source: tuple[int, ...] = SOURCE
) -> dict:
    """Train the chapter's recipe and record its
    cross-attention on ``source`` reversed, teacher-forced."""
    recipe = ReversalRecipe() if recipe is None else recipe
    # as in experiments/reversal.py: the same arithmetic on every machine
    torch.set_num_threads(1)
    model, log = train_reversal(recipe, progress=False)
    model.eval()
    task = recipe.task
    src = torch.tensor([source])
    tgt = torch.tensor([[BOS, *source[::-1]]])
    layers = cross_attention_weights(model, src, tgt)
    return {
        "seed": recipe.seed,
        "steps": recipe.steps,
        "training_seconds": round(log.seconds, 2),
        "source_tokens": [task.decode([i]) for i in source],
        "target_tokens": ["<s>", *(task.decode([i]) for i in source[::-1])],
        # (L, H, T, S)
        "cross_attention": [
            layer.double().numpy().round(4).tolist() for layer in layers
        ],
    }


def main(argv: list[str] | None = None) -> dict:
    """``python -m transformer_tutorial.experiments.cross_attention
    --store``: measure and store the weights."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    add_destination(parser, RESULT)
    args = parser.parse_args(argv)
    result = measure_cross_attention()
    result.update(
        torch=torch.__version__,
        **provenance(
            "python -m transformer_tutorial.experiments.cross_attention --store"
        ),
    )
    print(
        json.dumps(
            {key: value for key, value in result.items() if key != "cross_attention"},
            indent=2,
        )
    )
    keep(args, RESULT, result)
    return result


if __name__ == "__main__":
    main()
