"""Multi-head latent attention (MLA, DeepSeek-V2) in PyTorch: keys and values rebuilt
from one small latent per token, a decoupled RoPE part with one rotated key shared by
every head, and the absorbed form that attends to the cached latents directly.

Shapes use B (batch), H (heads), T (query positions), S (key positions), D (model width), d_h (one head's content
width), d_R (the rotated part's width), d_c (the key/value latent) and d_q (the query latent). A projection is an
``nn.Linear`` without bias. Boolean masks mean True = may attend.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from transformer_tutorial.checks import (
    check_attention_mask,
    check_multi_head_mask,
    check_ndim,
    check_positive_int,
    format_shape,
)
from transformer_tutorial.mask_shapes import with_head_axis
from transformer_tutorial.numpy.latent import LatentAttentionParams, check_latent_inputs
from transformer_tutorial.torch.attention import (
    merge_heads,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)
from transformer_tutorial.torch.relative import rotary_embedding


class LatentCache:
    """What MLA keeps per cached token: the latent
    c_KV (B, S, d_c) and the rotated key (B, S, d_R)."""

    def __init__(self) -> None:
        self.latents: torch.Tensor | None = None  # (B, S, d_c)
        self.rotated_keys: torch.Tensor | None = None  # (B, S, d_R)

    def __len__(self) -> int:
        """How many positions are cached."""
        return 0 if self.latents is None else self.latents.shape[1]

    def update(
        self, latents: torch.Tensor, rotated_keys: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append (B, T, d_c) latents and (B, T,
        d_R) rotated keys; return all of them."""
        if self.latents is None:
            self.latents, self.rotated_keys = latents, rotated_keys
        else:
            self.latents = torch.cat([self.latents, latents], dim=1)
            self.rotated_keys = torch.cat([self.rotated_keys, rotated_keys], dim=1)
        return self.latents, self.rotated_keys


# --8<-- [start:expanded]
def expanded_latent_attention(
    q_content: torch.Tensor,
    q_rotary: torch.Tensor,
    latents: torch.Tensor,
    rotated_keys: torch.Tensor,
    w_uk: torch.Tensor,
    w_uv: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MLA as training computes it: rebuild
    every head's keys and values, then attend.

    Head i's key is [c W^UK_i ; k_R] and its value c W^UV_i. The query is [q_C ; q_R], d_h + d_R wide, so the scores are
    divided by √(d_h + d_R).

    Returns:
        ``(heads, weights)``: (B, H, T, d_h) and (B, H, T, S).
    """
    check_latent_inputs(q_content, q_rotary, latents, rotated_keys, w_uk)
    num_heads = q_content.shape[1]
    keys = split_heads(latents @ w_uk, num_heads)  # (B, H, S, d_h): built in full
    values = split_heads(latents @ w_uv, num_heads)  # (B, H, S, d_h)
    shared = rotated_keys[:, None].expand(*keys.shape[:3], -1)
    query = torch.cat([q_content, q_rotary], dim=-1)  # (B, H, T, d_h + d_R)
    key = torch.cat([keys, shared], dim=-1)  # (B, H, S, d_h + d_R)
    if mask is not None:
        check_attention_mask(mask, (*query.shape[:3], key.shape[2]))
    return scaled_dot_product_attention(query, key, values, mask)


# --8<-- [end:expanded]


# --8<-- [start:absorbed]
def absorbed_scores(
    q_content: torch.Tensor,
    q_rotary: torch.Tensor,
    latents: torch.Tensor,
    rotated_keys: torch.Tensor,
    w_uk: torch.Tensor,
) -> torch.Tensor:
    """The scores of MLA computed against the cached latents: (B, H, T, S).

    q_C · (c W^UK_i) = (q_C W^UK_iᵀ) · c, so W^UK moves to the query side, and every head compares a d_c-wide query with
    the latents themselves.
    """
    check_latent_inputs(q_content, q_rotary, latents, rotated_keys, w_uk)
    _, num_heads, _, d_h = q_content.shape
    # (d_c, H·d_h) -> (H, d_h, d_c): one W^UK_iᵀ per head
    w_uk_t = w_uk.reshape(w_uk.shape[0], num_heads, d_h).permute(1, 2, 0)
    q_latent = q_content @ w_uk_t  # (B, H, T, d_c): the absorbed query
    content = q_latent @ latents[:, None].transpose(-1, -2)  # (B, H, T, S)
    rotary = q_rotary @ rotated_keys[:, None].transpose(-1, -2)
    return (content + rotary) / math.sqrt(d_h + q_rotary.shape[-1])


def absorbed_latent_attention(
    q_content: torch.Tensor,
    q_rotary: torch.Tensor,
    latents: torch.Tensor,
    rotated_keys: torch.Tensor,
    w_uk: torch.Tensor,
    w_uv: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MLA as inference runs it: attend to the latents; no key or value is built.

    The weights average the latents, and W^UV_i turns the average into head i's output: W^UV then W^O, one fixed product
    that the output projection absorbs.

    Returns:
        ``(heads, weights)``: (B, H, T, d_h) and (B, H, T, S).
    """
    scores = absorbed_scores(q_content, q_rotary, latents, rotated_keys, w_uk)
    if mask is not None:
        check_attention_mask(mask, scores.shape)
        mask = mask.expand(scores.shape)
    weights = softmax(scores, mask=mask)  # a fully masked row gives zeros
    mixed = weights @ latents[:, None]  # (B, H, T, d_c): averaged latents
    num_heads, d_h = scores.shape[1], q_content.shape[-1]
    w_uv_heads = w_uv.reshape(w_uv.shape[0], num_heads, d_h).transpose(0, 1)
    return mixed @ w_uv_heads, weights  # (H, d_c, d_h) per head: (B, H, T, d_h)


# --8<-- [end:absorbed]


class MultiHeadLatentAttention(nn.Module):
    """Multi-head latent attention, batch first, with
    a latent cache and an absorbed inference path.

    Args:
        d_model: D, the width of the inputs and of the output.
        num_heads: H.
        head_width: d_h, each head's content part of queries and keys, and its value width.
        rope_width: d_R, each head's rotated query part and the shared rotated key (even).
        kv_latent_width: d_c, what each token caches besides its rotated key.
        query_latent_width: d_q, the queries' own latent (never cached).
        absorb: Take the absorbed path by default.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        head_width: int,
        rope_width: int,
        kv_latent_width: int,
        query_latent_width: int,
        absorb: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (
            ("d_model", d_model),
            ("num_heads", num_heads),
            ("head_width", head_width),
            ("rope_width", rope_width),
            ("kv_latent_width", kv_latent_width),
            ("query_latent_width", query_latent_width),
        ):
            check_positive_int(name, value)
        if rope_width % 2:
            raise ValueError(
                f"rope_width={rope_width} must be even: RoPE pairs features"
            )
        self.d_model, self.num_heads = d_model, num_heads
        self.head_width, self.rope_width = head_width, rope_width
        self.absorb = absorb
        wide = num_heads * head_width
        self.q_down = nn.Linear(d_model, query_latent_width, bias=False)  # W^DQ
        self.q_up = nn.Linear(query_latent_width, wide, bias=False)  # W^UQ
        self.q_rope = nn.Linear(query_latent_width, num_heads * rope_width, bias=False)
        self.kv_down = nn.Linear(d_model, kv_latent_width, bias=False)  # W^DKV
        self.k_up = nn.Linear(kv_latent_width, wide, bias=False)  # W^UK
        self.v_up = nn.Linear(kv_latent_width, wide, bias=False)  # W^UV
        self.k_rope = nn.Linear(d_model, rope_width, bias=False)  # W^KR
        self.out_proj = nn.Linear(wide, d_model, bias=False)  # W^O

    # --8<-- [start:compress]
    def compress(
        self, x: torch.Tensor, positions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """What one token leaves in the cache: its latent and its one rotated key.

        c_KV = x W^DKV, (B, T, d_c), and k_R = RoPE(x W^KR), (B, T, d_R), shared by all heads: d_c + d_R numbers per
        token per layer.
        """
        latents = self.kv_down(x)
        rotated_keys = rotary_embedding(self.k_rope(x), positions)
        return latents, rotated_keys

    def latent_queries(
        self, x: torch.Tensor, positions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The queries from their own latent c_Q = x W^DQ: content and rotated parts.

        Returns (B, H, T, d_h) and (B, H, T, d_R); only the second part is rotated.
        """
        query_latent = self.q_down(x)  # (B, T, d_q)
        q_content = split_heads(self.q_up(query_latent), self.num_heads)
        q_rotary = split_heads(self.q_rope(query_latent), self.num_heads)
        return q_content, rotary_embedding(q_rotary, positions)

    # --8<-- [end:compress]

    # --8<-- [start:forward]
    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: LatentCache | None = None,
        absorb: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """MLA self-attention: x (B, T, D) -> (B, T, D), and weights (B, H, T, S).

        With a cache, the new positions follow the cached ones and only their latents and rotated keys are appended.
        ``absorb`` picks the absorbed form.
        """
        check_ndim("x", x, 3, "(B, T, D)")
        if x.shape[-1] != self.d_model:
            raise ValueError(
                f"x must have d_model={self.d_model} features, got shape {format_shape(x.shape)}"
            )
        start = 0 if cache is None else len(cache)
        positions = torch.arange(start, start + x.shape[1], device=x.device)
        q_content, q_rotary = self.latent_queries(x, positions)
        latents, rotated_keys = self.compress(x, positions)
        if cache is not None:
            latents, rotated_keys = cache.update(latents, rotated_keys)
        check_multi_head_mask(mask, x.shape[0], x.shape[1], latents.shape[1])
        mask = with_head_axis(mask)
        absorbed = self.absorb if absorb is None else absorb
        attend = absorbed_latent_attention if absorbed else expanded_latent_attention
        w_uk, w_uv = self.k_up.weight.T, self.v_up.weight.T  # (d_c, H·d_h): x @ w
        heads, weights = attend(
            q_content, q_rotary, latents, rotated_keys, w_uk, w_uv, mask
        )
        return self.out_proj(merge_heads(heads)), weights

    # --8<-- [end:forward]

    def numpy_params(self) -> LatentAttentionParams:
        """The weights as float64 NumPy arrays, in the paper's orientation (x @ W)."""
        projections = (
            self.q_down, self.q_up, self.q_rope, self.kv_down,
            self.k_up, self.v_up, self.k_rope, self.out_proj,
        )  # fmt: skip
        return LatentAttentionParams(
            *(p.weight.detach().T.double().cpu().numpy() for p in projections),
            self.num_heads,
        )
