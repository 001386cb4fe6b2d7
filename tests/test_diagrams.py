"""The data behind each teaching diagram (``figures/diagrams.py``) against the library it illustrates.

Each picture draws what a data function returns; these tests compare that data with an independent reference
(plain slicing, PyTorch's own modules, the complex-number form of a rotation), so a picture cannot show a head
split, a mask or a cache that the library does not compute.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from figures import diagrams, style
from project import ROOT

from transformer_tutorial import results
from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.data.tasks import BOS
from transformer_tutorial.experiments.cross_attention import cross_attention_weights
from transformer_tutorial.numpy import (
    MultiHeadAttentionParams,
    from_mha_mask,
    multi_head_attention,
    split_heads,
)
from transformer_tutorial.numpy.vision import unpatchify
from transformer_tutorial.torch import rotary_embedding as torch_rotary_embedding
from transformer_tutorial.torch import split_heads as torch_split_heads
from transformer_tutorial.torch.model import Transformer


def test_head_split_cells_are_the_heads_of_split_heads_and_are_coloured_by_head():
    x = np.random.default_rng(0).normal(size=(2, 6, 12))
    split = diagrams.head_split_cells(x, num_heads=3)
    d = 4
    for head in range(3):
        assert np.array_equal(split.heads[head], split_heads(x, 3)[0, head])
        # features, every token
        assert np.array_equal(split.heads[head], x[0, :, head * d : (head + 1) * d])
        assert np.array_equal(
            split.heads[head],
            torch_split_heads(torch.from_numpy(x), 3)[0, head].numpy(),
        )
    assert np.array_equal(
        split.head_of_cell, np.broadcast_to(np.arange(12) // d, (6, 12))
    )


def test_the_token_split_gives_each_head_whole_tokens_like_the_seeds_bug():
    x = np.random.default_rng(1).normal(size=(1, 6, 6))
    split = diagrams.head_split_cells(x, num_heads=3)
    # the blocks of mistakes.TokenSplitAttention
    blocks = torch.arange(6).tensor_split(3)
    for piece, rows in zip(split.token_pieces, blocks, strict=True):
        assert np.array_equal(piece, x[0, rows.numpy()])
    assert np.array_equal(
        split.piece_of_cell, np.broadcast_to((np.arange(6) // 2)[:, None], (6, 6))
    )


def test_qkv_scores_are_one_heads_projections_scores_and_weights():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4))
    params = MultiHeadAttentionParams.random(4, 1, rng)
    data = diagrams.qkv_scores(x, params)
    assert np.allclose(data["q"], x @ params.w_q + params.b_q) and np.allclose(
        data["v"], x @ params.w_v + params.b_v
    )
    expected = np.einsum("td,sd->ts", data["q"], data["k"]) / 2.0  # √d = 2
    assert np.allclose(data["scores"], expected)
    exp = np.exp(expected)
    assert np.allclose(data["weights"], exp / exp.sum(axis=1, keepdims=True))
    _, weights = multi_head_attention(x[None], x[None], x[None], params)
    assert np.allclose(data["weights"], weights[0, 0])
    q, k, v = (torch.from_numpy(data[name]) for name in "qkv")
    assert np.allclose(data["output"], F.scaled_dot_product_attention(q, k, v).numpy())
    with pytest.raises(ValueError, match="num_heads=2"):
        diagrams.qkv_scores(
            rng.normal(size=(3, 4)), MultiHeadAttentionParams.random(4, 2, rng)
        )


def test_mask_cells_in_both_conventions_block_what_pytorch_blocks():
    ids = np.array([1, 2, 3, 0, 0])
    masks = diagrams.mask_cells(ids, pad_id=0)
    tril = np.tril(np.ones((5, 5), dtype=bool))
    assert np.array_equal(masks["causal"], tril)
    assert np.array_equal(masks["padding"], np.broadcast_to(ids != 0, (5, 5)))
    assert np.array_equal(masks["both"], tril & (ids != 0))
    assert np.array_equal(masks["blocked"], ~masks["both"])
    assert np.array_equal(
        from_mha_mask(masks["attn_mask"], masks["key_padding_mask"][None])[0],
        masks["both"],
    )
    torch.manual_seed(0)
    module = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.randn(1, 5, 8)
    with torch.no_grad():
        _, weights = module(
            x,
            x,
            x,
            attn_mask=torch.from_numpy(masks["attn_mask"]),
            key_padding_mask=torch.from_numpy(masks["key_padding_mask"])[None],
        )
    # zero exactly where the picture shows blocked
    assert np.array_equal(weights[0].numpy() > 0, masks["both"])


def test_cross_attention_weights_are_what_pytorchs_module_computes_from_the_same_inputs():
    torch.manual_seed(0)
    config = TransformerConfig(
        10, 10, d_model=16, num_heads=2, num_layers=2, d_ff=32, max_len=16
    )
    model = Transformer(config).eval()
    source, target = torch.tensor([[3, 4, 5, 6, 7]]), torch.tensor([[BOS, 7, 6, 5]])
    seen = []
    layer = model.decoder.layers[1].cross_attention
    handle = layer.register_forward_pre_hook(lambda _, args: seen.append(args))
    layers = cross_attention_weights(model, source, target)
    handle.remove()
    query, key, value, mask = seen[0]
    with torch.no_grad():
        _, reference = layer.to_pytorch()(
            query,
            key,
            value,
            key_padding_mask=~mask[:, 0],
            need_weights=True,
            average_attn_weights=False,
        )
    assert len(layers) == 2 and layers[1].shape == (2, 4, 5)
    assert torch.allclose(layers[1], reference[0], atol=1e-6)


def test_the_stored_cross_attention_reads_the_source_backwards():
    data = diagrams.cross_attention_map(results.load("reversal-attention"))
    source_length = len(data["keys"])
    assert data["weights"].shape == (source_length + 1, source_length)
    assert np.allclose(data["weights"].sum(axis=1), 1, atol=1e-3)
    # Query t has read t target tokens and predicts source token S - 1 - t: the anti-diagonal.
    assert list(data["strongest"][:source_length]) == list(
        range(source_length - 1, -1, -1)
    )


def test_kv_cache_steps_grow_the_real_cache_by_one_and_hold_what_recomputing_gives():
    torch.manual_seed(0)
    config = TransformerConfig(
        10, 10, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=16
    )
    model = Transformer(config).eval()
    source = torch.tensor([[3, 4, 5, 6]])
    data = diagrams.kv_cache_steps(model, source, steps=5)
    assert data["self_lengths"] == [1, 2, 3, 4, 5]
    assert data["cross_lengths"] == [4] * 5  # the memory, projected once
    assert data["computed_with_cache"] == [1] * 5 and data["computed_without"] == [
        1,
        2,
        3,
        4,
        5,
    ]
    with torch.no_grad():
        memory, src_mask = model.encode(source)
        fresh = model.new_cache()
        # the whole prefix at once
        model.decode(torch.tensor([data["tokens"]]), memory, src_mask, fresh)
    assert torch.allclose(
        data["cache"].layers[0].self_attention.keys,
        fresh.layers[0].self_attention.keys,
        atol=1e-6,
    )
    assert torch.allclose(
        data["cache"].layers[0].self_attention.values,
        fresh.layers[0].self_attention.values,
        atol=1e-6,
    )


def test_rope_example_rotates_each_pair_and_its_scores_depend_only_on_the_offset():
    rng = np.random.default_rng(3)
    q, k = rng.normal(size=(2, 8))
    data = diagrams.rope_example(q, k, length=6)
    theta = 10000.0 ** (-np.arange(0, 8, 2) / 8)
    for position in range(6):
        # a rotation as a complex product
        turned = (q[0::2] + 1j * q[1::2]) * np.exp(1j * position * theta)
        assert np.allclose(data["queries"][position, 0::2], turned.real)
        assert np.allclose(data["queries"][position, 1::2], turned.imag)
    assert np.allclose(
        data["keys"],
        torch_rotary_embedding(torch.from_numpy(np.tile(k, (6, 1)))).numpy(),
    )
    scores = data["scores"]
    for offset in range(-5, 6):
        diagonal = np.diagonal(scores, offset)
        assert np.allclose(diagonal, diagonal[0])
    # an offset and its reverse differ
    assert not np.isclose(scores[0, 1], scores[1, 0])


def test_patch_sequence_is_the_image_cut_row_by_row():
    image = np.random.default_rng(4).random((8, 8))
    data = diagrams.patch_sequence(image, patch_size=4)
    assert data["corners"] == [(0, 0), (0, 4), (4, 0), (4, 4)]
    for patch, (row, col) in zip(data["patches"], data["corners"], strict=True):
        assert np.array_equal(patch, image[row : row + 4, col : col + 4].ravel())
    assert np.array_equal(unpatchify(data["patches"][None], 4, 8, 8)[0, 0], image)


def test_the_palette_keeps_queries_keys_values_and_heads_apart():
    colours = [style.QUERY, style.KEY, style.VALUE, *style.HEADS]
    assert len(set(colours)) == len(colours)
    assert style.head_color(len(style.HEADS)) == style.head_color(0)
    text = (ROOT / "docs" / "diagrams" / "transformer.svg").read_text(encoding="utf-8")
    # the hand-drawn architecture uses the same three
    for colour in (
        style.QUERY,
        style.KEY,
        style.VALUE,
    ):
        assert colour.lower() in text.lower()
