"""The data behind the two interactive pages: the stored reversal model and the attention explorer's file.

The browser half (the pages' JavaScript against NumPy) is in tests/site/test_interactive_pages.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from project import randomise
from threadpoolctl import threadpool_limits

from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.data.pretrained import minilm_available
from transformer_tutorial.data.tasks import EOS, PAD
from transformer_tutorial.experiments import live_model
from transformer_tutorial.numpy.model import transformer
from transformer_tutorial.torch.decoding import greedy_decode
from transformer_tutorial.torch.model import Transformer


def random_model(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    config = TransformerConfig(
        13, 13, d_model=16, num_heads=4, num_layers=2, d_ff=32, dropout=0.0, max_len=64
    )
    return randomise(Transformer(config).double(), seed).eval()


def round_trip(model: Transformer):
    """The model's weights through the file format and back (as float32, like the stored file)."""
    entries = {
        name: live_model.encode_array(a)
        for name, a in live_model.flat_params(model.numpy_params()).items()
    }
    arrays = {name: live_model.decode_array(entry) for name, entry in entries.items()}
    # the torch model keeps the same float32-rounded weights, for a fair comparison
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.float().double())
    return live_model.params_from_flat(arrays, model.config)


def test_the_file_format_gives_the_numpy_backend_the_torch_models_forward_pass():
    model = random_model()
    params = round_trip(model)
    rng = np.random.default_rng(1)
    src, tgt = rng.integers(3, 13, size=(4, 7)), rng.integers(1, 13, size=(4, 5))
    src[1, 5:] = PAD
    with torch.no_grad():
        expected = model(torch.from_numpy(src), torch.from_numpy(tgt)).numpy()
    np.testing.assert_allclose(transformer(src, tgt, params), expected, atol=1e-10)


def test_numpy_greedy_decoding_matches_torch_with_every_cross_attention_weight():
    model = random_model(2)
    params = round_trip(model)
    src = np.random.default_rng(3).integers(3, 13, size=(3, 6))
    src[2, 4:] = PAD
    for layer in model.decoder.layers:
        layer.cross_attention.fused = False
    ours = live_model.greedy_generate(src, params, max_new_tokens=6)
    theirs = greedy_decode(
        model, torch.from_numpy(src), 6, use_cache=False, stop_at_eos=True
    )
    np.testing.assert_array_equal(ours.tokens, theirs.tokens.numpy())
    # torch's cross-attention weights over the final prefix, caught on their way out of each layer
    caught = []
    hooks = [
        layer.cross_attention.register_forward_hook(
            lambda _m, _i, out: caught.append(out[1])
        )
        for layer in model.decoder.layers
    ]
    prefix = np.concatenate([np.ones((3, 1), dtype=int), ours.tokens[:, :-1]], axis=1)
    with torch.no_grad():
        logits = model(torch.from_numpy(src), torch.from_numpy(prefix))
    for hook in hooks:
        hook.remove()
    expected = torch.stack(caught, dim=1).numpy()  # (B, L, H, T, S)
    # after a sequence's EOS its steps are padding, which the comparison leaves out
    real = prefix != PAD
    steps = np.broadcast_to(real[:, None, None, :, None], expected.shape)
    np.testing.assert_allclose(ours.cross_attention[steps], expected[steps], atol=1e-10)
    probabilities = torch.softmax(logits, dim=-1).numpy()
    np.testing.assert_allclose(
        ours.probabilities[real], probabilities[real], atol=1e-10
    )


def test_the_stored_model_reverses_held_out_sequences_as_its_file_says():
    model = live_model.load_live_model()
    assert model.info["held_out"]["exact_match"] == 1.0
    # a fresh sample, other than the file's
    assert live_model.exact_match(model, 200, seed=7) == 1.0
    out = live_model.greedy_generate(np.array([[3, 4, 5, 12]]), model.params, 5)
    assert out.tokens.tolist() == [[12, 5, 4, 3, EOS]]


@pytest.mark.skipif(not minilm_available(), reason="needs the all-MiniLM-L6-v2 package")
def test_the_explorer_file_holds_the_numpy_encoders_weights_to_one_byte():
    from transformer_tutorial.experiments.explorer import (
        LEVELS,
        _minilm,
        dequantise,
        explorer_data,
    )
    from transformer_tutorial.experiments.heads import measure_minilm_heads
    from transformer_tutorial.numpy.encoder_only import encoder_only

    data = explorer_data()
    assert len(data["sentences"]) >= 20
    params, tokenizer = _minilm()
    for entry in data["sentences"][::5]:
        ids = tokenizer.encode_batch([entry["text"]])
        # small matrices: one BLAS thread is far faster on a busy machine
        with threadpool_limits(1):
            _, weights = encoder_only(ids, params, return_weights=True)
        # (L, H, T, T) of real tokens
        expected = np.stack(weights)[:, 0, :, : entry["real"], : entry["real"]]
        size = len(entry["tokens"])
        stored = dequantise(entry["weights"], (6, 12, size, size))[
            :, :, : entry["real"], : entry["real"]
        ]
        assert np.abs(stored - expected).max() <= 0.5 / LEVELS + 1e-9
    # the encoder-only chapter's measurement, through the PyTorch encoder
    found = measure_minilm_heads()
    assert [(m["layer"], m["head"]) for m in data["measured"]] == [
        found.best_previous,
        found.best_next,
        found.best_pronoun,
    ]
    padded = [
        entry for entry in data["sentences"] if entry["real"] < len(entry["tokens"])
    ]
    assert padded and all(
        dequantise(e["weights"], (6, 12, len(e["tokens"]), len(e["tokens"])))[
            ..., e["real"] :
        ].max()
        == 0
        for e in padded
    )
