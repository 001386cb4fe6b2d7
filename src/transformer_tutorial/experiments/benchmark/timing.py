"""How the benchmark times a call: interleaved rounds, two clocks, page faults, and peak memory.

Each group of implementations that share a thread pool (NumPy's BLAS on one side, PyTorch's OpenMP on the other) is
warmed up, then timed in interleaved rounds, one call per implementation per round, so that a change in the machine's
load touches all of them alike; the result is the median over the rounds. Two pools never run in the same loop: their
idle threads spin for a while after each call and slow the other pool down.

Why not ``torch.utils.benchmark.Timer`` for every call: it times one statement at a time, and each
``Timer.timeit(number)`` first runs ``max(number // 100, 2)`` untimed warm-up calls (torch 2.13,
``torch/utils/benchmark/utils/timer.py``; ``tests/test_benchmark.py`` counts them). Timing one call per implementation
per round through it would run every call three times, tripling a run that already takes minutes on two cores, and it
reads one clock per call where the results keep two (``time.process_time`` and ``time.perf_counter``) and the page
faults. So the rounds are timed here by hand; the device's ceiling (``matmul_tflops``) has no rounds to interleave and
goes through ``Timer.blocked_autorange``.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import resource  # Unix only: page-fault counts
except ImportError:  # pragma: no cover - Windows
    resource = None
import torch
import torch.utils._pytree
from torch.utils.benchmark import Timer

from transformer_tutorial.experiments.benchmark.workloads import Settings, nothing


def out_of_memory_errors() -> tuple[type[BaseException], ...]:
    return (
        getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError),
        MemoryError,
    )


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def synchronizer(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else nothing


@dataclass
class Samples:
    """What ``time_interleaved`` measured of one call,
    one entry per timed call (the warm-up left out)."""

    # seconds, by settings.clock
    times: list[float] = dataclasses.field(default_factory=list)
    # seconds, by time.perf_counter
    wall_times: list[float] = dataclasses.field(default_factory=list)
    # minor page faults (empty if unknown)
    page_faults: list[int] = dataclasses.field(default_factory=list)
    error: str | None = (
        None  # "out of memory: ..." when the call ran out of memory; then nothing is timed
    )


def _minor_page_faults() -> int | None:
    """Minor page faults of this process so far: each
    is the first touch of a fresh page of memory."""
    return (
        None if resource is None else resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    )


def time_interleaved(
    calls: dict[str, Callable[[], Any]],
    resets: dict[str, Callable[[], None]],
    settings: Settings,
    device: torch.device,
) -> dict[str, Samples]:
    """Warm every call up, then time them in
    interleaved rounds (one call each per round).

    Every call is timed with two clocks, ``time.perf_counter`` (wall-clock time) and ``time.process_time`` (the CPU time
    of this process, all its threads together), and its minor page faults are counted. ``settings.clock`` says which
    clock decides the number of rounds and fills ``Samples.times``. A call that runs out of memory gets an error and
    leaves the rounds; the others go on.
    """
    sync = synchronizer(device)
    samples = {name: Samples() for name in calls}
    warm: dict[str, float] = {}

    def timed(name: str) -> bool:
        resets[name]()
        try:
            sync()
            faults, wall, cpu = (
                _minor_page_faults(),
                time.perf_counter(),
                time.process_time(),
            )
            calls[name]()
            sync()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        except out_of_memory_errors() as error:
            samples[name] = Samples(
                error=f"out of memory: {str(error).splitlines()[0][:200]}"
            )
            free_memory(device)
            return False
        record = samples[name]
        record.times.append(cpu if settings.clock == "process" else wall)
        record.wall_times.append(wall)
        if faults is not None:
            record.page_faults.append(_minor_page_faults() - faults)
        return True

    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection in the middle of one call would land on whichever call was running
    try:
        for name in calls:
            for _ in range(settings.warmup):
                if not timed(name):
                    break
                warm[name] = samples[name].times[-1]
                samples[name] = Samples()  # the warm-up is not kept
        live = [name for name in calls if samples[name].error is None]
        per_round = sum(warm.get(name, 0.0) for name in live)
        wanted = (
            math.ceil(settings.budget_s / per_round)
            if per_round > 0
            else settings.max_repeats
        )
        rounds = min(settings.max_repeats, max(settings.min_repeats, wanted))
        for _ in range(rounds):
            for name in live:
                if samples[name].error is None:
                    timed(name)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def large_tensor_ops(call: Callable[[], Any], min_elements: int) -> list[str]:
    """The ATen operations that ``call()`` runs which write
    a new tensor of at least ``min_elements`` elements.

    Views (a transpose, a reshape that copies nothing) share their input's memory and are left out. With
    ``min_elements`` = B·H·T·S, this lists every pass that writes a whole score-sized tensor to memory: the traffic that
    makes an explicit path slow at long lengths. Operations inside a fused kernel are not seen.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    class Recorder(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.names: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            output = func(*args, **(kwargs or {}))
            inputs = {
                a.untyped_storage().data_ptr()
                for a in torch.utils._pytree.tree_leaves((args, kwargs))
                if _is_dense(a)
            }
            fresh = [
                result
                for result in torch.utils._pytree.tree_leaves(output)
                if _is_dense(result)
                and result.untyped_storage().data_ptr() not in inputs
            ]
            if any(result.numel() >= min_elements for result in fresh):
                self.names.append(func.overloadpacket.__name__)
            return output

    with Recorder() as recorder:
        call()
    return recorder.names


def _is_dense(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.layout == torch.strided


def peak_memory_bytes(call: Callable[[], Any], device: torch.device) -> int:
    """The most memory that ``call()`` held at once,
    above what was allocated before it, in bytes.

    On CUDA this is ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``. On the CPU, PyTorch keeps no
    such counter, so the call runs under ``torch.profiler`` with ``profile_memory=True``, which records every allocation
    and every release of PyTorch's CPU allocator (those inside kernels too) with its size; the peak is the largest
    running sum of those sizes. Memory that NumPy allocates is not seen.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        call()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        call()
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / "trace.json"
        profiler.export_chrome_trace(str(trace))
        events = json.loads(trace.read_text(encoding="utf-8"))["traceEvents"]
    changes = sorted(
        (event["ts"], event["args"]["Bytes"])
        for event in events
        if event.get("name") == "[memory]"
        and event["args"].get("Device Type") == 0  # 0: the CPU
    )
    live = peak = 0
    for _, size in changes:
        live += size
        peak = max(peak, live)
    return int(peak)


def matmul_tflops(
    device: torch.device, dtype: torch.dtype, size: int, clock: str = "wall"
) -> float:
    """Throughput of one square (size x size) matrix product
    in TFLOP/s: about as fast as the device multiplies.

    The median time per product from ``torch.utils.benchmark.Timer.blocked_autorange``, read with the run's clock:
    ``"wall"`` (Timer's own clock, which synchronises a GPU) or ``"process"`` (this process's CPU time).
    """
    generator = torch.Generator(device="cpu").manual_seed(0)
    a, b = (
        torch.randn(size, size, generator=generator).to(device=device, dtype=dtype)
        for _ in range(2)
    )
    options = {"timer": time.process_time} if clock == "process" else {}
    timer = Timer(
        "a @ b",
        globals={"a": a, "b": b},
        num_threads=torch.get_num_threads(),
        **options,
    )
    return 2 * size**3 / timer.blocked_autorange(min_run_time=0.5).median / 1e12


def round_to(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")
