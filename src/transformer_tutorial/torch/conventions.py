"""Conventions that other code bases choose differently, in PyTorch: each one written the other way, to compare.

The site's own conventions are interleaved RoPE pairs (2i, 2i + 1), boolean masks with True = may attend, batch-first
tensors, separate query, key and value projections and GELU with ``erf``. Each function here is the common alternative,
so that a test can show whether the two are the same model written differently (equal outputs, perhaps after a fixed
permutation of weights) or a different model (a measured difference).

Shapes use B (batch), T (query positions), S (key positions), D (model width), H (heads) and d_k (one head's width).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from transformer_tutorial.checks import check_positive_int, format_shape
from transformer_tutorial.torch.attention import MultiHeadAttention


# --8<-- [start:rope_split_half]
def rotary_embedding_split_half(
    x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0
) -> torch.Tensor:
    """RoPE with pairs (i, i + d_k/2), as GPT-NeoX and Hugging Face's LLaMA write it.

    Same angles as ``rotary_embedding``; only which two features form pair i changes.
    """
    length, width = x.shape[-2:]
    if width % 2:
        raise ValueError(f"x must have an even d_k, got shape {format_shape(x.shape)}")
    half = width // 2
    if positions is None:
        positions = torch.arange(length, device=x.device)
    steps = torch.arange(0, width, 2, device=x.device, dtype=torch.float64)
    theta = 1.0 / base ** (steps / width)  # (d_k / 2,)
    angles = positions.to(torch.float64)[:, None] * theta  # (T, d_k / 2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    first, second = x[..., :half], x[..., half:]  # pair i is (first_i, second_i)
    return torch.cat([first * cos - second * sin, first * sin + second * cos], -1)


def split_half_permutation(d_k: int, num_heads: int = 1) -> torch.Tensor:
    """The column order that turns interleaved pairs into halves, in each head.

    Within one head: 0, 2, 4, …, then 1, 3, 5, …; head h's block is offset by h·d_k.
    """
    check_positive_int("d_k", d_k)
    check_positive_int("num_heads", num_heads)
    one_head = torch.cat([torch.arange(0, d_k, 2), torch.arange(1, d_k, 2)])
    return torch.cat([h * d_k + one_head for h in range(num_heads)])


# --8<-- [end:rope_split_half]


# --8<-- [start:additive_mask]
def additive_mask(
    allowed: torch.Tensor, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """A boolean mask (True = may attend) as a float mask
    to add to the scores: 0 where allowed, -inf where not."""
    zeros = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return zeros.masked_fill(~allowed, float("-inf"))


def attention_with_additive_mask(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """softmax(Q Kᵀ / √d_k + bias) V: the float-mask way of writing attention.

    Every query must keep at least one key: a row of -inf has no softmax.
    """
    if bool(torch.isneginf(bias).all(dim=-1).any()):
        raise ValueError("bias blocks every key of some query: that row has no softmax")
    scores = query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1]) + bias
    return torch.softmax(scores, dim=-1) @ value


# --8<-- [end:additive_mask]


# --8<-- [start:blocked_mask]
def blocked_from_allowed(allowed: torch.Tensor) -> torch.Tensor:
    """True = may attend (this site, F.scaled_dot_product_attention)
    to True = blocked (nn.MultiheadAttention's attn_mask): a negation."""
    return torch.logical_not(allowed)


# --8<-- [end:blocked_mask]


# --8<-- [start:sequence_first]
def sequence_first_attention(
    x: torch.Tensor, module: MultiHeadAttention, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Self-attention on a sequence-first (T, B, D) input, returning
    (T, B, D): the batch-first module between two transposes."""
    batch_first = x.transpose(0, 1)  # (B, T, D)
    output, _ = module(batch_first, batch_first, batch_first, mask)
    return output.transpose(0, 1)


# --8<-- [end:sequence_first]


# --8<-- [start:fused_qkv]
def fused_qkv_projection(
    x: torch.Tensor, w_qkv: torch.Tensor, b_qkv: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries, keys and values from one (3D, D) matrix product, split in three.

    ``w_qkv`` is W^Q, W^K and W^V stacked as nn.MultiheadAttention's in_proj_weight.
    """
    q, k, v = F.linear(x, w_qkv, b_qkv).chunk(3, dim=-1)  # (..., D) each
    return q, k, v


def fuse_qkv(module: MultiHeadAttention) -> tuple[torch.Tensor, torch.Tensor]:
    """(w_qkv (3D, D), b_qkv (3D,)) from separate projections."""
    projections = (module.q_proj, module.k_proj, module.v_proj)
    w_qkv = torch.cat([proj.weight for proj in projections])
    b_qkv = torch.cat([proj.bias for proj in projections])
    return w_qkv, b_qkv


# --8<-- [end:fused_qkv]


# --8<-- [start:gelu_tanh]
def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU's tanh approximation (GPT-2, BERT's original
    code): 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))."""
    return (
        0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    )


# --8<-- [end:gelu_tanh]
