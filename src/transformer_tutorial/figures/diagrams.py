"""Diagrams that teach: each chapter's central idea drawn from the package's own objects.

Every picture has two halves. A *data function* (``head_split_cells``, ``qkv_scores``, ``mask_cells``,
``cross_attention_map``, ``kv_cache_steps``, ``rope_example``, ``patch_sequence``) calls the library function the
picture illustrates and returns what is drawn; ``tests/test_diagrams.py`` checks each one against the library
and an independent reference. A *drawing function* lays that data out with matplotlib, in the colours of
``figures.style``, so that a change in ``src/`` that changes the behaviour changes the picture.

The drawings work in "cell" units: one square cell is one number, drawn with ``_cells``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Arc, FancyArrowPatch, Rectangle

from transformer_tutorial.figures import style
from transformer_tutorial.figures.plotting import WEIGHT_COLORMAP
from transformer_tutorial.numpy import (
    MultiHeadAttentionParams,
    causal_mask,
    padding_mask,
    rotary_embedding,
    scaled_dot_product_attention,
    split_heads,
    to_mha_key_padding_mask,
    to_mha_mask,
)

if TYPE_CHECKING:  # drawing needs torch only when it is called
    import torch

    from transformer_tutorial.torch.model import Transformer

# ---------------------------------------------------------------------------------------------------------------
# Drawing helpers, in cell units on an axes whose y axis points down.


def _canvas(
    width: float, height: float, units_wide: float, units_high: float
) -> tuple[Figure, Axes]:
    """A figure of ``width`` × ``height`` inches with one frameless axes spanning ``units_wide`` × ``units_high``."""
    figure = Figure(figsize=(width, height))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, units_wide)
    ax.set_ylim(units_high, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    return figure, ax


def _cells(
    ax: Axes,
    x0: float,
    y0: float,
    values: np.ndarray | None,
    colors: Any,
    fmt: str = "{:.0f}",
    alpha: Any = style.FILL_ALPHA,
    fontsize: float = 9,
    size: float = 1.0,
) -> None:
    """Draw a (rows, cols) grid of cells with its top-left corner at (x0, y0): a fill per cell and its value.

    ``colors`` is one colour or a (rows, cols) array of them; ``alpha`` one opacity or an array; ``values`` may
    be None for a grid without numbers.
    """
    shape = np.shape(values) if values is not None else np.shape(colors)[:2]
    rows, cols = shape
    colors = np.broadcast_to(np.asarray(colors, dtype=object), shape)
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), shape)
    for row in range(rows):
        for col in range(cols):
            x, y = x0 + col * size, y0 + row * size
            if colors[row, col] != "none":
                ax.add_patch(
                    Rectangle(
                        (x, y),
                        size,
                        size,
                        facecolor=colors[row, col],
                        alpha=alpha[row, col],
                        lw=0,
                    )
                )
            ax.add_patch(
                Rectangle(
                    (x, y), size, size, fill=False, edgecolor=style.muted(), lw=0.6
                )
            )
            if values is not None:
                text = fmt.format(values[row, col])
                text = (
                    text[1:] if text.startswith("-") and not text.strip("-0.") else text
                )  # no "-0.0"
                ax.text(
                    x + size / 2,
                    y + size / 2,
                    text,
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                )


def _frame(
    ax: Axes,
    x: float,
    y: float,
    width: float,
    height: float,
    color: str | None = None,
    lw: float = 1.6,
):
    ax.add_patch(
        Rectangle(
            (x, y), width, height, fill=False, edgecolor=color or style.ink(), lw=lw
        )
    )


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    color=None,
    **text,
):
    color = color or style.ink()
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=12, color=color, lw=1.3
        )
    )
    if label:
        middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 - 0.35)
        ax.text(
            *middle,
            label,
            ha="center",
            va="bottom",
            fontsize=text.pop("fontsize", 9),
            color=color,
            **text,
        )


def _label(ax: Axes, x: float, y: float, text: str, **options) -> None:
    options.setdefault("fontsize", 9)
    options.setdefault("ha", "left")
    options.setdefault("va", "bottom")
    ax.text(x, y, text, **options)


# ---------------------------------------------------------------------------------------------------------------
# 1. The head split.


@dataclass
class HeadSplit:
    """What the head-split picture draws, for the first sequence of ``x``.

    Attributes:
        tokens: (T, D) the sequence before the split.
        head_of_cell: (T, D) the head each number of ``tokens`` lands in, found by following it through
            ``split_heads``: this is what colours the picture.
        heads: (H, T, d) ``split_heads(x, H)[0]``, head by head.
        token_pieces: the seed's bug, ``np.split(tokens, H)``: H pieces of (T / H, D), whole tokens each.
        piece_of_cell: (T, D) the piece each number of ``tokens`` lands in under that bug.
    """

    tokens: np.ndarray
    head_of_cell: np.ndarray
    heads: np.ndarray
    token_pieces: list[np.ndarray]
    piece_of_cell: np.ndarray


def head_split_cells(x: np.ndarray, num_heads: int) -> HeadSplit:
    """Split (B, T, D) ``x`` into heads with ``split_heads`` and record where every number of sequence 0 goes."""
    _, length, width = x.shape
    heads = split_heads(x, num_heads)[0]  # (H, T, d)
    label = np.arange(length * width).reshape(
        1, length, width
    )  # every cell numbered, to be followed
    head_of_cell = np.empty(length * width, dtype=int)
    piece_of_cell = np.empty(length * width, dtype=int)
    for head, cells in enumerate(split_heads(label, num_heads)[0]):
        head_of_cell[cells.ravel()] = head
    for piece, cells in enumerate(np.split(label[0], num_heads)):
        piece_of_cell[cells.ravel()] = piece
    return HeadSplit(
        tokens=x[0],
        head_of_cell=head_of_cell.reshape(length, width),
        heads=heads,
        token_pieces=np.split(x[0], num_heads),
        piece_of_cell=piece_of_cell.reshape(length, width),
    )


def head_split(length: int = 6, d_model: int = 6, num_heads: int = 3) -> Figure:
    """(T, D) → (T, H, d) → (H, T, d) on a numbered sequence, coloured by head, above the seed's token split."""
    x = np.arange(float(length * d_model)).reshape(1, length, d_model)
    split = head_split_cells(x, num_heads)
    d = d_model // num_heads
    head_colors = np.vectorize(style.head_color)(split.head_of_cell)
    gap = 0.45
    x_grouped = d_model + 2.2
    x_heads = x_grouped + d_model + gap * (num_heads - 1) + 2.2
    wide = x_heads + num_heads * d + 0.9 * (num_heads - 1) + 0.2
    top, bottom = 1.6, length + 4.2
    high = bottom + length + 0.25 * num_heads + 0.3
    figure, ax = _canvas(style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high)

    _label(ax, 0, top - 0.25, f"x: (B, T, D), T = {length}, D = {d_model}")
    _cells(ax, 0, top, split.tokens, head_colors)
    grouped = split.heads.transpose(
        1, 0, 2
    )  # (T, H, d): the same numbers, each row cut into H groups of d
    for head in range(num_heads):
        _cells(
            ax,
            x_grouped + head * (d + gap),
            top,
            grouped[:, head],
            style.head_color(head),
        )
    _label(ax, x_grouped, top - 0.25, f"reshape: (B, T, H, d), H = {num_heads}")
    _arrow(ax, (d_model + 0.2, top + length / 2), (x_grouped - 0.2, top + length / 2))
    for head in range(
        num_heads
    ):  # (H, T, d): head first, each head a (T, d) matrix of its own
        left = x_heads + head * (d + 0.9)
        _cells(ax, left, top, split.heads[head], style.head_color(head))
        _frame(ax, left, top, d, length, style.head_color(head), lw=2.2)
        ax.text(
            left + d / 2,
            top + length + 0.2,
            f"head {head}",
            ha="center",
            va="top",
            fontsize=9,
        )
    _label(ax, x_heads, top - 0.25, "transpose: (B, H, T, d)")
    _arrow(ax, (x_heads - 2.0, top + length / 2), (x_heads - 0.2, top + length / 2))
    for row in range(length):
        ax.text(-0.2, top + row + 0.5, f"t{row}", ha="right", va="center", fontsize=8)

    ax.text(
        0,
        bottom - 0.9,
        f"The bug: np.split(x[0], {num_heads}) cuts the tokens, not the features",
        fontsize=9,
        weight="bold",
        va="bottom",
    )
    piece_colors = np.vectorize(style.head_color)(split.piece_of_cell)
    _cells(ax, 0, bottom, split.tokens, piece_colors)
    rows = length // num_heads
    for piece, block in enumerate(split.token_pieces):
        left, y = x_grouped, bottom + piece * (rows + 0.5) - 0.25 * (num_heads - 1)
        _cells(ax, left, y, block, style.head_color(piece))
        _frame(ax, left, y, d_model, rows, style.head_color(piece), lw=2.2)
        ax.text(
            left + d_model + 0.3,
            y + rows / 2,
            f"'head' {piece}: tokens {piece * rows}–{(piece + 1) * rows - 1}, all {d_model} features",
            va="center",
            fontsize=9,
        )
    _arrow(
        ax, (d_model + 0.2, bottom + length / 2), (x_grouped - 0.2, bottom + length / 2)
    )
    for row in range(length):
        ax.text(
            -0.2, bottom + row + 0.5, f"t{row}", ha="right", va="center", fontsize=8
        )
    return figure


# ---------------------------------------------------------------------------------------------------------------
# 2. Queries, keys and values from one input, and the score matrix.


def qkv_scores(
    x: np.ndarray, params: MultiHeadAttentionParams
) -> dict[str, np.ndarray]:
    """One head's queries, keys and values of a (T, D) input, its (T, T) scores and weights, and its output.

    ``params`` must have one head. The queries, keys and values are the three projections of the same ``x``;
    the scores are ``q · k / √d_k``, before the softmax, and the weights and output come from
    ``scaled_dot_product_attention``.
    """
    if params.num_heads != 1:
        raise ValueError(
            f"qkv_scores draws one head, got params with num_heads={params.num_heads}"
        )
    q, k, v = (
        x @ w + b
        for w, b in (
            (params.w_q, params.b_q),
            (params.w_k, params.b_k),
            (params.w_v, params.b_v),
        )
    )
    output, weights = scaled_dot_product_attention(q, k, v)
    return {
        "x": x,
        "q": q,
        "k": k,
        "v": v,
        "scores": q @ k.T / np.sqrt(q.shape[-1]),
        "weights": weights,
        "output": output,
    }


QKV_TOKENS = ("I", "like", "tea")


def qkv_projections(d_model: int = 4) -> Figure:
    """One input x, three projections Q, K, V, and the score table: cell (t, s) is q_t · k_s / √d_k."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(len(QKV_TOKENS), d_model)).round(1)
    params = MultiHeadAttentionParams.random(d_model, 1, rng)
    data = qkv_scores(x, params)
    length = len(QKV_TOKENS)
    step = d_model + 1.2
    x_q = d_model + 2.6
    wide = x_q + 3 * step - 1.2 + 0.1
    top, low = 1.4, length + 3.6
    high = low + length + 2.0
    figure, ax = _canvas(style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high)
    fmt = "{:.1f}"
    _label(ax, 0, top - 0.25, "x: one row per token")
    _cells(ax, 0, top, x, style.MASK_ALLOWED, fmt, alpha=0.25, fontsize=8)
    for row, token in enumerate(QKV_TOKENS):
        ax.text(-0.15, top + row + 0.5, token, ha="right", va="center", fontsize=9)
    roles = (
        ("Q = x W_Q", "q", style.QUERY),
        ("K = x W_K", "k", style.KEY),
        ("V = x W_V", "v", style.VALUE),
    )
    for index, (name, role, color) in enumerate(roles):
        matrix = data[role]
        left = x_q + index * step
        _cells(ax, left, top, matrix, color, fmt, fontsize=8)
        _label(ax, left, top - 0.25, name, color=color, weight="bold")
    _arrow(
        ax, (d_model + 0.2, top + length / 2), (x_q - 0.2, top + length / 2), "project"
    )
    # The score table: the query's row of Q against the key's row of K.
    chosen = (2, 0)  # the query of "tea" and the key of "I"
    _frame(ax, x_q, top + chosen[0], d_model, 1, style.QUERY, lw=2.4)
    _frame(ax, x_q + step, top + chosen[1], d_model, 1, style.KEY, lw=2.4)
    scores_x = 2.6
    _label(ax, scores_x, low - 0.25, "scores: Q Kᵀ / √d_k")
    _cells(ax, scores_x, low, data["scores"], "none", "{:.2f}", fontsize=8)
    _frame(ax, scores_x + chosen[1], low + chosen[0], 1, 1, style.ink(), lw=2.4)
    ax.text(
        scores_x - 0.15,
        low - 0.25,
        "query",
        ha="right",
        va="bottom",
        fontsize=8,
        color=style.QUERY,
    )
    ax.text(
        scores_x + length + 0.1,
        low + length + 0.15,
        "key",
        ha="left",
        va="top",
        fontsize=8,
        color=style.KEY,
    )
    for row, token in enumerate(QKV_TOKENS):
        ax.text(
            scores_x - 0.15,
            low + row + 0.5,
            token,
            ha="right",
            va="center",
            fontsize=9,
            color=style.QUERY,
        )
        ax.text(
            scores_x + row + 0.5,
            low + length + 0.15,
            token,
            ha="center",
            va="top",
            fontsize=9,
            color=style.KEY,
        )
    weights_x = scores_x + length + 2.6
    _label(ax, weights_x, low - 0.25, "softmax of each row")
    _cells(
        ax,
        weights_x,
        low,
        data["weights"],
        style.MASK_ALLOWED,
        "{:.2f}",
        alpha=0.15 + 0.6 * data["weights"],
        fontsize=8,
    )
    _arrow(
        ax,
        (scores_x + length + 0.2, low + length / 2),
        (weights_x - 0.2, low + length / 2),
    )
    output_x = weights_x + length + 2.6
    _label(ax, output_x, low - 0.25, "weights · V: the output")
    _cells(ax, output_x, low, data["output"], style.VALUE, fmt, alpha=0.2, fontsize=8)
    _arrow(
        ax,
        (weights_x + length + 0.2, low + length / 2),
        (output_x - 0.2, low + length / 2),
    )
    query, key = QKV_TOKENS[chosen[0]], QKV_TOKENS[chosen[1]]
    ax.text(
        scores_x,
        low + length + 1.0,
        f"framed: q({query}) · k({key}) / √{d_model} = {data['scores'][chosen]:.2f}",
        fontsize=9,
        va="top",
    )
    return figure


# ---------------------------------------------------------------------------------------------------------------
# 3. Masks, in our convention and in nn.MultiheadAttention's.


def mask_cells(
    tokens: np.ndarray, pad_id: int, num_heads: int = 1
) -> dict[str, np.ndarray]:
    """The masks of one padded sequence (T,), in both conventions, from the library's mask functions.

    Ours (True = may attend): ``padding`` (T, T), broadcast from ``padding_mask``'s (1, T); ``causal`` from
    ``causal_mask``; ``both``, their logical and. ``nn.MultiheadAttention``'s (True = blocked):
    ``key_padding_mask`` (T,) from ``to_mha_key_padding_mask``, ``attn_mask`` (T, T) from ``to_mha_mask``, and
    ``blocked``, what the two block together.
    """
    length = len(tokens)
    padding = padding_mask(np.asarray(tokens)[None], pad_id)  # (1, 1, T)
    causal = causal_mask(length)
    key_padding = to_mha_key_padding_mask(padding)[0]  # (T,)
    attn_mask = to_mha_mask(causal, num_heads)
    return {
        "padding": np.broadcast_to(padding[0], (length, length)),
        "causal": causal,
        "both": padding[0] & causal,
        "key_padding_mask": key_padding,
        "attn_mask": attn_mask,
        "blocked": attn_mask | key_padding[None, :],
    }


MASK_TOKENS = ("the", "cat", "sat", "<pad>", "<pad>")


def _mask_panel(
    ax: Axes, x0: float, y0: float, mask: np.ndarray, allowed: np.ndarray, title: str
) -> None:
    """A boolean mask's cells marked T or F, filled where the query may attend (whatever the convention)."""
    mask = np.atleast_2d(mask)
    allowed = np.broadcast_to(np.atleast_2d(allowed), mask.shape)
    colors = np.where(allowed, style.MASK_ALLOWED, style.MASK_BLOCKED)
    values = np.where(mask, "T", "F")
    _cells(ax, x0, y0, values, colors, "{}", alpha=0.6, fontsize=9)
    ax.text(
        x0 + mask.shape[1] / 2, y0 - 0.3, title, ha="center", va="bottom", fontsize=9
    )


def attention_masks() -> Figure:
    """Padding, causal and both, for "the cat sat" and two pads: as our masks, then as nn.MultiheadAttention's."""
    ids = np.array([1, 2, 3, 0, 0])
    masks = mask_cells(ids, pad_id=0)
    n = len(ids)
    step = n + 1.6
    left = 2.3
    wide = left + 3 * step - 1.6 + 0.2
    top, low = 2.3, n + 6.3
    high = low + n + 0.3
    figure, ax = _canvas(style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high)
    allowed = masks["both"]
    ax.text(
        0,
        0.6,
        "Ours: True = may attend (F.scaled_dot_product_attention)",
        fontsize=9,
        weight="bold",
    )
    panels = (
        ("padding", "padding_mask"),
        ("causal", "causal_mask"),
        ("both", "both: and"),
    )
    for index, (name, title) in enumerate(panels):
        _mask_panel(ax, left + index * step, top, masks[name], masks[name], title)
    ax.text(
        0, low - 1.5, "nn.MultiheadAttention: True = blocked", fontsize=9, weight="bold"
    )
    _mask_panel(
        ax,
        left,
        low,
        masks["key_padding_mask"],
        ~masks["key_padding_mask"],
        "key_padding_mask (S,)",
    )
    _mask_panel(
        ax,
        left + step,
        low,
        masks["attn_mask"],
        ~masks["attn_mask"],
        "attn_mask (T, S)",
    )
    _mask_panel(
        ax, left + 2 * step, low, masks["blocked"], allowed, "attn_mask or key_padding"
    )
    for row, token in enumerate(MASK_TOKENS):
        ax.text(
            left - 0.15, top + row + 0.5, token, ha="right", va="center", fontsize=8
        )
        ax.text(
            left + step - 0.15,
            low + row + 0.5,
            token,
            ha="right",
            va="center",
            fontsize=8,
        )
    ax.text(left - 0.15, low + 0.5, "sequence 0", ha="right", va="center", fontsize=8)
    ax.text(left - 0.15, top - 0.3, "query ↓", ha="right", va="bottom", fontsize=8)
    for col, token in enumerate(MASK_TOKENS):
        ax.text(
            left + col + 0.5,
            top + n + 0.15,
            token,
            ha="center",
            va="top",
            fontsize=8,
            rotation=90,
        )
    ax.text(left + n / 2, top + n + 1.55, "key →", ha="center", va="top", fontsize=8)
    ax.text(
        left,
        low + 1.6,
        "grey: may attend\nempty: blocked\nT = True, F = False",
        va="top",
        fontsize=8,
    )
    return figure


# ---------------------------------------------------------------------------------------------------------------
# 4. Cross-attention of the trained reversal model (a stored result: training takes about 20 seconds).


def cross_attention_map(result: dict[str, Any], layer: int = -1) -> dict[str, Any]:
    """The stored cross-attention of one layer, averaged over its heads: (T, S), with its row and column labels.

    ``result`` is the stored result ``reversal-attention`` (``experiments/cross_attention.py``). Rows are the
    decoder's queries (the target so far, starting with <s>), columns the encoder's keys and values (the
    source); ``strongest`` is the source position each query reads most.
    """
    weights = np.asarray(result["cross_attention"][layer], dtype=float).mean(
        axis=0
    )  # (H, T, S) -> (T, S)
    return {
        "weights": weights,
        "queries": result["target_tokens"],
        "keys": result["source_tokens"],
        "strongest": weights.argmax(axis=1),
        "layer": len(result["cross_attention"]) + layer if layer < 0 else layer,
    }


def cross_attention(result: dict[str, Any]) -> Figure:
    """Which sequence gives the queries and which the keys and values, and the trained model's real weights."""
    data = cross_attention_map(result)
    weights, queries, keys = data["weights"], data["queries"], data["keys"]
    rows, cols = weights.shape
    figure = Figure(figsize=(style.FULL_WIDTH, 3.9), layout="constrained")
    schematic, heat = figure.subplots(1, 2, width_ratios=[1.15, 1])
    # Left: the source on top (keys and values), the target below (queries), a line per strong weight.
    schematic.set_xlim(-0.7, max(rows, cols) - 0.3)
    schematic.set_ylim(-0.9, 3.3)
    schematic.axis("off")
    for position, token in enumerate(keys):
        schematic.text(
            position,
            2.5,
            token,
            ha="center",
            va="center",
            fontsize=10,
            bbox={"boxstyle": "round", "fc": style.KEY, "alpha": 0.35, "ec": "none"},
        )
    for position, token in enumerate(queries):
        schematic.text(
            position,
            0.5,
            token,
            ha="center",
            va="center",
            fontsize=10,
            bbox={"boxstyle": "round", "fc": style.QUERY, "alpha": 0.35, "ec": "none"},
        )
    for query in range(rows):
        for key in range(cols):
            if weights[query, key] > 0.1:
                schematic.plot(
                    [query, key],
                    [0.8, 2.2],
                    color=style.ink(),
                    alpha=float(weights[query, key]),
                    lw=0.5 + 2.5 * weights[query, key],
                )
    schematic.text(
        -0.6,
        3.15,
        "source, read by the encoder: keys and values",
        fontsize=9,
        color=style.KEY,
    )
    schematic.text(
        -0.6,
        -0.35,
        "target so far, in the decoder: queries",
        fontsize=9,
        color=style.QUERY,
        va="top",
    )
    # Right: the weights themselves.
    image = heat.imshow(weights, cmap=WEIGHT_COLORMAP, vmin=0, vmax=1)
    heat.set_xticks(range(cols), keys)
    heat.set_yticks(range(rows), queries)
    for label in heat.get_xticklabels():
        label.set_color(style.KEY)
    for label in heat.get_yticklabels():
        label.set_color(style.QUERY)
    heat.set_xlabel("source position (key)")
    heat.set_ylabel("target position (query)")
    heat.tick_params(length=0)
    heat.set_title(f"layer {data['layer'] + 1}, mean of the heads", fontsize=10)
    figure.colorbar(image, ax=heat, shrink=0.8, label="weight")
    return figure


# ---------------------------------------------------------------------------------------------------------------
# 5. The key/value cache.


def kv_cache_steps(
    model: Transformer, source: torch.Tensor, steps: int
) -> dict[str, Any]:
    """Decode ``steps`` tokens greedily with a real cache, and record how long the caches are after each step.

    Args:
        model: A ``transformer_tutorial.torch.Transformer`` in eval mode.
        source: (1, S) source ids.
        steps: How many tokens to generate.

    Returns:
        ``self_lengths`` and ``cross_lengths``: the number of positions in layer 0's self-attention and
        cross-attention cache after each step; ``computed_with_cache`` and ``computed_without``: how many
        positions each step projects with the cache (the new one) and without it (the whole prefix, recomputed);
        ``tokens``: the decoder's input, <s> first; ``cache``: the final cache, for the tests.
    """
    import torch

    from transformer_tutorial.data.tasks import BOS

    with torch.no_grad():
        memory, src_mask = model.encode(source)
        cache = model.new_cache()
        tokens, self_lengths, cross_lengths, computed = [BOS], [], [], []
        for _ in range(steps):
            before = len(cache.layers[0].self_attention)
            hidden = model.decode(torch.tensor([[tokens[-1]]]), memory, src_mask, cache)
            self_lengths.append(len(cache.layers[0].self_attention))
            cross_lengths.append(len(cache.layers[0].cross_attention))
            computed.append(self_lengths[-1] - before)
            tokens.append(int(model.output(hidden[:, -1]).argmax(dim=-1)))
    return {
        "self_lengths": self_lengths,
        "cross_lengths": cross_lengths,
        "computed_with_cache": computed,
        "computed_without": [len(tokens[: step + 1]) for step in range(steps)],
        "tokens": tokens[:steps],
        "cache": cache,
    }


def kv_cache(steps: int = 6) -> Figure:
    """Step by step: the self-attention cache grows by one key and value; without it every step redoes the prefix."""
    import torch

    from transformer_tutorial.config import TransformerConfig
    from transformer_tutorial.torch.model import Transformer

    torch.manual_seed(0)
    model = Transformer(
        TransformerConfig(
            12, 12, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=32
        )
    ).eval()
    source = torch.tensor([[3, 4, 5, 6]])
    data = kv_cache_steps(model, source, steps)
    size = 0.9
    left_with, left_without = 1.9, 1.9 + steps * size + 2.4
    wide = left_without + steps * size + 1.9
    top = 2.2
    high = top + steps * size + 1.7
    figure, ax = _canvas(style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high)
    ax.text(left_with, 0.5, "with the cache", fontsize=10, weight="bold", va="top")
    ax.text(
        left_without,
        0.5,
        "without: recompute the prefix",
        fontsize=10,
        weight="bold",
        va="top",
    )
    ax.text(
        left_with,
        1.5,
        "solid: computed · faint: read from the cache",
        fontsize=8,
        va="bottom",
    )
    ax.text(
        left_without,
        1.5,
        "every step computes every position again",
        fontsize=8,
        va="bottom",
    )
    for left in (left_with, left_without):
        ax.text(
            left - 0.12,
            top + size / 4,
            "k",
            ha="right",
            va="center",
            fontsize=8,
            color=style.KEY,
            weight="bold",
        )
        ax.text(
            left - 0.12,
            top + 3 * size / 4,
            "v",
            ha="right",
            va="center",
            fontsize=8,
            color=style.VALUE,
            weight="bold",
        )
    for step in range(steps):
        y = top + step * size
        ax.text(0.1, y + size / 2, f"step {step + 1}", va="center", fontsize=9)
        cached = data["self_lengths"][step]
        new = data["computed_with_cache"][step]
        for position in range(cached):
            fresh = position >= cached - new
            for half, color in ((0, style.KEY), (1, style.VALUE)):
                for left, computed in ((left_with, fresh), (left_without, True)):
                    if (
                        left == left_without
                        and position >= data["computed_without"][step]
                    ):
                        continue
                    alpha = 0.85 if computed else 0.25
                    rect = Rectangle(
                        (left + position * size, y + half * size / 2),
                        size,
                        size / 2,
                        facecolor=color,
                        alpha=alpha,
                        lw=0,
                    )
                    ax.add_patch(rect)
            # the outline of the cell, in both rows
            for left in (left_with, left_without):
                ax.add_patch(
                    Rectangle(
                        (left + position * size, y),
                        size,
                        size,
                        fill=False,
                        edgecolor=style.muted(),
                        lw=0.6,
                    )
                )
        ax.text(
            left_with + steps * size + 0.2,
            y + size / 2,
            f"{new} new",
            va="center",
            fontsize=8,
        )
        ax.text(
            left_without + steps * size + 0.2,
            y + size / 2,
            f"{data['computed_without'][step]} new",
            va="center",
            fontsize=8,
        )
    total_with, total_without = (
        sum(data["computed_with_cache"]),
        sum(data["computed_without"]),
    )
    bottom = top + steps * size + 0.35
    ax.text(
        left_with,
        bottom,
        f"{total_with} keys and values computed in all",
        fontsize=9,
        va="top",
    )
    ax.text(
        left_without, bottom, f"{total_without} computed in all", fontsize=9, va="top"
    )
    ax.text(
        left_with,
        bottom + 0.6,
        f"cross-attention: the memory's {data['cross_lengths'][0]} keys and values, computed at step 1, reused",
        fontsize=8,
        va="top",
    )
    return figure


# ---------------------------------------------------------------------------------------------------------------
# 6. RoPE.


def rope_example(q: np.ndarray, k: np.ndarray, length: int) -> dict[str, np.ndarray]:
    """One query vector and one key vector (d,) placed at every position 0 … length - 1 and rotated by RoPE.

    Returns ``queries`` and ``keys`` (length, d), the rotated copies from ``rotary_embedding``, and ``scores``
    (length, length): ``scores[m, n]`` is the query at position m against the key at position n.
    """
    queries = rotary_embedding(np.tile(q, (length, 1)))
    keys = rotary_embedding(np.tile(k, (length, 1)))
    return {"queries": queries, "keys": keys, "scores": queries @ keys.T}


def _pair_panel(ax: Axes, data: dict[str, np.ndarray], m: int, n: int) -> None:
    q, k = data["queries"][m, :2], data["keys"][n, :2]
    ax.add_patch(
        FancyArrowPatch(
            (0, 0),
            tuple(q),
            arrowstyle="-|>",
            mutation_scale=12,
            color=style.QUERY,
            lw=2,
        )
    )
    ax.add_patch(
        FancyArrowPatch(
            (0, 0), tuple(k), arrowstyle="-|>", mutation_scale=12, color=style.KEY, lw=2
        )
    )
    ax.text(
        *(1.18 * q),
        f"q at {m}",
        color=style.QUERY,
        ha="center",
        va="center",
        fontsize=9,
    )
    ax.text(
        *(1.18 * k), f"k at {n}", color=style.KEY, ha="center", va="center", fontsize=9
    )
    start = np.degrees(np.arctan2(q[1], q[0]))
    turn = (
        np.degrees(np.arctan2(k[1], k[0])) - start + 180
    ) % 360 - 180  # from q to k, within ±180°
    theta1, theta2 = sorted((start, start + turn))
    ax.add_patch(
        Arc((0, 0), 0.7, 0.7, theta1=theta1, theta2=theta2, color=style.ink(), lw=1)
    )

    ax.add_patch(Arc((0, 0), 2.0, 2.0, color=style.muted(), lw=0.6, linestyle=":"))
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    where = "ahead of" if turn > 0 else "behind"
    score = data["scores"][m, n]
    ax.set_title(
        f"q at m = {m}, k at n = {n}\nk {abs(turn):.0f}° {where} q; score {score:.2f}",
        fontsize=9,
    )


def rope_rotation(length: int = 6, d: int = 4) -> Figure:
    """RoPE turns the first feature pair of q and k by its position; equal offsets give equal angles and scores."""
    angle = np.radians(20)
    q = np.zeros(d)
    k = np.zeros(d)
    q[:2], k[:2] = (
        (1.0, 0.0),
        (np.cos(angle), np.sin(angle)),
    )  # unit pairs 20° apart; the other pairs give 0.5
    q[2:], k[2:] = 0.5 / np.sqrt(d - 2), 0.5 / np.sqrt(d - 2)
    data = rope_example(q, k, length)
    figure = Figure(figsize=(style.FULL_WIDTH, 2.9), layout="constrained")
    first, second, table = figure.subplots(1, 3, width_ratios=[1, 1, 1.35])
    _pair_panel(first, data, 1, 2)
    _pair_panel(second, data, 3, 4)
    scores = data["scores"]
    table.imshow(
        scores,
        cmap="Greys",
        vmin=scores.min() - 0.3,
        vmax=scores.max() + 0.3,
        alpha=0.5,
    )
    for (m, n), value in np.ndenumerate(scores):
        table.text(n, m, f"{value:.2f}", ha="center", va="center", fontsize=7.5)
    for m in range(length - 1):
        table.add_patch(
            Rectangle(
                (m + 1 - 0.5, m - 0.5), 1, 1, fill=False, edgecolor=style.ink(), lw=1.8
            )
        )
    table.set_xticks(range(length))
    table.set_yticks(range(length))
    table.set_xlabel("key position n", color=style.KEY)
    table.set_ylabel("query position m", color=style.QUERY)
    table.tick_params(length=0, labelsize=8)
    table.set_title("scores: equal along each diagonal", fontsize=9)
    return figure


# ---------------------------------------------------------------------------------------------------------------
# 7. An image cut into patches, flattened into a sequence.


def patch_sequence(image: np.ndarray, patch_size: int) -> dict[str, Any]:
    """A (H, W) grey image as the sequence a Vision Transformer reads: ``patches`` (N, P·P) from ``patchify``.

    ``corners`` gives each patch's top-left pixel (row, column), in the order of the sequence.
    """
    from transformer_tutorial.numpy.vision import patchify

    height, width = image.shape
    patches = patchify(image[None, None], patch_size)[0]
    corners = [
        (row, col)
        for row in range(0, height, patch_size)
        for col in range(0, width, patch_size)
    ]
    return {
        "image": image,
        "patches": patches,
        "corners": corners,
        "patch_size": patch_size,
    }


def vit_patches(patch_size: int = 4) -> Figure:
    """An 8 × 8 digit cut into patches, each patch flattened into a row, and the sequence the encoder reads."""
    from transformer_tutorial.data.digits import (
        load_digits,
    )  # scikit-learn loads only when this figure is drawn

    digits = load_digits()
    image = digits.train_images[np.flatnonzero(digits.train_labels == 4)[0]][
        0
    ]  # (8, 8): the first 4
    data = patch_sequence(image, patch_size)
    patches, corners = data["patches"], data["corners"]
    count, pixels = patches.shape
    side = image.shape[0]
    cell = 0.55  # a flattened pixel is drawn about half as wide as an image pixel
    x_tiles = side + 1.6
    x_rows = x_tiles + patch_size + 1.8
    x_seq = x_rows + pixels * cell + 0.8
    wide = x_seq + 5.0
    top = 1.6
    spacing = patch_size + 0.6
    high = top + count * spacing + 0.4
    figure, ax = _canvas(style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high)
    gray = "gray_r"
    ax.imshow(image, cmap=gray, vmin=0, vmax=1, extent=(0, side, side + top, top))
    for number, (row, col) in enumerate(corners):
        _frame(ax, col, top + row, patch_size, patch_size, style.ink(), lw=1.4)
        ax.text(
            col + 0.3,
            top + row + 0.3,
            str(number + 1),
            ha="left",
            va="top",
            fontsize=9,
            weight="bold",
            bbox={
                "boxstyle": "round,pad=0.15",
                "fc": mpl.rcParams["axes.facecolor"],
                "ec": "none",
            },
        )
    _label(ax, 0, top - 0.4, f"{count} patches of {patch_size} × {patch_size}")
    _label(ax, x_tiles, top - 0.4, "cut")
    _label(ax, x_rows, top - 0.4, f"flatten: {pixels} numbers")
    _label(ax, x_seq, top - 0.4, "the sequence")
    for number, ((row, col), flat) in enumerate(zip(corners, patches, strict=True)):
        y = top + number * spacing
        tile = image[row : row + patch_size, col : col + patch_size]
        ax.imshow(
            tile,
            cmap=gray,
            vmin=0,
            vmax=1,
            extent=(x_tiles, x_tiles + patch_size, y + patch_size, y),
        )
        _frame(ax, x_tiles, y, patch_size, patch_size, style.ink(), lw=1.2)
        ax.text(
            x_tiles - 0.2,
            y + patch_size / 2,
            str(number + 1),
            ha="right",
            va="center",
            fontsize=9,
            weight="bold",
        )
        middle = y + patch_size / 2
        strip_top = middle - cell / 2
        ax.imshow(
            flat[None],
            cmap=gray,
            vmin=0,
            vmax=1,
            extent=(x_rows, x_rows + pixels * cell, strip_top + cell, strip_top),
        )
        _frame(ax, x_rows, strip_top, pixels * cell, cell, style.ink(), lw=1.0)
        for edge in range(patch_size, pixels, patch_size):
            ax.plot(
                [x_rows + edge * cell] * 2,
                [strip_top, strip_top + cell],
                color=style.muted(),
                lw=0.8,
            )
        _arrow(ax, (x_tiles + patch_size + 0.2, middle), (x_rows - 0.2, middle))
        ax.text(
            x_seq,
            middle,
            f"{number + 1}: patch {number + 1} · E + b",
            va="center",
            fontsize=9,
            bbox={
                "boxstyle": "round",
                "fc": style.MASK_ALLOWED,
                "alpha": 0.3,
                "ec": "none",
            },
        )
    ax.text(
        x_seq,
        top + 0.4,
        "0: class token",
        va="center",
        fontsize=9,
        bbox={
            "boxstyle": "round",
            "fc": style.MASK_ALLOWED,
            "alpha": 0.3,
            "ec": "none",
        },
    )
    ax.set_xlim(0, wide)
    ax.set_ylim(high, 0)
    return figure
