"""The measurement behind the long-contexts chapter: its quick mode runs in seconds, every evaluation reads the
held-out tenth of the corpus, and the stored run has every field the page and the figures read."""

import json

import numpy as np
import torch

from transformer_tutorial import results as stored_results
from transformer_tutorial.data.text import (
    character_corpus,
    evaluation_windows,
    load_corpus,
)
from transformer_tutorial.experiments import long_context


def test_quick_mode_writes_every_measurement(tmp_path):
    output = tmp_path / "long-context.json"
    results = long_context.main(["--quick", "--output", str(output)])
    assert json.loads(output.read_text(encoding="utf-8")) == results
    (seed,) = results["seeds"]
    assert set(seed["streaming"]) == {"full", "window", "sinks", "sinks_text_positions"}
    methods = {
        (row["length"], row["method"], row["finetuned"])
        for row in seed["extrapolation"]
    }
    length = long_context.QUICK.train_length
    assert (4 * length, "yarn", False) in methods and (
        2 * length,
        "linear",
        True,
    ) in methods
    assert results["machine"]["torch_threads"] == 1
    assert {"command", "date", "machine"} <= set(results)


def test_evaluations_read_only_the_held_out_tenth():
    tokenizer, train_ids, held_out = character_corpus()
    text = load_corpus()
    assert len(train_ids) + len(held_out) == len(text)
    assert tokenizer.decode(held_out) == text[int(0.9 * len(text)) :]
    windows = long_context.held_out_windows(train_ids, held_out, 16, 3)
    assert torch.equal(windows.flatten()[:17], torch.as_tensor(held_out[:17]))


def test_the_stored_run_read_no_window_of_the_training_text():
    """The stored run's windows (L, 2L and 4L) are the held-out windows the rule keeps: none of them occurs in the
    training text, so leaving such windows out drops none there."""
    stored = stored_results.load("long-context")["settings"]
    _, train_ids, held_out = character_corpus()
    counts = (stored["eval_windows"], stored["probe_windows"], stored["stream_windows"])
    for length in (stored["train_length"] * m for m in (1, 2, 4)):
        for count in counts:
            kept = long_context.held_out_windows(train_ids, held_out, length, count)
            every = evaluation_windows(held_out, length, count=count)
            assert torch.equal(kept, torch.as_tensor(every))


def test_training_windows_come_from_the_training_part():
    """Replay the training stream: every window ``train`` draws starts inside the first nine tenths."""
    _, train_ids, _ = character_corpus()
    generator = torch.Generator().manual_seed(0)
    length = long_context.QUICK.train_length
    starts = torch.randint(0, len(train_ids) - length, (1000, 1), generator=generator)
    assert int(starts.max()) + length + 1 <= len(train_ids)


def test_the_stored_run_has_what_the_page_reads():
    stored = stored_results.load("long-context")
    assert {"command", "date", "machine", "settings", "seeds", "paged"} <= set(stored)
    assert len(stored["seeds"]) >= 3
    for seed in stored["seeds"]:
        assert len(seed["largest_logit"]) == len(seed["largest_logit_qk_norm"])
        heads = stored["settings"]["heads"] * stored["settings"]["layers"]
        assert len(seed["sinks"]["heads"]) == heads
    paged = stored["paged"]
    filled = paged["filled_positions"]
    for row in paged["paged"]:
        assert row["reserved_positions"] - row["last_block_waste"] == filled
        assert 0 <= row["last_block_waste"] < row["block_size"] * paged["requests"]
    assert np.isclose(
        paged["contiguous_waste_share"],
        1 - filled / paged["contiguous_reserved_positions"],
        atol=1e-4,
    )
