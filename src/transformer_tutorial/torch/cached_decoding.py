"""A LLaMA-style decoder in PyTorch that reads its keys and values through any cache and rotates
them with any RoPE frequencies: the common ground of the streaming cache (``torch.streaming``),
the paged cache (``torch.paged``) and RoPE scaling (``torch.rope_scaling``).

The caches here keep keys *before* RoPE. At every step the attention rotates the keys it reads by the positions the
cache gives them, so a cache that drops entries can renumber the ones it keeps, and the same weights can run with scaled
frequencies. Without a cache, and with a full one, the result is the ordinary decoder's (the tests compare it with
``LlamaDecoder``).

Shapes use B (batch), H (query heads), G (key/value heads), T (new positions), S (positions read), D, V, d_k.
"""

from __future__ import annotations

from typing import Protocol

import torch

from transformer_tutorial.checks import check_tokens, format_shape
from transformer_tutorial.numpy.cached_decoding import CacheView
from transformer_tutorial.torch.attention import merge_heads, split_heads
from transformer_tutorial.torch.llama import LlamaDecoder
from transformer_tutorial.torch.masks import causal_mask
from transformer_tutorial.torch.modern import grouped_query_attention
from transformer_tutorial.torch.qk_norm import head_rms_norm
from transformer_tutorial.torch.rope_scaling import rope_frequencies, rotate

__all__ = ["CacheView", "DecodingCache", "llama_forward"]


class DecodingCache(Protocol):
    """What ``llama_forward`` needs of a cache:
    ``append`` for every layer, then ``advance`` once."""

    def append(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor
    ) -> CacheView: ...

    def advance(self, count: int) -> None: ...


def _no_cache_view(keys: torch.Tensor, values: torch.Tensor) -> CacheView:
    batch, _, length, _ = keys.shape
    positions = torch.arange(length, device=keys.device).expand(batch, length)
    mask = causal_mask(length, device=keys.device)[None, None]
    return CacheView(keys, values, positions, positions, mask)


# --8<-- [start:llama_forward]
def llama_forward(
    model: LlamaDecoder,
    tokens: torch.Tensor,
    cache: DecodingCache | None = None,
    frequencies: torch.Tensor | None = None,
    attention_factor: float = 1.0,
) -> torch.Tensor:
    """Token ids (B, T) -> logits (B, T, V),
    with keys and values read through ``cache``.

    ``frequencies`` (d_k / 2,) replace RoPE's own; ``attention_factor`` multiplies the rotated queries and keys (YaRN's
    temperature).
    """
    config = model.config
    check_tokens("tokens", tokens, config.vocab_size, config.max_len)
    width = config.d_model // config.num_heads
    if frequencies is None:
        frequencies = rope_frequencies(width, device=tokens.device)
    frequencies = torch.as_tensor(
        frequencies, dtype=torch.float64, device=tokens.device
    )
    if frequencies.shape != (width // 2,):
        raise ValueError(
            f"frequencies must have shape (d_k / 2,) = ({width // 2},), got "
            f"{format_shape(frequencies.shape)}"
        )
    x = model.token_embedding(tokens)  # (B, T, D)
    for layer, block in enumerate(model.blocks):
        h, a = block.attention_norm(x), block.attention
        q = split_heads(a.q_proj(h), a.num_heads)  # (B, H, T, d_k)
        k = split_heads(a.k_proj(h), a.num_kv_heads)  # (B, G, T, d_k)
        v = split_heads(a.v_proj(h), a.num_kv_heads)
        if hasattr(a, "query_weight"):  # QK-norm
            q = head_rms_norm(q, a.query_weight, a.eps)
            k = head_rms_norm(k, a.key_weight, a.eps)
        view = _no_cache_view(k, v) if cache is None else cache.append(layer, k, v)
        q = rotate(q, frequencies, view.query_positions) * attention_factor
        keys = rotate(view.keys, frequencies, view.key_positions) * attention_factor
        heads, _ = grouped_query_attention(q, keys, view.values, view.mask)
        x = x + a.out_proj(merge_heads(heads))
        x = x + block.feed_forward(block.feed_forward_norm(x))
    if cache is not None:
        cache.advance(tokens.shape[1])
    return model.output(model.final_norm(x))


# --8<-- [end:llama_forward]
