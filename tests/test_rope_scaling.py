"""RoPE scaling: scale 1 is plain RoPE to the last bit, each method is its paper's formula, the two backends
agree, and (when Hugging Face ``transformers`` is installed, a test-only dependency) ours match its RoPE
initialisation functions.

Equation numbers are those of the versions the page links: position interpolation, Chen et al., arXiv
2306.15595v2; NTK-aware scaling and YaRN, Peng et al., arXiv 2309.00071v2 (|D| there is d_k here).
"""

import copy
import math

import numpy as np
import pytest
import torch

from transformer_tutorial.config import LlamaConfig
from transformer_tutorial.numpy import cached_decoding as np_decoding
from transformer_tutorial.numpy import relative as np_relative
from transformer_tutorial.numpy import rope_scaling as np_scaling
from transformer_tutorial.torch import cached_decoding, relative, rope_scaling
from transformer_tutorial.torch.llama import LlamaDecoder

D_K = 16
X = np.random.default_rng(0).normal(size=(2, 3, 40, D_K))


def test_the_frequencies_are_ropes():
    theta = np_scaling.rope_frequencies(D_K)
    # θ_i = 10000^(-2i/d), written out
    written = np.array([10000.0 ** (-2 * i / D_K) for i in range(D_K // 2)])
    assert np.abs(theta / written - 1).max() < 1e-15
    assert np.array_equal(np_scaling.rotate(X, theta), np_relative.rotary_embedding(X))
    x = torch.tensor(X)
    assert torch.equal(
        rope_scaling.rotate(x, rope_scaling.rope_frequencies(D_K)),
        relative.rotary_embedding(x),
    )


@pytest.mark.parametrize("method", ["linear", "ntk", "yarn"])
def test_scale_one_is_plain_rope_exactly(method):
    plain = np_scaling.rope_frequencies(D_K)
    frequencies, factor = np_scaling.scaled_frequencies(D_K, method, 1.0, 64)
    assert np.array_equal(frequencies, plain) and factor == 1.0
    assert np.array_equal(
        np_scaling.rotate(X, frequencies), np_relative.rotary_embedding(X)
    )
    frequencies_t, factor_t = rope_scaling.scaled_frequencies(D_K, method, 1.0, 64)
    assert (
        torch.equal(frequencies_t, rope_scaling.rope_frequencies(D_K))
        and factor_t == 1.0
    )


def test_position_interpolation_turns_position_m_like_m_over_s():
    """Chen et al., Eq. 4: f'(x, m) = f(x, m·L / L'), the original model at position m / s."""
    s = 4.0
    positions = np.arange(40)
    theta = np_scaling.rope_frequencies(D_K)
    squeezed = np_scaling.rotate(X, np_scaling.linear_frequencies(theta, s), positions)
    assert np.abs(squeezed - np_scaling.rotate(X, theta, positions / s)).max() < 1e-12


def test_ntk_aware_scaling_changes_the_base():
    """NTK-aware, YaRN Eqs. 15 and 16: h(θ_d) = b'^(-2d / |D|) with b' = b · s^(|D| / (|D| - 2)). The fastest
    pair keeps its frequency; the slowest is divided by exactly s, as position interpolation would."""
    s = 8.0
    got = np_scaling.ntk_frequencies(D_K, s)
    base = 10000.0 * s ** (D_K / (D_K - 2))
    assert np.abs(got - base ** (-np.arange(0, D_K, 2) / D_K)).max() < 1e-15
    plain = np_scaling.rope_frequencies(D_K)
    assert got[0] == 1.0
    assert abs(got[-1] - plain[-1] / s) < 1e-15 * plain[-1]
    assert np.all(got <= plain) and np.all(got >= plain / s * (1 - 1e-12))


def test_yarn_interpolates_slow_pairs_keeps_fast_ones_and_ramps_between():
    """YaRN's "NTK-by-parts": r = L / λ_d with λ_d = 2π / θ_d (Eqs. 17 and 13), γ(r) the ramp from α = 1 to
    β = 32 (Eq. 18), h(θ_d) = (1 - γ(r)) θ_d / s + γ(r) θ_d (Eq. 20)."""
    s, length = 4.0, 256
    plain = np_scaling.rope_frequencies(D_K)
    got = np_scaling.yarn_frequencies(plain, s, length)
    turns = length * plain / (2 * math.pi)
    for i, r in enumerate(turns):
        if r < 1:
            assert got[i] == pytest.approx(plain[i] / s, rel=1e-15)
        elif r > 32:
            assert got[i] == pytest.approx(plain[i], rel=1e-15)
        else:
            gamma = (r - 1) / 31
            assert got[i] == pytest.approx(
                (1 - gamma) * plain[i] / s + gamma * plain[i], rel=1e-14
            )
    # with these sizes all three regimes occur
    assert (
        (turns < 1).any() and (turns > 32).any() and ((turns > 1) & (turns < 32)).any()
    )


def test_yarn_temperature():
    """√(1/t) = 0.1 ln s + 1 (YaRN Eq. 22), worked by hand: ln 4 = 1.386 gives 1.139, ln 40 = 3.689 gives 1.369,
    and s = 1 gives exactly 1."""
    assert np_scaling.yarn_attention_factor(1.0) == 1.0
    assert round(np_scaling.yarn_attention_factor(4.0), 3) == 1.139
    assert round(np_scaling.yarn_attention_factor(40.0), 3) == 1.369
    assert rope_scaling.yarn_attention_factor(4.0) == np_scaling.yarn_attention_factor(
        4.0
    )


def test_the_attention_factor_divides_every_score_by_t():
    """YaRN Eq. 21: softmax(q·k / (t √|D|)). ``llama_forward`` multiplies the rotated queries and keys by
    √(1/t); since RoPE is linear, that must equal the same model with its query weights multiplied by 1/t."""
    config = LlamaConfig(
        vocab_size=11, d_model=16, num_heads=4, num_kv_heads=2, num_layers=2, d_ff=24
    )
    torch.manual_seed(0)
    decoder = LlamaDecoder(config).double().eval()
    root = np_scaling.yarn_attention_factor(4.0)  # √(1/t) at s = 4
    sharpened = copy.deepcopy(decoder)
    with torch.no_grad():
        for block in sharpened.blocks:
            block.attention.q_proj.weight.mul_(root**2)  # 1/t, on the queries only
            assert block.attention.q_proj.bias is None
    tokens = torch.tensor(np.random.default_rng(2).integers(0, 11, size=(2, 12)))
    frequencies = rope_scaling.yarn_frequencies(
        rope_scaling.rope_frequencies(4), 4.0, 8
    )
    with torch.no_grad():
        got = cached_decoding.llama_forward(decoder, tokens, None, frequencies, root)
        expected = cached_decoding.llama_forward(sharpened, tokens, None, frequencies)
        plain = cached_decoding.llama_forward(decoder, tokens, None, frequencies)
    assert (got - expected).abs().max() < 1e-12
    assert (got - plain).abs().max() > 1e-3  # the temperature does change the logits
    got_np = np_decoding.llama_forward(
        decoder.numpy_params(), tokens.numpy(), None, frequencies.numpy(), root
    )
    expected_np = np_decoding.llama_forward(
        sharpened.numpy_params(), tokens.numpy(), None, frequencies.numpy()
    )
    assert np.abs(got_np - expected_np).max() < 1e-12
    assert np.abs(got_np - got.numpy()).max() < 1e-12


@pytest.mark.parametrize("method", ["plain", "linear", "ntk", "yarn"])
def test_numpy_equals_pytorch(method):
    frequencies, factor = np_scaling.scaled_frequencies(D_K, method, 6.0, 128)
    frequencies_t, factor_t = rope_scaling.scaled_frequencies(D_K, method, 6.0, 128)
    assert (
        np.abs(frequencies_t.numpy() - frequencies).max() < 1e-15 and factor == factor_t
    )
    # (B, T) positions, one row per sequence
    positions = np.tile(np.arange(40), (2, 1)) * 3
    got = np_scaling.rotate(X, frequencies, positions)
    got_t = rope_scaling.rotate(torch.tensor(X), frequencies_t, torch.tensor(positions))
    assert np.abs(got_t.numpy() - got).max() < 1e-12


@pytest.mark.parametrize("backend", [np_scaling, rope_scaling])
def test_errors_name_the_argument(backend):
    with pytest.raises(ValueError, match="factor is the length ratio"):
        backend.linear_frequencies(backend.rope_frequencies(8), 0.5)
    with pytest.raises(ValueError, match="method must be one of"):
        backend.scaled_frequencies(8, "dynamic", 2.0)
    with pytest.raises(ValueError, match="needs original_length"):
        backend.scaled_frequencies(8, "yarn", 2.0)
    with pytest.raises(ValueError, match="d_k must be even"):
        backend.rope_frequencies(7)
    x = np.zeros((2, 5, 8)) if backend is np_scaling else torch.zeros(2, 5, 8)
    with pytest.raises(
        ValueError, match=r"frequencies must have shape \(d_k / 2,\) = \(4,\)"
    ):
        backend.rotate(x, backend.rope_frequencies(6))
    with pytest.raises(ValueError, match=r"positions must have shape \(T,\) = \(5,\)"):
        backend.rotate(
            x,
            backend.rope_frequencies(8),
            np.arange(4) if backend is np_scaling else torch.arange(4),
        )


def test_half_precision_rotation_keeps_the_dtype():
    x = torch.tensor(X, dtype=torch.float32)
    frequencies = rope_scaling.ntk_frequencies(D_K, 4.0)
    for dtype in (torch.float16, torch.bfloat16):
        got = rope_scaling.rotate(x.to(dtype), frequencies)
        assert got.dtype == dtype
        assert (got.float() - rope_scaling.rotate(x, frequencies)).abs().max() < 0.05


# Hugging Face transformers, a test-only reference ---------------------------------------------------------------


def hugging_face(kind, parameters, max_positions, seq_len):
    transformers = pytest.importorskip("transformers")
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = transformers.LlamaConfig(
        hidden_size=4 * D_K,
        num_attention_heads=4,
        max_position_embeddings=max_positions,
        rope_parameters={"rope_type": kind, "rope_theta": 10000.0, **parameters},
    )
    frequencies, factor = ROPE_INIT_FUNCTIONS[kind](config, "cpu", seq_len=seq_len)
    return frequencies.double().numpy(), factor


def test_linear_matches_hugging_face():
    expected, factor = hugging_face("linear", {"factor": 4.0}, 256, 256)
    got = np_scaling.linear_frequencies(np_scaling.rope_frequencies(D_K), 4.0)
    # theirs is float32
    assert np.abs(got / expected - 1).max() < 1e-6 and factor == 1.0


def test_ntk_aware_matches_hugging_faces_dynamic_scaling_at_its_length():
    """Hugging Face's "dynamic" NTK recomputes the base for the current length; with its factor 1, at 4 times
    the trained length, it is static NTK-aware scaling with s = 4."""
    expected, _ = hugging_face("dynamic", {"factor": 1.0}, 64, 256)
    got = np_scaling.ntk_frequencies(D_K, 4.0)
    assert np.abs(got / expected - 1).max() < 1e-6


def test_yarn_matches_hugging_face_outside_its_ramp():
    """Hugging Face (like the YaRN authors' code) ramps linearly in the pair index between rounded bounds; the
    paper's ramp is linear in r. Outside the ramp both keep (r > β) or divide (r < α) each frequency alike, and the
    attention factors are equal; inside it both lie between θ / s and θ."""
    s, length = 4.0, 1024
    expected, factor = hugging_face(
        "yarn", {"factor": s, "original_max_position_embeddings": length}, 4096, 4096
    )
    plain = np_scaling.rope_frequencies(D_K)
    got = np_scaling.yarn_frequencies(plain, s, length)
    turns = length * plain / (2 * math.pi)
    interpolated, kept = turns < 1, turns > 32
    assert interpolated.any() and kept.any()  # both regimes are checked
    assert np.abs(got[interpolated] / expected[interpolated] - 1).max() < 1e-6
    assert np.abs(got[kept] / expected[kept] - 1).max() < 1e-6
    assert np.allclose(expected[kept], plain[kept], rtol=1e-6)
    inside = ~interpolated & ~kept
    assert np.all(expected[inside] <= plain[inside] * (1 + 1e-6))
    assert np.all(expected[inside] >= plain[inside] / s * (1 - 1e-6))
    assert factor == pytest.approx(np_scaling.yarn_attention_factor(s), rel=1e-12)
