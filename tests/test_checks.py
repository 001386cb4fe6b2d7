"""transformer_tutorial.checks: shapes in messages, broadcasting, and arguments validated once per call."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transformer_tutorial import checks, validation
from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.torch import MultiHeadAttention
from transformer_tutorial.torch.model import Transformer


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((2, 1, 3), (4, 1)),
        ((0,), (1,)),
        ((), (5, 2)),
        ((3, 1), (1, 4)),
        ((1, 0), (7, 1)),
    ],
)
def test_broadcast_shape_agrees_with_numpy(a, b):
    assert checks.broadcast_shape(a, b) == np.broadcast_shapes(a, b)


@pytest.mark.parametrize(("a", "b"), [((2,), (3,)), ((0,), (3,)), ((2, 3), (4, 3))])
def test_broadcast_shape_is_none_where_numpy_refuses(a, b):
    with pytest.raises(ValueError):
        np.broadcast_shapes(a, b)
    assert checks.broadcast_shape(a, b) is None


def test_a_validated_function_checks_a_call_from_outside_and_trusts_its_own_calls():
    seen = []

    def check_inner(x):
        seen.append(("inner", x))
        if x < 0:
            raise ValueError("x must not be negative")

    @validation.validated(check_inner)
    def inner(x):
        return x + 1

    @validation.validated(lambda x: seen.append(("outer", x)))
    def outer(x):
        return inner(x - 10)  # -> inner(-9): not checked, the outer call was

    assert outer(3) == -6
    assert seen == [("outer", 3)]
    with pytest.raises(ValueError, match="must not be negative"):
        inner(-1)
    assert inner(4) == 5  # the flag was reset after the failed call
    assert seen[-1] == ("inner", 4)


def test_a_check_that_raises_leaves_no_trusted_state_behind():
    @validation.validated(lambda x: (_ for _ in ()).throw(TypeError("bad")))
    def refused(x):
        return x

    with pytest.raises(TypeError):
        refused(1)
    assert validation._INSIDE_CHECKED_CALL.get() is False


def counting(monkeypatch, name):
    """Count the calls of one check function, wherever the package imported it from."""
    calls = []
    original = getattr(checks, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    import sys

    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("transformer_tutorial") and (
            getattr(module, name, None) is original
        ):
            monkeypatch.setattr(module, name, counted)
    return calls


def test_multi_head_attention_checks_its_mask_once(monkeypatch):
    layer = MultiHeadAttention(8, 2)
    x = torch.randn(2, 5, 8)
    mask = torch.ones(5, 5, dtype=torch.bool).tril()
    calls = counting(monkeypatch, "check_bool_mask")
    layer(x, x, x, mask)
    assert len(calls) == 1


def test_the_transformer_checks_its_tokens_once_per_call(monkeypatch):
    config = TransformerConfig(
        src_vocab_size=11,
        tgt_vocab_size=11,
        d_model=16,
        num_heads=4,
        num_layers=2,
        d_ff=32,
    )
    model = Transformer(config).eval()
    src = torch.randint(1, 11, (2, 6), generator=torch.Generator().manual_seed(0))
    tgt = torch.randint(1, 11, (2, 5), generator=torch.Generator().manual_seed(1))
    tokens = counting(monkeypatch, "check_tokens")
    masks = counting(monkeypatch, "check_bool_mask")
    model(src, tgt)
    assert len(tokens) == 2  # src and tgt, at the entry point
    assert masks == []  # the masks are built inside, from checked tokens


def test_a_refused_decoding_step_leaves_the_cache_as_it_was():
    config = TransformerConfig(
        src_vocab_size=11,
        tgt_vocab_size=11,
        d_model=16,
        num_heads=4,
        num_layers=1,
        d_ff=32,
    )
    model = Transformer(config).eval()
    memory, src_mask = model.encode(torch.tensor([[3, 4, 5]]))
    cache = model.new_cache()
    model.decode(torch.tensor([[1]]), memory, src_mask, cache)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.decode(torch.tensor([[99]]), memory, src_mask, cache)
    assert len(cache) == 1
    # the next valid step works
    model.decode(torch.tensor([[2]]), memory, src_mask, cache)
    assert len(cache) == 2
