"""The two-jobs task and the heads experiment: targets against a direct loop, held-out sequences that the training
stream never draws, the same parameter count for every head count, and a stored result with every seed."""

from __future__ import annotations

import numpy as np
import pytest

from transformer_tutorial import results
from transformer_tutorial.data.tasks import is_held_out
from transformer_tutorial.data.two_jobs import IGNORE, TwoJobsTask
from transformer_tutorial.experiments import head_count


def test_targets_pair_the_left_neighbour_with_the_marked_symbol():
    task = TwoJobsTask(num_symbols=5, length=7)
    tokens, targets = task.batch(np.random.default_rng(3), 20)
    for row, target in zip(tokens, targets, strict=True):
        (marked,) = [token - 5 for token in row if token >= 5]  # exactly one mark
        assert target[0] == IGNORE
        for t in range(1, 7):
            assert target[t] == 5 * (row[t - 1] % 5) + marked


def test_the_training_stream_never_draws_a_held_out_sequence():
    task = head_count.TASK
    rng = np.random.default_rng(0)  # seed 0's stream, replayed for its first 50 steps
    for _ in range(50):
        tokens, _ = task.batch(rng, head_count.BATCH, part="training")
        assert not any(is_held_out(row) for row in tokens)
    held_out, _ = task.held_out_batch(
        np.random.default_rng(head_count.HELD_OUT_SEED), 200
    )
    assert all(is_held_out(row) for row in held_out)


def test_task_refuses_bad_arguments():
    with pytest.raises(ValueError, match="length"):
        TwoJobsTask(length=3)
    with pytest.raises(ValueError, match="part"):
        TwoJobsTask().batch(np.random.default_rng(0), 2, part="test")


def test_every_head_count_has_the_same_parameters():
    counts = {
        heads: sum(p.numel() for p in head_count.TwoJobsModel(heads).parameters())
        for heads in (1, 2, 4, 8)
    }
    assert len(set(counts.values())) == 1


def test_stored_result_keeps_every_seed_and_the_example():
    stored = results.load("head-count")
    for key in ("command", "machine", "date"):
        assert stored[key]
    for heads in head_count.HEAD_COUNTS:
        runs = [run for run in stored["runs"] if run["heads"] == heads]
        assert len(runs) >= 3 and len({run["seed"] for run in runs}) == len(runs)
        assert all(
            [score["step"] for score in run["held_out"]] == list(head_count.SCORED_AT)
            for run in runs
        )
    assert len({run["parameters"] for run in stored["runs"]}) == 1
    example = stored["example"]
    assert is_held_out(np.array(example["tokens"]))
    for heads, weights in example["weights"].items():
        weights = np.array(weights)  # (H, T, T), rows sum to 1 (rounded to 3 decimals)
        assert weights.shape == (int(heads), 12, 12)
        np.testing.assert_allclose(weights.sum(axis=-1), 1, atol=0.01)
