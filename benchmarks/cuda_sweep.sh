#!/usr/bin/env bash
# The dtype and device sweep on a CUDA card: every test marked `cuda` (tests/test_dtypes_and_devices.py), which
# runs each public PyTorch module in float16 and bfloat16 on the card against its float64 reference, the
# decoding, training and evaluation helpers with the model on the card, and the fused kernel on a fully masked
# row. Under a minute on one card.
#
#   bash benchmarks/cuda_sweep.sh     # from anywhere; needs PyTorch with CUDA and the test requirements
#
# Without a CUDA device it says so and exits 0 with nothing run: the same tests are skipped in the ordinary
# suite, which sweeps float16, bfloat16 and the meta device on the CPU. With $OUT set, the JUnit report is
# written there (a machine that hands back only $OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "benchmarks/cuda_sweep.sh: PyTorch sees no CUDA device here; the CUDA sweep is skipped." >&2
    exit 0
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
report=()
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    report=(--junitxml "$OUT/cuda-sweep.xml")
fi
"$PYTHON" -m pytest -m cuda -q -rs "${report[@]}" tests/test_dtypes_and_devices.py
