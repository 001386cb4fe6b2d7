"""The LLaMA-style decoder in NumPy: RMSNorm, the SwiGLU feed-forward
network, and pre-norm blocks with RoPE and grouped-query attention.

The block differs from the paper's decoder layer in four places: RMSNorm instead of LayerNorm, normalisation before each
sub-layer (pre-norm) instead of after the residual sum, a gated feed-forward network (SwiGLU) instead of
Linear-ReLU-Linear, and rotary position embeddings on the queries and keys instead of sinusoids added to the input; none
of its linear layers has a bias. The weights come from the PyTorch ``LlamaDecoder`` (``numpy_params()``), which is the
one that trains.

Shapes use B (batch), T (positions), D (model width), F (feed-forward width) and V (vocabulary size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import (
    check_tokens,
)
from transformer_tutorial.config import LlamaConfig
from transformer_tutorial.numpy.masks import causal_mask
from transformer_tutorial.numpy.modern import (
    GroupedQueryAttentionParams,
    grouped_query_attention_layer,
)
from transformer_tutorial.numpy.qk_norm import QKNormParams, qk_norm_attention_layer


@dataclass
class RMSNormParams:
    """RMSNorm's scale (``weight``, (D,)) and epsilon. There is no shift."""

    weight: np.ndarray
    eps: float = 1e-5


@dataclass
class SwiGLUParams:
    """SwiGLU's three matrices, in the orientation ``x @
    w``: ``w_gate`` and ``w_up`` (D, F), ``w_down`` (F, D)."""

    w_gate: np.ndarray
    w_up: np.ndarray
    w_down: np.ndarray


@dataclass
class LlamaBlockParams:
    attention_norm: RMSNormParams
    attention: GroupedQueryAttentionParams
    feed_forward_norm: RMSNormParams
    feed_forward: SwiGLUParams
    qk_norm: QKNormParams | None = None  # the scales of QK-norm, when the block has it


@dataclass
class LlamaDecoderParams:
    """The token embedding (V, D), which is also the
    output layer, the blocks, and the final RMSNorm."""

    config: LlamaConfig
    token_embedding: np.ndarray
    blocks: list[LlamaBlockParams]
    final_norm: RMSNormParams

    @classmethod
    def random(
        cls, config: LlamaConfig, rng: np.random.Generator
    ) -> LlamaDecoderParams:
        """Untrained weights, without PyTorch: the embedding from
        N(0, 0.02²), every matrix uniform in ±1/√fan_in (the scale
        of ``nn.Linear``), zero biases, and every norm's scale at 1."""
        d, f = config.d_model, config.d_ff
        kv = config.num_kv_heads * (d // config.num_heads)

        def matrix(rows: int, columns: int) -> np.ndarray:
            bound = 1 / np.sqrt(rows)
            return rng.uniform(-bound, bound, size=(rows, columns))

        def norm(width: int = d) -> RMSNormParams:
            return RMSNormParams(np.ones(width), config.eps)

        def block() -> LlamaBlockParams:
            attention = GroupedQueryAttentionParams(
                matrix(d, d), matrix(d, kv), matrix(d, kv), matrix(d, d),
                np.zeros(d), np.zeros(kv), np.zeros(kv), np.zeros(d),
                config.num_heads, config.num_kv_heads,
            )  # fmt: skip
            d_k = d // config.num_heads
            qk = QKNormParams(np.ones(d_k), np.ones(d_k), config.eps)
            return LlamaBlockParams(
                norm(),
                attention,
                norm(),
                SwiGLUParams(matrix(d, f), matrix(d, f), matrix(f, d)),
                qk if config.qk_norm else None,
            )

        embedding = rng.normal(0.0, 0.02, size=(config.vocab_size, d))
        return cls(
            config, embedding, [block() for _ in range(config.num_layers)], norm()
        )


# --8<-- [start:rms_norm]
def rms_norm(x: np.ndarray, params: RMSNormParams) -> np.ndarray:
    """Divide each position's features by their root mean square, then scale them.

    (..., D) -> (..., D). Unlike LayerNorm, nothing is subtracted (no mean, no learned shift): x / √(mean(x²) + ε) ·
    weight.
    """
    mean_square = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(mean_square + params.eps) * params.weight


# --8<-- [end:rms_norm]


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU (also called swish): x · sigmoid(x), in the dtype of x.

    exp(-x) would overflow below -88 in float32 (-11 in float16); exp(-|x|) never does, and sigmoid(x) is 1 / (1 + e)
    for x ≥ 0 and e / (1 + e) below, with e = exp(-|x|)."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return x * np.where(x >= 0, 1, e) / (1 + e)


# --8<-- [start:swiglu]
def swiglu(x: np.ndarray, params: SwiGLUParams) -> np.ndarray:
    """The gated feed-forward network: (SiLU(x W_gate) ⊙ x W_up) W_down.

    (..., D) -> (..., D). One hidden layer decides, feature by feature, how much of the other passes: three D × F
    matrices where the paper's network has two.
    """
    return (silu(x @ params.w_gate) * (x @ params.w_up)) @ params.w_down


# --8<-- [end:swiglu]


# --8<-- [start:llama_block]
def llama_block(
    x: np.ndarray,
    params: LlamaBlockParams,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """One pre-norm block: h = x +
    Attention(RMSNorm(x)), then h + SwiGLU(RMSNorm(h)).

    (B, T, D) -> (B, T, D). The attention is grouped-query self-attention with RoPE on its queries and keys.
    """
    normed = rms_norm(x, params.attention_norm)
    if params.qk_norm is None:
        attended, _ = grouped_query_attention_layer(
            normed, normed, normed, params.attention, mask, rope=True
        )
    else:  # QK-norm: each head's queries and keys RMS-normalised before RoPE
        attended, _ = qk_norm_attention_layer(
            normed, normed, normed, params.attention, params.qk_norm, mask
        )
    h = x + attended  # the residual path is never normalised
    return h + swiglu(rms_norm(h, params.feed_forward_norm), params.feed_forward)


# --8<-- [end:llama_block]


def llama_decoder(tokens: np.ndarray, params: LlamaDecoderParams) -> np.ndarray:
    """Token ids (B, T) -> logits (B, T, V): embed, run
    the blocks under a causal mask, RMSNorm, output layer.

    No position is added to the embeddings: RoPE gives the attention of every block the positions it needs.
    """
    config = params.config
    check_tokens("tokens", tokens, config.vocab_size, config.max_len)
    x = params.token_embedding[tokens]  # (B, T, D)
    mask = causal_mask(tokens.shape[1])
    for block in params.blocks:
        x = llama_block(x, block, mask)
    # weight tying, as in the site's GPT
    return rms_norm(x, params.final_norm) @ params.token_embedding.T
