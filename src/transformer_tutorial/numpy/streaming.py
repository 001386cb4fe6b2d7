"""Attention sinks and streaming, in NumPy: a key/value cache that keeps the first few positions (the
"sinks") and a window of the most recent ones, as in StreamingLLM (Xiao et al., 2023, arXiv 2309.17453).

Trained causal models put much of their attention on the first tokens, whatever those tokens are: softmax weights must
sum to one, and a query with nothing useful to read parks its weight there. A sliding window that evicts those first
tokens takes away where that weight went, and the model's predictions break. Keeping a few of them beside the window
does not break.

The same class is three caches: the full cache (``window=None``), a plain sliding window (``num_sinks=0``), and sinks
plus a window. It keeps keys before RoPE, so that ``llama_forward`` (``numpy.cached_decoding``) can give them positions
*within the cache* (``positions="cache"``, the paper's rule) or their positions in the text.

Shapes use B (batch), H (heads), G (key/value heads), T (new positions), S (kept positions), d_k.
"""

from __future__ import annotations

import numpy as np

from transformer_tutorial.checks import check_int, check_positive_int, format_shape
from transformer_tutorial.numpy.cached_decoding import CacheView
from transformer_tutorial.numpy.masks import causal_mask

POSITION_RULES = ("cache", "text")


# --8<-- [start:sink_window_cache]
class SinkWindowCache:
    """Keys and values of every layer: the first
    ``num_sinks`` positions and the last ``window`` ones.

    ``window=None`` keeps everything (the full cache); ``num_sinks=0`` is a plain sliding window. Keys are kept before
    RoPE, with their positions in the text.
    """

    def __init__(
        self,
        num_layers: int,
        num_sinks: int = 0,
        window: int | None = None,
        positions: str = "cache",
    ) -> None:
        check_positive_int("num_layers", num_layers)
        check_positive_int("num_sinks", num_sinks, allow_zero=True)
        if window is not None:
            check_positive_int("window", window)
        if positions not in POSITION_RULES:
            raise ValueError(
                f"positions must be one of {POSITION_RULES}, got {positions!r}"
            )
        self.num_sinks, self.window, self.positions = num_sinks, window, positions
        self.keys: list[np.ndarray | None] = [None] * num_layers  # (B, G, S, d_k) each
        self.values: list[np.ndarray | None] = [None] * num_layers
        # (S,) where each kept entry sat
        self.text_positions = np.zeros(0, dtype=np.int64)
        self.seen = 0  # positions appended so far

    def __len__(self) -> int:
        """S, how many positions are kept."""
        return len(self.text_positions)

    def kept(self, total: int) -> np.ndarray:
        """Which of ``total`` entries (oldest first)
        the cache keeps: the sinks and the window."""
        if self.window is None or total <= self.num_sinks + self.window:
            return np.arange(total)
        sinks = np.arange(min(self.num_sinks, total))
        return np.concatenate([sinks, np.arange(total - self.window, total)])

    def append(self, layer: int, keys: np.ndarray, values: np.ndarray) -> CacheView:
        """Add (B, G, T, d_k) keys and values to
        ``layer``; evict; return what its attention reads.
        """
        self._check(layer, keys, values)
        count = keys.shape[2]
        if self.keys[layer] is not None:
            keys = np.concatenate([self.keys[layer], keys], axis=2)
            values = np.concatenate([self.values[layer], values], axis=2)
        kept = self.kept(keys.shape[2])
        if count > 1 and len(kept) < keys.shape[2]:
            raise ValueError(
                f"append one position at a time once the cache evicts: {count} new positions after "
                f"{len(self)} kept ones, with num_sinks={self.num_sinks} and window={self.window}"
            )
        self.keys[layer], self.values[layer] = keys[:, :, kept], values[:, :, kept]
        new = np.arange(self.seen, self.seen + count)
        text = np.concatenate([self.text_positions, new])[kept]
        rule = np.arange(len(kept)) if self.positions == "cache" else text
        batch, size = keys.shape[0], len(kept)
        key_positions = np.broadcast_to(rule, (batch, size))
        return CacheView(
            self.keys[layer],
            self.values[layer],
            key_positions,
            key_positions[:, size - count :],  # the new rows are the last ones
            causal_mask(count, size)[None, None],
        )

    def advance(self, count: int) -> None:
        """Record that ``count`` positions went through every layer."""
        new = np.arange(self.seen, self.seen + count)
        merged = np.concatenate([self.text_positions, new])
        self.text_positions = merged[self.kept(len(merged))]
        self.seen += count

    # --8<-- [end:sink_window_cache]

    def _check(self, layer: int, keys: np.ndarray, values: np.ndarray) -> None:
        check_int("layer", layer)
        if not 0 <= layer < len(self.keys):
            raise ValueError(f"layer must be in [0, {len(self.keys)}), got {layer}")
        if keys.ndim != 4 or values.shape != keys.shape:
            raise ValueError(
                f"keys and values must both be (B, G, T, d_k), got shapes {format_shape(keys.shape)} "
                f"and {format_shape(values.shape)}"
            )
        stored = self.keys[layer]
        if stored is not None and (
            stored.shape[:2] != keys.shape[:2] or stored.shape[3] != keys.shape[3]
        ):
            raise ValueError(
                f"keys of shape {format_shape(keys.shape)} do not continue the cached "
                f"{format_shape(stored.shape)} (B, G and d_k must match)"
            )


# --8<-- [start:attention_on_first]
def attention_on_first(weights: np.ndarray, count: int) -> np.ndarray:
    """The attention mass each query puts on the first ``count`` keys.

    weights: (B, H, T, S) -> (B, H, T). Each row of weights sums to one, so this is the share of the row that lands on
    the first keys.
    """
    check_positive_int("count", count)
    if weights.ndim != 4 or weights.shape[-1] < count:
        raise ValueError(
            f"weights must be (B, H, T, S) with S >= count = {count}, got shape "
            f"{format_shape(weights.shape)}"
        )
    return weights[..., :count].sum(axis=-1)


# --8<-- [end:attention_on_first]
