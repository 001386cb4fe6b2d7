"""The NumPy backend: every building block as a plain function over arrays.

It never imports torch, so it runs wherever NumPy does.
"""

from transformer_tutorial.numpy.attention import (
    MultiHeadAttentionParams,
    merge_heads,
    multi_head_attention,
    multi_head_attention_per_head,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)
from transformer_tutorial.numpy.masks import (
    causal_mask,
    from_mha_mask,
    padding_mask,
    to_mha_key_padding_mask,
    to_mha_mask,
)
from transformer_tutorial.numpy.positional import (
    concatenated_sinusoidal_encoding,
    embed_positions,
    shift_rotation,
    sinusoidal_encoding,
)
from transformer_tutorial.numpy.relative import (
    alibi_bias,
    alibi_slopes,
    rotary_embedding,
)

__all__ = [
    "MultiHeadAttentionParams",
    "alibi_bias",
    "alibi_slopes",
    "causal_mask",
    "concatenated_sinusoidal_encoding",
    "embed_positions",
    "from_mha_mask",
    "merge_heads",
    "multi_head_attention",
    "multi_head_attention_per_head",
    "padding_mask",
    "rotary_embedding",
    "scaled_dot_product_attention",
    "shift_rotation",
    "sinusoidal_encoding",
    "softmax",
    "split_heads",
    "to_mha_key_padding_mask",
    "to_mha_mask",
]
