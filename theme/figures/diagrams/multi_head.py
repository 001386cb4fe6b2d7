"""Diagrams of the multi-head chapter: the head split, and queries, keys and values with their scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from figures import style
from transformer_tutorial.numpy import (
    MultiHeadAttentionParams,
    scaled_dot_product_attention,
    split_heads,
)

if TYPE_CHECKING:  # drawing needs torch only when it is called
    pass

from figures.diagrams.canvas import (
    draw_arrow,
    draw_cells,
    draw_frame,
    draw_label,
    new_canvas,
)

# 1. The head split.


@dataclass
class HeadSplit:
    """What the head-split picture draws, for the first sequence of ``x``.

    Attributes:
        tokens: (T, D) the sequence before the split.
        head_of_cell: (T, D) the head each number of ``tokens`` lands in, found by following it through ``split_heads``:
            this is what colours the picture.
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
    """Split (B, T, D) ``x`` into heads with ``split_heads``
    and record where every number of sequence 0 goes."""
    _, length, width = x.shape
    heads = split_heads(x, num_heads)[0]  # (H, T, d)
    # every cell numbered, to be followed
    label = np.arange(length * width).reshape(1, length, width)
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
    """(T, D) → (T, H, d) → (H, T, d) on a numbered sequence,
    coloured by head, above the seed's token split."""
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
    figure, ax = new_canvas(
        style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high
    )

    draw_label(ax, 0, top - 0.25, f"x: (B, T, D), T = {length}, D = {d_model}")
    draw_cells(ax, 0, top, split.tokens, head_colors)
    # (T, H, d): the same numbers, each row cut into H groups of d
    grouped = split.heads.transpose(1, 0, 2)
    for head in range(num_heads):
        draw_cells(
            ax,
            x_grouped + head * (d + gap),
            top,
            grouped[:, head],
            style.head_color(head),
        )
    draw_label(ax, x_grouped, top - 0.25, f"reshape: (B, T, H, d), H = {num_heads}")
    draw_arrow(
        ax, (d_model + 0.2, top + length / 2), (x_grouped - 0.2, top + length / 2)
    )
    # (H, T, d): head first, each head a (T, d) matrix of its own
    for head in range(num_heads):
        left = x_heads + head * (d + 0.9)
        draw_cells(ax, left, top, split.heads[head], style.head_color(head))
        draw_frame(ax, left, top, d, length, style.head_color(head), lw=2.2)
        ax.text(
            left + d / 2,
            top + length + 0.2,
            f"head {head}",
            ha="center",
            va="top",
            fontsize=9,
        )
    draw_label(ax, x_heads, top - 0.25, "transpose: (B, H, T, d)")
    draw_arrow(ax, (x_heads - 2.0, top + length / 2), (x_heads - 0.2, top + length / 2))
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
    draw_cells(ax, 0, bottom, split.tokens, piece_colors)
    rows = length // num_heads
    for piece, block in enumerate(split.token_pieces):
        left, y = x_grouped, bottom + piece * (rows + 0.5) - 0.25 * (num_heads - 1)
        draw_cells(ax, left, y, block, style.head_color(piece))
        draw_frame(ax, left, y, d_model, rows, style.head_color(piece), lw=2.2)
        ax.text(
            left + d_model + 0.3,
            y + rows / 2,
            f"'head' {piece}: tokens {piece * rows}–{(piece + 1) * rows - 1}, all {d_model} features",
            va="center",
            fontsize=9,
        )
    draw_arrow(
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
    """One head's queries, keys and values of a (T, D)
    input, its (T, T) scores and weights, and its output.

    ``params`` must have one head. The queries, keys and values are the three projections of the same ``x``; the scores
    are ``q · k / √d_k``, before the softmax, and the weights and output come from ``scaled_dot_product_attention``.
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
    """One input x, three projections Q, K, V, and
    the score table: cell (t, s) is q_t · k_s / √d_k."""
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
    figure, ax = new_canvas(
        style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high
    )
    fmt = "{:.1f}"
    draw_label(ax, 0, top - 0.25, "x: one row per token")
    draw_cells(ax, 0, top, x, style.MASK_ALLOWED, fmt, alpha=0.25, fontsize=8)
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
        draw_cells(ax, left, top, matrix, color, fmt, fontsize=8)
        draw_label(ax, left, top - 0.25, name, color=color, weight="bold")
    draw_arrow(
        ax, (d_model + 0.2, top + length / 2), (x_q - 0.2, top + length / 2), "project"
    )
    # The score table: the query's row of Q against the key's row of K.
    chosen = (2, 0)  # the query of "tea" and the key of "I"
    draw_frame(ax, x_q, top + chosen[0], d_model, 1, style.QUERY, lw=2.4)
    draw_frame(ax, x_q + step, top + chosen[1], d_model, 1, style.KEY, lw=2.4)
    scores_x = 2.6
    draw_label(ax, scores_x, low - 0.25, "scores: Q Kᵀ / √d_k")
    draw_cells(ax, scores_x, low, data["scores"], "none", "{:.2f}", fontsize=8)
    draw_frame(ax, scores_x + chosen[1], low + chosen[0], 1, 1, style.ink(), lw=2.4)
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
    draw_label(ax, weights_x, low - 0.25, "softmax of each row")
    draw_cells(
        ax,
        weights_x,
        low,
        data["weights"],
        style.MASK_ALLOWED,
        "{:.2f}",
        alpha=0.15 + 0.6 * data["weights"],
        fontsize=8,
    )
    draw_arrow(
        ax,
        (scores_x + length + 0.2, low + length / 2),
        (weights_x - 0.2, low + length / 2),
    )
    output_x = weights_x + length + 2.6
    draw_label(ax, output_x, low - 0.25, "weights · V: the output")
    draw_cells(
        ax, output_x, low, data["output"], style.VALUE, fmt, alpha=0.2, fontsize=8
    )
    draw_arrow(
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
