"""The results file of the benchmark: its schema, its validation, and its text summary.

The results file (``SCHEMA_VERSION`` 1) is a JSON object; ``validate_results`` checks it and documents it:

* ``schema``, ``schema_version``, ``mode`` (``quick``, ``full`` or ``custom``), ``command``, ``date`` (ISO 8601),
  ``notes``;
* ``machine``: ``cpu``, ``physical_cores``, ``logical_cpus``, ``platform``, ``python``, ``numpy``, ``torch``,
  ``torch_threads``, ``blas`` (NumPy's BLAS libraries, with their thread counts), ``device``, ``gpu``,
  ``cuda``, ``matmul_tflops`` (a square matrix product in the run's dtype), ``huge_pages`` (the kernel's and
  PyTorch's huge-page settings), ``load_average`` (before and after);
* ``settings``: the ``Settings`` of the run (``clock`` says which clock the times come from), plus ``device``
  and ``dtype``;
* ``implementations``: name -> what it runs;
* ``timings``: one row per implementation, pass, width and length (``TIMING_FIELDS``);
* ``memory``: one row per implementation, pass and length (``MEMORY_FIELDS``), and ``memory_method``;
* ``generation``: rows of ``GENERATION_FIELDS``: greedy generation with and without the key/value cache;
* ``rechecks``: rows of ``RECHECK_FIELDS``: sizes where a paired target first looked missed, timed again with
  many more rounds (``recheck_missed``);
* ``targets``: one row per target (``TARGET_FIELDS``), computed from the rows above.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

try:
    import resource  # Unix only: page-fault counts
except ImportError:  # pragma: no cover - Windows
    resource = None

from transformer_tutorial import results as stored
from transformer_tutorial.experiments.benchmark.targets import TARGETS, paired_ratio
from transformer_tutorial.experiments.benchmark.workloads import (
    BASELINE,
    IMPLEMENTATIONS,
    PASSES,
)

RESULT = "cpu-benchmark"  # the stored CPU run; a GPU run is stored under its own name by benchmarks/gpu.sh


SCHEMA = "transformer-tutorial/benchmark"


SCHEMA_VERSION = 1


# The columns of the rows in the results file: name -> the types a value may have.
TIMING_FIELDS: dict[str, tuple[type, ...]] = {
    "implementation": (str,),
    "pass": (str,),
    "d_model": (int,),
    "length": (int,),
    "median_s": (float, type(None)),  # None when the call failed (see error)
    # every timed call, in order, after the warm-up, by settings.clock
    "times_s": (list,),
    # the median by time.perf_counter (the same when clock is "wall")
    "wall_median_s": (
        float,
        type(None),
    ),
    # median minor page faults per call (None where unknown)
    "page_faults": (
        int,
        type(None),
    ),
    # model FLOPs of one call: 2 x multiply-adds, x3 for forward+backward
    "flops": (int,),
    "tflops": (float, type(None)),
    # median_s / median_s of torch-mha for the same pass, width and length
    "ratio_to_mha": (
        float,
        type(None),
    ),
    # paired_ratio against torch-mha, where timed in the same rounds
    "paired_ratio_to_mha": (
        float,
        type(None),
    ),
    "error": (str, type(None)),
}


MEMORY_FIELDS: dict[str, tuple[type, ...]] = {
    "implementation": (str,),
    "pass": (str,),
    "d_model": (int,),
    "length": (int,),
    "peak_bytes": (int, type(None)),  # above what was allocated before the call
    # the size of one (B, H, T, S) tensor of attention weights in the run's dtype
    "weights_bytes": (int,),
    "error": (str, type(None)),
}


GENERATION_FIELDS: dict[str, tuple[type, ...]] = {
    "d_model": (int,),
    "prompt_length": (int,),
    "new_tokens": (int,),
    "cached_s": (float,),
    "recompute_s": (float,),
    "ratio": (float,),  # cached_s / recompute_s
}


TARGET_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "description": (str,),
    "numerator": (str,),
    "denominator": (str,),
    "pass": (str,),
    "limit": (float,),  # the target holds where numerator / denominator <= limit
    # "median of round-by-round ratios" (same rounds) or "ratio of medians"
    "estimator": (str,),
    # [{"d_model", "length", "ratio", "ratio_of_medians"}] (generation: the prompt length)
    "ratios": (list,),
    "worst": (float, type(None)),
    "geometric_mean": (float, type(None)),
    # "met" (every ratio within the limit), "missed" or "not measured"
    "status": (str,),
}


RESULTS_FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (str,),
    "schema_version": (int,),
    "mode": (str,),
    "command": (str,),
    "date": (str,),
    "notes": (str,),
    "machine": (dict,),
    "settings": (dict,),
    "implementations": (dict,),
    "timings": (list,),
    "memory_method": (str,),
    "memory": (list,),
    "generation": (list,),
    "rechecks": (list,),
    "targets": (list,),
}


RECHECK_FIELDS: dict[str, tuple[type, ...]] = {
    "target": (str,),
    "d_model": (int,),
    "length": (int,),
    "rounds": (int,),
    # the ratio of the first measurement, above the target's limit
    "first_ratio": (float,),
    # the median of the recheck's round-by-round ratios: it decides the size
    "ratio": (float,),
    "quartiles": (list,),  # the first and third quartiles of those ratios
}


SETTINGS_FIELDS: dict[str, tuple[type, ...]] = {
    "batch": (int,),
    "num_heads": (int,),
    "widths": (list,),
    "lengths": (list,),
    "memory_lengths": (list,),
    "warmup": (int,),
    "min_repeats": (int,),
    "max_repeats": (int,),
    "budget_s": (float,),
    "pause_s": (float,),
    "matmul_size": (int,),
    "clock": (str,),  # "wall" or "process"
    "device": (str,),  # "cpu" or "cuda"
    "dtype": (str,),  # "float32" or "bfloat16"
}


MACHINE_FIELDS: dict[str, tuple[type, ...]] = {
    "cpu": (str,),
    "physical_cores": (int, type(None)),
    "logical_cpus": (int, type(None)),
    "platform": (str,),
    "python": (str,),
    "numpy": (str,),
    "torch": (str,),
    "torch_threads": (int,),
    "blas": (list,),
    "device": (str,),
    "gpu": (str, type(None)),
    "cuda": (str, type(None)),
    "matmul_tflops": (float,),
    "huge_pages": (str,),
    "load_average": (dict,),
}


def _check_fields(where: str, row: Any, fields: dict[str, tuple[type, ...]]) -> None:
    if not isinstance(row, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(row).__name__}")
    missing = [name for name in fields if name not in row]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    for name, types in fields.items():
        value = row[name]
        if isinstance(value, bool) or not isinstance(value, types):
            if (
                float in types
                and isinstance(value, int)
                and not isinstance(value, bool)
            ):
                continue  # JSON does not tell 1.0 from 1
            expected = " or ".join(
                "null" if t is type(None) else t.__name__ for t in types
            )
            raise ValueError(f"{where}.{name} must be {expected}, got {value!r}")


def validate_results(results: Any) -> None:
    """Raise ``ValueError`` naming the first field
    of ``results`` that does not follow the schema.

    The schema: the fields and types of ``RESULTS_FIELDS``, ``MACHINE_FIELDS``, ``TIMING_FIELDS``, ``MEMORY_FIELDS``,
    ``GENERATION_FIELDS``, ``RECHECK_FIELDS`` and ``TARGET_FIELDS``; known implementation and pass names; positive
    times; one median per row that is the median of its times; every ratio to ``torch-mha`` consistent with the two
    medians.

    Examples:
        >>> validate_results([])
        Traceback (most recent call last):
        ...
        ValueError: results must be a JSON object, got list
    """
    _check_fields("results", results, RESULTS_FIELDS)
    if results["schema"] != SCHEMA or results["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"results is not {SCHEMA} version {SCHEMA_VERSION}")
    _check_fields("machine", results["machine"], MACHINE_FIELDS)
    _check_fields("settings", results["settings"], SETTINGS_FIELDS)
    if results["settings"]["clock"] not in ("wall", "process"):
        raise ValueError(
            f"settings.clock must be 'wall' or 'process', got {results['settings']['clock']!r}"
        )
    medians = {}
    for i, row in enumerate(results["timings"]):
        where = f"timings[{i}]"
        _check_fields(where, row, TIMING_FIELDS)
        if row["implementation"] not in IMPLEMENTATIONS:
            raise ValueError(
                f"{where}.implementation is unknown: {row['implementation']!r}"
            )
        if row["pass"] not in PASSES:
            raise ValueError(
                f"{where}.pass must be one of {PASSES}, got {row['pass']!r}"
            )
        if (row["median_s"] is None) == (row["error"] is None):
            raise ValueError(f"{where} must have either a median_s or an error")
        if row["median_s"] is not None:
            if not row["times_s"] or min(row["times_s"]) <= 0:
                raise ValueError(f"{where}.times_s must hold positive times")
            if not math.isclose(
                row["median_s"], statistics.median(row["times_s"]), rel_tol=1e-3
            ):
                raise ValueError(f"{where}.median_s is not the median of times_s")
            medians[
                (row["pass"], row["d_model"], row["length"], row["implementation"])
            ] = row["median_s"]
    baseline_times = {
        (row["pass"], row["d_model"], row["length"]): row["times_s"]
        for row in results["timings"]
        if row["implementation"] == BASELINE
    }
    for i, row in enumerate(results["timings"]):
        key = (row["pass"], row["d_model"], row["length"])
        baseline = medians.get((*key, BASELINE))
        if row["ratio_to_mha"] is not None and (
            baseline is None
            or not math.isclose(
                row["ratio_to_mha"], row["median_s"] / baseline, rel_tol=1e-2
            )
        ):
            raise ValueError(f"timings[{i}].ratio_to_mha does not match the medians")
        if row["paired_ratio_to_mha"] is not None:
            paired = paired_ratio(row["times_s"], baseline_times.get(key, []))
            if paired is None or not math.isclose(
                row["paired_ratio_to_mha"], paired, rel_tol=1e-2
            ):
                raise ValueError(
                    f"timings[{i}].paired_ratio_to_mha does not match the times"
                )
    for i, row in enumerate(results["memory"]):
        _check_fields(f"memory[{i}]", row, MEMORY_FIELDS)
    for i, row in enumerate(results["generation"]):
        _check_fields(f"generation[{i}]", row, GENERATION_FIELDS)
    for i, row in enumerate(results["rechecks"]):
        _check_fields(f"rechecks[{i}]", row, RECHECK_FIELDS)
    names = []
    for i, row in enumerate(results["targets"]):
        _check_fields(f"targets[{i}]", row, TARGET_FIELDS)
        if row["status"] not in ("met", "missed", "not measured"):
            raise ValueError(f"targets[{i}].status is unknown: {row['status']!r}")
        names.append(row["name"])
    if names != [target.name for target in TARGETS]:
        raise ValueError(
            f"targets must be {[target.name for target in TARGETS]}, got {names}"
        )


def format_targets(results: dict[str, Any]) -> str:
    """One line per target: its worst and geometric-mean
    ratio against its limit, and whether it holds."""
    lines = []
    for row in results["targets"]:
        if row["worst"] is None:
            lines.append(f"{row['name']}: {row['status']}")
            continue
        rechecked = sum("first_ratio" in entry for entry in row["ratios"])
        again = f", {rechecked} measured again" if rechecked else ""
        lines.append(
            f"{row['name']}: worst {row['worst']:.2f}, geometric mean {row['geometric_mean']:.2f} "
            f"(limit {row['limit']:g}, {len(row['ratios'])} sizes, {row['estimator']}{again}): {row['status']}"
        )
    return "\n".join(lines)


def format_summary(results: dict[str, Any]) -> str:
    """The medians as text tables, one per pass and
    width: milliseconds, and the ratio to torch-mha."""
    lines = [
        f"{results['machine']['device']} ({results['machine']['cpu']}), {results['settings']['dtype']}, "
        f"batch {results['settings']['batch']}, {results['settings']['num_heads']} heads, "
        f"{results['machine']['torch_threads']} threads, clock {results['settings']['clock']}, {results['date']}",
    ]
    rows = results["timings"]
    for pass_ in PASSES:
        for width in results["settings"]["widths"]:
            names = [
                n
                for n in IMPLEMENTATIONS
                if any(r["implementation"] == n and r["pass"] == pass_ for r in rows)
            ]
            if not names:
                continue
            lines += [
                "",
                f"{pass_}, d_model={width}: median ms (ratio to {BASELINE}; round by round where paired)",
            ]
            lines.append("length " + " ".join(f"{name:>22}" for name in names))
            for length in results["settings"]["lengths"]:
                cells = []
                for name in names:
                    match = [
                        r
                        for r in rows
                        if (r["implementation"], r["pass"], r["d_model"], r["length"])
                        == (name, pass_, width, length)
                    ]
                    row = match[0] if match else None
                    if row is None or row["median_s"] is None:
                        cells.append(f"{'-' if row is None else 'error':>22}")
                    else:
                        ratio = row["paired_ratio_to_mha"] or row["ratio_to_mha"]
                        ratio = "" if ratio is None else f" ({ratio:.2f})"
                        cells.append(f"{row['median_s'] * 1e3:>14.3f}{ratio:>8}")
                lines.append(f"{length:>6} " + " ".join(cells))
    lines += ["", format_targets(results)]
    return "\n".join(lines)


def dumps_results(results: dict[str, Any]) -> str:
    """The results as JSON text with one row per
    line, so that a stored file reads and diffs well."""
    return stored.dumps(results)
