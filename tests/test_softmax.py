"""softmax in both backends, against independent references: the textbook formula in float64 and torch.softmax."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from transformer_tutorial import numpy as tnp
from transformer_tutorial import torch as ttorch


def textbook_softmax(
    row: list[float], allowed: list[bool] | None = None
) -> list[float]:
    """exp(x_i) / sum_j exp(x_j) over the allowed entries, term by term in Python floats (no max shift)."""
    allowed = allowed or [True] * len(row)
    exps = [math.exp(x) if ok else 0.0 for x, ok in zip(row, allowed, strict=True)]
    total = math.fsum(exps)
    return [e / total if total else 0.0 for e in exps]


ROWS = [[0.5, -1.25, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-30.0, 0.1, 7.5, -0.3]]
MASKS = [
    [True, False, True, True],
    [False, False, False, False],
    [True, True, True, False],
]


def test_numpy_matches_the_textbook_formula():
    got = tnp.softmax(np.array(ROWS))
    expected = np.array([textbook_softmax(row) for row in ROWS])
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)


def test_torch_matches_the_textbook_formula_and_torch_softmax():
    x = torch.tensor(ROWS, dtype=torch.float64)
    got = ttorch.softmax(x)
    expected = torch.tensor(
        [textbook_softmax(row) for row in ROWS], dtype=torch.float64
    )
    torch.testing.assert_close(got, expected, rtol=1e-14, atol=0)
    torch.testing.assert_close(got, torch.softmax(x, dim=-1), rtol=1e-14, atol=0)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_both_backends_agree_along_any_axis(axis):
    x = np.random.default_rng(0).normal(size=(3, 5)) * 4
    torch.testing.assert_close(
        ttorch.softmax(torch.from_numpy(x), axis=axis),
        torch.softmax(torch.from_numpy(x), dim=axis),
        rtol=1e-14,
        atol=0,
    )
    np.testing.assert_allclose(
        tnp.softmax(x, axis=axis),
        torch.softmax(torch.from_numpy(x), dim=axis),
        rtol=1e-14,
    )


def test_masked_entries_get_zero_and_a_fully_masked_row_is_zeros_not_nan():
    expected = np.array(
        [textbook_softmax(row, mask) for row, mask in zip(ROWS, MASKS, strict=True)]
    )
    np.testing.assert_allclose(
        tnp.softmax(np.array(ROWS), mask=np.array(MASKS)), expected, rtol=1e-14, atol=0
    )
    got = ttorch.softmax(
        torch.tensor(ROWS, dtype=torch.float64), mask=torch.tensor(MASKS)
    )
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-14, atol=0)
    assert expected[1].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_large_scores_do_not_overflow():
    x = [1000.0, 1001.0, 1002.0]
    # shifting every score by the same amount changes nothing
    expected = textbook_softmax([0.0, 1.0, 2.0])
    np.testing.assert_allclose(tnp.softmax(np.array(x)), expected, rtol=1e-14)
    np.testing.assert_allclose(
        ttorch.softmax(torch.tensor(x, dtype=torch.float64)).numpy(),
        expected,
        rtol=1e-14,
    )


def test_gradient_of_a_fully_masked_row_is_zero_not_nan():
    x = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, True, False, True], [False, False, False, False]])
    (
        ttorch.softmax(x, mask=mask) * torch.arange(4.0, dtype=torch.float64)
    ).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert (x.grad[1] == 0).all()
    assert (x.grad[0, 2] == 0).all()
    torch.autograd.gradcheck(lambda t: ttorch.softmax(t, mask=mask), (x,))


def test_integer_input_is_promoted_to_floating_point():
    np.testing.assert_allclose(
        tnp.softmax(np.array([1, 2, 3])), textbook_softmax([1, 2, 3]), rtol=1e-14
    )
    assert ttorch.softmax(torch.tensor([1, 2, 3])).dtype == torch.float32


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 6)),
        elements=st.floats(-50, 50),
    )
)
def test_rows_are_non_negative_and_sum_to_one(x):
    weights = tnp.softmax(x)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-12)


@given(
    arrays(np.float64, (3, 5), elements=st.floats(-20, 20)),
    arrays(np.bool_, (3, 5)),
    st.floats(-100, 100),
)
def test_adding_a_constant_changes_nothing_and_masked_entries_stay_zero(x, mask, shift):
    weights = tnp.softmax(x, mask=mask)
    np.testing.assert_allclose(
        tnp.softmax(x + shift, mask=mask), weights, rtol=1e-9, atol=1e-15
    )
    assert (weights[~mask] == 0).all()
    np.testing.assert_allclose(
        weights.sum(axis=-1), mask.any(axis=-1).astype(float), rtol=1e-12
    )


# Bad input: each error names the argument and the shapes.


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_mask_that_does_not_broadcast_is_refused(backend):
    softmax, array, mask = _backend(backend)
    with pytest.raises(
        ValueError,
        match=r"mask has shape \(4, 3\), which does not broadcast to \(3, 4\)",
    ):
        softmax(array(np.zeros((3, 4))), mask=mask(np.ones((4, 3), dtype=bool)))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_float_mask_is_refused(backend):
    softmax, array, _ = _backend(backend)
    with pytest.raises(TypeError, match="mask must be boolean"):
        softmax(array(np.zeros((2, 3))), mask=array(np.ones((2, 3))))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_an_axis_out_of_range_is_refused(backend):
    softmax, array, _ = _backend(backend)
    with pytest.raises(
        ValueError, match="axis=2 is out of range for an input with 2 dimensions"
    ):
        softmax(array(np.zeros((2, 3))), axis=2)


def test_torch_softmax_refuses_a_numpy_array():
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor, got ndarray"):
        ttorch.softmax(np.zeros(3))


def _backend(name):
    if name == "numpy":
        return tnp.softmax, np.asarray, np.asarray
    return ttorch.softmax, torch.as_tensor, torch.as_tensor
