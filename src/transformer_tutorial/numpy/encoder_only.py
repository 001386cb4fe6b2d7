"""An encoder-only Transformer (BERT-style) in NumPy, and the sentence embeddings made from it.

The model is the encoder stack of the original Transformer, post-norm with GELU, under a different embedding: word +
learned position + token type, then LayerNorm. The layers are ``encoder_layer`` from
``transformer_tutorial.numpy.layers``; nothing here computes attention or a layer a second time. Weights come from the
PyTorch ``EncoderOnly`` (``numpy_params()``) or straight from a BERT checkpoint (``from_bert``).

Shapes use B (batch), T (positions), D (model width), H (heads), L (layers) and V (vocabulary size).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import check_ndim, check_tokens, format_shape
from transformer_tutorial.config import EncoderOnlyConfig
from transformer_tutorial.numpy.attention import (
    MultiHeadAttentionParams,
    multi_head_attention,
)
from transformer_tutorial.numpy.layers import (
    EncoderLayerParams,
    FeedForwardParams,
    LayerNormParams,
    encoder_layer,
    layer_norm,
)
from transformer_tutorial.numpy.masks import padding_mask


@dataclass
class EncoderOnlyParams:
    """Every weight of the encoder: three embedding tables (word (V,
    D), position (max_len, D), token type (types, D)), the LayerNorm
    applied to their sum, and one ``EncoderLayerParams`` per layer."""

    config: EncoderOnlyConfig
    word_embedding: np.ndarray
    position_embedding: np.ndarray
    token_type_embedding: np.ndarray
    embedding_norm: LayerNormParams
    layers: list[EncoderLayerParams]

    # --8<-- [start:from_bert]
    @classmethod
    def from_bert(
        cls,
        weights: Mapping[str, np.ndarray],
        config: EncoderOnlyConfig,
    ) -> EncoderOnlyParams:
        """Our parameters from the tensors of a BERT checkpoint.

        The names are those of Hugging Face's ``BertModel``, without the ``bert.`` prefix. Linear weights are stored
        (out, in) there and (in, out) here."""

        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
            return weights[f"{name}.weight"].T, weights[f"{name}.bias"]

        def norm(name: str) -> LayerNormParams:
            return LayerNormParams(
                weights[f"{name}.weight"],
                weights[f"{name}.bias"],
                config.eps,
            )

        layers = []
        for i in range(config.num_layers):
            prefix = f"encoder.layer.{i}"
            w_q, b_q = linear(f"{prefix}.attention.self.query")
            w_k, b_k = linear(f"{prefix}.attention.self.key")
            w_v, b_v = linear(f"{prefix}.attention.self.value")
            # W^O: the concatenated heads back to D
            w_o, b_o = linear(f"{prefix}.attention.output.dense")
            w_1, b_1 = linear(f"{prefix}.intermediate.dense")  # feed-forward, D -> d_ff
            w_2, b_2 = linear(f"{prefix}.output.dense")  # feed-forward, d_ff -> D
            layers.append(
                EncoderLayerParams(
                    self_attention=MultiHeadAttentionParams(
                        w_q,
                        w_k,
                        w_v,
                        w_o,
                        b_q,
                        b_k,
                        b_v,
                        b_o,
                        num_heads=config.num_heads,
                    ),
                    feed_forward=FeedForwardParams(
                        w_1,
                        b_1,
                        w_2,
                        b_2,
                        activation="gelu",
                    ),
                    # after attention + residual
                    norm_1=norm(f"{prefix}.attention.output.LayerNorm"),
                    # after feed-forward + residual
                    norm_2=norm(f"{prefix}.output.LayerNorm"),
                )
            )
        return cls(
            config=config,
            word_embedding=weights["embeddings.word_embeddings.weight"],
            position_embedding=weights["embeddings.position_embeddings.weight"],
            token_type_embedding=weights["embeddings.token_type_embeddings.weight"],
            embedding_norm=norm("embeddings.LayerNorm"),
            layers=layers,
        )

    # --8<-- [end:from_bert]


def _check_token_types(
    token_types: np.ndarray, tokens: np.ndarray, type_vocab_size: int
) -> None:
    if token_types.shape != tokens.shape:
        raise ValueError(
            f"token_types must have the shape of tokens {format_shape(tokens.shape)}, "
            f"got {format_shape(token_types.shape)}"
        )
    check_tokens("token_types", token_types, type_vocab_size, token_types.shape[1])


# --8<-- [start:embed]
def embed(
    tokens: np.ndarray,
    params: EncoderOnlyParams,
    token_types: np.ndarray | None = None,
) -> np.ndarray:
    """Token ids (B, T) -> (B, T, D): LayerNorm(word +
    position + token type). No √D scale, unlike the paper.

    ``token_types`` (B, T) says which segment each token belongs to (0 for a single sentence); None means 0 everywhere,
    and even then row 0 of the token-type table is added to every position.
    """
    config = params.config
    check_tokens("tokens", tokens, config.vocab_size, config.max_len)
    token_types = np.zeros_like(tokens) if token_types is None else token_types
    _check_token_types(token_types, tokens, config.type_vocab_size)
    length = tokens.shape[1]
    x = (
        params.word_embedding[tokens]  # (B, T, D)
        + params.position_embedding[:length]  # (T, D): positions 0 … T - 1
        + params.token_type_embedding[token_types]  # (B, T, D)
    )
    return layer_norm(x, params.embedding_norm)


# --8<-- [end:embed]


# --8<-- [start:encoder_only]
def encoder_only(
    tokens: np.ndarray,
    params: EncoderOnlyParams,
    token_types: np.ndarray | None = None,
    return_weights: bool = False,
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """Token ids (B, T) -> one vector per token (B,
    T, D), every token attending to every real token.

    Args:
        tokens: (B, T) ids, padded on the right with ``config.pad_id``.
        params: The weights.
        token_types: (B, T) segment ids, or None for a single segment.
        return_weights: Also return each layer's attention weights, (B, H, T, T) per layer.

    Returns:
        ``(hidden, weights)``: the last layer's output (B, T, D), and a list of L weight arrays or None.
    """
    # (B, 1, T): nobody attends to padding
    mask = padding_mask(tokens, params.config.pad_id)
    x = embed(tokens, params, token_types)
    weights = [] if return_weights else None
    for layer in params.layers:
        # post-norm: the attention reads the layer's input x itself, so ask it again
        if return_weights:
            weights.append(multi_head_attention(x, x, x, layer.self_attention, mask)[1])
        x = encoder_layer(x, layer, mask, norm_first=False)
    return x, weights


# --8<-- [end:encoder_only]


# --8<-- [start:sentence_embedding]
def mean_pool(hidden: np.ndarray, tokens: np.ndarray, pad_id: int = 0) -> np.ndarray:
    """The average of each sequence's vectors over its
    real tokens ([CLS] and [SEP] included, padding not).

    hidden: (B, T, D); tokens: (B, T). Returns (B, D).
    """
    check_ndim("hidden", hidden, 3, "(B, T, D)")
    # (B, T, 1): 1 at real tokens, 0 at padding
    real = (tokens != pad_id)[..., None].astype(hidden.dtype)
    return (hidden * real).sum(axis=1) / np.maximum(real.sum(axis=1), 1)


def sentence_embedding(
    tokens: np.ndarray,
    params: EncoderOnlyParams,
    token_types: np.ndarray | None = None,
) -> np.ndarray:
    """One unit-length vector per sequence: mean pooling over
    real tokens, then L2 normalisation. (B, T) -> (B, D).

    The dot product of two such vectors is their cosine similarity.
    """
    hidden, _ = encoder_only(tokens, params, token_types)
    pooled = mean_pool(hidden, tokens, params.config.pad_id)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)


# --8<-- [end:sentence_embedding]
