"""The PyTorch backend in the dtypes and on the devices a reader uses: float16 and bfloat16, the CPU, ``meta`` and CUDA.

* **Precision.** Each public module, built in float16 or bfloat16, is compared with PyTorch's own module where
  PyTorch has one (``nn.MultiheadAttention``, ``nn.LayerNorm``, ``nn.RMSNorm``, ``nn.TransformerEncoderLayer``,
  ``nn.TransformerDecoderLayer``, ``F.scaled_dot_product_attention``), and with our own float64 result where it
  has none (grouped-query attention, the Transformer, the decoder-only and LLaMA-style models, ViT). The
  reference runs in float64 on the very same weights and inputs (the half-precision ones, widened), so the
  difference is the rounding of the half-precision computation alone.
* **Magnitudes.** Inputs come small (× 1e-3) and large: × 300 for the norms and for the embeddings of the
  decoder-only models (a norm that squares in float16 overflows above 256), × 10 elsewhere. Attention on inputs
  × 30 has scores in the hundreds, where a rounding of the scores moves the softmax: there even PyTorch's own
  fused kernel in float16 is about 1e-2 off its float64 result.
* **Tolerance.** The largest difference, divided by the largest entry of the reference, must stay below
  ``LOW_PRECISION_TOLERANCE[dtype]``: 1e-2 for float16 (10 bits of fraction: one rounding is 5e-4) and 6e-2 for bfloat16
  (7 bits: one rounding is 4e-3), about twice the largest error measured over the sweep. A norm that squares in
  float16 is off by 1 (``test_the_tolerance_fails_a_norm_that_squares_float16``).
* **Device.** On ``meta`` (shapes and dtypes without values, in every run of the suite) every module and helper
  keeps its output on the device and in the dtype of its parameters, and never mixes devices. The same sweep runs
  on CUDA where a GPU exists (``pytest -m cuda`` or ``benchmarks/cuda_sweep.sh``) and is skipped elsewhere.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.config import (
    DecoderOnlyConfig,
    LlamaConfig,
    TransformerConfig,
)
from transformer_tutorial.torch.attention import (
    MultiHeadAttention,
    scaled_dot_product_attention,
)
from transformer_tutorial.torch.decoder_only import DecoderOnly, generate
from transformer_tutorial.torch.decoding import beam_search, greedy_decode
from transformer_tutorial.torch.layers import DecoderLayer, EncoderLayer, LayerNorm
from transformer_tutorial.torch.llama import LlamaDecoder, RMSNorm
from transformer_tutorial.torch.masks import causal_mask
from transformer_tutorial.torch.model import Transformer
from transformer_tutorial.torch.modern import GroupedQueryAttention
from transformer_tutorial.torch.vision import VisionTransformer, predict

HALF = [torch.float16, torch.bfloat16]
LOW_PRECISION_TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 6e-2}
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]
SMALL = 1e-3


def relative_error(actual: torch.Tensor, reference: torch.Tensor) -> float:
    """max |actual - reference| / max |reference|, in float64 on the CPU."""
    actual, reference = (
        actual.detach().double().cpu(),
        reference.detach().double().cpu(),
    )
    return float((actual - reference).abs().max() / reference.abs().max())


@dataclass
class Setup:
    """One module of ours, what it must agree with, and its inputs.

    ``ours`` is in float64 (None for a function); ``run(module, *inputs)`` calls ours. ``reference(*inputs)`` is
    the float64 answer: PyTorch's own module (``theirs``, with the same weights), or ``run`` on ours in float64.
    ``inputs(scale, dtype, device)`` draws the inputs at a magnitude; for token models ``scale`` multiplies the
    embedding vectors instead."""

    ours: nn.Module | None
    run: Callable[..., torch.Tensor]
    inputs: Callable[[float, torch.dtype, str], tuple]
    theirs: nn.Module | None = None
    call_theirs: Callable[..., torch.Tensor] | None = None
    large: float = 10.0
    tokens: bool = False


def vectors(*shapes: tuple[int, ...], seed: int = 1):
    """Inputs of the given shapes, standard normal times ``scale``, in ``dtype`` on ``device``."""

    def inputs(scale, dtype, device):
        generator = torch.Generator().manual_seed(seed)
        drawn = [
            torch.randn(shape, generator=generator, dtype=torch.float64) * scale
            for shape in shapes
        ]
        return tuple(t.to(device=device, dtype=dtype) for t in drawn)

    return inputs


def token_ids(*shapes: tuple[int, ...], vocab: int = 20):
    def inputs(scale, dtype, device):
        generator = torch.Generator().manual_seed(4)
        return tuple(
            torch.randint(3, vocab, shape, generator=generator).to(device)
            for shape in shapes
        )

    return inputs


def self_attention(module, x, mask):
    return module(x, x, x, mask)[0]


def multi_head(fused: bool) -> Setup:
    theirs = nn.MultiheadAttention(16, 4, batch_first=True, dtype=torch.float64)
    ours = MultiHeadAttention.from_pytorch(theirs)
    ours.fused = fused
    mask = causal_mask(5)
    return Setup(
        ours,
        lambda m, x: self_attention(m, x, mask.to(x.device)),
        vectors((2, 5, 16)),
        theirs,
        lambda t, x: t(x, x, x, attn_mask=~mask.to(x.device), need_weights=False)[0],
    )


def attention_function() -> Setup:
    def run(_, q, k, v):
        return scaled_dot_product_attention(q, k, v, causal_mask(5, device=q.device))[0]

    return Setup(
        None,
        run,
        vectors((2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), seed=2),
        None,
        lambda _, q, k, v: F.scaled_dot_product_attention(
            q, k, v, causal_mask(5, device=q.device)
        ),
        large=10.0,
    )


def grouped_query() -> Setup:
    ours = GroupedQueryAttention(16, 4, 2, rope=True).double()
    return Setup(
        ours,
        lambda m, x: self_attention(m, x, causal_mask(5, device=x.device)),
        vectors((2, 5, 16)),
    )


def norm(ours_class: type, theirs_class: type) -> Setup:
    theirs = theirs_class(16, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():  # weights other than the initial ones and zeros
        for parameter in theirs.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    ours = ours_class(16).double()
    ours.load_state_dict(theirs.state_dict())
    return Setup(
        ours,
        lambda m, x: m(x),
        vectors((2, 5, 16)),
        theirs,
        lambda t, x: t(x),
        large=300.0,
    )


def layer(kind: str, norm_first: bool) -> Setup:
    settings = dict(
        dropout=0.0, batch_first=True, norm_first=norm_first, dtype=torch.float64
    )
    if kind == "encoder":
        theirs = nn.TransformerEncoderLayer(16, 4, 32, **settings).eval()
        ours = EncoderLayer.from_pytorch(theirs).eval()
        return Setup(
            ours, lambda m, x: m(x), vectors((2, 5, 16)), theirs, lambda t, x: t(x)
        )
    theirs = nn.TransformerDecoderLayer(16, 4, 32, **settings).eval()
    ours = DecoderLayer.from_pytorch(theirs).eval()
    return Setup(
        ours,
        lambda m, y, memory: m(y, memory),
        vectors((2, 4, 16), (2, 6, 16), seed=3),
        theirs,
        lambda t, y, memory: t(y, memory),
    )


def transformer() -> Setup:
    config = TransformerConfig(
        20, 20, d_model=16, num_heads=4, num_layers=2, d_ff=32, dropout=0.0, max_len=16
    )
    return Setup(
        Transformer(config).double().eval(),
        lambda m, src, tgt: m(src, tgt),
        token_ids((2, 6), (2, 5)),
        large=10.0,
        tokens=True,
    )


def decoder_only() -> Setup:
    config = DecoderOnlyConfig(
        vocab_size=20, d_model=16, num_heads=4, d_ff=32, max_len=16
    )
    return Setup(
        DecoderOnly(config).double().eval(),
        lambda m, t: m(t),
        token_ids((2, 7)),
        large=300.0,
        tokens=True,
    )


def llama() -> Setup:
    config = LlamaConfig(
        vocab_size=20, d_model=16, num_heads=4, num_kv_heads=2, d_ff=40, max_len=16
    )
    return Setup(
        LlamaDecoder(config).double().eval(),
        lambda m, t: m(t),
        token_ids((2, 7)),
        large=300.0,
        tokens=True,
    )


def vision() -> Setup:
    model = (
        VisionTransformer(8, 4, 5, d_model=16, num_heads=4, num_layers=2, d_ff=32)
        .double()
        .eval()
    )
    return Setup(model, lambda m, images: m(images), vectors((3, 1, 8, 8), seed=7))


SETUPS = {
    "scaled_dot_product_attention": attention_function,
    "MultiHeadAttention": lambda: multi_head(fused=False),
    "MultiHeadAttention(fused)": lambda: multi_head(fused=True),
    "GroupedQueryAttention(rope)": grouped_query,
    "LayerNorm": lambda: norm(LayerNorm, nn.LayerNorm),
    "RMSNorm": lambda: norm(RMSNorm, nn.RMSNorm),
    "EncoderLayer(post-norm)": lambda: layer("encoder", False),
    "EncoderLayer(pre-norm)": lambda: layer("encoder", True),
    "DecoderLayer(post-norm)": lambda: layer("decoder", False),
    "DecoderLayer(pre-norm)": lambda: layer("decoder", True),
    "Transformer": transformer,
    "DecoderOnly": decoder_only,
    "LlamaDecoder": llama,
    "VisionTransformer": vision,
}


def with_embeddings_scaled(model: nn.Module, scale: float) -> nn.Module:
    """The model with every embedding vector multiplied by ``scale``: token models' inputs at a magnitude."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Embedding):
                module.weight.mul_(scale)
    return model


def half_and_reference(setup: Setup, dtype: torch.dtype, scale: float, device: str):
    """Ours in ``dtype`` on ``device``, and the float64 reference on the same rounded weights and inputs."""
    ours = setup.ours
    if ours is not None:
        ours = copy.deepcopy(ours)
        if setup.tokens:
            ours = with_embeddings_scaled(ours, scale)
        ours = ours.to(device=device, dtype=dtype)  # the weights, rounded
    inputs = setup.inputs(1.0 if setup.tokens else scale, dtype, device)
    actual = setup.run(ours, *inputs)
    wide = tuple(t.double() if t.is_floating_point() else t for t in inputs)
    if setup.call_theirs is None:  # ours in float64 is the reference
        return actual, setup.run(copy.deepcopy(ours).double(), *wide)
    theirs = setup.theirs
    # PyTorch's module, with the same rounding of the same weights
    if theirs is not None:
        theirs = copy.deepcopy(theirs).to(device=device, dtype=dtype).double()
    return actual, setup.call_theirs(theirs, *wide)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("magnitude", ["small", "large"])
@pytest.mark.parametrize("name", SETUPS)
def test_half_precision_agrees_with_the_float64_reference(
    name, magnitude, dtype, device
):
    torch.manual_seed(0)
    setup = SETUPS[name]()
    scale = SMALL if magnitude == "small" else setup.large
    with torch.no_grad():
        actual, expected = half_and_reference(setup, dtype, scale, device)
    assert actual.dtype == dtype and actual.device.type == device
    assert torch.isfinite(expected).all()
    error = relative_error(actual, expected)
    assert error < LOW_PRECISION_TOLERANCE[dtype], (
        f"{name}, {dtype}, inputs × {scale}: relative error {error:.1e}"
    )


@pytest.mark.parametrize("dtype", [torch.float32, *HALF], ids=str)
@pytest.mark.parametrize("name", SETUPS)
def test_every_module_follows_its_parameters_to_the_meta_device(name, dtype):
    torch.manual_seed(0)
    setup = SETUPS[name]()
    with torch.no_grad():
        expected = setup.run(setup.ours, *setup.inputs(1.0, torch.float64, "cpu"))
        ours = (
            None
            if setup.ours is None
            else copy.deepcopy(setup.ours).to(device="meta", dtype=dtype)
        )
        actual = setup.run(ours, *setup.inputs(1.0, dtype, "meta"))
    assert (actual.device.type, actual.dtype, actual.shape) == (
        "meta",
        dtype,
        expected.shape,
    )


def test_the_tolerance_fails_a_norm_that_squares_float16():
    """The sweep's float16 tolerance refuses the norm this package had before: mean of squares in float16."""
    x = torch.tensor([[0.0, 0.0, 300.0, -300.0]], dtype=torch.float16)
    centred = x - x.mean(dim=-1, keepdim=True)
    squared_in_half = centred / torch.sqrt(
        centred.square().mean(dim=-1, keepdim=True) + 1e-5
    )
    reference = nn.LayerNorm(4, dtype=torch.float64)(x.double())
    assert (
        relative_error(squared_in_half, reference)
        > LOW_PRECISION_TOLERANCE[torch.float16]
    )
    assert (
        relative_error(LayerNorm(4).half()(x), reference)
        < LOW_PRECISION_TOLERANCE[torch.float16]
    )


def small_models(dtype: torch.dtype, device: str) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {
        name: setup.ours.to(device=device, dtype=dtype)
        for name, setup in (
            (name, SETUPS[name]())
            for name in ("Transformer", "DecoderOnly", "LlamaDecoder")
        )
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_decoding_and_evaluating_helpers_run_in_half_precision(dtype, device):
    from transformer_tutorial.torch.decoder_only import evaluate_language_model

    models = small_models(dtype, device)
    src = torch.tensor([[3, 4, 5, 6]])  # on the CPU: the helpers move it
    greedy = greedy_decode(models["Transformer"], src.to(device), 4).tokens
    assert greedy.dtype == torch.int64 and greedy.device.type == device
    assert len(beam_search(models["Transformer"], src.to(device), 2, 4)) <= 4
    generator = torch.Generator(device=device).manual_seed(0)
    for name in ("DecoderOnly", "LlamaDecoder"):
        tokens = generate(src, models[name], 3, generator=generator)
        assert tokens.shape == (1, 7) and tokens.device.type == device
        loss = evaluate_language_model(models[name], torch.arange(3, 20))
        # a finite cross-entropy near log(20) = 3.0 for an untrained model
        assert 0 < loss < 10
    torch.manual_seed(0)
    vision = SETUPS["VisionTransformer"]().ours.to(device=device, dtype=dtype)
    labels = predict(vision, torch.randn(3, 1, 8, 8, dtype=dtype))
    assert labels.shape == (3,) and labels.device.type == device


@pytest.mark.parametrize("name", ["DecoderOnly", "LlamaDecoder"])
def test_generation_follows_the_model_to_the_meta_device(name):
    model = small_models(torch.float16, "meta")[name]
    tokens = generate(torch.tensor([[3, 4]]), model, 3)
    assert tokens.device.type == "meta" and tokens.shape == (1, 5)


@pytest.mark.parametrize("device", DEVICES)
def test_the_fused_kernel_gives_zeros_for_a_fully_masked_row(device):
    """Training takes the fused path (``training_mode``); some CUDA kernels of PyTorch once gave NaN on a row
    with nothing to attend to. This checks the kernels of the installed PyTorch, on the CPU and on a card."""
    for dtype in (torch.float32, *HALF):
        q, k, v = (
            torch.randn(1, 2, 3, 8, device=device, dtype=dtype) for _ in range(3)
        )
        mask = torch.ones(3, 3, dtype=torch.bool, device=device)
        mask[1] = False
        ours = MultiHeadAttention(16, 2, fused=True).to(device=device, dtype=dtype)
        heads, _ = ours.attend(q, k, v, mask)
        assert torch.isfinite(heads).all(), dtype
        assert (heads[:, :, 1] == 0).all(), dtype


@pytest.mark.cuda
@CUDA
def test_training_helpers_follow_the_model_to_cuda():
    """The data of every training and evaluation helper starts on the CPU; the model waits on the card."""
    import numpy as np

    from transformer_tutorial.data.tasks import ReversalTask
    from transformer_tutorial.torch.decoder_only import (
        evaluate_language_model,
        train_language_model,
    )
    from transformer_tutorial.torch.mistakes import with_token_split_attention
    from transformer_tutorial.torch.training import (
        exact_match_accuracy,
        reversal_batches,
        train,
    )
    from transformer_tutorial.torch.vision import train_classifier

    models = small_models(torch.float32, "cuda")
    ids = np.arange(60) % 20
    assert (
        len(train_language_model(models["DecoderOnly"], ids, steps=2, batch_size=2))
        == 2
    )
    assert np.isfinite(evaluate_language_model(models["LlamaDecoder"], ids))
    task = ReversalTask(num_symbols=5, min_length=1, max_length=4)
    transformer = with_token_split_attention(
        small_models(torch.float32, "cuda")["Transformer"]
    )
    train(
        transformer,
        reversal_batches(task, 4, seed=0),
        steps=2,
        warmup=1,
        progress=False,
    )
    assert (
        0
        <= exact_match_accuracy(models["Transformer"], task, num_sequences=4, seed=0)
        <= 1
    )
    vision = SETUPS["VisionTransformer"]().ours.float().cuda()
    log = train_classifier(
        vision, torch.randn(8, 1, 8, 8), torch.arange(8) % 5, epochs=1, batch_size=4
    )
    assert len(log.losses) == 2
    layer = nn.TransformerEncoderLayer(
        16, 4, 32, batch_first=True, bias=False, device="cuda"
    )
    assert {p.device.type for p in EncoderLayer.from_pytorch(layer).parameters()} == {
        "cuda"
    }


@pytest.mark.cuda
@CUDA
def test_sampling_with_a_cuda_generator_draws_on_the_card():
    from transformer_tutorial.torch.decoder_only import sample_from

    probabilities = torch.full((4, 10), 0.1, device="cuda")
    first = sample_from(probabilities, torch.Generator(device="cuda").manual_seed(0))
    again = sample_from(probabilities, torch.Generator(device="cuda").manual_seed(0))
    assert first.device.type == "cuda" and torch.equal(first, again)
