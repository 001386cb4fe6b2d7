"""Benchmarks: what each implementation of multi-head attention costs, and how the cost grows with length.

One run times, for every width and sequence length of its settings, the forward pass and the forward and backward passes
of:

* ``numpy-float32`` and ``numpy-float64``: ``transformer_tutorial.numpy.multi_head_attention`` (forward only);
* ``torch-explicit`` and ``torch-fused``: our ``MultiHeadAttention`` with ``fused=False`` and ``fused=True``;
* ``torch-mha``: PyTorch's ``nn.MultiheadAttention`` with ``need_weights=False``, the baseline of every ratio;
* ``torch-mha-weights``: the same module asked for its per-head weights, PyTorch's own explicit path;
* ``torch-sdpa``: ``F.scaled_dot_product_attention`` alone, on heads that are already projected.

It also measures the peak memory of a call (explicit against fused), the matrix-product throughput of the
device as a ceiling, and writes everything, with the machine, the versions, the date and the exact command,
to one JSON file. Run it from the repository root::

    python -m transformer_tutorial.experiments.benchmark --quick                 # seconds; the tests run this
    python -m transformer_tutorial.experiments.benchmark --output results.json   # every size: minutes on 2 cores
    python -m transformer_tutorial.experiments.benchmark --threads 1 --clock process --store  # the stored run
    bash benchmarks/gpu.sh                                           # float32 and bfloat16 on a CUDA card

The parts: ``workloads`` (what is timed), ``timing`` (how a call is timed), ``targets`` (the speed targets and ratios),
``machine`` (what is recorded about the machine), ``schema`` (the results file) and ``run`` (one run); ``__main__`` is
the command line. The names below are the ones the pages and tests use.
"""

from transformer_tutorial.experiments.benchmark.machine import machine_info
from transformer_tutorial.experiments.benchmark.run import (
    run_benchmark,
    time_generation,
)
from transformer_tutorial.experiments.benchmark.schema import (
    RESULT,
    SCHEMA,
    SCHEMA_VERSION,
    dumps_results,
    format_summary,
    format_targets,
    validate_results,
)
from transformer_tutorial.experiments.benchmark.targets import (
    TARGETS,
    evaluate_targets,
    paired_ratio,
    recheck_missed,
)
from transformer_tutorial.experiments.benchmark.timing import (
    large_tensor_ops,
    matmul_tflops,
    peak_memory_bytes,
    time_interleaved,
)
from transformer_tutorial.experiments.benchmark.workloads import (
    BASELINE,
    CPU_FULL,
    CUDA_FULL,
    IMPLEMENTATIONS,
    NUMPY_IMPLEMENTATIONS,
    PASSES,
    QUICK,
    Settings,
    build_workload,
    model_flops,
)

__all__ = [
    "BASELINE",
    "CPU_FULL",
    "CUDA_FULL",
    "IMPLEMENTATIONS",
    "NUMPY_IMPLEMENTATIONS",
    "PASSES",
    "QUICK",
    "RESULT",
    "SCHEMA",
    "SCHEMA_VERSION",
    "TARGETS",
    "Settings",
    "build_workload",
    "dumps_results",
    "evaluate_targets",
    "format_summary",
    "format_targets",
    "large_tensor_ops",
    "machine_info",
    "matmul_tflops",
    "model_flops",
    "paired_ratio",
    "peak_memory_bytes",
    "recheck_missed",
    "run_benchmark",
    "time_generation",
    "time_interleaved",
    "validate_results",
]
