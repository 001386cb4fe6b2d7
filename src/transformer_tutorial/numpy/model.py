"""The encoder-decoder Transformer in NumPy: a forward pass over the weights of the PyTorch model.

Shapes use B (batch), S (source positions), T (target positions), D (model width) and V (vocabulary size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import check_same_size, check_tokens
from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.numpy.layers import (
    DecoderLayerParams,
    EncoderLayerParams,
    LayerNormParams,
    decoder_layer,
    encoder_layer,
    layer_norm,
)
from transformer_tutorial.numpy.masks import causal_mask, padding_mask
from transformer_tutorial.numpy.positional import embed_positions, sinusoidal_encoding


@dataclass
class TransformerParams:
    """Every weight of the model. ``output_weight`` is (D, V) (``x @
    output_weight`` gives logits); with shared embeddings it is the transpose
    of the embedding matrix. The final norms exist only in pre-norm stacks."""

    config: TransformerConfig
    src_embedding: np.ndarray
    tgt_embedding: np.ndarray
    output_weight: np.ndarray
    encoder_layers: list[EncoderLayerParams]
    decoder_layers: list[DecoderLayerParams]
    encoder_norm: LayerNormParams | None
    decoder_norm: LayerNormParams | None


# --8<-- [start:embed]
def embed(
    tokens: np.ndarray,
    embedding: np.ndarray,
    config: TransformerConfig,
    name: str = "tokens",
) -> np.ndarray:
    """Token ids (B, T) -> vectors (B, T, D): embedding ·
    √D + positional encoding (dropout only in training).
    """
    check_tokens(name, tokens, embedding.shape[0], config.max_len)
    return embed_positions(
        embedding[tokens],
        sinusoidal_encoding(tokens.shape[1], config.d_model),
    )


# --8<-- [end:embed]


# --8<-- [start:forward]
def encode(src: np.ndarray, params: TransformerParams) -> tuple[np.ndarray, np.ndarray]:
    """Source ids (B, S) -> the memory (B, S,
    D) and the source padding mask (B, 1, S).
    """
    config = params.config
    src_mask = padding_mask(src, config.pad_id)
    x = embed(src, params.src_embedding, config, "src")
    for layer in params.encoder_layers:
        x = encoder_layer(x, layer, src_mask, config.norm_first)
    if params.encoder_norm is not None:
        x = layer_norm(x, params.encoder_norm)
    return x, src_mask


def decode(
    tgt: np.ndarray,
    memory: np.ndarray,
    src_mask: np.ndarray,
    params: TransformerParams,
) -> np.ndarray:
    """Target ids (B, T) and the memory -> the
    decoder's last hidden states (B, T, D).
    """
    config = params.config
    check_same_size("tgt", tgt, 0, "memory", memory, 0, "batch size")
    tgt_mask = padding_mask(tgt, config.pad_id) & causal_mask(tgt.shape[1])  # (B, T, T)
    y = embed(tgt, params.tgt_embedding, config, "tgt")
    for layer in params.decoder_layers:
        y = decoder_layer(y, memory, layer, tgt_mask, src_mask, config.norm_first)
    return y if params.decoder_norm is None else layer_norm(y, params.decoder_norm)


def transformer(
    src: np.ndarray,
    tgt: np.ndarray,
    params: TransformerParams,
) -> np.ndarray:
    """Source ids (B, S) and target ids (B, T) -> logits
    (B, T, V): position t scores the token after tgt[:, t].
    """
    check_same_size("src", src, 0, "tgt", tgt, 0, "batch size")
    memory, src_mask = encode(src, params)
    return decode(tgt, memory, src_mask, params) @ params.output_weight


# --8<-- [end:forward]
