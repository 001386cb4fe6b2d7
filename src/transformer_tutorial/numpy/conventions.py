"""Conventions that other code bases choose differently, in NumPy: each one written the other way, to compare.

The site's own conventions are interleaved RoPE pairs (2i, 2i + 1), boolean masks with True = may attend, batch-first
tensors, separate query, key and value projections and GELU with ``erf``. Each function here is the common alternative,
so that a test can show whether the two are the same model written differently (equal outputs, perhaps after a fixed
permutation of weights) or a different model (a measured difference).

Shapes use B (batch), T (query positions), S (key positions), D (model width), H (heads) and d_k (one head's width).
"""

from __future__ import annotations

import math

import numpy as np

from transformer_tutorial.checks import check_positive_int, format_shape
from transformer_tutorial.numpy.attention import (
    MultiHeadAttentionParams,
    multi_head_attention,
    softmax,
)


# --8<-- [start:rope_split_half]
def rotary_embedding_split_half(
    x: np.ndarray, positions: np.ndarray | None = None, base: float = 10000.0
) -> np.ndarray:
    """RoPE with pairs (i, i + d_k/2), as GPT-NeoX and Hugging Face's LLaMA write it.

    Same angles as ``rotary_embedding``; only which two features form pair i changes.
    """
    length, width = x.shape[-2:]
    if width % 2:
        raise ValueError(f"x must have an even d_k, got shape {format_shape(x.shape)}")
    half = width // 2
    positions = np.arange(length) if positions is None else np.asarray(positions)
    theta = 1.0 / base ** (np.arange(0, width, 2) / width)  # (d_k / 2,)
    cos, sin = np.cos(positions[:, None] * theta), np.sin(positions[:, None] * theta)
    first, second = x[..., :half], x[..., half:]  # pair i is (first_i, second_i)
    return np.concatenate([first * cos - second * sin, first * sin + second * cos], -1)


def split_half_permutation(d_k: int, num_heads: int = 1) -> np.ndarray:
    """The column order that turns interleaved pairs into halves, in each head.

    Within one head: 0, 2, 4, …, then 1, 3, 5, …; head h's block is offset by h·d_k.
    """
    check_positive_int("d_k", d_k)
    check_positive_int("num_heads", num_heads)
    one_head = np.concatenate([np.arange(0, d_k, 2), np.arange(1, d_k, 2)])
    return np.concatenate([h * d_k + one_head for h in range(num_heads)])


# --8<-- [end:rope_split_half]


# --8<-- [start:additive_mask]
def additive_mask(allowed: np.ndarray) -> np.ndarray:
    """A boolean mask (True = may attend) as a float mask
    to add to the scores: 0 where allowed, -inf where not."""
    return np.where(allowed, 0.0, -np.inf)


def attention_with_additive_mask(
    query: np.ndarray, key: np.ndarray, value: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """softmax(Q Kᵀ / √d_k + bias) V: the float-mask way of writing attention.

    Every query must keep at least one key: a row of -inf has no softmax.
    """
    if np.any(np.all(np.isneginf(bias), axis=-1)):
        raise ValueError("bias blocks every key of some query: that row has no softmax")
    scores = query @ np.swapaxes(key, -1, -2) / math.sqrt(query.shape[-1]) + bias
    return softmax(scores, axis=-1) @ value


# --8<-- [end:additive_mask]


# --8<-- [start:blocked_mask]
def blocked_from_allowed(allowed: np.ndarray) -> np.ndarray:
    """True = may attend (this site, F.scaled_dot_product_attention)
    to True = blocked (nn.MultiheadAttention's attn_mask): a negation."""
    return np.logical_not(allowed)


# --8<-- [end:blocked_mask]


# --8<-- [start:sequence_first]
def sequence_first_attention(
    x: np.ndarray, params: MultiHeadAttentionParams, mask: np.ndarray | None = None
) -> np.ndarray:
    """Self-attention on a sequence-first (T, B, D) input, returning
    (T, B, D): the batch-first function between two transposes."""
    batch_first = np.swapaxes(x, 0, 1)  # (B, T, D)
    output, _ = multi_head_attention(
        batch_first, batch_first, batch_first, params, mask
    )
    return np.swapaxes(output, 0, 1)


# --8<-- [end:sequence_first]


# --8<-- [start:fused_qkv]
def fused_qkv_projection(
    x: np.ndarray, w_qkv: np.ndarray, b_qkv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries, keys and values from one (D, 3D) matrix product, split in three.

    ``w_qkv`` is W^Q, W^K and W^V side by side; ``b_qkv`` (3D,) their biases.
    """
    q, k, v = np.split(x @ w_qkv + b_qkv, 3, axis=-1)  # (..., D) each
    return q, k, v


def fuse_qkv(params: MultiHeadAttentionParams) -> tuple[np.ndarray, np.ndarray]:
    """(w_qkv (D, 3D), b_qkv (3D,)) from separate projections."""
    w_qkv = np.concatenate([params.w_q, params.w_k, params.w_v], axis=1)
    b_qkv = np.concatenate([params.b_q, params.b_k, params.b_v])
    return w_qkv, b_qkv


# --8<-- [end:fused_qkv]


# --8<-- [start:gelu_tanh]
def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU's tanh approximation (GPT-2, BERT's original
    code): 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


# --8<-- [end:gelu_tanh]
