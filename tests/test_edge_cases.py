"""Edge cases a reader meets outside float32 on one CPU: half precision, other devices, ties, refused inputs,
train mode, the caller's random state, and the site's hooks and listings at their borders.

Each test here failed before the fix it guards. Device plumbing is tested on the ``meta`` device: a tensor there
has a shape, a dtype and a device but no values, so a computation that mixes devices fails on it as it would on a
GPU, and the first step that must read a value back (``.item()``, boolean indexing) is where a run on ``meta``
stops.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from transformer_tutorial.config import DecoderOnlyConfig, TransformerConfig
from transformer_tutorial.data.tasks import ReversalTask
from transformer_tutorial.numpy import layers as np_layers
from transformer_tutorial.numpy import llama as np_llama
from transformer_tutorial.numpy import sampling as np_sampling
from transformer_tutorial.torch import decoding, sampling
from transformer_tutorial.torch.attention import MultiHeadAttention
from transformer_tutorial.torch.decoder_only import (
    DecoderOnly,
    evaluate_language_model,
    language_model_loss,
    train_language_model,
)
from transformer_tutorial.torch.layers import DecoderLayer, EncoderLayer, LayerNorm
from transformer_tutorial.torch.llama import RMSNorm
from transformer_tutorial.torch.mistakes import with_token_split_attention
from transformer_tutorial.torch.model import Transformer
from transformer_tutorial.torch.training import exact_match_accuracy, train
from transformer_tutorial.torch.vision import VisionTransformer, predict

ROOT = Path(__file__).resolve().parents[1]
# Where a run on `meta` must stop: reading a value back, or a shape that depends on values (boolean indexing).
META_STOPS = r"cannot be called on meta tensors|torch\.nonzero\(\)"


def load_hook(name: str):
    spec = importlib.util.spec_from_file_location(
        f"{name}_hook", ROOT / "theme" / "hooks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_transformer(seed: int = 0, **overrides) -> Transformer:
    settings = dict(d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0)
    settings.update(overrides)
    torch.manual_seed(seed)
    return Transformer(TransformerConfig(12, 12, **settings, max_len=32))


# 1. Norms in half precision: the statistics in float32, as PyTorch's own norms compute them.


def test_layer_norm_in_float16_keeps_large_inputs_as_nn_layer_norm_does():
    x = torch.tensor([0.0, 0.0, 300.0, -300.0], dtype=torch.float16)
    expected = nn.LayerNorm(4).half()(x)  # [0, 0, 1.414, -1.414]
    torch.testing.assert_close(LayerNorm(4).half()(x), expected, atol=2e-3, rtol=0)


def test_rms_norm_in_float16_keeps_large_inputs_as_nn_rms_norm_does():
    x = torch.tensor([0.0, 0.0, 300.0, -300.0], dtype=torch.float16)
    expected = nn.RMSNorm(4, eps=1e-5).half()(x)  # [0, 0, 1.414, -1.414]
    torch.testing.assert_close(RMSNorm(4).half()(x), expected, atol=2e-3, rtol=0)


# 2. A mistake variant keeps the model's dtype, device and bias.


@pytest.mark.parametrize("bias", [True, False])
def test_token_split_attention_keeps_the_dtype_and_the_bias_of_the_model(bias):
    model = nn.Sequential(MultiHeadAttention(8, 2, bias=bias)).double()
    wrong = with_token_split_attention(model)[0]
    assert {p.dtype for p in wrong.parameters()} == {torch.float64}
    assert (wrong.q_proj.bias is None) == (not bias)
    x = torch.randn(1, 4, 8, dtype=torch.float64)
    assert wrong(x, x, x)[0].dtype == torch.float64


def test_token_split_attention_stays_on_the_device_of_the_model():
    model = nn.Sequential(MultiHeadAttention(8, 2)).to("meta")
    wrong = with_token_split_attention(model)[0]
    assert {p.device.type for p in wrong.parameters()} == {"meta"}


# 3. Training and evaluation helpers move their data to the model's device.


def test_language_model_loss_moves_the_windows_to_the_models_device():
    model = DecoderOnly(DecoderOnlyConfig(vocab_size=11, d_model=16, max_len=8)).to(
        "meta"
    )
    loss = language_model_loss(model, torch.randint(0, 11, (2, 9)))
    assert loss.device.type == "meta"


def test_training_and_evaluating_a_language_model_on_meta_stop_only_at_reading_the_loss():
    model = DecoderOnly(DecoderOnlyConfig(vocab_size=11, d_model=16, max_len=8)).to(
        "meta"
    )
    ids = np.arange(40) % 11
    with pytest.raises(RuntimeError, match=META_STOPS):
        train_language_model(model, ids, steps=1, batch_size=2)
    with pytest.raises(RuntimeError, match=META_STOPS):
        evaluate_language_model(model, ids)


def test_the_reversal_helpers_on_meta_stop_only_at_reading_a_value():
    model = small_transformer().to("meta")
    task = ReversalTask(num_symbols=5, min_length=1, max_length=4)
    from transformer_tutorial.torch.training import reversal_batches

    with pytest.raises(RuntimeError, match=META_STOPS):
        train(
            model, reversal_batches(task, 2, seed=0), steps=1, warmup=1, progress=False
        )
    with pytest.raises(RuntimeError, match=META_STOPS):
        exact_match_accuracy(model, task, num_sequences=2, seed=0)


# 4. The beam-search twins agree on ties: the lower index first, as a stable sort orders them.


def test_penalised_beam_search_breaks_ties_by_the_lower_index_in_both_backends():
    table = np.full(5, np.log(0.2))

    def numpy_step(prefixes):
        return np.tile(table, (len(prefixes), 1))

    def torch_step(prefixes):
        return torch.from_numpy(numpy_step(prefixes))

    # EOS (4) is never the best: every hypothesis runs to max_new_tokens.
    expected, _ = np_sampling.penalised_beam_search(numpy_step, [0], 2, 3, eos_id=9)
    actual, _ = sampling.penalised_beam_search(torch_step, [0], 2, 3, eos_id=9)
    assert expected == [0, 0, 0]
    assert actual == expected


def test_beam_search_of_the_transformer_breaks_ties_by_the_lower_index():
    model = small_transformer()
    with torch.no_grad():  # a uniform output layer: every token ties at every step
        model.output.weight.zero_()
    # Two beams, three steps, no EOS among the two lowest ids: the lowest ids win every tie.
    tokens = decoding.beam_search(model.eval(), torch.tensor([[3, 4]]), 2, 3)
    assert tokens == [0, 0, 0]


# 5. A refused step leaves the decoding cache as it was.


def test_a_refused_token_leaves_the_decoding_cache_unchanged():
    model = small_transformer().eval()
    memory, src_mask = model.encode(torch.tensor([[3, 4, 5]]))
    cache = model.new_cache()
    model.decode(torch.tensor([[1]]), memory, src_mask, cache)
    with pytest.raises(ValueError, match="tgt"):
        model.decode(torch.tensor([[99]]), memory, src_mask, cache)
    assert len(cache) == 1 == len(cache.layers[0].self_attention)
    model.decode(torch.tensor([[5]]), memory, src_mask, cache)  # the next valid step
    assert len(cache) == 2


# 6. The MathML hook leaves code and escaped dollars alone.


def test_dollars_inside_code_in_a_notebook_cell_are_not_typeset():
    mathml = load_hook("mathml")
    page = (
        '<div class="jp-RenderedMarkdown"><p>Run <code>echo $HOME $PATH</code>, '
        "then $x$.</p><pre><code>cost = $5 + $6</code></pre></div>"
    )
    out = mathml.typeset(page, "nb.py")
    assert "<code>echo $HOME $PATH</code>" in out
    assert "<code>cost = $5 + $6</code>" in out
    assert out.count("<math") == 1


def test_an_escaped_dollar_in_a_notebook_source_stays_a_dollar():
    from nbconvert.filters.markdown import (
        markdown2html_mistune,
    )  # what mkdocs-jupyter renders cells with

    notebooks, mathml = load_hook("notebooks"), load_hook("mathml")
    source = "It costs \\$5, and \\$6 with $x$ of tax; `\\$7` in code."
    cell = markdown2html_mistune(notebooks.escaped_dollars(source))
    page = f'<div class="jp-RenderedMarkdown">{cell}</div>'
    out = notebooks.shown_dollars(mathml.typeset(page, "nb.py"))
    assert out.count("<math") == 1 and "<mi>x</mi>" in out
    assert "costs &#36;5, and &#36;6 with" in out
    assert "<code>\\$7</code>" in out  # code spans keep their text as written


# 7. Every relative link in a notebook is checked, whatever its name starts with.


def test_a_notebook_link_to_a_missing_page_whose_name_starts_with_data_fails():
    from mkdocs.exceptions import PluginError

    notebooks = load_hook("notebooks")
    page = SimpleNamespace(
        nb_url="x.ipynb",
        url="notebooks/x/",
        file=SimpleNamespace(src_uri="notebooks/x.py"),
    )
    files = SimpleNamespace(get_file_from_path=lambda path: None)
    html = '<a href="dataset-that-does-not-exist.md">the data</a>'
    with pytest.raises(PluginError, match=r"dataset-that-does-not-exist\.md"):
        notebooks.on_page_content(html, page, None, files)


# 8. Layers built without biases copy from PyTorch.


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_from_pytorch_copies_layers_without_biases(kind):
    torch.manual_seed(0)
    settings = dict(dropout=0.0, batch_first=True, bias=False)
    if kind == "encoder":
        reference = nn.TransformerEncoderLayer(8, 2, 16, **settings).eval()
        ours = EncoderLayer.from_pytorch(reference).eval()
        x = torch.randn(2, 5, 8)
        torch.testing.assert_close(ours(x), reference(x))
    else:
        reference = nn.TransformerDecoderLayer(8, 2, 16, **settings).eval()
        ours = DecoderLayer.from_pytorch(reference).eval()
        y, memory = torch.randn(2, 4, 8), torch.randn(2, 5, 8)
        torch.testing.assert_close(ours(y, memory), reference(y, memory))


def test_from_pytorch_keeps_the_device_of_the_layer():
    reference = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, device="meta")
    ours = EncoderLayer.from_pytorch(reference)
    assert {p.device.type for p in ours.parameters()} == {"meta"}


# 9. Training accepts exactly one window, as evaluation does.


def test_train_language_model_accepts_exactly_one_window():
    torch.manual_seed(0)
    model = DecoderOnly(
        DecoderOnlyConfig(vocab_size=5, d_model=8, num_heads=2, d_ff=16, max_len=4)
    )
    ids = np.array([1, 2, 3, 4, 0])  # length + 1 = 5 tokens: one window
    evaluate_language_model(model, ids)
    losses = train_language_model(model, ids, steps=2, batch_size=1)
    assert len(losses) == 2
    with pytest.raises(ValueError, match="ids has 4 tokens"):
        train_language_model(model, ids[:4], steps=1)


# 10. NumPy activations: no overflow warning, 0-d inputs, a vectorised GELU.


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_silu_does_not_overflow_on_large_negative_inputs(dtype):
    x = np.array([-1e4, -100.0, -89.0, 0.0, 89.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = np_llama.silu(x)
    assert out.dtype == dtype
    expected = torch.nn.functional.silu(torch.tensor(x.astype(np.float64))).numpy()
    np.testing.assert_allclose(out.astype(np.float64), expected, rtol=1e-3, atol=1e-30)


@pytest.mark.parametrize("function", [np_layers.gelu, np_layers.relu, np_llama.silu])
def test_activations_take_a_0_d_input(function):
    out = function(np.array(-0.5))
    assert np.ndim(out) == 0 and np.asarray(out).dtype == np.float64
    reference = {
        np_layers.gelu: torch.nn.functional.gelu,
        np_layers.relu: torch.relu,
        np_llama.silu: torch.nn.functional.silu,
    }[function]
    assert float(out) == pytest.approx(
        float(reference(torch.tensor(-0.5, dtype=torch.float64))), rel=1e-12
    )


def test_gelu_is_computed_without_a_python_loop(monkeypatch):
    import math

    calls = []
    real = math.erf
    monkeypatch.setattr(math, "erf", lambda v: calls.append(v) or real(v))
    x = np.linspace(-4, 4, 1000)
    out = np_layers.gelu(x)
    assert calls == []  # no element goes through math.erf one at a time
    expected = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


# 11. Decoding runs in eval mode and leaves the mode as it found it.


def test_greedy_decoding_a_model_in_train_mode_gives_the_same_tokens_twice():
    model = small_transformer(dropout=0.5)
    assert model.training
    src = torch.tensor([[3, 4, 5, 6]])
    first = decoding.greedy_decode(model, src, 6).tokens
    second = decoding.greedy_decode(model, src, 6).tokens
    assert torch.equal(first, second)
    assert torch.equal(first, decoding.greedy_decode(model.eval(), src, 6).tokens)


@pytest.mark.parametrize("training", [True, False])
def test_predicting_leaves_the_model_in_the_mode_it_found(training):
    torch.manual_seed(0)
    model = VisionTransformer(4, 2, 3, d_model=8, num_heads=2, num_layers=1, d_ff=16)
    model.train(training)
    predict(model, torch.randn(2, 1, 4, 4))
    assert model.training is training
    for function in (
        lambda m: decoding.greedy_decode(m, torch.tensor([[3, 4]]), 2),
        lambda m: decoding.beam_search(m, torch.tensor([[3, 4]]), 2, 2),
    ):
        transformer = small_transformer().train(training)
        function(transformer)
        assert transformer.training is training


def test_no_attention_row_of_a_training_batch_is_fully_masked():
    """Why ``training_mode`` may take the fused path, whose CUDA kernels once gave NaN on a fully masked row:
    training never makes one. Every source holds a symbol (its keys are not all padding), and every decoder
    input starts with BOS, which each causal row can see. (The kernels themselves are checked on such a row in
    ``test_dtypes_and_devices.py``.)"""
    from transformer_tutorial.data.tasks import BOS, PAD
    from transformer_tutorial.torch.training import ReversalRecipe, reversal_batches

    recipe = ReversalRecipe()
    next_batch = reversal_batches(recipe.task, 256, seed=0)
    for _ in range(4):
        src, tgt_in, _ = next_batch()
        assert (src != PAD).any(dim=1).all()
        assert (tgt_in[:, 0] == BOS).all()


# 12. Library functions leave the caller's global random state alone.


def test_library_functions_leave_the_global_rng_alone():
    from figures.diagrams.training import kv_cache

    from transformer_tutorial.experiments.gradients import gradient_at_first_layer
    from transformer_tutorial.torch.training import ReversalRecipe, train_reversal

    calls = [
        lambda: gradient_at_first_layer(2, True, True, d_model=8),
        lambda: kv_cache(steps=2),
        lambda: train_reversal(
            ReversalRecipe(steps=1, warmup=1, d_model=16, d_ff=32), progress=False
        ),
    ]
    for call in calls:
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        call()
        assert torch.equal(torch.rand(3), expected)


def test_seeded_library_functions_still_repeat_themselves():
    from transformer_tutorial.experiments.gradients import gradient_at_first_layer

    torch.manual_seed(1)
    first = gradient_at_first_layer(2, True, True, d_model=8)
    torch.manual_seed(2)
    assert gradient_at_first_layer(2, True, True, d_model=8) == first


# 13. Every snippet section closes in the file that opens it.

SECTION_MARKER = re.compile(r"--8<-- \[(start|end):([\w-]+)\]")


def test_every_snippet_section_opens_and_closes_in_its_own_file():
    problems = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        open_sections: set[str] = set()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for kind, name in SECTION_MARKER.findall(line):
                where = f"{path.relative_to(ROOT)}:{number}"
                if kind == "start":
                    if name in open_sections:
                        problems.append(f"{where}: {name} opened twice")
                    open_sections.add(name)
                elif name not in open_sections:
                    problems.append(f"{where}: {name} closed but never opened")
                else:
                    open_sections.remove(name)
        problems += [
            f"{path.relative_to(ROOT)}: {name} never closed"
            for name in sorted(open_sections)
        ]
    assert problems == []


def _global_seed_calls(path: Path) -> list[str]:
    """``torch.manual_seed(...)``, ``torch.cuda.manual_seed*(...)``, ``np.random.seed(...)`` and ``random.seed(...)``
    calls in a file (a ``Generator(...).manual_seed`` seeds its own generator and is fine)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        chain, value = [node.func.attr], node.func.value
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name):
            chain.append(value.id)
        name = ".".join(reversed(chain))
        if name in {
            "torch.manual_seed",
            "torch.random.manual_seed",
            "np.random.seed",
            "numpy.random.seed",
            "random.seed",
            "torch.cuda.manual_seed",
            "torch.cuda.manual_seed_all",
        }:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return found


def test_only_modes_seeded_seeds_a_global_generator_in_the_package_and_the_figures():
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "theme").rglob("*.py")]
    calls = [call for path in files for call in _global_seed_calls(path)]
    outside = [
        call
        for call in calls
        if not call.startswith("src/transformer_tutorial/torch/modes.py:")
    ]
    assert outside == [] and len(calls) == 1  # the one inside modes.seeded
