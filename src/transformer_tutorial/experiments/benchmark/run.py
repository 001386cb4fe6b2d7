"""One benchmark run: every width and length of the settings, timed, with memory and generation measured."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

try:
    import resource  # Unix only: page-fault counts
except ImportError:  # pragma: no cover - Windows
    resource = None
import torch
import torch.utils._pytree
from threadpoolctl import threadpool_limits

from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.experiments.benchmark.machine import (
    load_average,
    machine_info,
)
from transformer_tutorial.experiments.benchmark.schema import SCHEMA, SCHEMA_VERSION
from transformer_tutorial.experiments.benchmark.targets import (
    evaluate_targets,
    paired_ratio,
    recheck_missed,
    same_rounds,
)
from transformer_tutorial.experiments.benchmark.timing import (
    free_memory,
    matmul_tflops,
    out_of_memory_errors,
    peak_memory_bytes,
    round_to,
    time_interleaved,
)
from transformer_tutorial.experiments.benchmark.workloads import (
    BASELINE,
    IMPLEMENTATIONS,
    MEMORY_IMPLEMENTATIONS,
    Settings,
    Workload,
    build_workload,
    model_flops,
    nothing,
)
from transformer_tutorial.torch.decoding import greedy_decode
from transformer_tutorial.torch.model import Transformer
from transformer_tutorial.torch.modes import seeded


@contextlib.contextmanager
def restore_threads(threads: int) -> Iterator[None]:
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_benchmark(
    settings: Settings,
    device: str | torch.device = "cpu",
    dtype: str = "float32",
    threads: int | None = None,
    command: str = "",
    notes: str = "",
    mode: str = "custom",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return the results
    (see the module's docstring for the format).

    Args:
        settings: What to measure; ``QUICK``, ``CPU_FULL`` and ``CUDA_FULL`` are the usual ones.
        device: ``"cpu"`` or ``"cuda"``.
        dtype: ``"float32"`` or ``"bfloat16"`` (NumPy is timed only in a float32 run on the CPU).
        threads: Threads for PyTorch and for NumPy's BLAS alike; default: ``torch.get_num_threads()``.
        command: The command line, stored in the results.
        notes: Free text stored in the results (say here if the machine was shared).
        mode: ``"quick"``, ``"full"`` or ``"custom"``, stored in the results.
        progress: Called with a line of text after each group, if given.
    """
    device = torch.device(device)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    threads_before = torch.get_num_threads()
    threads = threads_before if threads is None else threads
    say = progress or (lambda line: None)
    load_before = load_average()
    torch.set_num_threads(threads)
    with (
        restore_threads(threads_before),
        threadpool_limits(limits=threads, user_api="blas"),
    ):
        machine = machine_info(device)
        machine["matmul_tflops"] = round_to(
            matmul_tflops(
                device, torch_dtype, settings.matmul_size, clock=settings.clock
            )
        )
        timings, memory = [], []
        for width in settings.widths:
            for length in settings.lengths:
                workload = build_workload(
                    width,
                    settings.num_heads,
                    length,
                    settings.batch,
                    device,
                    torch_dtype,
                )
                timings += _time_workload(workload, settings, device, width, length)
                if width == settings.widths[-1] and length in settings.memory_lengths:
                    memory += _measure_memory(
                        workload, settings, device, torch_dtype, width, length
                    )
                del workload
                free_memory(device)
                say(f"d_model={width} length={length} done")
        generation = time_generation(settings, device, torch_dtype)
        rechecks = recheck_missed(timings, settings, device, torch_dtype)
    machine["load_average"] = {"before": load_before, "after": load_average()}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "mode": mode,
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "notes": notes,
        "machine": machine,
        "settings": {
            **{
                key: list(value) if isinstance(value, tuple) else value
                for key, value in vars(settings).items()
            },
            "device": device.type,
            "dtype": dtype,
        },
        "implementations": dict(IMPLEMENTATIONS),
        "timings": timings,
        "memory_method": (
            "torch.cuda.max_memory_allocated minus the memory allocated before the call"
            if device.type == "cuda"
            else "torch.profiler(profile_memory=True): the largest running sum of the sizes of the CPU "
            "allocations and releases recorded during the call"
        ),
        "memory": memory,
        "generation": generation,
        "rechecks": rechecks,
        "targets": evaluate_targets(timings, generation, rechecks),
    }


def _time_workload(
    workload: Workload,
    settings: Settings,
    device: torch.device,
    width: int,
    length: int,
) -> list[dict[str, Any]]:
    rows = []
    numpy_cases = {
        name: case for name, case in workload.cases.items() if case.library == "numpy"
    }
    torch_cases = {
        name: case for name, case in workload.cases.items() if case.library == "torch"
    }
    groups = [
        (
            "forward",
            numpy_cases,
            {name: case.forward for name, case in numpy_cases.items()},
        ),
        (
            "forward",
            torch_cases,
            {name: case.forward for name, case in torch_cases.items()},
        ),
        (
            "forward+backward",
            torch_cases,
            {name: case.forward_backward for name, case in torch_cases.items()},
        ),
    ]
    medians: dict[tuple[str, str], float] = {}
    last_library = None
    for pass_, cases, calls in groups:
        if not calls:
            continue
        library = next(iter(cases.values())).library
        if library != last_library:
            # let the other thread pool's idle threads stop spinning
            time.sleep(settings.pause_s)
        last_library = library
        resets = {name: case.reset for name, case in cases.items()}
        measured = time_interleaved(calls, resets, settings, device)
        for name in calls:
            record = measured[name]
            median = statistics.median(record.times) if record.times else None
            wall = statistics.median(record.wall_times) if record.wall_times else None
            faults = (
                round(statistics.median(record.page_faults))
                if record.page_faults
                else None
            )
            if median is not None:
                medians[(name, pass_)] = median
            flops = model_flops(
                name, pass_, settings.batch, length, width, settings.num_heads
            )
            rows.append(
                {
                    "implementation": name,
                    "pass": pass_,
                    "d_model": width,
                    "length": length,
                    "median_s": None if median is None else round_to(median),
                    "times_s": [round_to(t) for t in record.times],
                    "wall_median_s": None if wall is None else round_to(wall),
                    "page_faults": faults,
                    "flops": flops,
                    "tflops": None
                    if median is None
                    else round_to(flops / median / 1e12),
                    "ratio_to_mha": None,
                    "paired_ratio_to_mha": None,
                    "error": record.error,
                }
            )
    for row in rows:
        baseline = medians.get((BASELINE, row["pass"]))
        mine = medians.get((row["implementation"], row["pass"]))
        if baseline is not None and mine is not None:
            row["ratio_to_mha"] = round_to(mine / baseline)
    baselines = {
        row["pass"]: row["times_s"] for row in rows if row["implementation"] == BASELINE
    }
    for row in rows:
        if same_rounds(row["implementation"], BASELINE) and row["pass"] in baselines:
            paired = paired_ratio(row["times_s"], baselines[row["pass"]])
            row["paired_ratio_to_mha"] = None if paired is None else round_to(paired)
    return rows


def _measure_memory(
    workload: Workload,
    settings: Settings,
    device: torch.device,
    dtype: torch.dtype,
    width: int,
    length: int,
) -> list[dict[str, Any]]:
    weights_bytes = (
        settings.batch
        * settings.num_heads
        * length
        * length
        * torch.finfo(dtype).bits
        // 8
    )
    rows = []
    for name in MEMORY_IMPLEMENTATIONS:
        case = workload.cases[name]
        for pass_, call in (
            ("forward", case.forward),
            ("forward+backward", case.forward_backward),
        ):
            case.reset()
            try:
                peak, error = peak_memory_bytes(call, device), None
            except out_of_memory_errors() as failure:
                peak, error = (
                    None,
                    f"out of memory: {str(failure).splitlines()[0][:200]}",
                )
                free_memory(device)
            rows.append(
                {
                    "implementation": name,
                    "pass": pass_,
                    "d_model": width,
                    "length": length,
                    "peak_bytes": peak,
                    "weights_bytes": weights_bytes,
                    "error": error,
                }
            )
    return rows


# --8<-- [start:generation]
def time_generation(
    settings: Settings, device: torch.device, dtype: torch.dtype
) -> list[dict[str, Any]]:
    """Greedy generation of ``settings.generation_tokens``
    tokens with the key/value cache and without it.

    The model is the package's encoder-decoder ``Transformer`` (two layers, the first width of the settings, random
    weights: speed does not depend on what the weights have learned), reading a source of ``prompt_length`` tokens.
    Without the cache every step runs the decoder over the whole prefix again; with it, each step processes only the
    newest token. Both produce the same tokens (``tests/test_training.py``).
    """
    width, prompt_length, new_tokens = (
        settings.widths[0],
        32,
        settings.generation_tokens,
    )
    with seeded(0):  # the caller's global random state is given back
        config = TransformerConfig(
            16,
            16,
            d_model=width,
            num_heads=settings.num_heads,
            num_layers=2,
            d_ff=4 * width,
            dropout=0.0,
            max_len=max(prompt_length, new_tokens + 1),
        )
        model = Transformer(config).to(device=device, dtype=dtype).eval()
        src = torch.randint(3, 16, (1, prompt_length), device=device)
    calls = {
        "cached": lambda: greedy_decode(
            model, src, new_tokens, use_cache=True, stop_at_eos=False
        ),
        "recompute": lambda: greedy_decode(
            model, src, new_tokens, use_cache=False, stop_at_eos=False
        ),
    }
    samples = time_interleaved(calls, dict.fromkeys(calls, nothing), settings, device)
    cached, recompute = (
        statistics.median(samples[name].times) for name in ("cached", "recompute")
    )
    return [
        {
            "d_model": width,
            "prompt_length": prompt_length,
            "new_tokens": new_tokens,
            "cached_s": round_to(cached),
            "recompute_s": round_to(recompute),
            "ratio": round_to(cached / recompute),
        }
    ]


# --8<-- [end:generation]
