"""An encoder-only Transformer (BERT-style) in PyTorch, and the sentence embeddings made from it.

The model is the encoder stack of the original Transformer, post-norm with GELU, under a different embedding: word +
learned position + token type, then LayerNorm. The layers are ``EncoderLayer`` from
``transformer_tutorial.torch.layers``; nothing here computes attention or a layer a second time. Weights come from a
BERT checkpoint (``from_bert``) or from training.

Shapes use B (batch), T (positions), D (model width), H (heads), L (layers) and V (vocabulary size).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from transformer_tutorial.checks import check_ndim, check_tokens, format_shape
from transformer_tutorial.numpy.encoder_only import EncoderOnlyConfig, EncoderOnlyParams
from transformer_tutorial.torch.attention import to_numpy
from transformer_tutorial.torch.layers import EncoderLayer, LayerNorm
from transformer_tutorial.torch.masks import padding_mask
from transformer_tutorial.torch.positional import LearnedPositionalEmbedding


class EncoderOnly(nn.Module):
    """A BERT-style encoder: embeddings, then L post-norm encoder layers with GELU.

    Args:
        config: The sizes (``EncoderOnlyConfig()`` is all-MiniLM-L6-v2).
        dropout: Dropout on the embeddings and on every sub-layer's output, in training mode only.
    """

    def __init__(self, config: EncoderOnlyConfig, dropout: float = 0.0) -> None:
        super().__init__()
        self.config = config
        d_model = config.d_model
        self.word_embedding = nn.Embedding(config.vocab_size, d_model)
        self.positions = LearnedPositionalEmbedding(config.max_len, d_model)
        self.token_type_embedding = nn.Embedding(config.type_vocab_size, d_model)
        self.embedding_norm = LayerNorm(d_model, config.eps)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(
                d_model,
                config.num_heads,
                config.d_ff,
                dropout,
                norm_first=False,
                activation="gelu",
                eps=config.eps,
            )
            for _ in range(config.num_layers)
        )

    # --8<-- [start:embed]
    def embed(
        self,
        tokens: torch.Tensor,
        token_types: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token ids (B, T) -> (B, T, D): LayerNorm(word +
        position + token type). No √D scale, unlike the paper.

        ``token_types`` (B, T) says which segment each token belongs to (0 for a single sentence); None means 0
        everywhere, and even then row 0 of the token-type table is added to every position.
        """
        config = self.config
        check_tokens("tokens", tokens, config.vocab_size, config.max_len)
        token_types = torch.zeros_like(tokens) if token_types is None else token_types
        _check_token_types(token_types, tokens, config.type_vocab_size)
        x = (
            self.word_embedding(tokens)  # (B, T, D)
            + self.positions(tokens.shape[1])  # (T, D): positions 0 … T - 1
            + self.token_type_embedding(token_types)  # (B, T, D)
        )
        return self.dropout(self.embedding_norm(x))

    # --8<-- [end:embed]

    # --8<-- [start:forward]
    def forward(
        self,
        tokens: torch.Tensor,
        token_types: torch.Tensor | None = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Token ids (B, T) -> one vector per token (B,
        T, D), every token attending to every real token.

        Args:
            tokens: (B, T) ids, padded on the right with ``config.pad_id``.
            token_types: (B, T) segment ids, or None for a single segment.
            return_weights: Also return each layer's attention weights, (B, H, T, T) per layer.

        Returns:
            ``(hidden, weights)``: the last layer's output (B, T, D), and a list of L weight tensors or None.
        """
        # (B, 1, T): nobody attends to padding
        mask = padding_mask(tokens, self.config.pad_id)
        x = self.embed(tokens, token_types)
        weights = [] if return_weights else None
        for layer in self.layers:
            # post-norm: the attention reads the layer's input x itself, so ask it again
            if return_weights:
                weights.append(layer.self_attention(x, x, x, mask)[1])
            x = layer(x, mask)
        return x, weights

    # --8<-- [end:forward]

    # --8<-- [start:from_bert]
    @classmethod
    def from_bert(
        cls,
        weights: Mapping[str, np.ndarray],
        config: EncoderOnlyConfig,
    ) -> EncoderOnly:
        """Our module (float32, eval mode) with the tensors of a BERT checkpoint.

        The names are those of Hugging Face's ``BertModel``, without the ``bert.`` prefix. ``nn.Linear`` stores (out,
        in) like the checkpoint."""
        names = {
            "word_embedding.weight": "embeddings.word_embeddings.weight",
            "positions.table.weight": "embeddings.position_embeddings.weight",
            "token_type_embedding.weight": "embeddings.token_type_embeddings.weight",
            "embedding_norm.weight": "embeddings.LayerNorm.weight",
            "embedding_norm.bias": "embeddings.LayerNorm.bias",
        }
        parts = {
            "self_attention.q_proj": "attention.self.query",
            "self_attention.k_proj": "attention.self.key",
            "self_attention.v_proj": "attention.self.value",
            "self_attention.out_proj": "attention.output.dense",
            # after attention + residual
            "add_norm_1.norm": "attention.output.LayerNorm",
            "feed_forward.linear_1": "intermediate.dense",  # D -> d_ff
            "feed_forward.linear_2": "output.dense",  # d_ff -> D
            "add_norm_2.norm": "output.LayerNorm",  # after feed-forward + residual
        }
        for i in range(config.num_layers):
            for ours, theirs in parts.items():
                for kind in ("weight", "bias"):
                    theirs_name = f"encoder.layer.{i}.{theirs}.{kind}"
                    names[f"layers.{i}.{ours}.{kind}"] = theirs_name
        # copies
        state = {}
        for ours, theirs in names.items():
            state[ours] = torch.from_numpy(np.array(weights[theirs]))
        model = cls(config)
        # strict: every parameter is set, and nothing else is given
        model.load_state_dict(state, assign=True)
        return model.eval()

    # --8<-- [end:from_bert]

    def numpy_params(self) -> EncoderOnlyParams:
        """Every weight as float64 NumPy arrays, for
        ``transformer_tutorial.numpy.encoder_only``."""

        return EncoderOnlyParams(
            config=self.config,
            word_embedding=to_numpy(self.word_embedding.weight),
            position_embedding=to_numpy(self.positions.table.weight),
            token_type_embedding=to_numpy(self.token_type_embedding.weight),
            embedding_norm=self.embedding_norm.numpy_params(),
            layers=[layer.numpy_params() for layer in self.layers],
        )


def _check_token_types(
    token_types: torch.Tensor, tokens: torch.Tensor, type_vocab_size: int
) -> None:
    if token_types.shape != tokens.shape:
        raise ValueError(
            f"token_types must have the shape of tokens {format_shape(tokens.shape)}, "
            f"got {format_shape(token_types.shape)}"
        )
    check_tokens("token_types", token_types, type_vocab_size, token_types.shape[1])


# --8<-- [start:sentence_embedding]
def mean_pool(
    hidden: torch.Tensor,
    tokens: torch.Tensor,
    pad_id: int = 0,
) -> torch.Tensor:
    """The average of each sequence's vectors over its
    real tokens ([CLS] and [SEP] included, padding not).

    hidden: (B, T, D); tokens: (B, T). Returns (B, D).
    """
    check_ndim("hidden", hidden, 3, "(B, T, D)")
    # (B, T, 1): 1 at real tokens, 0 at padding
    real = (tokens != pad_id)[..., None].to(hidden.dtype)
    return (hidden * real).sum(dim=1) / real.sum(dim=1).clamp(min=1)


def sentence_embedding(
    tokens: torch.Tensor,
    model: EncoderOnly,
    token_types: torch.Tensor | None = None,
) -> torch.Tensor:
    """One unit-length vector per sequence: mean pooling over
    real tokens, then L2 normalisation. (B, T) -> (B, D).

    The dot product of two such vectors is their cosine similarity.
    """
    hidden, _ = model(tokens, token_types)
    pooled = mean_pool(hidden, tokens, model.config.pad_id)
    return pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)


# --8<-- [end:sentence_embedding]
