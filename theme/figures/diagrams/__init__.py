"""Diagrams that teach: each chapter's central idea drawn from the package's own objects.

Every picture has two halves. A *data function* (``head_split_cells``, ``qkv_scores``, ``mask_cells``,
``cross_attention_map``, ``kv_cache_steps``, ``rope_example``, ``patch_sequence``) calls the library function the
picture illustrates and returns what is drawn; ``tests/test_diagrams.py`` checks each one against the library and an
independent reference. A *drawing function* lays that data out with matplotlib, in the colours of ``figures.style``, so
that a change in ``src/`` that changes the behaviour changes the picture.

The drawings work in "cell" units: one square cell is one number, drawn with ``canvas.draw_cells``.
"""

from __future__ import annotations

from figures.diagrams.masks import MASK_TOKENS, attention_masks, mask_cells
from figures.diagrams.multi_head import (
    QKV_TOKENS,
    HeadSplit,
    head_split,
    head_split_cells,
    qkv_projections,
    qkv_scores,
)
from figures.diagrams.rope import rope_example, rope_rotation
from figures.diagrams.training import (
    cross_attention,
    cross_attention_map,
    kv_cache,
    kv_cache_steps,
)
from figures.diagrams.vision import patch_sequence, vit_patches

__all__ = [
    "MASK_TOKENS",
    "QKV_TOKENS",
    "HeadSplit",
    "attention_masks",
    "cross_attention",
    "cross_attention_map",
    "head_split",
    "head_split_cells",
    "kv_cache",
    "kv_cache_steps",
    "mask_cells",
    "patch_sequence",
    "qkv_projections",
    "qkv_scores",
    "rope_example",
    "rope_rotation",
    "vit_patches",
]
