"""QK-norm in PyTorch: RMSNorm on each head's queries and keys, before RoPE and before the scores.

A score is a dot product q·k / √d_k, so it grows with the lengths of q and k, and nothing in a plain block stops the
projections from growing them during training. Normalising every head's query and key to a root mean square of one
(times a learned scale of d_k numbers) bounds each score by the product of those scales. Open models such as Qwen3 and
OLMo 2 use it to keep the logits, and the softmax, from running away.

Shapes use B (batch), H (query heads), G (key/value heads), T and S (positions), D (model width), d_k (D / H).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.checks import check_multi_head_inputs, check_multi_head_mask
from transformer_tutorial.mask_shapes import with_head_axis
from transformer_tutorial.numpy.qk_norm import QKNormParams
from transformer_tutorial.torch.attention import (
    KeyValueCache,
    merge_heads,
    split_heads,
    to_numpy,
)
from transformer_tutorial.torch.modern import (
    GroupedQueryAttention,
    grouped_query_attention,
)
from transformer_tutorial.torch.relative import rotary_embedding


# --8<-- [start:head_rms_norm]
def head_rms_norm(
    x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """RMSNorm of each head's rows: x / √(mean(x²) + ε) · weight.

    (..., d_k) -> (..., d_k), with weight (d_k,). The mean runs over one head's d_k features, not over the D features of
    the whole position.
    """
    # in float32 at least, as PyTorch's own norms do for half types
    statistics = x.to(torch.promote_types(x.dtype, torch.float32))
    scale = torch.rsqrt(statistics.square().mean(dim=-1, keepdim=True) + eps)
    return (statistics * scale).to(x.dtype) * weight


# --8<-- [end:head_rms_norm]


class QKNormAttention(GroupedQueryAttention):
    """Grouped-query attention with RoPE whose queries and
    keys are RMS-normalised per head before the rotation.

    The same four projections as ``GroupedQueryAttention`` (no biases), plus two learned scales of d_k numbers,
    ``query_weight`` and ``key_weight``, shared by the heads.

    Args:
        d_model: D. num_heads: H. num_kv_heads: G, dividing H.
        eps: The epsilon of the two norms.
        fused: Take the fused path by default.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        num_kv_heads: int,
        eps: float = 1e-5,
        fused: bool = False,
    ) -> None:
        super().__init__(
            d_model, num_heads, num_kv_heads, bias=False, rope=True, fused=fused
        )
        width = d_model // num_heads
        self.eps = eps
        self.query_weight = nn.Parameter(torch.ones(width))
        self.key_weight = nn.Parameter(torch.ones(width))

    # --8<-- [start:qk_norm_attention]
    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        fused: bool | None = None,
        cache: KeyValueCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Like ``GroupedQueryAttention.forward``, with the
        queries and keys normalised per head before RoPE.
        """
        check_multi_head_inputs(query, key, value, self.d_model)
        start = 0 if cache is None else len(cache)
        q = split_heads(self.q_proj(query), self.num_heads)  # (B, H, T, d_k)
        k = split_heads(self.k_proj(key), self.num_kv_heads)  # (B, G, S, d_k)
        v = split_heads(self.v_proj(value), self.num_kv_heads)
        q = head_rms_norm(q, self.query_weight, self.eps)  # each head's rows: RMS 1
        k = head_rms_norm(k, self.key_weight, self.eps)
        q_positions = torch.arange(start, start + q.shape[2], device=q.device)
        k_positions = torch.arange(start, start + k.shape[2], device=k.device)
        q, k = rotary_embedding(q, q_positions), rotary_embedding(k, k_positions)
        if cache is not None:
            k, v = cache.update(k, v)
        check_multi_head_mask(mask, query.shape[0], query.shape[1], k.shape[2])
        head_mask = with_head_axis(mask)
        if self.fused if fused is None else fused:
            heads = F.scaled_dot_product_attention(q, k, v, head_mask, enable_gqa=True)
            weights = None
        else:
            heads, weights = grouped_query_attention(q, k, v, head_mask)
        return self.out_proj(merge_heads(heads)), weights

    # --8<-- [end:qk_norm_attention]

    def qk_norm_params(self) -> QKNormParams:
        """The two scales as float64 NumPy arrays,
        for ``transformer_tutorial.numpy.qk_norm``."""
        return QKNormParams(
            to_numpy(self.query_weight), to_numpy(self.key_weight), self.eps
        )
