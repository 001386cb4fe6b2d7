"""The LLaMA-style block: RMSNorm against torch.nn.RMSNorm, SwiGLU against its formula, NumPy against PyTorch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transformer_tutorial.config import LlamaConfig
from transformer_tutorial.numpy import llama as np_llama
from transformer_tutorial.numpy.masks import causal_mask as np_causal_mask
from transformer_tutorial.torch.decoder_only import generate, train_language_model
from transformer_tutorial.torch.llama import LlamaBlock, LlamaDecoder, RMSNorm, SwiGLU
from transformer_tutorial.torch.masks import causal_mask

CONFIG = LlamaConfig(
    vocab_size=23,
    d_model=24,
    num_heads=6,
    num_kv_heads=2,
    num_layers=2,
    d_ff=40,
    max_len=32,
)


def randomised(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every weight drawn afresh, the norms' scales away from 1, so that no parameter could be ignored."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(
                torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
                * 0.3
                + 0.1
            )
    return module


@pytest.mark.parametrize(
    ("dtype", "tolerance"), [(torch.float32, 1e-6), (torch.float64, 1e-15)]
)
@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_rms_norm_equals_torch_nn_rms_norm(dtype, tolerance, eps):
    """torch.nn.RMSNorm: PyTorch 2.4 or newer."""
    ours = randomised(RMSNorm(16, eps), 0).to(dtype)
    theirs = torch.nn.RMSNorm(16, eps=eps, dtype=dtype)
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
        # a mean away from 0: LayerNorm would differ
        x = torch.randn(3, 5, 16, dtype=dtype) * 4 + 1
        torch.testing.assert_close(ours(x), theirs(x), rtol=tolerance, atol=tolerance)
        numpy = np_llama.rms_norm(x.double().numpy(), ours.numpy_params())
        np.testing.assert_allclose(
            numpy, theirs.double()(x.double()).numpy(), rtol=1e-14, atol=1e-14
        )
        assert not torch.allclose(
            F.layer_norm(x, (16,)) * ours.weight, ours(x), atol=1e-2
        )


def test_swiglu_follows_its_formula_in_float64():
    module = randomised(SwiGLU(6, 10), 1).double()
    x = torch.randn(4, 6, dtype=torch.float64).numpy()
    w_gate, w_up, w_down = (
        getattr(module, name).weight.detach().numpy() for name in ("gate", "up", "down")
    )
    gate = x @ w_gate.T
    # SiLU(z) = z · sigmoid(z), written out
    expected = (gate / (1 + np.exp(-gate)) * (x @ w_up.T)) @ w_down.T
    with torch.no_grad():
        np.testing.assert_allclose(
            module(torch.from_numpy(x)).numpy(), expected, rtol=0, atol=1e-14
        )
    np.testing.assert_allclose(
        np_llama.swiglu(x, module.numpy_params()), expected, rtol=0, atol=1e-14
    )
    # three matrices, no bias
    assert sum(p.numel() for p in module.parameters()) == 3 * 6 * 10


def test_numpy_and_pytorch_blocks_and_decoders_agree():
    block = randomised(LlamaBlock(CONFIG), 2).double().eval()
    x = torch.randn(2, 7, 24, dtype=torch.float64)
    with torch.no_grad():
        expected = block(x, causal_mask(7)).numpy()
    np.testing.assert_allclose(
        np_llama.llama_block(x.numpy(), block.numpy_params(), np_causal_mask(7)),
        expected,
        atol=1e-12,
        rtol=0,
    )
    torch.manual_seed(3)
    model = LlamaDecoder(CONFIG).double().eval()
    tokens = torch.randint(0, 23, (2, 9), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        logits = model(tokens).numpy()
    np.testing.assert_allclose(
        np_llama.llama_decoder(tokens.numpy(), model.numpy_params()),
        logits,
        atol=1e-12,
        rtol=0,
    )


def test_the_decoder_is_causal_and_its_cache_gives_the_same_logits():
    torch.manual_seed(5)
    model = randomised(LlamaDecoder(CONFIG), 6).double().eval()
    tokens = torch.randint(0, 23, (1, 10), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        full = model(tokens)
        changed = tokens.clone()
        changed[0, 6:] = (changed[0, 6:] + 1) % 23
        assert torch.allclose(model(changed)[:, :6], full[:, :6], atol=1e-12)
        assert not torch.allclose(model(changed)[:, 6], full[:, 6], atol=1e-3)
        cache = model.new_cache()
        steps = [model(tokens[:, :4], cache)] + [
            model(tokens[:, t : t + 1], cache) for t in range(4, 10)
        ]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=0, atol=1e-12)
    # G = 2 key/value heads of d = 4 features, 10 positions
    assert cache[0].keys.shape == (
        1,
        2,
        10,
        4,
    )


# After each 1 comes one more than the token before that 1: the next token depends on the token two back.
PATTERN = [1, 2, 1, 3, 1, 4, 1, 5]


def test_generate_continues_a_pattern_from_every_phase_with_and_without_the_cache():
    """A small model trained on the repeated pattern has to read the right cached keys at the right (rotated)
    positions at every step: a stale cache or positions that restart at 0 break the pattern. The prompts come
    from the training text; this checks decoding, not generalisation."""
    torch.manual_seed(8)
    config = LlamaConfig(
        vocab_size=23,
        d_model=16,
        num_heads=2,
        num_kv_heads=1,
        num_layers=1,
        d_ff=32,
        max_len=32,
    )
    model = LlamaDecoder(config)
    ids = np.array(PATTERN * 20)
    train_language_model(model, ids, 100, batch_size=8, length=16, learning_rate=1e-2)
    for start in range(len(PATTERN)):
        prompt = torch.tensor([(PATTERN * 3)[start : start + 4]])
        expected = (PATTERN * 5)[start : start + 16]
        for use_cache in (True, False):
            tokens = generate(prompt, model, 12, top_k=1, use_cache=use_cache)
            assert tokens[0].tolist() == expected, (start, use_cache)


def test_parameter_counts_follow_the_formula():
    model = LlamaDecoder(CONFIG)
    d, g_d, f, v = 24, 2 * 4, 40, 23
    # q and o, k and v, SwiGLU, two RMSNorm scales
    per_block = 2 * d * d + 2 * d * g_d + 3 * d * f + 2 * d
    assert (
        sum(p.numel() for p in model.parameters())
        == v * d + CONFIG.num_layers * per_block + d
    )


def test_an_untrained_decoder_starts_at_the_uniform_baseline():
    torch.manual_seed(0)
    model = LlamaDecoder(CONFIG)
    tokens = torch.randint(0, 23, (4, 17), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(tokens[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, 23), tokens[:, 1:].reshape(-1)).item()
    assert abs(loss - math.log(23)) < 0.02


def test_config_errors():
    with pytest.raises(ValueError, match="num_kv_heads=4 does not divide num_heads=6"):
        LlamaConfig(vocab_size=10, d_model=24, num_heads=6, num_kv_heads=4)
    with pytest.raises(
        ValueError, match="RoPE pairs features: d_model / num_heads = 3 is odd"
    ):
        LlamaConfig(vocab_size=10, d_model=12, num_heads=4, num_kv_heads=2)
    model = LlamaDecoder(CONFIG)
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(1, 30, dtype=torch.int64), cache)
        with pytest.raises(
            ValueError,
            match="3 new positions after the 30 cached ones are more than max_len=32",
        ):
            model(torch.zeros(1, 3, dtype=torch.int64), cache)
