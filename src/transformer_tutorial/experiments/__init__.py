"""The commands that measure, and store what they measured among ``transformer_tutorial.results``.

Each module runs as ``python -m transformer_tutorial.experiments.<name>``: ``benchmark`` (attention's time and memory),
``parallelism`` (a Transformer layer against an LSTM, one pass against generation), ``reversal`` (the training chapter's
model from several seeds), ``vit_digits`` (the tiny Vision Transformer), ``heads`` (what the heads of all-MiniLM-L6-v2
attend to), ``head_count`` (one head against four on a task with two jobs), ``character_model`` (the character model
that writes, stored as a checkpoint) and ``gradients`` (how much gradient reaches the bottom of a deep stack). An
experiment may use both backends; no backend imports an experiment.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from transformer_tutorial import results


def add_destination(parser: argparse.ArgumentParser, name: str) -> None:
    """Give an experiment's command line ``--store`` (into
    the package, as the result ``name``) and ``--output``."""
    parser.add_argument(
        "--store",
        action="store_true",
        help=f"store the results as {name!r} in the package",
    )
    parser.add_argument(
        "--output", type=Path, help="write the results to this JSON file instead"
    )


def processor_name() -> str:
    """The processor's model name, as /proc/cpuinfo gives it where it can."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def provenance(command: str) -> dict[str, Any]:
    """What every stored result names: the command that
    made it, the date (UTC) and the machine it ran on.

    The machine is described without importing torch, so that an experiment that does not need it stays light;
    ``benchmark.machine_info`` records more (threads, BLAS, huge pages) where timings depend on it.
    """

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {
        "command": command,
        "date": datetime.now(UTC).date().isoformat(),
        "machine": {
            "cpu": processor_name(),
            "logical_cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": version("numpy"),
            "torch": version("torch"),
        },
    }


def keep(
    args: argparse.Namespace,
    name: str,
    data: dict[str, Any],
    dumps: Callable[[Any], str] = results.dumps,
) -> Path | None:
    """Write ``data`` where the command line asked
    (``add_destination``), say where, and return the path."""
    destination = args.output or (results.path(name) if args.store else None)
    if destination is not None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(dumps(data), encoding="utf-8")
        print(f"wrote {destination}")
    return destination
