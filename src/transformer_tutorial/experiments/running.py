"""How the training-and-timing experiments run: on one thread, stored with what made them, from one command line.

Tiny models run fastest and most steadily on one PyTorch thread and one BLAS thread, and then every machine
computes the same numbers; ``one_thread`` sets both for a block and gives the caller's count back.
``stored_run`` adds to the measurements what every stored result names (command, date, machine, settings);
``flat_provenance`` does the same for the two older results that keep them at the top level. ``command_line`` is
the ``--quick`` / ``--store`` / ``--output`` interface they share.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import torch
from threadpoolctl import threadpool_limits

from transformer_tutorial.experiments import add_destination, keep
from transformer_tutorial.experiments.benchmark import machine_info


@contextmanager
def one_thread() -> Iterator[None]:
    """One PyTorch thread and one BLAS thread while the block runs; the caller's thread count afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(previous)


def stored_run(module: str, settings: Any, measured: dict[str, Any]) -> dict[str, Any]:
    """``measured`` after the command that made it, the date, this machine and the ``settings`` (a dataclass)."""
    return {
        "command": f"python -m transformer_tutorial.experiments.{module} "
        + shlex.join(sys.argv[1:]),
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine_info(torch.device("cpu")),
        "settings": json.loads(json.dumps(asdict(settings))),
        **measured,
    }


def flat_provenance(module: str) -> dict[str, Any]:
    """The date, this machine in four fields and the storing command, for the results that keep them at the top
    level (the character model, the reversal run) rather than in ``stored_run``'s ``machine``."""
    machine = machine_info(torch.device("cpu"))
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine["cpu"],
        "logical_cpus": machine["logical_cpus"],
        "python": machine["python"],
        "torch": machine["torch"],
        "command": f"python -m transformer_tutorial.experiments.{module} --store",
    }


def command_line(
    module: str,
    result: str,
    run: Callable[[Any], dict[str, Any]],
    settings: Any,
    quick: Any,
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run ``run(settings)`` (``run(quick)`` with ``--quick``), print its summary if it has one, and store it
    where ``--store`` or ``--output`` asks."""
    parser = argparse.ArgumentParser(
        prog=f"python -m transformer_tutorial.experiments.{module}",
        description=(sys.modules[run.__module__].__doc__ or "").split("\n")[0],
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: seconds (for the tests)"
    )
    add_destination(parser, result)
    args = parser.parse_args(argv)
    results = run(quick if args.quick else settings)
    if "summary" in results:
        print(json.dumps(results["summary"], indent=2))
    keep(args, result, results)
    return results
