"""The command line: ``python -m transformer_tutorial.experiments.benchmark [--quick] [--store]``."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from collections.abc import Sequence
from typing import Any

try:
    import resource  # Unix only: page-fault counts
except ImportError:  # pragma: no cover - Windows
    resource = None
import torch
import torch.utils._pytree

from transformer_tutorial.experiments import add_destination, keep
from transformer_tutorial.experiments.benchmark.run import run_benchmark
from transformer_tutorial.experiments.benchmark.schema import (
    RESULT,
    format_summary,
    validate_results,
)
from transformer_tutorial.experiments.benchmark.workloads import (
    CPU_FULL,
    CUDA_FULL,
    QUICK,
)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The command line: run the benchmark, print the
    tables, and write the results file if asked to."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m transformer_tutorial.experiments.benchmark",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, a few repeats: seconds (for the tests)",
    )
    add_destination(parser, RESULT)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument(
        "--threads",
        type=int,
        help="threads for PyTorch and NumPy's BLAS (default: PyTorch's)",
    )
    parser.add_argument(
        "--lengths", type=int, nargs="+", help="override the sequence lengths"
    )
    parser.add_argument(
        "--widths", type=int, nargs="+", help="override the widths (d_model)"
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "process"),
        default="wall",
        help="time.perf_counter (default) or time.process_time, this process's CPU time: use it with --threads 1 "
        "on a machine shared with other jobs",
    )
    parser.add_argument(
        "--notes",
        default="",
        help="free text stored in the results, e.g. 'machine shared'",
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error(
            "--device cuda needs a CUDA device, and torch.cuda.is_available() is False here"
        )
    if args.device == "cuda" and args.clock == "process":
        parser.error(
            "--clock process measures the CPU, not the GPU: use --clock wall with --device cuda"
        )
    settings = (
        QUICK if args.quick else (CUDA_FULL if args.device == "cuda" else CPU_FULL)
    )
    mode = "quick" if args.quick else "full"
    settings = dataclasses.replace(settings, clock=args.clock)
    if args.lengths or args.widths:
        lengths = tuple(args.lengths or settings.lengths)
        settings = dataclasses.replace(
            settings,
            lengths=lengths,
            widths=tuple(args.widths or settings.widths),
            memory_lengths=tuple(n for n in settings.memory_lengths if n in lengths)
            or lengths[-1:],
        )
        mode = "custom"
    results = run_benchmark(
        settings,
        device=args.device,
        dtype=args.dtype,
        threads=args.threads,
        command=shlex.join(
            ["python", "-m", "transformer_tutorial.experiments.benchmark", *argv]
        ),
        notes=args.notes,
        mode=mode,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    validate_results(results)
    print(format_summary(results))
    keep(args, RESULT, results)
    return results


if __name__ == "__main__":
    main()
