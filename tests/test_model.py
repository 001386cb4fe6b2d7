"""The whole encoder-decoder model: NumPy equals PyTorch, the paper's sizes, masks, and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from project import randomise

from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.costs import transformer_parameter_count
from transformer_tutorial.numpy.model import transformer
from transformer_tutorial.torch.model import Transformer

SMALL = {
    "d_model": 16,
    "num_heads": 4,
    "num_layers": 2,
    "d_ff": 32,
    "dropout": 0.0,
    "max_len": 20,
}


def small_model(seed: int = 0, **changes) -> Transformer:
    torch.manual_seed(seed)
    config = TransformerConfig(
        **{"src_vocab_size": 23, "tgt_vocab_size": 23, **SMALL, **changes}
    )
    return randomise(Transformer(config).double().eval(), norms_and_biases_only=True)


SRC = torch.tensor([[3, 4, 5, 6, 7, 0], [8, 9, 10, 0, 0, 0]])
TGT = torch.tensor([[1, 11, 12, 13, 0], [1, 14, 15, 16, 17]])


@pytest.mark.parametrize(
    "changes",
    [{}, {"norm_first": True}, {"share_embeddings": False, "tgt_vocab_size": 29}],
    ids=["post-norm, shared", "pre-norm", "separate vocabularies"],
)
def test_numpy_forward_equals_the_pytorch_model(changes):
    model = small_model(**changes)
    with torch.no_grad():
        expected = model(SRC, TGT)
    logits = transformer(SRC.numpy(), TGT.numpy(), model.numpy_params())
    assert logits.shape == (2, 5, model.config.tgt_vocab_size)
    np.testing.assert_allclose(logits, expected.numpy(), rtol=0, atol=1e-10)


def test_eval_mode_switches_off_the_default_dropout():
    # the paper's rate, on the embeddings and on every sub-layer's output
    model = small_model(dropout=0.1)
    with torch.no_grad():
        first, second = model(SRC, TGT), model(SRC, TGT)
    assert torch.equal(first, second)
    # NumPy has no dropout at all
    expected = transformer(SRC.numpy(), TGT.numpy(), model.numpy_params())
    np.testing.assert_allclose(first.numpy(), expected, rtol=0, atol=1e-12)


def test_shared_embeddings_are_one_matrix():
    model = small_model()
    assert (
        model.output.weight is model.src_embedding.weight is model.tgt_embedding.weight
    )
    separate = small_model(share_embeddings=False, tgt_vocab_size=29)
    assert separate.output.weight is not separate.tgt_embedding.weight


def count_module_parameters(config: TransformerConfig) -> int:
    """Build the model without allocating memory (the meta device) and count its parameters once each."""
    with torch.device("meta"):
        model = Transformer(config)
    return sum(parameter.numel() for parameter in model.parameters())


@pytest.mark.parametrize(
    "config",
    [
        TransformerConfig.base(),
        TransformerConfig.big(),
        TransformerConfig(
            100,
            120,
            d_model=32,
            num_heads=4,
            num_layers=3,
            d_ff=64,
            share_embeddings=False,
        ),
        TransformerConfig(
            100, 100, d_model=32, num_heads=4, num_layers=3, d_ff=64, norm_first=True
        ),
    ],
    ids=["base", "big", "separate vocabularies", "pre-norm"],
)
def test_parameter_count_of_the_modules_equals_the_closed_form(config):
    assert count_module_parameters(config) == sum(
        transformer_parameter_count(config).values()
    )


def test_base_and_big_are_within_three_percent_of_the_paper():
    """The paper rounds to 65M and 213M and does not give its exact vocabulary; see the architecture page."""
    base, big = (
        count_module_parameters(TransformerConfig.base()),
        count_module_parameters(TransformerConfig.big()),
    )
    assert (base, big) == (63_082_496, 214_245_376)
    assert abs(base / 65e6 - 1) < 0.03 and abs(big / 213e6 - 1) < 0.01


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3), st.integers(0, 2**16))
def test_the_decoder_never_sees_target_tokens_after_the_current_one(t, seed):
    model = small_model()
    changed = TGT.clone()
    generator = torch.Generator().manual_seed(seed)
    changed[:, t + 1 :] = torch.randint(
        1, 23, changed[:, t + 1 :].shape, generator=generator
    )
    with torch.no_grad():
        before, after = model(SRC, TGT), model(SRC, changed)
    torch.testing.assert_close(
        after[:, : t + 1], before[:, : t + 1], rtol=0, atol=1e-12
    )


def test_padding_does_not_change_the_outputs_at_real_positions():
    model = small_model()
    # four more pads
    longer_src = torch.cat([SRC, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    longer_tgt = torch.cat([TGT, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    with torch.no_grad():
        logits = model(SRC, TGT)
        padded = model(longer_src, longer_tgt)
        memory, _ = model.encode(SRC)
        padded_memory, _ = model.encode(longer_src)
    torch.testing.assert_close(padded[:, :5], logits, rtol=0, atol=1e-12)
    real = SRC != 0
    torch.testing.assert_close(
        padded_memory[:, :6][real], memory[real], rtol=0, atol=1e-12
    )


def test_cached_decoding_of_padded_targets_equals_decoding_the_whole_prefix():
    model = small_model()
    # padding at the end and in the middle
    tgt = torch.tensor([[1, 11, 12, 0, 0, 0], [1, 14, 0, 15, 16, 17]])
    with torch.no_grad():
        memory, src_mask = model.encode(SRC)
        whole = model.decode(tgt, memory, src_mask)
        cache = model.new_cache()
        pieces = [
            model.decode(tgt[:, start:end], memory, src_mask, cache)
            for start, end in ((0, 2), (2, 3), (3, 6))
        ]
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, rtol=0, atol=1e-12)


# Bad input: clear errors that name what is wrong.


def test_token_ids_outside_the_vocabulary():
    model = small_model()
    with pytest.raises(
        ValueError,
        match=re.escape("tgt holds ids from 1 to 23, outside the vocabulary [0, 23)"),
    ):
        model(SRC, torch.tensor([[1, 23], [1, 2]]))
    with pytest.raises(ValueError, match=re.escape("src holds ids from -1 to 10")):
        transformer(np.array([[-1, 10]]), np.array([[1, 2]]), model.numpy_params())


def test_sequences_longer_than_the_positional_table():
    model = small_model()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "src has 21 positions (shape (1, 21)), more than the positional table's max_len=20"
        ),
    ):
        model(torch.ones(1, 21, dtype=torch.long), torch.ones(1, 3, dtype=torch.long))


def test_source_and_target_batch_sizes_differ():
    model = small_model()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "src and tgt must have the same batch size (axis 0 and axis 0), got shapes (2, 6) and (1, 5)"
        ),
    ):
        model(SRC, TGT[:1])
    with pytest.raises(ValueError, match="src and tgt must have the same batch size"):
        transformer(SRC.numpy(), TGT[:1].numpy(), model.numpy_params())


def test_float_token_ids_are_refused():
    with pytest.raises(
        TypeError,
        match=re.escape("src must hold integer token ids, got dtype torch.float32"),
    ):
        small_model()(SRC.float(), TGT)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"d_model": 10, "num_heads": 4}, "d_model=10 is not divisible by num_heads=4"),
        (
            {"tgt_vocab_size": 40},
            "share_embeddings needs one vocabulary, got src_vocab_size=23 and tgt_vocab_size=40",
        ),
        ({"num_layers": 0}, "num_layers must be at least 1, got 0"),
        ({"dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
        ({"pad_id": 30}, "pad_id=30 is not a token id of both vocabularies"),
    ],
)
def test_inconsistent_configs_are_refused(changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TransformerConfig(
            **{"src_vocab_size": 23, "tgt_vocab_size": 23, **SMALL, **changes}
        )
