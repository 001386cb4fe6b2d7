"""A decoder-only Transformer (GPT-style) in NumPy: the forward pass, and sampling with temperature and top-k.

The model is a stack of pre-norm self-attention layers under a causal mask: ``encoder_layer`` from
``transformer_tutorial.numpy.layers`` with ``norm_first=True``. Its input is a token embedding plus a learned position
embedding, its last LayerNorm follows the stack, and its output layer is the token embedding matrix again (weight
tying). The weights come from the PyTorch ``DecoderOnly`` (``numpy_params()``), which is the one that trains.

Shapes use B (batch), T (positions), D (model width) and V (vocabulary size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import (
    check_generation_room,
    check_ndim,
    check_positive_int,
    check_positive_number,
    check_tokens,
)
from transformer_tutorial.config import DecoderOnlyConfig
from transformer_tutorial.numpy.attention import MultiHeadAttentionParams, softmax
from transformer_tutorial.numpy.layers import (
    EncoderLayerParams,
    FeedForwardParams,
    LayerNormParams,
    encoder_layer,
    layer_norm,
)
from transformer_tutorial.numpy.masks import causal_mask


@dataclass
class DecoderOnlyParams:
    """Every weight: the token embedding (V, D), which is also
    the output layer, the position table (max_len, D), one
    ``EncoderLayerParams`` per layer, and the final LayerNorm."""

    config: DecoderOnlyConfig
    token_embedding: np.ndarray
    position_embedding: np.ndarray
    layers: list[EncoderLayerParams]
    final_norm: LayerNormParams

    @classmethod
    def random(
        cls, config: DecoderOnlyConfig, rng: np.random.Generator
    ) -> DecoderOnlyParams:
        """Untrained weights, without PyTorch: embeddings drawn from N(0,
        0.02²) (the PyTorch model's start), linear layers uniform in ±1/√fan_in
        (the scale of ``nn.Linear``), LayerNorms at scale 1 and shift 0."""
        d, f = config.d_model, config.d_ff

        def uniform(fan_in: int, *shape: int) -> np.ndarray:
            bound = 1 / np.sqrt(fan_in)
            return rng.uniform(-bound, bound, size=shape)

        def norm() -> LayerNormParams:
            return LayerNormParams(np.ones(d), np.zeros(d), config.eps)

        layers = [
            EncoderLayerParams(
                MultiHeadAttentionParams.random(d, config.num_heads, rng),
                FeedForwardParams(
                    uniform(d, d, f), uniform(d, f), uniform(f, f, d), uniform(f, d)
                ),
                norm(),
                norm(),
            )
            for _ in range(config.num_layers)
        ]
        return cls(
            config,
            rng.normal(0.0, 0.02, size=(config.vocab_size, d)),
            rng.normal(0.0, 0.02, size=(config.max_len, d)),
            layers,
            norm(),
        )


# --8<-- [start:decoder_only]
def decoder_only(tokens: np.ndarray, params: DecoderOnlyParams) -> np.ndarray:
    """Token ids (B, T) -> logits (B, T, V): position
    t scores every candidate for token t + 1.

    Position t sees tokens 0 … t only (the causal mask), so all T predictions come from one pass.
    """
    config = params.config
    check_tokens("tokens", tokens, config.vocab_size, config.max_len)
    length = tokens.shape[1]
    x = params.token_embedding[tokens] + params.position_embedding[:length]  # (B, T, D)
    mask = causal_mask(length)  # (T, T): query t may read keys 0 … t
    for layer in params.layers:
        # pre-norm self-attention and feed-forward
        x = encoder_layer(x, layer, mask, norm_first=True)
    # a pre-norm stack's sums were never normalised
    x = layer_norm(x, params.final_norm)
    # weight tying: the output layer is the embedding matrix, transposed
    return x @ params.token_embedding.T


# --8<-- [end:decoder_only]


# --8<-- [start:sampling]
def next_token_probabilities(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> np.ndarray:
    """The distribution to sample the next token from:
    softmax(logits / temperature) over the top k logits.

    Args:
        logits: (..., V) scores for the next token.
        temperature: Above 0. Below 1 sharpens the distribution towards the largest logit (near 0 it is greedy
            decoding), above 1 flattens it towards uniform; 1 leaves the model's distribution as it is.
        top_k: Keep only the k largest logits (and any tied with the k-th) and give the rest probability 0; None keeps
            all V. ``top_k=1`` is greedy decoding.

    Returns:
        (..., V) probabilities that sum to 1 along the last axis.

    Examples:
        >>> logits = np.log(np.array([0.5, 0.3, 0.2]))
        >>> next_token_probabilities(logits).round(3)
        array([0.5, 0.3, 0.2])
        >>> next_token_probabilities(logits, top_k=2).round(3)  # 0.5 and 0.3, renormalised
        array([0.625, 0.375, 0.   ])
        >>> next_token_probabilities(logits, temperature=0.5).round(3)  # squared, renormalised
        array([0.658, 0.237, 0.105])
    """
    check_positive_number("temperature", temperature)
    keep = None
    if top_k is not None:
        check_positive_int("top_k", top_k)
        if top_k > logits.shape[-1]:
            raise ValueError(
                f"top_k={top_k} is more than the {logits.shape[-1]} entries of logits",
            )
        kth_largest = np.sort(logits, axis=-1)[..., -top_k, None]  # (..., 1)
        keep = logits >= kth_largest
    return softmax(logits / temperature, axis=-1, mask=keep)


def sample_from(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of (..., V) probabilities,
    drawn with one uniform number per row (inverse CDF).

    The draw is the first index whose cumulative probability exceeds u · total, with u uniform in [0, 1): an index of
    probability 0 is never drawn. Returns (...,) int64.
    """
    cumulative = np.cumsum(probabilities, axis=-1, dtype=np.float64)  # (..., V)
    # (..., 1), in [0, total)
    u = rng.random((*probabilities.shape[:-1], 1)) * cumulative[..., -1:]
    return (cumulative <= u).sum(axis=-1)


# --8<-- [end:sampling]


def generate(
    prompt: np.ndarray,
    params: DecoderOnlyParams,
    max_new_tokens: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> np.ndarray:
    """Extend each prompt (B, T0) by ``max_new_tokens`` sampled tokens: (B, T0 + n).

    Each step runs the whole sequence again and samples from the last position's distribution (no cache).

    Raises:
        ValueError: the result would be longer than ``max_len``: a learned position table has no rows beyond.
    """
    check_ndim("prompt", prompt, 2, "(B, T)")
    check_positive_int("max_new_tokens", max_new_tokens, allow_zero=True)
    check_generation_room(prompt.shape[1], max_new_tokens, params.config.max_len)
    tokens = prompt
    for _ in range(max_new_tokens):
        probabilities = next_token_probabilities(
            decoder_only(tokens, params)[:, -1], temperature, top_k
        )
        tokens = np.concatenate(
            [tokens, sample_from(probabilities, rng)[:, None]], axis=1
        )
    return tokens
