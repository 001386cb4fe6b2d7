"""A LLaMA-style decoder in NumPy that reads its keys and values through any cache and rotates
them with any RoPE frequencies: the common ground of the streaming cache (``numpy.streaming``),
the paged cache (``numpy.paged``) and RoPE scaling (``numpy.rope_scaling``).

The caches here keep keys *before* RoPE. At every step the attention rotates the keys it reads by the positions the
cache gives them, so a cache that drops entries can renumber the ones it keeps, and the same weights can run with scaled
frequencies. Without a cache, and with a full one, the result is the ordinary decoder's (the tests compare it with
``llama_decoder``).

Shapes use B (batch), H (query heads), G (key/value heads), T (new positions), S (positions read), D, V, d_k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from transformer_tutorial.checks import check_tokens, format_shape
from transformer_tutorial.numpy.attention import merge_heads, split_heads
from transformer_tutorial.numpy.llama import LlamaDecoderParams, rms_norm, swiglu
from transformer_tutorial.numpy.masks import causal_mask
from transformer_tutorial.numpy.modern import grouped_query_attention
from transformer_tutorial.numpy.qk_norm import head_rms_norm
from transformer_tutorial.numpy.rope_scaling import rope_frequencies, rotate


@dataclass
class CacheView:
    """What one layer's attention reads from a cache after appending T new positions.

    Attributes:
        keys: (B, G, S, d_k), not yet rotated.
        values: (B, G, S, d_k).
        key_positions: (B, S), the position RoPE gives each key.
        query_positions: (B, T), the position RoPE gives each new query.
        mask: (B or 1, 1, T, S) boolean; True = may attend.
    """

    keys: np.ndarray
    values: np.ndarray
    key_positions: np.ndarray
    query_positions: np.ndarray
    mask: np.ndarray


class DecodingCache(Protocol):
    """What ``llama_forward`` needs of a cache:
    ``append`` for every layer, then ``advance`` once."""

    def append(self, layer: int, keys: np.ndarray, values: np.ndarray) -> CacheView: ...

    def advance(self, count: int) -> None: ...


def _no_cache_view(keys: np.ndarray, values: np.ndarray) -> CacheView:
    batch, _, length, _ = keys.shape
    positions = np.broadcast_to(np.arange(length), (batch, length))
    return CacheView(
        keys, values, positions, positions, causal_mask(length)[None, None]
    )


# --8<-- [start:llama_forward]
def llama_forward(
    params: LlamaDecoderParams,
    tokens: np.ndarray,
    cache: DecodingCache | None = None,
    frequencies: np.ndarray | None = None,
    attention_factor: float = 1.0,
) -> np.ndarray:
    """Token ids (B, T) -> logits (B, T, V),
    with keys and values read through ``cache``.

    ``frequencies`` (d_k / 2,) replace RoPE's own; ``attention_factor`` multiplies the rotated queries and keys (YaRN's
    temperature).
    """
    config = params.config
    check_tokens("tokens", tokens, config.vocab_size, config.max_len)
    width = config.d_model // config.num_heads
    if frequencies is None:
        frequencies = rope_frequencies(width)
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if frequencies.shape != (width // 2,):
        raise ValueError(
            f"frequencies must have shape (d_k / 2,) = ({width // 2},), got "
            f"{format_shape(frequencies.shape)}"
        )
    x = params.token_embedding[tokens]  # (B, T, D)
    for layer, block in enumerate(params.blocks):
        h, a = rms_norm(x, block.attention_norm), block.attention
        q = split_heads(h @ a.w_q + a.b_q, a.num_heads)  # (B, H, T, d_k)
        k = split_heads(h @ a.w_k + a.b_k, a.num_kv_heads)  # (B, G, T, d_k)
        v = split_heads(h @ a.w_v + a.b_v, a.num_kv_heads)
        if block.qk_norm is not None:
            q = head_rms_norm(q, block.qk_norm.query_weight, block.qk_norm.eps)
            k = head_rms_norm(k, block.qk_norm.key_weight, block.qk_norm.eps)
        view = _no_cache_view(k, v) if cache is None else cache.append(layer, k, v)
        q = rotate(q, frequencies, view.query_positions) * attention_factor
        keys = rotate(view.keys, frequencies, view.key_positions) * attention_factor
        heads, _ = grouped_query_attention(q, keys, view.values, view.mask)
        x = x + merge_heads(heads) @ a.w_o + a.b_o
        x = x + swiglu(rms_norm(x, block.feed_forward_norm), block.feed_forward)
    if cache is not None:
        cache.advance(tokens.shape[1])
    return rms_norm(x, params.final_norm) @ params.token_embedding.T


# --8<-- [end:llama_forward]
