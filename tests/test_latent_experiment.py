"""The measurement behind the chapter on multi-head latent attention: its quick mode runs in seconds, the three
models share one parameter budget, and the stored run has every field the page reads."""

import json

from transformer_tutorial import results as stored_results
from transformer_tutorial.experiments import latent_attention
from transformer_tutorial.experiments.character_models import count_parameters


def test_quick_mode_writes_every_measurement(tmp_path):
    output = tmp_path / "latent-attention.json"
    results = latent_attention.main(["--quick", "--output", str(output)])
    assert json.loads(output.read_text(encoding="utf-8")) == results
    runs = results["character_models"]["runs"]
    assert {run["model"] for run in runs} == {"multi-head", "grouped-query", "latent"}
    budget, width = (
        results["character_models"]["budget"],
        latent_attention.QUICK.corpus.corpus_width,
    )
    layers = latent_attention.QUICK.corpus.corpus_layers
    # within half a step of SwiGLU's width F (3·D parameters per unit, per layer)
    for run in runs:
        assert abs(run["parameters"] - budget) <= 3 * width * layers / 2
    # float32 caches: K and V of H, H / 2 heads of d_h; the latent and the rotated key for MLA
    quick = latent_attention.QUICK
    d_h = quick.corpus.corpus_width // quick.corpus.corpus_heads
    layers, heads = quick.corpus.corpus_layers, quick.corpus.corpus_heads
    shape = quick.corpus_latent
    expected = {
        "multi-head": 2 * layers * heads * d_h * 4,
        "grouped-query": 2 * layers * (heads // 2) * d_h * 4,
        "latent": layers * (shape.kv_latent_width + shape.rope_width) * 4,
    }
    for run in runs:
        assert run["cache_bytes_per_token"] == expected[run["model"]]
    latent = next(row for row in results["decoding"] if row["model"] == "latent")
    assert latent["absorbed_ms_per_token"] > 0 and latent["expanded_ms_per_token"] > 0
    assert results["machine"]["torch_threads"] == 1


def test_the_three_models_have_the_same_parameter_budget():
    settings = latent_attention.LatentSettings()
    corpus = settings.corpus
    sizes = (100, corpus.corpus_width, corpus.corpus_heads, corpus.corpus_layers, 48)
    budget = count_parameters(
        latent_attention.builders(*sizes, settings.corpus_latent)["multi-head"]()
    )
    built = latent_attention.builders(*sizes, settings.corpus_latent, budget=budget)
    for build in built.values():
        # within half a step of SwiGLU's width F (3·D parameters per unit, per layer)
        assert abs(count_parameters(build()) - budget) <= 3 * 48 * 2 / 2


def test_the_stored_run_is_complete():
    stored = stored_results.load("latent-attention")
    assert {"command", "date", "machine"} <= set(stored)
    assert len(stored["settings"]["seeds"]) >= 2
    runs = stored["character_models"]["runs"]
    assert len(runs) == 3 * len(stored["settings"]["seeds"])
    assert stored["summary"] == latent_attention.summarise(stored)
