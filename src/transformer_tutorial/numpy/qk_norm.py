"""QK-norm in NumPy: RMSNorm on each head's queries and keys, before RoPE and before the scores.

A score is a dot product q·k / √d_k, so it grows with the lengths of q and k, and nothing in a plain block stops the
projections from growing them during training. Normalising every head's query and key to a root mean square of one
(times a learned scale of d_k numbers) bounds each score by the product of those scales. Open models such as Qwen3 and
OLMo 2 use it to keep the logits, and the softmax, from running away.

Shapes use B (batch), H (query heads), G (key/value heads), T and S (positions), D (model width), d_k (D / H).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import check_multi_head_inputs, check_multi_head_mask
from transformer_tutorial.mask_shapes import with_head_axis
from transformer_tutorial.numpy.attention import merge_heads, split_heads
from transformer_tutorial.numpy.modern import (
    GroupedQueryAttentionParams,
    grouped_query_attention,
)
from transformer_tutorial.numpy.relative import rotary_embedding


@dataclass
class QKNormParams:
    """The two per-head scales of QK-norm, (d_k,) each,
    shared by all heads (as in the models that use it)."""

    query_weight: np.ndarray
    key_weight: np.ndarray
    eps: float = 1e-5


# --8<-- [start:head_rms_norm]
def head_rms_norm(x: np.ndarray, weight: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """RMSNorm of each head's rows: x / √(mean(x²) + ε) · weight.

    (..., d_k) -> (..., d_k), with weight (d_k,). The mean runs over one head's d_k features, not over the D features of
    the whole position.
    """
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


# --8<-- [end:head_rms_norm]


# --8<-- [start:qk_norm_attention]
def qk_norm_attention_layer(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    params: GroupedQueryAttentionParams,
    norms: QKNormParams,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Like ``grouped_query_attention_layer`` with RoPE, with
    the queries and keys normalised per head before RoPE.

    query: (B, T, D); key, value: (B, S, D) -> ``(output, weights)``: (B, T, D) and (B, H, T, S).
    """
    check_multi_head_inputs(query, key, value, params.d_model)
    check_multi_head_mask(mask, query.shape[0], query.shape[1], key.shape[1])
    head_mask = with_head_axis(mask)
    q = split_heads(query @ params.w_q + params.b_q, params.num_heads)  # (B, H, T, d_k)
    # (B, G, S, d_k)
    k = split_heads(key @ params.w_k + params.b_k, params.num_kv_heads)
    v = split_heads(value @ params.w_v + params.b_v, params.num_kv_heads)
    q = head_rms_norm(q, norms.query_weight, norms.eps)  # each head's rows: RMS 1
    k = head_rms_norm(k, norms.key_weight, norms.eps)
    q, k = rotary_embedding(q), rotary_embedding(k)  # rotations keep the lengths
    heads, weights = grouped_query_attention(q, k, v, head_mask)
    return merge_heads(heads) @ params.w_o + params.b_o, weights


# --8<-- [end:qk_norm_attention]
