"""The measurement behind the chapter on attention in today's models: its quick mode runs in seconds, and the
stored run has every field the page and the figures read."""

import json

from transformer_tutorial import results as stored_results
from transformer_tutorial.config import DecoderOnlyConfig
from transformer_tutorial.experiments import character_models, modern_attention


def test_quick_mode_writes_every_measurement(tmp_path):
    output = tmp_path / "modern-attention.json"
    results = modern_attention.main(["--quick", "--output", str(output)])
    assert json.loads(output.read_text(encoding="utf-8")) == results
    quick = modern_attention.QUICK
    assert [row["length"] for row in results["memory"]] == list(quick.lengths)
    assert [row["num_kv_heads"] for row in results["kv_cache"]] == [1, 2, 4]
    # The cache's size, read from its tensors, is 2 (keys and values) · layers · G · d · 4 bytes (float32).
    width = quick.cache_width // quick.cache_heads
    for row in results["kv_cache"]:
        assert (
            row["cache_bytes_per_token"]
            == 2 * quick.cache_layers * row["num_kv_heads"] * width * 4
        )
    assert {run["model"] for run in results["character_models"]["runs"]} == {
        "paper",
        "gpt",
        "llama",
    }
    assert results["machine"]["torch_threads"] == 1


def test_the_llama_model_gets_the_paper_models_parameter_budget():
    settings = modern_attention.ModernSettings()
    paper = character_models.PaperStyleDecoder(
        DecoderOnlyConfig(
            vocab_size=100, d_model=48, num_heads=4, num_layers=2, d_ff=192, max_len=48
        )
    )
    budget = character_models.count_parameters(paper)
    config = character_models.matched_llama_config(settings, 100, budget)
    llama = character_models.count_parameters(character_models.LlamaDecoder(config))
    # within half a step of F (3·D parameters per layer)
    assert abs(llama - budget) <= 3 * 48 * 2 / 2


def test_the_stored_run_is_complete():
    stored = stored_results.load("modern-attention")
    assert stored["settings"]["lengths"][-1] == stored["memory"][-1]["length"] == 4096
    longest = stored["memory"][-1]
    assert longest["explicit_bytes"] > 50 * longest["tiled_bytes"]
    assert [row["num_kv_heads"] for row in stored["kv_cache"]] == [1, 2, 4, 8]
    assert stored["summary"] == modern_attention.summarise(stored)
