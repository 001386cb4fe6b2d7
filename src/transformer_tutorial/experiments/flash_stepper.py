"""The example of the FlashAttention stepper: 8 queries, 8 keys and 8 values of width 4, and the
steps that NumPy's ``tiled_attention`` takes on them, recorded through its ``on_tile`` argument.

The site's build writes ``stepper_data()`` next to the page (``theme/hooks/interactive.py``); the page's JavaScript
replays the algorithm on those numbers in float64, and the browser tests compare every number it shows with
``recorded_steps``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transformer_tutorial.numpy.attention import scaled_dot_product_attention
from transformer_tutorial.numpy.masks import causal_mask
from transformer_tutorial.numpy.modern import TileStep, tiled_attention

LENGTH, WIDTH = 8, 4
TILE_SIZES = (2, 4)
SEED = 3


def flash_example(seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries, keys and values, each (8, 4) float64, rounded to two
    decimals so that a reader can copy them. The keys are spread wide
    (scale 1.5), so that several tiles raise a row's running maximum."""
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(LENGTH, WIDTH)).round(2)
    key = (1.5 * rng.normal(size=(LENGTH, WIDTH))).round(2)
    value = rng.normal(size=(LENGTH, WIDTH)).round(2)
    return query, key, value


# --8<-- [start:recorded_steps]
def recorded_steps(
    block_size: int, causal: bool, seed: int = SEED
) -> tuple[list[TileStep], np.ndarray, np.ndarray]:
    """Every tile that ``tiled_attention`` reads or skips on the example, its
    output (8, 4), and the explicit softmax(Q Kᵀ / √d) V (8, 4) beside it."""
    query, key, value = flash_example(seed)
    mask = causal_mask(LENGTH) if causal else None
    steps: list[TileStep] = []
    output = tiled_attention(query, key, value, mask, block_size, on_tile=steps.append)
    explicit, _ = scaled_dot_product_attention(query, key, value, mask)
    return steps, output, explicit


# --8<-- [end:recorded_steps]


def stepper_data(seed: int = SEED) -> dict[str, Any]:
    """What the page reads: the example's numbers and the tile sizes it offers."""
    query, key, value = flash_example(seed)
    return {
        "query": query.tolist(),
        "key": key.tolist(),
        "value": value.tolist(),
        "tile_sizes": list(TILE_SIZES),
    }
