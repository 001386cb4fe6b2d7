"""The PyTorch backend: the same building blocks as the NumPy backend, trainable and GPU-ready."""

from transformer_tutorial.torch.attention import (
    KeyValueCache,
    MultiHeadAttention,
    merge_heads,
    recorded_attention,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)
from transformer_tutorial.torch.masks import (
    causal_mask,
    from_mha_mask,
    padding_mask,
    to_mha_key_padding_mask,
    to_mha_mask,
)
from transformer_tutorial.torch.positional import (
    EmbedPositions,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    concatenated_sinusoidal_encoding,
    embed_positions,
    shift_rotation,
    sinusoidal_encoding,
)
from transformer_tutorial.torch.relative import (
    alibi_bias,
    alibi_slopes,
    rotary_embedding,
)

__all__ = [
    "EmbedPositions",
    "KeyValueCache",
    "LearnedPositionalEmbedding",
    "MultiHeadAttention",
    "SinusoidalPositionalEncoding",
    "alibi_bias",
    "alibi_slopes",
    "causal_mask",
    "concatenated_sinusoidal_encoding",
    "embed_positions",
    "from_mha_mask",
    "merge_heads",
    "padding_mask",
    "recorded_attention",
    "rotary_embedding",
    "scaled_dot_product_attention",
    "shift_rotation",
    "sinusoidal_encoding",
    "softmax",
    "split_heads",
    "to_mha_key_padding_mask",
    "to_mha_mask",
]
