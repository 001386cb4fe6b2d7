"""The benchmark's workloads and measurements: every implementation computes the same thing, and the FLOP counts,
memory peaks, clocks and page faults it records are right.

No test here asserts a speed: timings depend on the machine and its load.
"""

import dataclasses
import time

import numpy as np

try:
    import resource
except ImportError:  # Windows
    resource = None
import pytest
import torch

from transformer_tutorial import results as stored
from transformer_tutorial.experiments.benchmark import (
    PASSES,
    QUICK,
    build_workload,
    large_tensor_ops,
    model_flops,
    peak_memory_bytes,
    time_interleaved,
)
from transformer_tutorial.torch.attention import merge_heads

CPU = torch.device("cpu")
STORED = [
    name
    for name in stored.names()
    if name == "cpu-benchmark" or name.startswith("gpu-")
]
THREADS_AT_START = torch.get_num_threads()
needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)


# --- What the benchmark times is the same computation everywhere ---------------------------------------------


@pytest.fixture(scope="module")
def workload():
    return build_workload(d_model=16, num_heads=2, length=8, batch=2)


def test_every_forward_case_computes_nn_multihead_attention(workload):
    expected = workload.cases["torch-mha"].forward()
    for name in ("torch-explicit", "torch-fused", "torch-mha-weights"):
        torch.testing.assert_close(
            workload.cases[name].forward(), expected, rtol=0, atol=1e-6, msg=name
        )
    with torch.no_grad():
        heads = workload.cases["torch-sdpa"].forward()  # (B, H, T, d)
        torch.testing.assert_close(
            workload.ours.out_proj(merge_heads(heads)), expected, rtol=0, atol=1e-6
        )
    np.testing.assert_allclose(
        workload.cases["numpy-float64"].forward(), expected.double(), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        workload.cases["numpy-float32"].forward(), expected, rtol=0, atol=1e-6
    )


def test_the_numpy_float32_case_really_runs_in_float32(workload):
    # NumPy 2 promotes float32 / np.float64 scalar to float64: a benchmark of "float32" would time float64.
    assert workload.cases["numpy-float32"].forward().dtype == np.float32
    assert workload.cases["numpy-float64"].forward().dtype == np.float64


def test_every_backward_case_computes_the_same_gradients(workload):
    grads = {}
    for name in ("torch-explicit", "torch-fused", "torch-mha"):
        case = workload.cases[name]
        case.reset()
        case.forward_backward()
        if name == "torch-mha":
            weight = workload.reference.in_proj_weight.grad
            grads[name] = (*weight.chunk(3), workload.reference.out_proj.weight.grad)
        else:
            ours = workload.ours
            grads[name] = tuple(
                p.weight.grad.clone()
                for p in (ours.q_proj, ours.k_proj, ours.v_proj, ours.out_proj)
            )
    for name in ("torch-explicit", "torch-fused"):
        for got, expected in zip(grads[name], grads["torch-mha"], strict=True):
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-5, msg=name)


def test_the_reset_drops_the_gradients_so_each_backward_starts_afresh(workload):
    case = workload.cases["torch-fused"]
    case.reset()
    case.forward_backward()
    first = workload.ours.q_proj.weight.grad.clone()
    case.reset()
    assert workload.ours.q_proj.weight.grad is None
    case.forward_backward()
    torch.testing.assert_close(workload.ours.q_proj.weight.grad, first, rtol=0, atol=0)


# --- The measurements themselves -----------------------------------------------------------------------------


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("name", ["torch-fused", "torch-mha", "torch-sdpa"])
def test_model_flops_match_an_independent_count(name, pass_):
    batch, length, width, heads = 3, 10, 12, 4
    # W^Q, W^K, W^V, W^O
    projections = 0 if name == "torch-sdpa" else 4 * length * width * width
    # Q·Kᵀ and weights·V over all heads: T·S·d per head each
    attention = 2 * length * length * width
    forward = 2 * batch * (projections + attention)
    expected = forward if pass_ == "forward" else 3 * forward
    assert model_flops(name, pass_, batch, length, width, heads) == expected


def test_peak_memory_on_the_cpu_counts_what_is_held_at_once():
    def two_at_once():
        a = torch.empty(1000, 1000)  # 4 MB each
        b = torch.empty(1000, 1000)
        return a, b

    def one_after_another():
        for _ in range(3):
            torch.empty(1000, 1000)

    assert peak_memory_bytes(two_at_once, CPU) == 8_000_000
    assert peak_memory_bytes(one_after_another, CPU) == 4_000_000


def test_the_explicit_path_holds_the_weights_and_the_fused_path_does_not():
    work = build_workload(d_model=16, num_heads=4, length=256)
    # (B, H, T, S) float32: 1 MiB, against 16 KiB for each projected input
    weights = 4 * 256 * 256 * 4
    assert peak_memory_bytes(work.cases["torch-explicit"].forward, CPU) >= weights
    assert peak_memory_bytes(work.cases["torch-fused"].forward, CPU) < weights / 4


def test_a_call_that_runs_out_of_memory_is_recorded_and_the_others_still_timed():
    def too_big():
        raise MemoryError("pretend")

    settings = dataclasses.replace(QUICK, min_repeats=3, max_repeats=3)
    nothing = {"small": lambda: None, "big": lambda: None}
    samples = time_interleaved(
        {"small": lambda: 1 + 1, "big": too_big}, nothing, settings, CPU
    )
    assert (
        samples["big"].error == "out of memory: pretend"
        and samples["small"].error is None
    )
    assert samples["big"].times == samples["big"].wall_times == []
    assert len(samples["small"].times) == len(samples["small"].wall_times) == 3


@pytest.mark.parametrize("clock", ["wall", "process"])
def test_the_clock_decides_which_times_are_kept(clock):
    def sleep_a_little():
        time.sleep(0.002)  # two milliseconds on the wall clock, next to no CPU time

    settings = dataclasses.replace(
        QUICK, warmup=1, min_repeats=2, max_repeats=2, clock=clock
    )
    samples = time_interleaved(
        {"sleep": sleep_a_little}, {"sleep": lambda: None}, settings, CPU
    )["sleep"]
    assert len(samples.times) == 2 and min(samples.wall_times) >= 0.002
    assert (min(samples.times) >= 0.002) == (clock == "wall")


@pytest.mark.skipif(
    resource is None,
    reason="page faults are counted through the resource module (Unix)",
)
def test_page_faults_count_the_first_touch_of_fresh_memory():
    def touch_fresh_pages():
        # 64 MiB: at least 16 384 pages of 4 KiB, or 32 huge pages of 2 MiB
        np.ones(64 * 2**20 // 8)

    settings = dataclasses.replace(QUICK, warmup=1, min_repeats=2, max_repeats=2)
    samples = time_interleaved(
        {"a": touch_fresh_pages, "b": lambda: None},
        {"a": lambda: None, "b": lambda: None},
        settings,
        CPU,
    )
    assert min(samples["a"].page_faults) >= 32 and max(samples["b"].page_faults) < 32


def test_large_tensor_ops_lists_the_score_sized_passes_of_each_path():
    work = build_workload(d_model=8, num_heads=2, length=32)
    size = 2 * 32 * 32  # B·H·T·S, eight times the size of a projected input (B·T·D)
    explicit = large_tensor_ops(work.cases["torch-explicit"].forward, size)
    # the scores, then the softmax's passes
    assert explicit[0] == "bmm" and "exp" in explicit
    assert large_tensor_ops(work.cases["torch-fused"].forward, size) == []
    # views are no new tensor
    assert large_tensor_ops(lambda: torch.ones(size).view(2, -1).t(), size) == ["ones"]
