"""Every stored result says where it came from, and every reported evaluation is on data its model never saw.

The first test reads every file under ``transformer_tutorial.results``: each names the command that made it (an
experiment's ``--store`` or ``--output``), the date and the machine. The others replay the training stream of
each stored evaluation and look for the evaluated examples in it.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest

from transformer_tutorial import results
from transformer_tutorial.data.digits import load_digits
from transformer_tutorial.data.tasks import PAD, is_held_out
from transformer_tutorial.experiments import live_model
from transformer_tutorial.experiments.live_model import (
    exact_match,
    live_recipe,
    load_live_model,
)

COMMAND = re.compile(r"^python -m transformer_tutorial\.experiments\.[a-z_]+( |$)")


@pytest.mark.parametrize("name", results.names())
def test_every_stored_result_names_its_command_machine_and_date(name):
    result = results.load(name)
    assert COMMAND.match(result.get("command", "")), (name, result.get("command"))
    day = date.fromisoformat(str(result.get("date", ""))[:10])
    assert date(2026, 1, 1) <= day <= date.today(), (name, day)
    machine = result.get("machine")
    described = machine.get("cpu") if isinstance(machine, dict) else machine
    assert isinstance(described, str) and described, (name, machine)


def _sequences(src: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(token) for token in row if token != PAD) for row in src}


def test_the_live_models_score_is_on_sequences_its_training_stream_never_produced():
    stored = load_live_model()
    held_out = stored.info["held_out"]
    recipe = live_recipe()
    assert stored.info["training"]["steps"] == recipe.steps
    assert held_out["drawn_by"] == "ReversalTask.held_out_batch"
    evaluated_batch = recipe.task.held_out_batch(
        np.random.default_rng(held_out["seed"]), held_out["sequences"]
    )
    evaluated = _sequences(evaluated_batch.src)
    assert len(evaluated) == held_out["sequences"]
    assert all(is_held_out(np.array(sequence)) for sequence in evaluated)
    next_batch = recipe.batches()
    trained_on = set().union(
        *(_sequences(next_batch()[0].numpy()) for _ in range(recipe.steps))
    )
    assert trained_on.isdisjoint(evaluated)
    # the same number of draws from the whole task meets dozens of them (85): the replay can fail
    rng = np.random.default_rng(recipe.seed + 1)
    unfiltered = set().union(
        *(
            _sequences(recipe.task.batch(rng, recipe.batch_size).src)
            for _ in range(recipe.steps)
        )
    )
    assert len(unfiltered & evaluated) > 20


def test_the_live_models_stored_score_is_what_the_held_out_sequences_give():
    stored = load_live_model()
    held_out = stored.info["held_out"]
    assert held_out["seed"] == live_model.HELD_OUT_SEED
    score = exact_match(stored, held_out["sequences"], held_out["seed"])
    assert score == held_out["exact_match"]


def test_the_vision_transformers_test_digits_are_not_among_its_training_digits():
    data = results.load("vit-digits")["data"]
    digits = load_digits(test_size=data["test"], seed=data["seed"])
    assert len(digits.train_labels) == data["train"]
    seen = {image.tobytes() for image in digits.train_images}
    assert not any(image.tobytes() in seen for image in digits.test_images)
