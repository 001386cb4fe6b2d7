"""The int8 weights of the explorer's own-sentence box: the rounding bound of one scale per row, the file format
(safetensors, read back by our own reader), the 200 check sentences, and a stored result that matches the file
the build writes."""

from __future__ import annotations

import numpy as np
import pytest

from transformer_tutorial import results
from transformer_tutorial.data import pretrained
from transformer_tutorial.data.pretrained import read_safetensors
from transformer_tutorial.experiments import browser_encoder
from transformer_tutorial.experiments.browser_encoder import (
    dequantise_rows,
    int8_checkpoint,
    quantise_matrix,
    quantise_rows,
    read_int8_checkpoint,
)

minilm = pytest.mark.skipif(
    not pretrained.minilm_available(), reason=f"needs {pretrained.MINILM_INSTALL}"
)


def test_each_entry_is_within_half_a_step_of_its_row():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(6, 40)) * rng.uniform(0.01, 10, size=(6, 1))
    weight[2] = 0.0  # a row of zeros gets a scale of 1 and stays zero
    q, scale = quantise_rows(weight)
    assert q.dtype == np.int8 and scale.dtype == np.float32 and scale.shape == (6,)
    error = np.abs(dequantise_rows(q, scale) - weight)
    assert (error <= scale[:, None] / 2 + 1e-12).all()
    assert (np.abs(q).max(axis=1)[[0, 1, 3, 4, 5]] == 127).all()
    assert (q[2] == 0).all()
    # one scale for the matrix: the small rows lose nearly all their digits
    q_one, _ = quantise_matrix(weight)
    small = int(np.argmin(np.abs(weight).max(axis=1)[[0, 1, 3, 4, 5]]))
    assert (
        np.abs(q_one[[0, 1, 3, 4, 5]][small]).max()
        < np.abs(q[[0, 1, 3, 4, 5]][small]).max()
    )


def test_the_file_reads_back_as_safetensors(tmp_path):
    rng = np.random.default_rng(1)
    weights = {"a.weight": rng.normal(size=(3, 8)), "a.bias": rng.normal(size=(8,))}
    data = int8_checkpoint(weights, {"layers": "1"})
    # the tensors start on an 8-byte boundary
    assert int.from_bytes(data[:8], "little") % 8 == 0
    path = tmp_path / "m.bin"
    path.write_bytes(data)
    raw = read_safetensors(path)
    assert (
        raw["a.weight"].dtype == np.int8 and raw["a.weight.scale"].dtype == np.float32
    )
    back = read_int8_checkpoint(path)
    assert sorted(back) == ["a.bias", "a.weight"]
    np.testing.assert_array_equal(
        back["a.weight"], dequantise_rows(*quantise_rows(weights["a.weight"]))
    )
    np.testing.assert_array_equal(back["a.bias"], weights["a.bias"].astype(np.float32))


def test_the_check_sentences_are_200_different_texts_with_the_hard_cases():
    texts = browser_encoder.check_sentences()
    assert len(texts) == len(set(texts)) == 200
    assert set(browser_encoder.EDGE_CASES) <= set(texts)
    assert browser_encoder.LONG_TEXT in texts


@minilm
def test_the_stored_result_describes_the_file_the_build_writes():
    stored = results.load("browser-encoder")
    assert stored["bytes"] == len(browser_encoder.minilm_int8())
    assert stored["bytes"] <= 25_000_000
    assert stored["sentences"] == 200
    assert stored["command"].startswith(
        "python -m transformer_tutorial.experiments.browser_encoder"
    )


@minilm
def test_the_int8_encoder_stays_close_to_the_float_one(tmp_path):
    path = tmp_path / "m.bin"
    path.write_bytes(browser_encoder.minilm_int8())
    text = "The animal didn't cross the street because it was too tired."
    rounded, exact = browser_encoder.encode(text, path), browser_encoder.encode(text)
    assert rounded["ids"] == exact["ids"]
    stored = results.load("browser-encoder")
    difference = np.abs(rounded["attention"] - exact["attention"]).max()
    assert 0 < difference <= stored["largest_attention_difference"]
    assert float(rounded["embedding"] @ exact["embedding"]) >= stored["smallest_cosine"]
