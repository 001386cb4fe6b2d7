#!/usr/bin/env bash
# The GPU benchmark: float32 and bfloat16 on one CUDA card, sequence lengths 64 to 8192, batch 4, d_model 1024
# with 16 heads of 64 (transformer_tutorial.experiments.benchmark.CUDA_FULL). Each dtype takes about a minute on an H100.
#
#   bash benchmarks/gpu.sh            # from anywhere; needs PyTorch with CUDA, NumPy and threadpoolctl
#
# It stores gpu-float32 and gpu-bfloat16 among the package's results (src/transformer_tutorial/results/), or
# writes gpu-float32.json and gpu-bfloat16.json into $OUT when that is set (a machine that hands back only $OUT).
# Each names the card, the driver's CUDA version and the date; figures for them are registered in DATA_FIGURES.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
destination=${OUT:-src/transformer_tutorial/results}
mkdir -p "$destination"

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "benchmarks/gpu.sh: PyTorch sees no CUDA device here; nothing measured." >&2
    exit 1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true

for dtype in float32 bfloat16; do
    "$PYTHON" -m transformer_tutorial.experiments.benchmark --device cuda --dtype "$dtype" \
        --output "$destination/gpu-$dtype.json" \
        --notes "benchmarks/gpu.sh: one CUDA card, nothing else running on it; timings synchronise the device before and after each call"
done
