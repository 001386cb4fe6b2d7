"""Measured: a Transformer processes a sequence in parallel where a
recurrent network cannot, and generation is sequential either way.

Three measurements, on one device, written with the machine and the date to one JSON file:

* ``layers``: the forward pass of one Transformer encoder layer against an LSTM layer of the same width, for a
  range of sequence lengths. The LSTM must finish position t before it starts position t + 1; the encoder
  layer's matrix products cover every position at once.
* ``decoder``: a teacher-forced pass that computes every target position of an encoder-decoder model at once,
  against generating the same number of tokens one at a time, with and without the key/value cache.
* the ratios between them, under ``summary``.

Run it from the repository root::

    python -m transformer_tutorial.experiments.parallelism --store
    python -m transformer_tutorial.experiments.parallelism --quick   # seconds; the tests run this
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any

import torch
from torch import nn

from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.data.tasks import BOS
from transformer_tutorial.experiments import add_destination, keep
from transformer_tutorial.experiments.benchmark import (
    Settings,
    machine_info,
    time_interleaved,
)
from transformer_tutorial.torch.decoding import greedy_decode
from transformer_tutorial.torch.layers import EncoderLayer
from transformer_tutorial.torch.model import Transformer
from transformer_tutorial.torch.modes import seeded

RESULT = "parallelism"  # transformer_tutorial.results.load("parallelism")


@dataclass(frozen=True)
class ParallelismSettings:
    """What one run measures. The timing itself (warm-up,
    rounds, clock) follows ``benchmark.Settings``."""

    batches: tuple[int, ...] = (1, 16)
    width: int = 256
    lengths: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024)
    decoder_width: int = 128
    decoder_layers: int = 2
    source_length: int = 32
    target_lengths: tuple[int, ...] = (32, 128, 512)
    timing: Settings = field(
        default_factory=lambda: Settings(
            batch=0,
            num_heads=8,
            widths=(),
            lengths=(),
            memory_lengths=(),
            budget_s=1.0,
            max_repeats=15,
            clock="process",  # CPU time of this one-thread process: a busy neighbour does not inflate it
        )
    )


QUICK = ParallelismSettings(
    batches=(2,),
    width=16,
    lengths=(4, 8),
    decoder_width=16,
    decoder_layers=1,
    source_length=4,
    target_lengths=(4, 8),
    timing=Settings(
        batch=0,
        num_heads=2,
        widths=(),
        lengths=(),
        memory_lengths=(),
        min_repeats=2,
        max_repeats=2,
        budget_s=0.0,
        pause_s=0.0,
    ),
)


def _median_ms(samples) -> float:
    return round(median(samples.times) * 1e3, 4)


def time_layers(settings: ParallelismSettings) -> list[dict[str, Any]]:
    """Forward time of a Transformer encoder layer (ours, and PyTorch's with the same
    weights) and of an LSTM layer of the same width, for each batch size and length."""
    with seeded(0):  # the caller's global random state is given back
        width, heads = settings.width, settings.timing.num_heads
        reference = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=0.0, batch_first=True
        ).eval()
        ours = EncoderLayer.from_pytorch(reference).eval()
        lstm = nn.LSTM(width, width, batch_first=True).eval()
        rows = []
        for batch in settings.batches:
            for length in settings.lengths:
                x = torch.randn(batch, length, width)
                calls = {
                    "transformer": lambda x=x: ours(x),
                    "pytorch_transformer": lambda x=x: reference(x),
                    "lstm": lambda x=x: lstm(x),
                }
                with torch.no_grad():
                    samples = time_interleaved(
                        calls,
                        dict.fromkeys(calls, lambda: None),
                        settings.timing,
                        torch.device("cpu"),
                    )
                rows.append(
                    {
                        "batch": batch,
                        "length": length,
                        **{f"{name}_ms": _median_ms(s) for name, s in samples.items()},
                    }
                )
        return rows


def time_decoder(settings: ParallelismSettings) -> list[dict[str, Any]]:
    """One teacher-forced pass over T target positions
    against generating T tokens, cached and not."""
    with seeded(0):  # the caller's global random state is given back
        vocab = 16
        config = TransformerConfig(
            vocab,
            vocab,
            d_model=settings.decoder_width,
            num_heads=settings.timing.num_heads,
            num_layers=settings.decoder_layers,
            d_ff=4 * settings.decoder_width,
            dropout=0.0,
            max_len=max(settings.target_lengths) + 1,
        )
        model = Transformer(config).eval()
        src = torch.randint(3, vocab, (1, settings.source_length))
        rows = []
        for length in settings.target_lengths:
            tgt = torch.cat(
                [torch.full((1, 1), BOS), torch.randint(3, vocab, (1, length - 1))],
                dim=1,
            )
            calls = {
                "teacher_forced": lambda tgt=tgt: model(src, tgt),
                "generate_cached": lambda n=length: greedy_decode(
                    model, src, n, use_cache=True, stop_at_eos=False
                ),
                "generate_recomputed": lambda n=length: greedy_decode(
                    model, src, n, use_cache=False, stop_at_eos=False
                ),
            }
            with torch.no_grad():
                samples = time_interleaved(
                    calls,
                    dict.fromkeys(calls, lambda: None),
                    settings.timing,
                    torch.device("cpu"),
                )
            rows.append(
                {
                    "target_length": length,
                    **{f"{name}_ms": _median_ms(s) for name, s in samples.items()},
                }
            )
        return rows


def summarise(
    layers: list[dict[str, Any]], decoder: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ratios a reader asks about, at the shortest
    and longest lengths, and for the longest target."""
    summary: dict[str, Any] = {"lstm_over_pytorch_transformer": {}}
    for row in layers:
        if row["length"] in (layers[0]["length"], layers[-1]["length"]):
            key = f"batch {row['batch']}, length {row['length']}"
            summary["lstm_over_pytorch_transformer"][key] = round(
                row["lstm_ms"] / row["pytorch_transformer_ms"], 3
            )
    longest_target = decoder[-1]
    summary["target_length"] = longest_target["target_length"]
    summary["cached_generation_over_teacher_forcing"] = round(
        longest_target["generate_cached_ms"] / longest_target["teacher_forced_ms"], 3
    )
    summary["recomputed_over_cached_generation"] = round(
        longest_target["generate_recomputed_ms"] / longest_target["generate_cached_ms"],
        3,
    )
    return summary


def lstm_wins(
    layers: list[dict[str, Any]], against: str = "pytorch_transformer"
) -> tuple[int, int]:
    """In how many of the timed settings the LSTM was faster
    than the Transformer layer ``against``, of how many.

    ``layers`` is the stored result's ``"layers"``; ``against`` is ``"pytorch_transformer"`` or ``"transformer"``
    (ours).
    """
    wins = sum(row["lstm_ms"] < row[f"{against}_ms"] for row in layers)
    return wins, len(layers)


def layer_faster_lengths(
    layers: list[dict[str, Any]], batch: int, against: str = "pytorch_transformer"
) -> list[int]:
    """The sequence lengths at which the Transformer
    layer ``against`` beat the LSTM, for one batch size."""
    return [
        row["length"]
        for row in layers
        if row["batch"] == batch and row[f"{against}_ms"] < row["lstm_ms"]
    ]


def run(settings: ParallelismSettings, threads: int = 1) -> dict[str, Any]:
    """Every measurement, with the machine and the settings."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        layers, decoder = time_layers(settings), time_decoder(settings)
        machine = machine_info(torch.device("cpu"))
    finally:
        torch.set_num_threads(previous)
    return {
        "command": "python -m transformer_tutorial.experiments.parallelism "
        + shlex.join(sys.argv[1:]),
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine,
        "settings": json.loads(json.dumps(asdict(settings))),  # tuples as JSON lists
        "layers": layers,
        "decoder": decoder,
        "summary": summarise(layers, decoder),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m transformer_tutorial.experiments.parallelism",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: seconds (for the tests)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="PyTorch threads (default 1)"
    )
    add_destination(parser, RESULT)
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else ParallelismSettings(), args.threads)
    print(json.dumps(results["summary"], indent=2))
    keep(args, RESULT, results)
    return results


if __name__ == "__main__":
    main()
