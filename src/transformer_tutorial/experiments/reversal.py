"""The measurement behind the training chapter: train the reversal recipe from several seeds, score each model.

Run ``python -m transformer_tutorial.experiments.reversal --store`` to re-measure; the results are stored in the package
as ``reversal-training`` (``transformer_tutorial.results.load("reversal-training")``), which the training page reads.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace

import numpy as np
import torch

from transformer_tutorial.data.tasks import HELD_OUT_FROM_LENGTH
from transformer_tutorial.experiments import add_destination, keep
from transformer_tutorial.experiments.running import flat_provenance
from transformer_tutorial.torch.training import (
    ReversalRecipe,
    exact_match_accuracy,
    train_reversal,
)

RESULT = "reversal-training"
HELD_OUT_SEED = 12345  # the evaluation's own random stream; the sequences it draws are held out by construction


def measure_reversal_run(
    recipe: ReversalRecipe | None = None,
    held_out: int = 1000,
    seeds: tuple[int, ...] = (0, 1, 2),
) -> dict:
    """Train with the recipe once per seed, and measure each model on
    ``held_out`` distinct sequences of the held-out part, which the training
    stream never produces (``tests/test_training.py`` replays it to check).

    One seed can be lucky (or, on another machine whose arithmetic rounds differently, unlucky): a recipe is as good as
    its worst seed, so the results keep every run.
    """
    recipe = ReversalRecipe() if recipe is None else recipe
    # the matrices are tiny: one thread is fastest, and every machine does the same
    torch.set_num_threads(1)
    runs = []
    for seed in seeds:
        cpu_start = time.process_time()
        model, log = train_reversal(replace(recipe, seed=seed))
        cpu_seconds = time.process_time() - cpu_start
        runs.append(
            {
                "seed": seed,
                # wall clock: longer when the machine is busy
                "training_seconds": round(log.seconds, 2),
                # CPU time of this one-thread process
                "training_cpu_seconds": round(cpu_seconds, 2),
                "final_loss": round(float(np.mean(log.losses[-20:])), 4),
                "exact_match_accuracy": exact_match_accuracy(
                    model, recipe.task, held_out, seed=HELD_OUT_SEED
                ),
            }
        )
    return {
        "steps": recipe.steps,
        "held_out_sequences": held_out,
        "held_out_lengths": [
            max(recipe.task.min_length, HELD_OUT_FROM_LENGTH),
            recipe.task.max_length,
        ],
        "torch_threads": torch.get_num_threads(),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict:
    """``python -m transformer_tutorial.experiments.reversal
    --store``: train the chapter's model, store the results."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    add_destination(parser, RESULT)
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="one training run per seed",
    )
    args = parser.parse_args(argv)
    load_before = [round(value, 2) for value in os.getloadavg()]
    results = measure_reversal_run(seeds=tuple(args.seeds))
    results["load_average"] = {
        "before": load_before,
        "after": [round(value, 2) for value in os.getloadavg()],
    }
    results.update(flat_provenance("reversal"))
    print(json.dumps(results, indent=2))
    keep(args, RESULT, results)
    return results


if __name__ == "__main__":
    main()
