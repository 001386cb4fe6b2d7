"""The NumPy GELU over a whole array against an element-by-element loop over math.erf (how it was computed
before), on the same 100 000 float64 numbers. Prints both times and their ratio; nothing is stored.

    PYTHONPATH=src python benchmarks/numpy_gelu.py
"""

from __future__ import annotations

import math
import timeit

import numpy as np

from transformer_tutorial.numpy.layers import gelu

erf_one_by_one = np.frompyfunc(math.erf, 1, 1)


def gelu_one_by_one(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf_one_by_one(x / math.sqrt(2.0)).astype(x.dtype))


def main() -> None:
    x = np.random.default_rng(0).normal(size=100_000)
    np.testing.assert_allclose(gelu(x), gelu_one_by_one(x), rtol=1e-14, atol=1e-15)
    times = {
        name: min(timeit.repeat(lambda f=function: f(x), number=5, repeat=5)) / 5
        for name, function in (("gelu", gelu), ("one by one", gelu_one_by_one))
    }
    for name, seconds in times.items():
        print(f"{name:>12}: {seconds * 1e3:8.2f} ms for {x.size} numbers")
    print(
        f"the loop over math.erf takes {times['one by one'] / times['gelu']:.0f}x as long"
    )


if __name__ == "__main__":
    main()
