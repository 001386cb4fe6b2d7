"""Diagrams of masks, in this site's convention and in ``nn.MultiheadAttention``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from figures import style
from transformer_tutorial.numpy import (
    causal_mask,
    padding_mask,
    to_mha_key_padding_mask,
    to_mha_mask,
)

if TYPE_CHECKING:  # drawing needs torch only when it is called
    pass

from figures.diagrams.canvas import draw_cells, new_canvas

# 3. Masks, in our convention and in nn.MultiheadAttention's.


def mask_cells(
    tokens: np.ndarray, pad_id: int, num_heads: int = 1
) -> dict[str, np.ndarray]:
    """The masks of one padded sequence (T,), in both
    conventions, from the library's mask functions.

    Ours (True = may attend): ``padding`` (T, T), broadcast from ``padding_mask``'s (1, T); ``causal`` from
    ``causal_mask``; ``both``, their logical and. ``nn.MultiheadAttention``'s (True = blocked): ``key_padding_mask``
    (T,) from ``to_mha_key_padding_mask``, ``attn_mask`` (T, T) from ``to_mha_mask``, and ``blocked``, what the two
    block together.
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
    """A boolean mask's cells marked T or F, filled where
    the query may attend (whatever the convention)."""
    mask = np.atleast_2d(mask)
    allowed = np.broadcast_to(np.atleast_2d(allowed), mask.shape)
    colors = np.where(allowed, style.MASK_ALLOWED, style.MASK_BLOCKED)
    values = np.where(mask, "T", "F")
    draw_cells(ax, x0, y0, values, colors, "{}", alpha=0.6, fontsize=9)
    ax.text(
        x0 + mask.shape[1] / 2, y0 - 0.3, title, ha="center", va="bottom", fontsize=9
    )


def attention_masks() -> Figure:
    """Padding, causal and both, for "the cat sat" and two
    pads: as our masks, then as nn.MultiheadAttention's."""
    ids = np.array([1, 2, 3, 0, 0])
    masks = mask_cells(ids, pad_id=0)
    n = len(ids)
    step = n + 1.6
    left = 2.3
    wide = left + 3 * step - 1.6 + 0.2
    top, low = 2.3, n + 6.3
    high = low + n + 0.3
    figure, ax = new_canvas(
        style.FULL_WIDTH, style.FULL_WIDTH * high / wide, wide, high
    )
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
