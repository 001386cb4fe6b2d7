"""The commands that measure, and store what they measured among ``transformer_tutorial.results``.

Each module runs as ``python -m transformer_tutorial.experiments.<name>``: ``benchmark`` (attention's time and
memory), ``parallelism`` (a Transformer layer against an LSTM, one pass against generation), ``reversal`` (the
training chapter's model from several seeds), ``vit_digits`` (the tiny Vision Transformer), ``heads`` (what the
heads of all-MiniLM-L6-v2 attend to), ``head_count`` (one head against four on a task with two jobs),
``character_model`` (the character model that writes, stored as a checkpoint) and ``gradients`` (how much
gradient reaches the bottom of a deep stack).
An experiment may use both backends; no backend imports an experiment.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformer_tutorial import results


def add_destination(parser: argparse.ArgumentParser, name: str) -> None:
    """Give an experiment's command line ``--store`` (into the package, as the result ``name``) and ``--output``."""
    parser.add_argument(
        "--store",
        action="store_true",
        help=f"store the results as {name!r} in the package",
    )
    parser.add_argument(
        "--output", type=Path, help="write the results to this JSON file instead"
    )


def keep(
    args: argparse.Namespace,
    name: str,
    data: dict[str, Any],
    dumps: Callable[[Any], str] = results.dumps,
) -> Path | None:
    """Write ``data`` where the command line asked (``add_destination``), say where, and return the path."""
    destination = args.output or (results.path(name) if args.store else None)
    if destination is not None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(dumps(data), encoding="utf-8")
        print(f"wrote {destination}")
    return destination
