"""The parallelism measurement: its quick mode runs in seconds and writes the fields the pages read."""

import json

from transformer_tutorial.experiments import parallelism


def test_quick_mode_writes_every_measurement(tmp_path):
    output = tmp_path / "parallelism.json"
    results = parallelism.main(["--quick", "--output", str(output)])
    assert json.loads(output.read_text(encoding="utf-8")) == results
    quick = parallelism.QUICK
    assert [(row["batch"], row["length"]) for row in results["layers"]] == [
        (batch, length) for batch in quick.batches for length in quick.lengths
    ]
    assert [row["target_length"] for row in results["decoder"]] == list(quick.target_lengths)
    for row in results["layers"] + results["decoder"]:
        assert all(value > 0 for key, value in row.items() if key.endswith("_ms"))
    assert set(results["summary"]) == {
        "lstm_over_pytorch_transformer",
        "target_length",
        "cached_generation_over_teacher_forcing",
        "recomputed_over_cached_generation",
    }
    assert results["machine"]["torch_threads"] == 1
