"""The exercises of multi-head latent attention: their cases, references, and the mistakes they recognise."""

from __future__ import annotations

import math

import numpy as np

from transformer_tutorial.exercises.catalogue.common import (
    PACKAGE,
    normal,
    torch_and_functional,
)
from transformer_tutorial.exercises.checker import Case, Exercise, Mistake
from transformer_tutorial.exercises.comparison import to_numpy
from transformer_tutorial.numpy import latent as np_latent
from transformer_tutorial.numpy.relative import rotary_embedding

# --- implement the absorbed score -------------------------------------------------------------------------------


def _score_cases() -> list[Case]:
    torch, _ = torch_and_functional()
    specs = [
        ("B=1, H=2, T=S=4, d_h=4, d_R=2, d_c=6", 1, 1, 2, 4, 4, 4, 2, 6, np.float64),
        ("B=2, H=4, T=3, S=5, d_h=8, d_R=4, d_c=12", 2, 2, 4, 3, 5, 8, 4, 12, np.float64),
        ("one head: H=1, T=S=6, d_h=6, d_R=2, d_c=4", 3, 1, 1, 6, 6, 6, 2, 4, np.float64),
        ("one query after 7 cached tokens: T=1, S=8", 4, 2, 3, 1, 8, 4, 4, 10, np.float64),
        ("d_c smaller than d_h: d_h=8, d_c=3", 5, 1, 2, 4, 4, 8, 2, 3, np.float64),
        ("float32: B=2, H=4, T=S=5, d_h=8, d_R=4, d_c=16", 6, 2, 4, 5, 5, 8, 4, 16, np.float32),
    ]  # fmt: skip
    cases = []
    for description, seed, b, h, t, s, d_h, d_r, d_c, dtype in specs:
        args = (
            normal(seed, b, h, t, d_h, dtype=dtype),  # q_content
            normal(seed + 10, b, h, t, d_r, dtype=dtype),  # q_rotary
            normal(seed + 20, b, s, d_c, dtype=dtype),  # latents
            normal(seed + 30, b, s, d_r, dtype=dtype),  # rotated_keys
            normal(seed + 40, d_c, h * d_h, dtype=dtype, scale=d_c**-0.5),  # w_uk
        )

        def expanded(args=args, h=h):
            """The independent reference: build every
            head's keys in PyTorch, then score."""
            q_c, q_r, c, k_r, w_uk = (torch.from_numpy(a) for a in args)
            keys = (c @ w_uk).unflatten(-1, (h, -1)).transpose(1, 2)  # (B, H, S, d_h)
            scores = q_c @ keys.transpose(-1, -2) + q_r @ k_r[:, None].transpose(-1, -2)
            return to_numpy(scores / math.sqrt(q_c.shape[-1] + q_r.shape[-1]))

        cases.append(
            Case(
                description,
                args,
                {
                    PACKAGE: lambda args=args: np_latent.absorbed_scores(*args),
                    "the expanded keys, in PyTorch": expanded,
                },
            )
        )
    return cases


def _scores_scaled_by_content_width(q_content, q_rotary, latents, rotated_keys, w_uk):
    scores = np_latent.absorbed_scores(q_content, q_rotary, latents, rotated_keys, w_uk)
    d_h, d_r = q_content.shape[-1], q_rotary.shape[-1]
    return scores * math.sqrt(d_h + d_r) / math.sqrt(d_h)


def _scores_without_rotary_part(q_content, q_rotary, latents, rotated_keys, w_uk):
    return np_latent.absorbed_scores(
        q_content, np.zeros_like(q_rotary), latents, np.zeros_like(rotated_keys), w_uk
    )


def _scores_with_heads_interleaved(q_content, q_rotary, latents, rotated_keys, w_uk):
    # (d_c, H·d_h) read as (d_c, d_h, H): head i gets every H-th column instead of columns i·d_h to (i+1)·d_h
    d_c, wide = w_uk.shape
    heads = q_content.shape[1]
    regrouped = (
        w_uk.reshape(d_c, wide // heads, heads).transpose(0, 2, 1).reshape(d_c, wide)
    )
    return np_latent.absorbed_scores(
        q_content, q_rotary, latents, rotated_keys, regrouped
    )


# --- find the bug: RoPE on the latent ----------------------------------------------------------------------------


def cache_row_reference(x, w_dkv, w_kr):
    """(B, T, d_c + d_R): the latent and the rotated
    key of each position 0 … T - 1, side by side."""
    latents = x @ w_dkv
    rotated_keys = rotary_embedding(x @ w_kr)
    return np.concatenate([latents, rotated_keys], axis=-1)


# --8<-- [start:rope_on_latent]
def cache_row(x, w_dkv, w_kr):
    """What MLA caches for each position of x (B, T, D): (B, T, d_c + d_R)."""
    latents = rotary_embedding(x @ w_dkv)  # keys come from the latent: rotate them
    rotated_keys = rotary_embedding(x @ w_kr)
    return np.concatenate([latents, rotated_keys], axis=-1)


# --8<-- [end:rope_on_latent]


def _cache_row_unrotated(x, w_dkv, w_kr):
    return np.concatenate([x @ w_dkv, x @ w_kr], axis=-1)


def _cache_row_rotated_whole(x, w_dkv, w_kr):
    return rotary_embedding(np.concatenate([x @ w_dkv, x @ w_kr], axis=-1))


def _cache_row_cases() -> list[Case]:
    torch, _ = torch_and_functional()
    from transformer_tutorial.torch.relative import rotary_embedding as torch_rope

    specs = [
        ("B=1, T=5, D=8, d_c=4, d_R=2", 1, 1, 5, 8, 4, 2, np.float64),
        ("B=2, T=6, D=12, d_c=6, d_R=4", 2, 2, 6, 12, 6, 4, np.float64),
        ("T=1: position 0 is not rotated", 3, 2, 1, 8, 4, 2, np.float64),
        ("float32: B=2, T=7, D=16, d_c=8, d_R=4", 4, 2, 7, 16, 8, 4, np.float32),
    ]
    cases = []
    for description, seed, b, t, d, d_c, d_r, dtype in specs:
        args = (
            normal(seed, b, t, d, dtype=dtype),
            normal(seed + 10, d, d_c, dtype=dtype, scale=d**-0.5),
            normal(seed + 20, d, d_r, dtype=dtype, scale=d**-0.5),
        )

        def pytorch(args=args):
            x, w_dkv, w_kr = (torch.from_numpy(a) for a in args)
            return to_numpy(torch.cat([x @ w_dkv, torch_rope(x @ w_kr)], dim=-1))

        cases.append(
            Case(
                description,
                args,
                {
                    PACKAGE: lambda args=args: cache_row_reference(*args),
                    "PyTorch, with the PyTorch RoPE": pytorch,
                },
            )
        )
    return cases


# --- predict the cache of a published model ---------------------------------------------------------------------


def _deepseek_v3_bytes_per_token() -> int:
    """Bytes of MLA cache per token of DeepSeek-V3
    (61 layers, d_c = 512, d_R = 64), 16-bit numbers."""
    from transformer_tutorial.costs import PUBLISHED

    v3 = next(config for config in PUBLISHED if config.model == "DeepSeek-V3")
    return int(v3.bytes_per_token(context_length=v3.context_length))


LATENT = [
    Exercise(
        "latent-attention/absorbed-scores",
        "implement",
        "Scores against the cached latents",
        "absorbed_scores",
        ("q_content", "q_rotary", "latents", "rotated_keys", "w_uk"),
        _score_cases,
        (
            Mistake(
                "the scores are divided by √d_h, not by √(d_h + d_R)",
                "Each head's query is [q_C ; q_R], d_h + d_R numbers wide, and so is its key: divide by the square"
                " root of the whole width.",
                _scores_scaled_by_content_width,
            ),
            Mistake(
                "the rotated part q_R · k_R is left out of the scores",
                "Add q_rotary @ rotated_keysᵀ (one rotated key shared by every head) to the content scores before"
                " scaling: it is the only place where positions enter.",
                _scores_without_rotary_part,
            ),
            Mistake(
                "W^UK's columns are split into heads in the wrong order",
                "Head i owns columns i·d_h to (i+1)·d_h of W^UK: reshape it as (d_c, H, d_h), not (d_c, d_h, H).",
                _scores_with_heads_interleaved,
            ),
        ),
    ),
    Exercise(
        "latent-attention/rope-on-latent",
        "bug",
        "A latent that remembers its position",
        "cache_row",
        ("x", "w_dkv", "w_kr"),
        _cache_row_cases,
        (
            Mistake(
                "RoPE is applied to the latent",
                "Only the decoupled key x W^KR is rotated. A rotated latent puts a rotation that depends on the"
                " key's position between W^UK and the query, and W^UK can no longer be absorbed into the query.",
                cache_row,
            ),
            Mistake(
                "the shared key is not rotated",
                "Rotate x W^KR by its position with RoPE: without it the scores know nothing of positions.",
                _cache_row_unrotated,
            ),
            Mistake(
                "the latent and the key are rotated as one vector",
                "Rotate only the d_R features of x W^KR, on their own: RoPE's frequencies depend on the width of"
                " what it rotates, and the latent must not be rotated at all.",
                _cache_row_rotated_whole,
            ),
        ),
    ),
    Exercise(
        "latent-attention/predict-cache-bytes",
        "predict",
        "The cache of one DeepSeek-V3 token",
        answer=_deepseek_v3_bytes_per_token,
        answer_hint="an int (bytes)",
    ),
]
