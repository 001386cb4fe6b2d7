"""The stored character model: its checkpoint ships small, both backends read the same weights, its stored
held-out loss is what the weights give on the held-out text, and sampling from it is fixed by the seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from transformer_tutorial import results
from transformer_tutorial.data.checkpoints import checkpoint_path, read_checkpoint
from transformer_tutorial.data.text import (
    CharTokenizer,
    character_corpus,
    evaluation_windows,
    load_corpus,
)
from transformer_tutorial.experiments.character_model import bigram_loss
from transformer_tutorial.numpy import character_model as np_model
from transformer_tutorial.numpy.decoder_only import decoder_only
from transformer_tutorial.torch import character_model as torch_model
from transformer_tutorial.torch.decoder_only import evaluate_language_model


@pytest.fixture(scope="module")
def stored():
    return results.load("character-model")


@pytest.fixture(scope="module")
def loaded():
    return torch_model.load_character_model(), np_model.load_character_model()


def test_checkpoint_is_small_package_data_and_named_by_its_result(stored):
    size = checkpoint_path("character-model").stat().st_size
    assert size < 1_000_000
    assert stored["checkpoint_bytes"] == size
    for key in ("command", "machine", "date"):
        assert stored[key]
    metadata, arrays = read_checkpoint("character-model")
    assert metadata["config"] == stored["config"]
    assert all(array.dtype == np.float32 for array in arrays.values())
    with pytest.raises(KeyError):
        read_checkpoint("no-such-model")


def test_the_vocabulary_is_the_corpus_vocabulary(loaded):
    (_, tokenizer), _ = loaded
    assert tokenizer.vocabulary == CharTokenizer.from_text(load_corpus()).vocabulary


def test_both_backends_compute_the_same_logits(loaded):
    (model, tokenizer), (params, _) = loaded
    tokens = tokenizer.encode("Attention lets every position read the others.")[None]
    with torch.no_grad():
        logits = model(torch.from_numpy(tokens)).double().numpy()
    np.testing.assert_allclose(decoder_only(tokens, params), logits, atol=1e-4)


def test_the_stored_held_out_loss_is_what_the_stored_weights_give(stored, loaded):
    (model, tokenizer), _ = loaded
    _, train_ids, held_out_ids = character_corpus()
    assert len(train_ids) == stored["training_characters"]
    assert len(held_out_ids) == stored["held_out_characters"]
    for length, count in stored["held_out_windows"].items():
        windows = evaluation_windows(held_out_ids, int(length), seen=train_ids)
        assert len(windows) == count
    loss = evaluate_language_model(model, held_out_ids, seen=train_ids)
    assert loss == pytest.approx(stored["held_out_nats"]["trained"], abs=2e-3)
    bigram = bigram_loss(train_ids, held_out_ids, len(tokenizer))
    assert bigram == pytest.approx(stored["held_out_nats"]["bigram"], abs=1e-4)
    nats, bits = stored["held_out_nats"], stored["held_out_bits_per_character"]
    assert all(
        bits[key] == pytest.approx(nats[key] / math.log(2), abs=1e-3) for key in nats
    )


def test_bigram_baseline_against_a_direct_count():
    train = np.array([0, 1, 0, 1, 1])
    held_out = np.array([0, 1, 1])
    # add-one: from 0 the counts are (1 + 0, 1 + 2) of 2 + 2; from 1 they are (1 + 1, 1 + 1) of 2 + 2
    expected = -(math.log(3 / 4) + math.log(2 / 4)) / 2
    assert bigram_loss(train, held_out, 2) == pytest.approx(expected)


def test_sampling_is_fixed_by_the_seed_in_both_backends(loaded):
    (model, tokenizer), (params, _) = loaded
    settings = {"temperature": 0.8, "top_k": 10, "top_p": 0.9}

    def torch_sample():
        generator = torch.Generator().manual_seed(0)
        return torch_model.sample_text(
            model, tokenizer, "The ", 30, generator, **settings
        )

    def numpy_sample():
        rng = np.random.default_rng(0)
        return np_model.sample_text(params, tokenizer, "The ", 30, rng, **settings)

    assert torch_sample() == torch_sample() and len(torch_sample()) == 34
    assert numpy_sample() == numpy_sample() and numpy_sample().startswith("The ")


def test_top_k_one_and_a_tiny_top_p_are_greedy(loaded):
    (model, tokenizer), (params, _) = loaded
    prompt = "Each head "
    ids = list(tokenizer.encode(prompt))
    with torch.no_grad():
        for _ in range(12):  # the greedy answer, written as an argmax loop
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    greedy = tokenizer.decode(ids)
    g = torch.Generator().manual_seed(1)
    assert torch_model.sample_text(model, tokenizer, prompt, 12, g, top_k=1) == greedy
    assert (
        torch_model.sample_text(model, tokenizer, prompt, 12, g, top_p=1e-6) == greedy
    )
    rng = np.random.default_rng(1)
    assert np_model.sample_text(params, tokenizer, prompt, 12, rng, top_k=1) == greedy


def test_sampling_leaves_the_mode_as_it_found_it(loaded):
    (model, tokenizer), _ = loaded
    model.train()
    torch_model.sample_text(model, tokenizer, "a", 2, torch.Generator().manual_seed(0))
    assert model.training
    model.eval()


def test_sample_text_refuses_a_bad_length(loaded):
    (model, tokenizer), (params, _) = loaded
    with pytest.raises(ValueError, match="length"):
        torch_model.sample_text(model, tokenizer, "a", 0, torch.Generator())
    with pytest.raises(ValueError, match="length"):
        np_model.sample_text(params, tokenizer, "a", 0, np.random.default_rng(0))
