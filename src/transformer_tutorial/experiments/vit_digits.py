"""Train a tiny Vision Transformer on scikit-learn's 8 × 8 digits, measure it, and store what happened.

One run trains ``transformer_tutorial.torch.vision.VisionTransformer`` with ``train_classifier`` on 1,347 digits
and tests it on the other 450, for each patch size of its settings, on one CPU thread. It records the training
time, the test accuracy, the confusion matrix and the class token's attention over the patches for the first
test image of every digit, with the machine, the versions, the date and the exact command, in one JSON file.
The site plots that file instead of training at build time. Run it from the repository root::

    python -m transformer_tutorial.experiments.vit_digits --quick  # about a second of training: the tests' settings
    python -m transformer_tutorial.experiments.vit_digits --store

Training uses one thread: the model is so small that a step has little work to share, and on a busy machine two threads
mostly wait for each other (steps were many times slower when we tried two on a loaded 2-core machine).

The results file (``SCHEMA_VERSION`` 1) is a JSON object: ``schema``, ``schema_version``, ``mode`` (``quick`` or
``full``), ``command``, ``date``, ``machine`` (see ``benchmark.machine_info``, plus ``load_average`` before and after),
``data`` (``train``, ``test``, ``seed``) and ``runs``, one object per patch size: its ``settings``, ``tokens`` (patches
+ 1), ``parameters``, ``seconds`` (training only), ``epoch_losses`` (the mean loss of each epoch), ``correct``,
``accuracy``, ``confusion`` (10 × 10, rows = true digit) and ``examples`` (``label``, ``predicted``, ``image`` 8 × 8 in
[0, 1], and ``class_attention``: layers × heads × positions, the class token's row of each attention map, position 0
being the class token itself).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch

from transformer_tutorial.data.digits import (
    NUM_CLASSES,
    DigitsSplit,
    confusion_matrix,
    load_digits,
)
from transformer_tutorial.experiments import add_destination, keep
from transformer_tutorial.experiments.benchmark import machine_info
from transformer_tutorial.torch.attention import recorded_attention
from transformer_tutorial.torch.modes import seeded
from transformer_tutorial.torch.vision import (
    VisionTransformer,
    predict,
    train_classifier,
)

RESULT = "vit-digits"  # transformer_tutorial.results.load("vit-digits")

SCHEMA = "vit-digits"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Settings:
    """The model and the training of one run; ``patch_sizes``
    gives one run each, the first being the main one."""

    patch_sizes: tuple[int, ...] = (4, 2)
    d_model: int = 32
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 64
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    threads: int = 1


FULL = Settings()
QUICK = Settings(patch_sizes=(4,), epochs=3)


def build_model(settings: Settings, patch_size: int) -> VisionTransformer:
    """The ViT of a run, with weights drawn from ``settings.seed``."""
    with seeded(settings.seed):  # the caller's global random state is given back
        return VisionTransformer(
            image_size=8,
            patch_size=patch_size,
            num_classes=NUM_CLASSES,
            d_model=settings.d_model,
            num_heads=settings.num_heads,
            num_layers=settings.num_layers,
            d_ff=settings.d_ff,
        )


def _examples(
    model: VisionTransformer, images: np.ndarray, labels: np.ndarray
) -> list[dict[str, Any]]:
    """The first test image of every digit: its label,
    the model's answer and the class token's attention."""
    indices = [int(np.flatnonzero(labels == digit)[0]) for digit in range(NUM_CLASSES)]
    chosen = torch.from_numpy(images[indices])
    predicted = predict(model, chosen)
    with torch.no_grad(), recorded_attention(model) as records:
        model(chosen)
    maps = [records[f"layers.{i}.self_attention"][0] for i in range(len(model.layers))]
    # (B, layers, H, T)
    class_rows = torch.stack([layer[:, :, 0, :] for layer in maps], dim=1)
    return [
        {
            "label": int(labels[index]),
            "predicted": int(predicted[row]),
            "image": np.round(images[index, 0], 4).tolist(),
            "class_attention": np.round(class_rows[row].double().numpy(), 4).tolist(),
        }
        for row, index in enumerate(indices)
    ]


def train_and_test(
    settings: Settings, patch_size: int, digits: DigitsSplit | None = None
) -> dict[str, Any]:
    """One run: build the model, train it on
    the training digits, test it on the others."""
    digits = load_digits(seed=settings.seed) if digits is None else digits
    model = build_model(settings, patch_size)
    train_images, train_labels = (
        torch.from_numpy(digits.train_images),
        torch.from_numpy(digits.train_labels),
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        log = train_classifier(
            model,
            train_images,
            train_labels,
            settings.epochs,
            settings.batch_size,
            settings.lr,
            seed=settings.seed,
        )
        predictions = predict(model, torch.from_numpy(digits.test_images)).numpy()
        examples = _examples(model, digits.test_images, digits.test_labels)
    finally:
        torch.set_num_threads(threads)
    confusion = confusion_matrix(digits.test_labels, predictions)
    correct = int(np.trace(confusion))
    steps = len(log.losses) // settings.epochs
    recorded = {
        key: value
        for key, value in dataclasses.asdict(settings).items()
        if key != "patch_sizes"
    }
    return {
        "settings": {"patch_size": patch_size, **recorded},
        "tokens": (8 // patch_size) ** 2 + 1,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "seconds": round(log.seconds, 2),
        "epoch_losses": [
            round(float(np.mean(log.losses[i : i + steps])), 4)
            for i in range(0, len(log.losses), steps)
        ],
        "correct": correct,
        "accuracy": round(correct / len(predictions), 4),
        "confusion": confusion.tolist(),
        "examples": examples,
    }


def run(
    settings: Settings = FULL, mode: str = "custom", command: str = ""
) -> dict[str, Any]:
    """Every run of ``settings``, with the machine and
    the versions, as the JSON object described above."""
    digits = load_digits(seed=settings.seed)
    load_before = _load_average()
    runs = [
        train_and_test(settings, patch_size, digits)
        for patch_size in settings.patch_sizes
    ]
    machine = machine_info(torch.device("cpu"))
    machine["torch_threads"] = settings.threads
    machine["load_average"] = {"before": load_before, "after": _load_average()}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "mode": mode,
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "data": {
            "train": len(digits.train_labels),
            "test": len(digits.test_labels),
            "seed": settings.seed,
        },
        "runs": runs,
    }


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def summary(results: dict[str, Any]) -> str:
    """One line per run: patch size, tokens, training time and test accuracy."""
    lines = []
    for entry in results["runs"]:
        lines.append(
            f"patch {entry['settings']['patch_size']}: {entry['tokens']} tokens, {entry['parameters']} parameters, "
            f"trained in {entry['seconds']:.1f} s, test accuracy {entry['accuracy']:.1%} "
            f"({entry['correct']}/{results['data']['test']})"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The command line: ``--quick`` for the tests'
    short run, ``--output`` to write the JSON file."""
    parser = argparse.ArgumentParser(
        prog="python -m transformer_tutorial.experiments.vit_digits",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 epochs and one patch size (seconds)"
    )
    add_destination(parser, RESULT)
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    command = shlex.join(
        ["python", "-m", "transformer_tutorial.experiments.vit_digits", *argv]
    )
    results = run(
        QUICK if args.quick else FULL, "quick" if args.quick else "full", command
    )
    print(summary(results))
    keep(args, RESULT, results, dumps_results)
    return results


def dumps_results(results: dict[str, Any]) -> str:
    """The results as indented JSON, with every innermost
    list of numbers on one line (readable diffs)."""
    text = json.dumps(results, indent=1)
    numbers = re.compile(r"\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]")
    return (
        numbers.sub(
            lambda match: "[" + ", ".join(match[1].replace(",", " ").split()) + "]",
            text,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
