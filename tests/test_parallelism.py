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
    assert [row["target_length"] for row in results["decoder"]] == list(
        quick.target_lengths
    )
    for row in results["layers"] + results["decoder"]:
        assert all(value > 0 for key, value in row.items() if key.endswith("_ms"))
    assert set(results["summary"]) == {
        "lstm_over_pytorch_transformer",
        "target_length",
        "cached_generation_over_teacher_forcing",
        "recomputed_over_cached_generation",
    }
    assert results["machine"]["torch_threads"] == 1


def test_the_layer_arithmetic_is_what_pytorch_counts_for_the_layers_of_the_measurement():
    """The counts the training page uses to explain the LSTM's lead, against PyTorch's FLOP counter (2 per
    multiply-add) on our explicit encoder layer and on an LSTM cell, the step that nn.LSTM repeats T times."""
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from transformer_tutorial.costs import layer_multiply_adds_per_position
    from transformer_tutorial.torch.attention import MultiHeadAttention
    from transformer_tutorial.torch.layers import EncoderLayer

    width, length = 32, 12
    reference = nn.TransformerEncoderLayer(
        width, 4, 4 * width, dropout=0.0, batch_first=True
    )
    layer = EncoderLayer.from_pytorch(reference).eval()
    for module in layer.modules():
        if isinstance(module, MultiHeadAttention):
            module.fused = (
                False  # the explicit path: every product is a matmul the counter sees
            )
    counts = layer_multiply_adds_per_position(length, width, 4 * width)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(torch.randn(1, length, width))
    assert counter.get_total_flops() == 2 * length * counts["transformer"]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        nn.LSTMCell(width, width)(torch.randn(1, width))
    assert counter.get_total_flops() == 2 * counts["lstm"]
