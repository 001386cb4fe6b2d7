"""Helpers that many test modules share: tolerances per dtype, comparisons, and error matching."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

# Float32 results agree to rounding (about 1e-7 here); float64 ones to about 1e-16.
TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-12}
DTYPES = pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64], ids=["float32", "float64"]
)


def assert_close(actual, expected, dtype_or_atol) -> None:
    """Equal within the tolerance of a dtype (``TOLERANCE``) or an absolute ``atol``, for tensors or arrays.

    NumPy does the comparison: torch.testing's first call imports for seconds."""
    atol = (
        TOLERANCE[dtype_or_atol]
        if isinstance(dtype_or_atol, torch.dtype)
        else dtype_or_atol
    )

    def array(value):
        return (
            value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        )

    if isinstance(actual, torch.Tensor) and isinstance(expected, torch.Tensor):
        assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert np.shape(array(actual)) == np.shape(array(expected))
    np.testing.assert_allclose(array(actual), array(expected), rtol=0, atol=atol)


def raises(error: type[Exception], message: str):
    """``pytest.raises`` for an error whose message contains ``message`` word for word."""
    return pytest.raises(error, match=re.escape(message))
