"""The Transformer's layers against PyTorch's own (nn.LayerNorm, nn.TransformerEncoderLayer, …) and NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import DTYPES, TOLERANCE, assert_close
from project import randomise
from torch import nn

from transformer_tutorial import torch as ttorch
from transformer_tutorial.numpy import layers as np_layers
from transformer_tutorial.torch.layers import (
    DecoderLayer,
    EncoderLayer,
    FeedForward,
    LayerNorm,
)


@DTYPES
def test_layer_norm_matches_nn_layer_norm(dtype):
    reference = randomise(nn.LayerNorm(12, eps=1e-3)).to(dtype)
    ours = LayerNorm(12, eps=1e-3).to(dtype)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(3, 5, 12, dtype=dtype) * 4 + 2
    assert_close(ours(x), reference(x), dtype)
    np.testing.assert_allclose(
        np_layers.layer_norm(x.double().numpy(), ours.numpy_params()),
        reference(x).double().detach(),
        atol=1e-6,
    )


def test_layer_norm_uses_the_biased_variance_with_eps_inside_the_root():
    x = np.array([[1.0, 2.0, 4.0]])
    params = np_layers.LayerNormParams(np.ones(3), np.zeros(3), eps=0.5)
    mean, biased = 7 / 3, ((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 3
    expected = (x - mean) / np.sqrt(biased + 0.5)
    np.testing.assert_allclose(np_layers.layer_norm(x, params), expected, rtol=1e-15)
    ours = LayerNorm(3, eps=0.5).double()
    np.testing.assert_allclose(
        ours(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-15
    )


@DTYPES
def test_feed_forward_is_the_same_function_at_every_position(dtype):
    ffn = randomise(FeedForward(8, 32)).to(dtype)
    x = torch.randn(2, 6, 8, dtype=dtype)
    together = ffn(x)
    for t in range(6):
        # one position alone gives the same result
        assert_close(together[:, t], ffn(x[:, t]), dtype)
    order = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    assert_close(ffn(x[:, order]), together[:, order], dtype)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_feed_forward_in_numpy_matches_pytorch(activation):
    ffn = randomise(FeedForward(8, 32, activation)).double()
    x = torch.randn(2, 6, 8, dtype=torch.float64) * 2
    np.testing.assert_allclose(
        np_layers.feed_forward(x.numpy(), ffn.numpy_params()),
        ffn(x).detach(),
        atol=1e-12,
    )


def test_numpy_gelu_is_the_exact_erf_form_not_the_tanh_approximation():
    x = torch.linspace(-4, 4, 81, dtype=torch.float64)
    exact = torch.nn.functional.gelu(x)
    np.testing.assert_allclose(np_layers.gelu(x.numpy()), exact, atol=1e-15)
    tanh_form = torch.nn.functional.gelu(x, approximate="tanh")
    assert np.abs(np_layers.gelu(x.numpy()) - tanh_form.numpy()).max() > 1e-4


@DTYPES
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_nn_transformer_encoder_layer(
    dtype, norm_first, activation
):
    reference = nn.TransformerEncoderLayer(
        16,
        4,
        40,
        dropout=0.0,
        activation=activation,
        batch_first=True,
        norm_first=norm_first,
    )
    reference = randomise(reference).to(dtype).eval()
    ours = EncoderLayer.from_pytorch(reference).eval()
    x = torch.randn(3, 7, 16, dtype=dtype)
    tokens = torch.tensor([[5, 5, 5, 5, 5, 0, 0], [5] * 7, [5, 5, 0, 0, 0, 0, 0]])
    mask = ttorch.padding_mask(tokens, pad_id=0)
    with torch.no_grad():
        expected = reference(
            x, src_key_padding_mask=ttorch.to_mha_key_padding_mask(mask)
        )
        output = ours(x, mask)
    assert_close(output, expected, dtype)
    np_output = np_layers.encoder_layer(
        x.double().numpy(), ours.numpy_params(), mask.numpy(), norm_first
    )
    np.testing.assert_allclose(
        np_output, output.double().numpy(), atol=TOLERANCE[dtype]
    )


@DTYPES
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_layer_matches_nn_transformer_decoder_layer(dtype, norm_first):
    reference = nn.TransformerDecoderLayer(
        16, 4, 40, dropout=0.0, batch_first=True, norm_first=norm_first
    )
    reference = randomise(reference).to(dtype).eval()
    ours = DecoderLayer.from_pytorch(reference).eval()
    y, memory = torch.randn(2, 5, 16, dtype=dtype), torch.randn(2, 8, 16, dtype=dtype)
    self_mask = ttorch.causal_mask(5)
    memory_mask = ttorch.padding_mask(
        torch.tensor([[3] * 8, [3] * 5 + [0] * 3]), pad_id=0
    )
    with torch.no_grad():
        expected = reference(
            y,
            memory,
            tgt_mask=ttorch.to_mha_mask(self_mask, 4),
            memory_key_padding_mask=ttorch.to_mha_key_padding_mask(memory_mask),
        )
        output = ours(y, memory, self_mask, memory_mask)
    assert_close(output, expected, dtype)
    np_output = np_layers.decoder_layer(
        y.double().numpy(),
        memory.double().numpy(),
        ours.numpy_params(),
        self_mask.numpy(),
        memory_mask.numpy(),
        norm_first,
    )
    np.testing.assert_allclose(
        np_output, output.double().numpy(), atol=TOLERANCE[dtype]
    )


def test_post_norm_and_pre_norm_are_different_functions_of_the_same_weights():
    layer = randomise(EncoderLayer(8, 2, 16, dropout=0.0)).double().eval()
    x = torch.randn(1, 4, 8, dtype=torch.float64)
    post = layer(x)
    for add_norm in (layer.add_norm_1, layer.add_norm_2):
        add_norm.norm_first = True
    pre = layer(x)
    assert (post - pre).abs().max() > 0.1
    # post-norm ends in LayerNorm: undoing its γ and β leaves every position with mean 0 and variance 1
    norm = layer.add_norm_2.norm
    standardised = (post - norm.bias) / norm.weight
    torch.testing.assert_close(
        standardised.mean(-1),
        torch.zeros(1, 4, dtype=torch.float64),
        rtol=0,
        atol=1e-12,
    )
    # eps = 1e-5 inside the root shrinks the variance slightly
    torch.testing.assert_close(
        standardised.var(-1, unbiased=False),
        torch.ones(1, 4, dtype=torch.float64),
        rtol=0,
        atol=1e-4,
    )
    # pre-norm's output is a residual sum, not normalised
    assert (pre.mean(-1).abs() > 1e-3).any()


def test_nn_transformer_encoder_adds_a_final_layer_norm_that_the_paper_does_not_have():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    stack = randomise(
        nn.TransformerEncoder(
            layer, num_layers=2, norm=nn.LayerNorm(8), enable_nested_tensor=False
        )
    )
    stack = stack.double().eval()
    ours = [
        EncoderLayer.from_pytorch(pytorch_layer).eval()
        for pytorch_layer in stack.layers
    ]
    final = LayerNorm(8).double()
    final.load_state_dict(stack.norm.state_dict())
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    with torch.no_grad():
        paper = ours[1](ours[0](x))
        assert (paper - stack(x)).abs().max() > 0.1
        torch.testing.assert_close(final(paper), stack(x), rtol=0, atol=1e-12)


def pytorch_layer(kind: str, **options) -> nn.Module:
    """A randomised, batch-first ``nn.TransformerEncoderLayer`` or ``nn.TransformerDecoderLayer`` (float64)."""
    cls = (
        nn.TransformerEncoderLayer if kind == "encoder" else nn.TransformerDecoderLayer
    )
    return randomise(cls(16, 4, 40, batch_first=True, **options)).double()


def run_layer(
    layer: nn.Module, kind: str, x: torch.Tensor, memory: torch.Tensor
) -> torch.Tensor:
    return layer(x) if kind == "encoder" else layer(x, memory)


OURS = {"encoder": EncoderLayer, "decoder": DecoderLayer}
KINDS = pytest.mark.parametrize("kind", ["encoder", "decoder"])


@KINDS
@pytest.mark.parametrize("p", [0.0, 0.1, 0.3])
def test_from_pytorch_copies_every_dropout_probability(kind, p):
    reference = pytorch_layer(kind, dropout=p)
    ours = OURS[kind].from_pytorch(reference)
    theirs = [
        reference.self_attn.dropout,
        *([reference.multihead_attn.dropout] if kind == "decoder" else []),
    ]
    assert [
        module.dropout
        for module in ours.modules()
        if isinstance(module, ttorch.MultiHeadAttention)
    ] == theirs
    residual = [
        getattr(reference, f"dropout{i}").p
        for i in range(1, 4 if kind == "decoder" else 3)
    ]
    assert [
        module.p for module in ours.modules() if isinstance(module, nn.Dropout)
    ] == residual


@KINDS
def test_from_pytorch_without_dropout_matches_in_train_mode_too(kind):
    reference = pytorch_layer(kind, dropout=0.0).train()
    ours = OURS[kind].from_pytorch(reference).train()
    x, memory = (
        torch.randn(2, 5, 16, dtype=torch.float64),
        torch.randn(2, 6, 16, dtype=torch.float64),
    )
    torch.testing.assert_close(
        run_layer(ours, kind, x, memory),
        run_layer(reference, kind, x, memory),
        rtol=0,
        atol=1e-12,
    )


@KINDS
def test_from_pytorch_with_the_default_dropout_matches_in_eval_mode(kind):
    # PyTorch's default, dropout=0.1: eval mode must switch all of it off
    reference = pytorch_layer(kind).eval()
    assert reference.dropout1.p == 0.1
    ours = OURS[kind].from_pytorch(reference).eval()
    x, memory = (
        torch.randn(2, 5, 16, dtype=torch.float64),
        torch.randn(2, 6, 16, dtype=torch.float64),
    )
    with torch.no_grad():
        torch.testing.assert_close(
            run_layer(ours, kind, x, memory),
            run_layer(reference, kind, x, memory),
            rtol=0,
            atol=1e-12,
        )


def test_from_pytorch_refuses_sequence_first_layers():
    with pytest.raises(ValueError, match="batch_first=True"):
        EncoderLayer.from_pytorch(nn.TransformerEncoderLayer(8, 2, 16))


def test_feed_forward_refuses_an_unknown_activation():
    with pytest.raises(
        ValueError, match=r"activation must be one of \['gelu', 'relu'\], got 'swish'"
    ):
        FeedForward(8, 16, activation="swish")
