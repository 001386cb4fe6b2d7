"""Multi-head latent attention (MLA, DeepSeek-V2) in NumPy: keys and values rebuilt
from one small latent per token, a decoupled RoPE part with one rotated key shared
by every head, and the absorbed form that attends to the cached latents directly.

Shapes use B (batch), H (heads), T (query positions), S (key positions), D (model width), d_h (one head's content
width), d_R (the rotated part's width), d_c (the key/value latent) and d_q (the query latent). A projection is ``x @
w``, in the paper's orientation. Boolean masks mean True = may attend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from transformer_tutorial.checks import (
    check_attention_mask,
    check_multi_head_mask,
    check_ndim,
    check_positive_int,
    format_shape,
)
from transformer_tutorial.mask_shapes import with_head_axis
from transformer_tutorial.numpy.attention import (
    merge_heads,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)
from transformer_tutorial.numpy.relative import rotary_embedding


@dataclass
class LatentAttentionParams:
    """The weights of multi-head latent attention,
    named after the paper's matrices (no biases).

    ``w_dq`` (D, d_q) and ``w_dkv`` (D, d_c) compress; ``w_uq``, ``w_uk`` and ``w_uv`` expand a latent to H heads of
    d_h; ``w_qr`` (d_q, H·d_R) gives each head's rotated query part and ``w_kr`` (D, d_R) the one rotated key that all
    heads share; ``w_o`` (H·d_h, D) is the output projection.
    """

    w_dq: np.ndarray
    w_uq: np.ndarray
    w_qr: np.ndarray
    w_dkv: np.ndarray
    w_uk: np.ndarray
    w_uv: np.ndarray
    w_kr: np.ndarray
    w_o: np.ndarray
    num_heads: int

    def __post_init__(self) -> None:
        check_positive_int("num_heads", self.num_heads)
        for name in ("w_dq", "w_uq", "w_qr", "w_dkv", "w_uk", "w_uv", "w_kr", "w_o"):
            check_ndim(name, getattr(self, name), 2, "(inputs, outputs)")
        heads = self.num_heads
        d_model, d_q = self.w_dq.shape
        d_c, wide = self.w_uk.shape
        if wide % heads:
            raise ValueError(
                f"w_uk has {wide} outputs (shape {format_shape(self.w_uk.shape)}), "
                f"not divisible by num_heads={heads}"
            )
        d_h, d_r = wide // heads, self.w_kr.shape[1]
        expected = {
            "w_uq": (d_q, heads * d_h),
            "w_qr": (d_q, heads * d_r),
            "w_dkv": (d_model, d_c),
            "w_uv": (d_c, heads * d_h),
            "w_kr": (d_model, d_r),
            "w_o": (heads * d_h, d_model),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"{name} must have shape {format_shape(shape)} for w_dq "
                    f"{format_shape(self.w_dq.shape)}, w_uk {format_shape(self.w_uk.shape)}"
                    f" and w_kr {format_shape(self.w_kr.shape)}, got "
                    f"{format_shape(getattr(self, name).shape)}"
                )
        if d_r % 2:
            raise ValueError(
                f"w_kr must have an even number of outputs d_R for RoPE, got shape "
                f"{format_shape(self.w_kr.shape)}"
            )

    @property
    def d_model(self) -> int:
        return self.w_dq.shape[0]

    @property
    def head_width(self) -> int:
        """d_h."""
        return self.w_uk.shape[1] // self.num_heads

    @property
    def rope_width(self) -> int:
        """d_R."""
        return self.w_kr.shape[1]

    @classmethod
    def random(
        cls,
        d_model: int,
        num_heads: int,
        head_width: int,
        rope_width: int,
        kv_latent_width: int,
        query_latent_width: int,
        seed: int = 0,
    ) -> LatentAttentionParams:
        """Weights drawn from N(0, 1 / fan_in), from their own generator."""
        rng = np.random.default_rng(seed)
        H, d_h, d_r = num_heads, head_width, rope_width
        d_c, d_q = kv_latent_width, query_latent_width
        shapes = [
            (d_model, d_q), (d_q, H * d_h), (d_q, H * d_r), (d_model, d_c),
            (d_c, H * d_h), (d_c, H * d_h), (d_model, d_r), (H * d_h, d_model),
        ]  # fmt: skip
        weights = [rng.normal(size=s) / math.sqrt(s[0]) for s in shapes]
        return cls(*weights, num_heads)


class LatentCache:
    """What MLA keeps per cached token: the latent
    c_KV (B, S, d_c) and the rotated key (B, S, d_R)."""

    def __init__(self) -> None:
        self.latents: np.ndarray | None = None  # (B, S, d_c)
        self.rotated_keys: np.ndarray | None = None  # (B, S, d_R)

    def __len__(self) -> int:
        """How many positions are cached."""
        return 0 if self.latents is None else self.latents.shape[1]

    def update(
        self, latents: np.ndarray, rotated_keys: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Append (B, T, d_c) latents and (B, T,
        d_R) rotated keys; return all of them."""
        if self.latents is None:
            self.latents, self.rotated_keys = latents, rotated_keys
        else:
            self.latents = np.concatenate([self.latents, latents], axis=1)
            self.rotated_keys = np.concatenate(
                [self.rotated_keys, rotated_keys], axis=1
            )
        return self.latents, self.rotated_keys


def check_latent_inputs(
    q_content: Any, q_rotary: Any, latents: Any, rotated_keys: Any, w_uk: Any
) -> None:
    """Check the inputs of ``absorbed_scores`` and of the
    two attention forms: the sizes that must agree do."""
    check_ndim("q_content", q_content, 4, "(B, H, T, d_h)")
    check_ndim("q_rotary", q_rotary, 4, "(B, H, T, d_R)")
    check_ndim("latents", latents, 3, "(B, S, d_c)")
    check_ndim("rotated_keys", rotated_keys, 3, "(B, S, d_R)")
    check_ndim("w_uk", w_uk, 2, "(d_c, H·d_h)")
    batch, heads, length, d_h = q_content.shape
    keys, d_c = latents.shape[1:]
    d_r = q_rotary.shape[-1]
    expected = {
        "q_rotary": (q_rotary, (batch, heads, length, d_r)),
        "latents": (latents, (batch, keys, d_c)),
        "rotated_keys": (rotated_keys, (batch, keys, d_r)),
        "w_uk": (w_uk, (d_c, heads * d_h)),
    }
    for name, (array, shape) in expected.items():
        if tuple(array.shape) != shape:
            raise ValueError(
                f"{name} must have shape {format_shape(shape)} for q_content of shape "
                f"{format_shape(q_content.shape)} and latents of shape "
                f"{format_shape(latents.shape)}, got {format_shape(array.shape)}"
            )


# --8<-- [start:compress]
def compress(
    x: np.ndarray, params: LatentAttentionParams, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """What one token leaves in the cache: its latent and its one rotated key.

    c_KV = x W^DKV, (B, T, d_c), and k_R = RoPE(x W^KR), (B, T, d_R), shared by all heads: d_c + d_R numbers per token
    per layer.
    """
    latents = x @ params.w_dkv
    rotated_keys = rotary_embedding(x @ params.w_kr, positions)
    return latents, rotated_keys


def latent_queries(
    x: np.ndarray, params: LatentAttentionParams, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The queries from their own latent c_Q = x W^DQ: content and rotated parts.

    Returns (B, H, T, d_h) and (B, H, T, d_R); only the second part is rotated.
    """
    query_latent = x @ params.w_dq  # (B, T, d_q)
    q_content = split_heads(query_latent @ params.w_uq, params.num_heads)
    q_rotary = split_heads(query_latent @ params.w_qr, params.num_heads)
    return q_content, rotary_embedding(q_rotary, positions)


# --8<-- [end:compress]


# --8<-- [start:expanded]
def expanded_latent_attention(
    q_content: np.ndarray,
    q_rotary: np.ndarray,
    latents: np.ndarray,
    rotated_keys: np.ndarray,
    w_uk: np.ndarray,
    w_uv: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
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
    shared = np.broadcast_to(
        rotated_keys[:, None], (*keys.shape[:3], q_rotary.shape[-1])
    )
    query = np.concatenate([q_content, q_rotary], axis=-1)  # (B, H, T, d_h + d_R)
    key = np.concatenate([keys, shared], axis=-1)  # (B, H, S, d_h + d_R)
    if mask is not None:
        check_attention_mask(mask, (*query.shape[:3], key.shape[2]))
    return scaled_dot_product_attention(query, key, values, mask)


# --8<-- [end:expanded]


# --8<-- [start:absorbed]
def absorbed_scores(
    q_content: np.ndarray,
    q_rotary: np.ndarray,
    latents: np.ndarray,
    rotated_keys: np.ndarray,
    w_uk: np.ndarray,
) -> np.ndarray:
    """The scores of MLA computed against the cached latents: (B, H, T, S).

    q_C · (c W^UK_i) = (q_C W^UK_iᵀ) · c, so W^UK moves to the query side, and every head compares a d_c-wide query with
    the latents themselves.
    """
    check_latent_inputs(q_content, q_rotary, latents, rotated_keys, w_uk)
    _, num_heads, _, d_h = q_content.shape
    # (d_c, H·d_h) -> (H, d_h, d_c): one W^UK_iᵀ per head
    w_uk_t = w_uk.reshape(w_uk.shape[0], num_heads, d_h).transpose(1, 2, 0)
    q_latent = q_content @ w_uk_t  # (B, H, T, d_c): the absorbed query
    content = q_latent @ np.swapaxes(latents[:, None], -1, -2)  # (B, H, T, S)
    rotary = q_rotary @ np.swapaxes(rotated_keys[:, None], -1, -2)
    return (content + rotary) / math.sqrt(d_h + q_rotary.shape[-1])


def absorbed_latent_attention(
    q_content: np.ndarray,
    q_rotary: np.ndarray,
    latents: np.ndarray,
    rotated_keys: np.ndarray,
    w_uk: np.ndarray,
    w_uv: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MLA as inference runs it: attend to the latents; no key or value is built.

    The weights average the latents, and W^UV_i turns the average into head i's output: W^UV then W^O, one fixed product
    that the output projection absorbs.

    Returns:
        ``(heads, weights)``: (B, H, T, d_h) and (B, H, T, S).
    """
    scores = absorbed_scores(q_content, q_rotary, latents, rotated_keys, w_uk)
    if mask is not None:
        check_attention_mask(mask, scores.shape)
        mask = np.broadcast_to(mask, scores.shape)
    weights = softmax(scores, mask=mask)  # a fully masked row gives zeros
    mixed = weights @ latents[:, None]  # (B, H, T, d_c): averaged latents
    num_heads, d_h = scores.shape[1], q_content.shape[-1]
    w_uv_heads = w_uv.reshape(w_uv.shape[0], num_heads, d_h).transpose(1, 0, 2)
    return mixed @ w_uv_heads, weights  # (H, d_c, d_h) per head: (B, H, T, d_h)


# --8<-- [end:absorbed]


# --8<-- [start:layer]
def multi_head_latent_attention(
    x: np.ndarray,
    params: LatentAttentionParams,
    mask: np.ndarray | None = None,
    cache: LatentCache | None = None,
    absorb: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """MLA self-attention: x (B, T, D) -> (B, T, D), and weights (B, H, T, S).

    With a cache, the new positions follow the cached ones and only their latents and rotated keys are appended.
    ``absorb`` picks the absorbed form.
    """
    check_ndim("x", x, 3, "(B, T, D)")
    if x.shape[-1] != params.d_model:
        raise ValueError(
            f"x must have d_model={params.d_model} features, got shape {format_shape(x.shape)}"
        )
    start = 0 if cache is None else len(cache)
    positions = np.arange(start, start + x.shape[1])
    q_content, q_rotary = latent_queries(x, params, positions)
    latents, rotated_keys = compress(x, params, positions)
    if cache is not None:
        latents, rotated_keys = cache.update(latents, rotated_keys)
    check_multi_head_mask(mask, x.shape[0], x.shape[1], latents.shape[1])
    mask = with_head_axis(mask)
    attend = absorbed_latent_attention if absorb else expanded_latent_attention
    heads, weights = attend(
        q_content, q_rotary, latents, rotated_keys, params.w_uk, params.w_uv, mask
    )
    return merge_heads(heads) @ params.w_o, weights


# --8<-- [end:layer]
