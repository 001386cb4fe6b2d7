"""The NumPy backend: every building block as a plain function over arrays.

It never imports torch, so it runs wherever NumPy does.
"""

from transformer_tutorial.numpy.attention import (
    MultiHeadAttentionParams,
    causal_mask,
    from_mha_mask,
    merge_heads,
    multi_head_attention,
    multi_head_attention_per_head,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
    split_heads,
    to_mha_key_padding_mask,
    to_mha_mask,
)
from transformer_tutorial.numpy.positional import sinusoidal_encoding

__all__ = [
    "MultiHeadAttentionParams",
    "causal_mask",
    "from_mha_mask",
    "merge_heads",
    "multi_head_attention",
    "multi_head_attention_per_head",
    "padding_mask",
    "scaled_dot_product_attention",
    "sinusoidal_encoding",
    "softmax",
    "split_heads",
    "to_mha_key_padding_mask",
    "to_mha_mask",
]
