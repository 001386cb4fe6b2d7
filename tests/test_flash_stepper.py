"""The steps that ``tiled_attention`` hands to ``on_tile``: they are the computation itself (the last tile of each
row block gives the output), the skipped tiles are those above the diagonal, recording changes nothing, and the
PyTorch backend records the same steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transformer_tutorial.experiments.flash_stepper import (
    flash_example,
    recorded_steps,
    stepper_data,
)
from transformer_tutorial.numpy.masks import causal_mask
from transformer_tutorial.numpy.modern import tiled_attention
from transformer_tutorial.torch import modern


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block_size", range(1, 9))
def test_the_last_tile_of_each_row_block_gives_the_output(block_size, causal):
    steps, tiled, explicit = recorded_steps(block_size, causal)
    np.testing.assert_allclose(tiled, explicit, rtol=0, atol=1e-12)
    blocks = range(0, 8, block_size)
    assert [(s.rows, s.cols) for s in steps] == [(r, c) for r in blocks for c in blocks]
    for step in steps:
        # a tile is skipped exactly when every one of its keys comes after every one of its queries
        above = step.cols > min(step.rows + block_size, 8) - 1
        assert step.skipped == (causal and above)
    for rows in blocks:
        last = [s for s in steps if s.rows == rows and not s.skipped][-1]
        np.testing.assert_array_equal(
            last.accumulated / last.running_sum, tiled[rows : rows + block_size]
        )


def test_recording_changes_nothing_and_both_backends_record_the_same_steps():
    query, key, value = flash_example()
    mask = causal_mask(8)
    ours: list = []
    theirs: list = []
    plain = tiled_attention(query, key, value, mask, 2)
    recorded = tiled_attention(query, key, value, mask, 2, on_tile=ours.append)
    np.testing.assert_array_equal(plain, recorded)
    modern.tiled_attention(
        *(torch.from_numpy(a) for a in (query, key, value)),
        torch.from_numpy(mask),
        2,
        on_tile=theirs.append,
    )
    assert len(ours) == len(theirs) == 16
    for a, b in zip(ours, theirs, strict=True):
        assert (a.rows, a.cols, a.skipped) == (b.rows, b.cols, b.skipped)
        if not a.skipped:
            for name in (
                "scores",
                "running_max",
                "rescale",
                "running_sum",
                "accumulated",
            ):
                np.testing.assert_allclose(
                    getattr(b, name).numpy(), getattr(a, name), rtol=0, atol=1e-12
                )


def test_the_example_raises_a_maximum_and_the_page_gets_its_numbers():
    steps, _, _ = recorded_steps(2, False)
    # a row's maximum rises on a later tile, so the page shows a rescaling
    assert any((s.rescale < 1).any() for s in steps if s.cols > 0)
    data = stepper_data()
    query, key, value = flash_example()
    np.testing.assert_array_equal(data["query"], query)
    np.testing.assert_array_equal(data["key"], key)
    np.testing.assert_array_equal(data["value"], value)
    assert data["tile_sizes"] == [2, 4]
