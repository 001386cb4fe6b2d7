"""The PyTorch backend: the same building blocks as the NumPy backend, trainable and GPU-ready."""

from transformer_tutorial.torch.attention import (
    MultiHeadAttention,
    causal_mask,
    from_mha_mask,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
    split_heads,
    to_mha_key_padding_mask,
    to_mha_mask,
)
from transformer_tutorial.torch.positional import sinusoidal_encoding

__all__ = [
    "MultiHeadAttention",
    "causal_mask",
    "from_mha_mask",
    "merge_heads",
    "padding_mask",
    "scaled_dot_product_attention",
    "sinusoidal_encoding",
    "softmax",
    "split_heads",
    "to_mha_key_padding_mask",
    "to_mha_mask",
]
