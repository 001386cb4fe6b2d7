"""Conventions side by side: each "same model written differently" is an equality, each "different model" a
measured difference. References are PyTorch's own modules and functions, or an independent formula in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.config import DecoderOnlyConfig
from transformer_tutorial.numpy import conventions as np_conv
from transformer_tutorial.numpy.attention import (
    scaled_dot_product_attention as np_attention,
)
from transformer_tutorial.numpy.layers import gelu as np_gelu
from transformer_tutorial.numpy.relative import rotary_embedding as np_rope
from transformer_tutorial.torch import conventions as conv
from transformer_tutorial.torch.attention import (
    MultiHeadAttention,
    scaled_dot_product_attention,
)
from transformer_tutorial.torch.decoder_only import DecoderOnly, language_model_loss
from transformer_tutorial.torch.layers import EncoderLayer
from transformer_tutorial.torch.masks import causal_mask
from transformer_tutorial.torch.positional import LearnedPositionalEmbedding
from transformer_tutorial.torch.relative import rotary_embedding

D, H, T, B = 16, 2, 6, 3


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_allowed(seed: int) -> torch.Tensor:
    """A random (T, T) True = may attend mask in which every query keeps its own key."""
    allowed = torch.rand(T, T, generator=generator(seed)) < 0.5
    return allowed | torch.eye(T, dtype=torch.bool)


# ---- the same model written differently ----------------------------------------------------------------------


def split_half_by_complex_numbers(x: np.ndarray, base: float = 10000.0) -> np.ndarray:
    """Independent reference: pair (x_i, x_{i + d/2}) is the complex number x_i + j x_{i + d/2}, turned by p θ_i."""
    length, width = x.shape[-2:]
    half = width // 2
    theta = 1.0 / base ** (np.arange(0, width, 2) / width)
    turn = np.exp(1j * np.arange(length)[:, None] * theta)
    z = (x[..., :half] + 1j * x[..., half:]) * turn
    return np.concatenate([z.real, z.imag], axis=-1)


def test_split_half_rope_matches_complex_reference_in_both_backends():
    x = np.random.default_rng(0).normal(size=(B, H, T, 8))
    expected = split_half_by_complex_numbers(x)
    np.testing.assert_allclose(
        np_conv.rotary_embedding_split_half(x), expected, atol=1e-12
    )
    ours = conv.rotary_embedding_split_half(torch.from_numpy(x))
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-12)


def test_split_half_rope_is_interleaved_rope_after_the_permutation():
    x = np.random.default_rng(1).normal(size=(T, 8))
    perm = np_conv.split_half_permutation(8)
    assert perm.tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    np.testing.assert_allclose(
        np_conv.rotary_embedding_split_half(x[:, perm]), np_rope(x)[:, perm], atol=1e-12
    )
    # the two conventions really differ without the permutation
    assert np.abs(np_conv.rotary_embedding_split_half(x) - np_rope(x)).max() > 0.1


def test_permuting_query_and_key_weights_gives_the_same_scores():
    rng = np.random.default_rng(2)
    d_k = D // H
    x = rng.normal(size=(T, D))
    w_q, w_k = rng.normal(size=(2, D, D))
    perm = np_conv.split_half_permutation(d_k, H)
    assert perm.tolist()[:d_k] == [0, 2, 4, 6, 1, 3, 5, 7]
    assert perm.tolist()[d_k:] == [8, 10, 12, 14, 9, 11, 13, 15]

    def heads(y):  # (T, D) -> (H, T, d_k)
        return y.reshape(T, H, d_k).transpose(1, 0, 2)

    q, k = heads(x @ w_q), heads(x @ w_k)
    interleaved = np_rope(q) @ np.swapaxes(np_rope(k), -1, -2)
    q_p, k_p = heads(x @ w_q[:, perm]), heads(x @ w_k[:, perm])
    split = np_conv.rotary_embedding_split_half(q_p) @ np.swapaxes(
        np_conv.rotary_embedding_split_half(k_p), -1, -2
    )
    np.testing.assert_allclose(split, interleaved, atol=1e-10)
    # the torch backend agrees
    torch_perm = conv.split_half_permutation(d_k, H)
    assert torch_perm.tolist() == perm.tolist()
    q_t = rotary_embedding(torch.from_numpy(q))
    np.testing.assert_allclose(q_t.numpy(), np_rope(q), atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_additive_mask_equals_bool_mask(seed):
    g = generator(seed)
    q, k, v = (
        torch.randn(B, H, T, 4, generator=g, dtype=torch.float64) for _ in range(3)
    )
    allowed = random_allowed(seed)
    bias = conv.additive_mask(allowed, torch.float64)
    assert bias.dtype == torch.float64 and torch.equal(bias == 0, allowed)
    expected, _ = scaled_dot_product_attention(q, k, v, allowed)
    torch.testing.assert_close(
        conv.attention_with_additive_mask(q, k, v, bias), expected, rtol=0, atol=1e-12
    )
    # PyTorch's own attention, given the float mask, agrees
    fused = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    torch.testing.assert_close(fused, expected, rtol=0, atol=1e-12)
    qn, kn, vn, an = q.numpy(), k.numpy(), v.numpy(), allowed.numpy()
    np.testing.assert_allclose(
        np_conv.attention_with_additive_mask(qn, kn, vn, np_conv.additive_mask(an)),
        np_attention(qn, kn, vn, an)[0],
        atol=1e-12,
    )


def test_additive_mask_refuses_a_row_with_no_key():
    allowed = torch.ones(T, T, dtype=torch.bool)
    allowed[2] = False
    q = torch.randn(T, 4, generator=generator())
    with pytest.raises(ValueError, match="blocks every key"):
        conv.attention_with_additive_mask(q, q, q, conv.additive_mask(allowed))
    with pytest.raises(ValueError, match="blocks every key"):
        a = allowed.numpy()
        np_conv.attention_with_additive_mask(
            q.numpy(), q.numpy(), q.numpy(), np_conv.additive_mask(a)
        )


@pytest.mark.parametrize("seed", [0, 1])
def test_true_means_blocked_is_a_negation(seed):
    torch.manual_seed(seed)
    reference = nn.MultiheadAttention(D, H, batch_first=True).double().eval()
    ours = MultiHeadAttention.from_pytorch(reference).eval()
    x = torch.randn(B, T, D, generator=generator(seed), dtype=torch.float64)
    allowed = random_allowed(seed)
    blocked = conv.blocked_from_allowed(allowed)
    assert torch.equal(blocked, ~allowed)
    np.testing.assert_array_equal(
        np_conv.blocked_from_allowed(allowed.numpy()), blocked.numpy()
    )
    expected, _ = reference(x, x, x, attn_mask=blocked)
    actual, _ = ours(x, x, x, allowed)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-12)
    # the same mask without the negation is a different (wrong) model
    wrong, _ = reference(x, x, x, attn_mask=allowed & ~torch.eye(T, dtype=torch.bool))
    assert (wrong - expected).abs().max() > 1e-3


def test_sequence_first_equals_batch_first():
    torch.manual_seed(3)
    reference = nn.MultiheadAttention(D, H, batch_first=False).double().eval()
    ours = MultiHeadAttention.from_pytorch(reference).eval()
    x = torch.randn(T, B, D, generator=generator(3), dtype=torch.float64)  # (T, B, D)
    mask = causal_mask(T)
    expected, _ = reference(x, x, x, attn_mask=~mask)
    actual = conv.sequence_first_attention(x, ours, mask)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        np_conv.sequence_first_attention(x.numpy(), ours.numpy_params(), mask.numpy()),
        expected.detach().numpy(),
        atol=1e-12,
    )


def test_fused_qkv_is_pytorchs_in_proj_and_equals_separate_projections():
    torch.manual_seed(4)
    reference = nn.MultiheadAttention(D, H, batch_first=True).double()
    ours = MultiHeadAttention.from_pytorch(reference)
    w_qkv, b_qkv = conv.fuse_qkv(ours)
    torch.testing.assert_close(w_qkv, reference.in_proj_weight, rtol=0, atol=0)
    torch.testing.assert_close(b_qkv, reference.in_proj_bias, rtol=0, atol=0)
    x = torch.randn(B, T, D, generator=generator(4), dtype=torch.float64)
    q, k, v = conv.fused_qkv_projection(x, w_qkv, b_qkv)
    for fused, separate in zip(
        (q, k, v), (ours.q_proj, ours.k_proj, ours.v_proj), strict=True
    ):
        torch.testing.assert_close(fused, separate(x), rtol=0, atol=1e-12)
    params = ours.numpy_params()
    w_np, b_np = np_conv.fuse_qkv(params)
    assert w_np.shape == (D, 3 * D)
    q_np, _, v_np = np_conv.fused_qkv_projection(x.numpy(), w_np, b_np)
    np.testing.assert_allclose(q_np, x.numpy() @ params.w_q + params.b_q, atol=1e-12)
    np.testing.assert_allclose(v_np, v.detach().numpy(), atol=1e-12)


# ---- different models: a measured difference -----------------------------------------------------------------


def test_pre_norm_and_post_norm_are_different_models():
    torch.manual_seed(5)
    post = EncoderLayer(D, H, 4 * D, 0.0, norm_first=False).double().eval()
    pre = EncoderLayer(D, H, 4 * D, 0.0, norm_first=True).double().eval()
    pre.load_state_dict(post.state_dict())  # the very same weights
    x = torch.randn(B, T, D, generator=generator(5), dtype=torch.float64)
    difference = (pre(x, None) - post(x, None)).abs().mean() / post(
        x, None
    ).abs().mean()
    # far above rounding (1e-15): a different function of the same weights
    assert difference > 0.1


def test_learned_and_sinusoidal_positions_are_different_models():
    from transformer_tutorial.numpy.positional import sinusoidal_encoding

    learned = LearnedPositionalEmbedding(32, D)
    assert sum(p.numel() for p in learned.parameters()) == 32 * D
    with pytest.raises(ValueError):
        learned(33)  # no row beyond the table
    assert sinusoidal_encoding(33, D).shape == (33, D)  # a formula: any position


def test_tied_and_untied_embeddings_are_different_models():
    torch.manual_seed(6)
    config = DecoderOnlyConfig(
        vocab_size=20, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=8
    )
    tied = DecoderOnly(config)
    untied = DecoderOnly(config)
    untied.load_state_dict(tied.state_dict())
    untied.output.weight = nn.Parameter(tied.token_embedding.weight.detach().clone())
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(untied) - count(tied) == 20 * 16  # the output layer's own V × D
    windows = torch.randint(0, 20, (4, 9), generator=generator(6))
    with torch.no_grad():
        torch.testing.assert_close(untied(windows[:, :-1]), tied(windows[:, :-1]))
    for model in (tied, untied):  # one identical step of plain gradient descent
        loss = language_model_loss(model, windows)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    with torch.no_grad():
        gap = (untied(windows[:, :-1]) - tied(windows[:, :-1])).abs().max()
    assert gap > 1e-3


def test_gelu_tanh_matches_pytorch_and_differs_from_erf_by_a_measured_amount():
    x = torch.linspace(-8, 8, 16001, dtype=torch.float64)
    torch.testing.assert_close(
        conv.gelu_tanh(x), F.gelu(x, approximate="tanh"), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        np_conv.gelu_tanh(x.numpy()), F.gelu(x, approximate="tanh"), atol=1e-12
    )
    gap = (F.gelu(x) - F.gelu(x, approximate="tanh")).abs()
    np.testing.assert_allclose(
        np.abs(np_gelu(x.numpy()) - np_conv.gelu_tanh(x.numpy())), gap, atol=1e-12
    )
    assert 1e-4 < gap.max().item() < 1e-3
    # the largest gap is at |x| near 2.7, and it vanishes far from 0
    assert 2.5 < abs(x[gap.argmax()].item()) < 3 and gap[x.abs() > 6].max() < 1e-6
