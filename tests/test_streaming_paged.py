"""Streaming (sink + window) and paged key/value caches, and QK-norm: each against the full decoder, the two
backends against each other, and the errors a reader meets."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transformer_tutorial.config import LlamaConfig
from transformer_tutorial.numpy import cached_decoding as np_decoding
from transformer_tutorial.numpy import paged as np_paged
from transformer_tutorial.numpy import qk_norm as np_qk
from transformer_tutorial.numpy import streaming as np_streaming
from transformer_tutorial.numpy.llama import llama_decoder
from transformer_tutorial.torch import cached_decoding, paged, qk_norm, streaming
from transformer_tutorial.torch.llama import LlamaDecoder

LENGTH = 24


def model(qk: bool = False, seed: int = 0) -> LlamaDecoder:
    config = LlamaConfig(
        vocab_size=13,
        d_model=24,
        num_heads=4,
        num_kv_heads=2,
        num_layers=2,
        d_ff=40,
        max_len=64,
        qk_norm=qk,
    )
    torch.manual_seed(seed)
    decoder = LlamaDecoder(config).double().eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # every weight away from its initial value, norms' scales too
        for parameter in decoder.parameters():
            parameter.add_(
                0.2
                * torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            )
    return decoder


TOKENS = np.random.default_rng(1).integers(0, 13, size=(2, LENGTH))


def step_by_step(forward, params, tokens, cache):
    """Logits (B, T, V) of feeding ``tokens`` one position at a time through ``cache``."""
    rows = [
        forward(params, tokens[:, i : i + 1], cache) for i in range(tokens.shape[1])
    ]
    return (
        np.concatenate(rows, axis=1)
        if isinstance(rows[0], np.ndarray)
        else torch.cat(rows, 1)
    )


# Streaming ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("qk", [False, True])
def test_the_full_cache_gives_the_decoders_logits(qk):
    decoder = model(qk)
    params = decoder.numpy_params()
    expected = llama_decoder(TOKENS, params)
    full = np_streaming.SinkWindowCache(2)
    got = step_by_step(np_decoding.llama_forward, params, TOKENS, full)
    assert np.abs(got - expected).max() < 1e-12
    with torch.no_grad():
        expected_torch = decoder(torch.tensor(TOKENS))
        cache = streaming.SinkWindowCache(2)
        got_torch = step_by_step(
            cached_decoding.llama_forward, decoder, torch.tensor(TOKENS), cache
        )
    assert (got_torch - expected_torch).abs().max() < 1e-12
    assert np.abs(got_torch.numpy() - got).max() < 1e-12  # NumPy equals PyTorch


@pytest.mark.parametrize("sinks", [0, 4])
@pytest.mark.parametrize("window", [LENGTH, LENGTH + 5])
def test_a_window_as_long_as_the_text_equals_the_full_cache_exactly(sinks, window):
    decoder = model()
    params = decoder.numpy_params()
    full = step_by_step(
        np_decoding.llama_forward, params, TOKENS, np_streaming.SinkWindowCache(2)
    )
    wide = np_streaming.SinkWindowCache(2, num_sinks=sinks, window=window)
    assert np.array_equal(
        step_by_step(np_decoding.llama_forward, params, TOKENS, wide), full
    )
    with torch.no_grad():
        tokens = torch.tensor(TOKENS)
        full_t = step_by_step(
            cached_decoding.llama_forward, decoder, tokens, streaming.SinkWindowCache(2)
        )
        wide_t = streaming.SinkWindowCache(2, num_sinks=sinks, window=window)
        assert torch.equal(
            step_by_step(cached_decoding.llama_forward, decoder, tokens, wide_t), full_t
        )


@pytest.mark.parametrize("backend", [np_streaming, streaming])
@pytest.mark.parametrize("sinks, window", [(4, 6), (0, 5), (1, 1), (10, 3)])
def test_eviction_keeps_the_sinks_and_the_last_window(backend, sinks, window):
    """Keys that encode their own position: the kept ones must be exactly the promised positions."""
    cache = backend.SinkWindowCache(1, num_sinks=sinks, window=window)
    as_array = np.asarray if backend is np_streaming else torch.tensor
    for position in range(LENGTH):
        key = as_array(np.full((1, 1, 1, 2), float(position)))
        view = cache.append(0, key, key * 10)
        cache.advance(1)
        kept = [*range(min(sinks, position + 1))]
        kept += [
            p
            for p in range(max(0, position + 1 - window), position + 1)
            if p not in kept
        ]
        assert list(np.asarray(cache.text_positions)) == kept
        assert np.asarray(view.keys)[0, 0, :, 0].tolist() == kept
        assert np.asarray(view.values)[0, 0, :, 1].tolist() == [10 * p for p in kept]
        # the paper's rule: positions within the cache, the query last
        assert np.asarray(view.key_positions)[0].tolist() == list(range(len(kept)))
        assert np.asarray(view.query_positions)[0].tolist() == [len(kept) - 1]


def test_the_text_rule_keeps_the_positions_of_the_text():
    cache = np_streaming.SinkWindowCache(1, num_sinks=2, window=3, positions="text")
    for _ in range(9):
        view = cache.append(0, np.zeros((1, 1, 1, 2)), np.zeros((1, 1, 1, 2)))
        cache.advance(1)
    assert view.key_positions[0].tolist() == [0, 1, 6, 7, 8]
    assert view.query_positions[0].tolist() == [8]


def test_sinks_and_window_agree_across_backends():
    decoder = model(qk=True)
    params = decoder.numpy_params()
    got = step_by_step(
        np_decoding.llama_forward,
        params,
        TOKENS,
        np_streaming.SinkWindowCache(2, num_sinks=2, window=5),
    )
    with torch.no_grad():
        got_torch = step_by_step(
            cached_decoding.llama_forward,
            decoder,
            torch.tensor(TOKENS),
            streaming.SinkWindowCache(2, num_sinks=2, window=5),
        )
    assert np.abs(got_torch.numpy() - got).max() < 1e-12


@pytest.mark.parametrize("backend", [np_streaming, streaming])
def test_streaming_errors_name_the_argument(backend):
    with pytest.raises(ValueError, match="window must be at least 1"):
        backend.SinkWindowCache(2, window=0)
    with pytest.raises(ValueError, match="positions must be one of"):
        backend.SinkWindowCache(2, positions="absolute")
    cache = backend.SinkWindowCache(1, num_sinks=1, window=2)
    zeros = np.zeros if backend is np_streaming else torch.zeros
    with pytest.raises(
        ValueError, match=r"keys and values must both be \(B, G, T, d_k\)"
    ):
        cache.append(0, zeros((1, 1, 2)), zeros((1, 1, 2)))
    with pytest.raises(ValueError, match="append one position at a time"):
        cache.append(0, zeros((1, 1, 5, 2)), zeros((1, 1, 5, 2)))
    with pytest.raises(ValueError, match=r"layer must be in \[0, 1\)"):
        cache.append(3, zeros((1, 1, 1, 2)), zeros((1, 1, 1, 2)))


def test_attention_on_first_sums_the_first_columns():
    # (B, H, T, S)
    weights = np.random.default_rng(0).dirichlet(np.ones(6), size=(2, 3, 4))
    mass = np_streaming.attention_on_first(weights, 2)
    assert mass.shape == (2, 3, 4)
    assert np.allclose(mass, weights[..., 0] + weights[..., 1], rtol=0, atol=1e-15)
    assert torch.equal(
        streaming.attention_on_first(torch.tensor(weights), 2), torch.tensor(mass)
    )
    with pytest.raises(ValueError, match="S >= count = 7"):
        np_streaming.attention_on_first(weights, 7)


# Paged ----------------------------------------------------------------------------------------------------------

PROMPTS = (3, 11, 6)  # a batch of sequences of different lengths
STEPS = 5


def decode_batch(forward, params, cache, tokens):
    """Prefill each prompt alone, then decode STEPS positions of all of them together; every step's logits."""
    sequences = [cache.add_sequence() for _ in PROMPTS]
    logits = []
    for sequence, length in zip(sequences, PROMPTS, strict=True):
        logits.append(forward(params, tokens[:1, :length], cache.batch([sequence])))
    for step in range(STEPS):
        column = [[int(tokens[0, length + step])] for length in PROMPTS]
        column = (
            np.array(column) if isinstance(tokens, np.ndarray) else torch.tensor(column)
        )
        logits.append(forward(params, column, cache.batch(sequences)))
    return logits


@pytest.mark.parametrize("block_size", [1, 2, 3, 4, 7, 64])  # 64: more than any length
def test_paged_decoding_equals_the_contiguous_cache_exactly(block_size):
    decoder = model()
    params = decoder.numpy_params()
    tokens = np.random.default_rng(2).integers(0, 13, size=(1, 40))
    paged_np = np_paged.PagedCache(64, block_size, 2, 2, 6)
    contiguous_np = np_paged.ContiguousCache(3, 40, 2, 2, 6)
    got = decode_batch(np_decoding.llama_forward, params, paged_np, tokens)
    expected = decode_batch(np_decoding.llama_forward, params, contiguous_np, tokens)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
    with torch.no_grad():
        tokens_t = torch.tensor(tokens)
        paged_t = paged.PagedCache(64, block_size, 2, 2, 6, dtype=torch.float64)
        contiguous_t = paged.ContiguousCache(3, 40, 2, 2, 6, dtype=torch.float64)
        got_t = decode_batch(cached_decoding.llama_forward, decoder, paged_t, tokens_t)
        expected_t = decode_batch(
            cached_decoding.llama_forward, decoder, contiguous_t, tokens_t
        )
    assert all(torch.equal(a, b) for a, b in zip(got_t, expected_t, strict=True))
    assert (
        max(np.abs(a.numpy() - b).max() for a, b in zip(got_t, got, strict=True))
        < 1e-12
    )
    # and both are the decoder's own logits, position by position
    for row, length in enumerate(PROMPTS):
        full = llama_decoder(tokens[:, : length + STEPS], params)[0]
        assert np.abs(got[row][0, -1] - full[length - 1]).max() < 1e-12
        for step in range(STEPS):
            assert np.abs(got[3 + step][row, 0] - full[length + step]).max() < 1e-12


@pytest.mark.parametrize("backend", [np_paged, paged])
def test_blocks_are_taken_on_demand_and_freed_blocks_are_reused(backend):
    cache = backend.PagedCache(8, 4, 1, 1, 2)
    first, second = cache.add_sequence(), cache.add_sequence()
    cache.grow([first], 5)  # 5 positions: 2 blocks
    cache.grow([second], 4)  # 4 positions: 1 block, exactly full
    assert cache.block_tables == {first: [0, 1], second: [2]}
    assert cache.reserved_positions() == 12
    cache.lengths[first] = 5
    cache.grow([first], 3)  # positions 5 to 7 still fit in block 1
    assert cache.block_tables[first] == [0, 1]
    cache.free_sequence(first)
    third = cache.add_sequence()
    cache.grow([third], 6)
    assert cache.block_tables[third] == [0, 1]  # the freed blocks, taken again
    assert len(cache.free_blocks) == 5


@pytest.mark.parametrize("backend", [np_paged, paged])
def test_running_out_of_blocks_raises_a_clear_error(backend):
    cache = backend.PagedCache(3, 4, 1, 1, 2)
    first, second = cache.add_sequence(), cache.add_sequence()
    cache.grow([first], 8)
    with pytest.raises(
        backend.OutOfBlocksError,
        match="out of blocks: .* need 2 new blocks of 4 "
        r"positions, and only 1 of the pool's 3 blocks are free",
    ):
        cache.grow([second], 5)
    assert cache.block_tables[second] == []  # nothing taken by the refused request
    with pytest.raises(ValueError, match="sequence 7 is not in the cache"):
        cache.batch([7])
    with pytest.raises(ValueError, match="sequences must be distinct"):
        cache.batch([first, first])
    zeros = np.zeros if backend is np_paged else torch.zeros
    with pytest.raises(ValueError, match=r"\(B, G, T, d_k\) = \(1, 1, T, 2\)"):
        cache.batch([first]).append(0, zeros((1, 1, 1, 3)), zeros((1, 1, 1, 3)))


# QK-norm --------------------------------------------------------------------------------------------------------


def test_head_rms_norm_matches_torchs_rms_norm():
    x = torch.randn(
        2, 3, 5, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    weight = torch.rand(8, dtype=torch.float64) + 0.5
    expected = F.rms_norm(x, (8,), weight, eps=1e-5)
    assert (qk_norm.head_rms_norm(x, weight, 1e-5) - expected).abs().max() < 1e-15
    got = np_qk.head_rms_norm(x.numpy(), weight.numpy(), 1e-5)
    assert np.abs(got - expected.numpy()).max() < 1e-15


def test_qk_norm_bounds_every_score():
    """After QK-norm with unit scales every query and key has length √d_k, so |q·k| / √d_k ≤ √d_k, however
    large the projections; without it the same weights give scores far above that."""
    torch.manual_seed(0)
    layer = qk_norm.QKNormAttention(32, 4, 2).double()
    with torch.no_grad():
        for projection in (layer.q_proj, layer.k_proj):
            projection.weight.mul_(100.0)
    x = torch.randn(1, 10, 32, dtype=torch.float64)
    with torch.no_grad():
        q = qk_norm.head_rms_norm(
            layer.q_proj(x).reshape(1, 10, 4, 8).transpose(1, 2), layer.query_weight
        )
        k = qk_norm.head_rms_norm(
            layer.k_proj(x).reshape(1, 10, 2, 8).transpose(1, 2), layer.key_weight
        )
        raw_q = layer.q_proj(x).reshape(1, 10, 4, 8).transpose(1, 2)
        raw_k = layer.k_proj(x).reshape(1, 10, 2, 8).transpose(1, 2)
    normed = (q[:, :2] @ k[:, :1].transpose(-1, -2)).abs().max() / math.sqrt(8)
    raw = (raw_q[:, :2] @ raw_k[:, :1].transpose(-1, -2)).abs().max() / math.sqrt(8)
    assert normed <= math.sqrt(8) + 1e-9
    assert raw > 100 * math.sqrt(8)


def test_qk_norm_decoder_numpy_equals_pytorch():
    decoder = model(qk=True)
    params = decoder.numpy_params()
    assert params.blocks[0].qk_norm is not None
    assert not np.allclose(params.blocks[0].qk_norm.query_weight, 1.0)
    with torch.no_grad():
        expected = decoder(torch.tensor(TOKENS)).numpy()
    assert np.abs(llama_decoder(TOKENS, params) - expected).max() < 1e-12
    # QK-norm changes the model: the same weights without the norms give other logits
    plain = model(qk=False)
    plain.load_state_dict(decoder.state_dict(), strict=False)
    with torch.no_grad():
        assert np.abs(plain(torch.tensor(TOKENS)).numpy() - expected).max() > 1e-3


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_qk_norm_runs_in_half_precision(dtype):
    torch.manual_seed(0)
    layer = qk_norm.QKNormAttention(16, 4, 2)
    x = torch.randn(1, 5, 16)
    reference, _ = layer(x, x, x)
    half = layer.to(dtype)
    out, _ = half(x.to(dtype), x.to(dtype), x.to(dtype))
    assert out.dtype == dtype
    assert (out.float() - reference).abs().max() < (
        0.02 if dtype == torch.float16 else 0.1
    )


def test_qk_norm_runs_on_the_meta_device():
    layer = qk_norm.QKNormAttention(16, 4, 2).to("meta")
    x = torch.empty(1, 5, 16, device="meta")
    out, _ = layer(x, x, x)
    assert out.device.type == "meta" and out.shape == (1, 5, 16)
