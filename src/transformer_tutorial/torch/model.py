"""The encoder-decoder Transformer in PyTorch: embeddings, the two stacks, and the output layer.

Shapes use B (batch), S (source positions), T (target positions), D (model width) and V (vocabulary size).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from transformer_tutorial.checks import check_same_size, check_tokens
from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.numpy.model import TransformerParams
from transformer_tutorial.torch.attention import to_numpy
from transformer_tutorial.torch.layers import (
    DecoderLayer,
    DecoderLayerCache,
    EncoderLayer,
    LayerNorm,
)
from transformer_tutorial.torch.masks import causal_mask, padding_mask
from transformer_tutorial.torch.positional import embed_positions, sinusoidal_encoding
from transformer_tutorial.validation import validated


# --8<-- [start:stacks]
class Encoder(nn.Module):
    """N encoder layers; a pre-norm stack ends with one more
    LayerNorm, since its residual sums are never normalised.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(
                config.d_model,
                config.num_heads,
                config.d_ff,
                config.dropout,
                config.norm_first,
                eps=config.eps,
            )
            for _ in range(config.num_layers)
        )
        self.norm = LayerNorm(config.d_model, config.eps) if config.norm_first else None

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x: (B, S, D) embedded source; mask:
        (B, 1, S). Returns the memory, (B, S, D).
        """
        for layer in self.layers:
            x = layer(x, mask)
        return x if self.norm is None else self.norm(x)


class Decoder(nn.Module):
    """N decoder layers, each reading the encoder's output;
    pre-norm adds a final LayerNorm, as in the encoder.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DecoderLayer(
                config.d_model,
                config.num_heads,
                config.d_ff,
                config.dropout,
                config.norm_first,
                eps=config.eps,
            )
            for _ in range(config.num_layers)
        )
        self.norm = LayerNorm(config.d_model, config.eps) if config.norm_first else None

    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: list[DecoderLayerCache] | None = None,
    ) -> torch.Tensor:
        """y: (B, T, D) embedded target; memory: (B, S, D). Returns (B, T, D)."""
        for i, layer in enumerate(self.layers):
            y = layer(
                y,
                memory,
                self_mask,
                memory_mask,
                None if cache is None else cache[i],
            )
        return y if self.norm is None else self.norm(y)


# --8<-- [end:stacks]


# --8<-- [start:decoding_cache]
@dataclass
class DecodingCache:
    """What ``Transformer.decode`` keeps between steps: each decoder
    layer's keys and values, and which cached target positions are tokens
    rather than padding (a later query must not attend to padding)."""

    layers: list[DecoderLayerCache]
    not_padding: torch.Tensor | None = None  # (B, S) boolean, True at the tokens

    def __len__(self) -> int:
        """How many target positions are cached."""
        return 0 if self.not_padding is None else self.not_padding.shape[1]

    def remember(self, not_padding: torch.Tensor) -> torch.Tensor:
        """Append the (B, T) flags of new positions; return all of them, (B, S + T)."""
        if self.not_padding is not None:
            not_padding = torch.cat([self.not_padding, not_padding], dim=1)
        self.not_padding = not_padding
        return not_padding


# --8<-- [end:decoding_cache]


def check_embed(
    model: Transformer,
    tokens: torch.Tensor,
    embedding: nn.Embedding,
    name: str = "tokens",
    offset: int = 0,
) -> None:
    check_tokens(name, tokens, embedding.num_embeddings, model.config.max_len - offset)


def check_encode(model: Transformer, src: torch.Tensor) -> None:
    check_embed(model, src, model.src_embedding, "src")


def check_decode(
    model: Transformer,
    tgt: torch.Tensor,
    memory: torch.Tensor,
    src_mask: torch.Tensor,
    cache: DecodingCache | None = None,
) -> None:
    """Checked before the step is remembered, so
    that a refused call leaves the cache as it was."""
    check_same_size("tgt", tgt, 0, "memory", memory, 0, "batch size")
    offset = 0 if cache is None else len(cache)
    check_embed(model, tgt, model.tgt_embedding, "tgt", offset)


def check_forward(model: Transformer, src: torch.Tensor, tgt: torch.Tensor) -> None:
    check_same_size("src", src, 0, "tgt", tgt, 0, "batch size")
    check_encode(model, src)
    check_embed(model, tgt, model.tgt_embedding, "tgt")


class Transformer(nn.Module):
    """The encoder-decoder Transformer of "Attention Is All You Need".

    Tokens are embedded, scaled by √D and added to the sinusoidal position table; the encoder reads the source; the
    decoder reads the target so far and the encoder's output; a final linear layer maps each target position to one
    score (logit) per vocabulary entry. With ``share_embeddings``, that linear layer reuses the embedding matrix (weight
    tying).
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        d_model = config.d_model
        # The padding row stays zero and never learns: padding carries no information, and with no gradient of
        # its own, Adam would still move it (it divides even a tiny gradient by that gradient's own size).
        self.src_embedding = nn.Embedding(
            config.src_vocab_size, d_model, padding_idx=config.pad_id
        )
        if config.share_embeddings:
            self.tgt_embedding = self.src_embedding
        else:
            self.tgt_embedding = nn.Embedding(
                config.tgt_vocab_size, d_model, padding_idx=config.pad_id
            )
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.output = nn.Linear(d_model, config.tgt_vocab_size, bias=False)
        if config.share_embeddings:
            self.output.weight = self.tgt_embedding.weight
        # Embeddings are multiplied by √D, so a standard deviation of 1/√D gives them unit scale.
        initialised = (
            [self.src_embedding]
            if config.share_embeddings
            else [self.src_embedding, self.tgt_embedding]
        )
        for module in [*initialised, self.output]:
            nn.init.normal_(module.weight, std=d_model**-0.5)
        with torch.no_grad():
            for embedding in initialised:
                embedding.weight[config.pad_id].zero_()

    # --8<-- [start:embed]
    @validated(check_embed)
    def embed(
        self,
        tokens: torch.Tensor,
        embedding: nn.Embedding,
        name: str = "tokens",
        offset: int = 0,
    ) -> torch.Tensor:
        """Token ids (B, T) at positions offset … offset + T - 1 -> vectors
        (B, T, D): embedding · √D plus the positional encoding, then dropout."""
        vectors = embedding(tokens)  # (B, T, D)
        table = self.positional_encoding(offset, tokens.shape[1], vectors)  # (T, D)
        return embed_positions(
            vectors,
            table,
            self.config.dropout if self.training else 0.0,
        )

    def positional_encoding(
        self,
        offset: int,
        length: int,
        like: torch.Tensor,
    ) -> torch.Tensor:
        """Rows offset … offset + length - 1 of the sinusoidal
        table: (T, D), in the dtype and device of ``like``.
        """
        table = sinusoidal_encoding(
            offset + length,
            self.config.d_model,
            dtype=like.dtype,
            device=like.device,
        )
        return table[offset:]

    # --8<-- [end:embed]

    # --8<-- [start:forward]
    @validated(check_encode)
    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source ids (B, S) -> the memory (B, S,
        D) and the source padding mask (B, 1, S).
        """
        src_mask = padding_mask(src, self.config.pad_id)
        return self.encoder(
            self.embed(src, self.src_embedding, "src"),
            src_mask,
        ), src_mask

    @validated(check_decode)
    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor,
        cache: DecodingCache | None = None,
    ) -> torch.Tensor:
        """Target ids (B, T) and the memory -> the
        decoder's last hidden states (B, T, D).

        With a ``cache`` (from ``new_cache``), ``tgt`` holds only the positions after the cached ones.
        """
        not_padding = tgt != self.config.pad_id  # (B, T)
        # the new positions may also read every cached one that is not padding
        if cache is not None:
            # (B, S), S = the cached positions and the new ones
            not_padding = cache.remember(not_padding)
        offset, length = not_padding.shape[1] - tgt.shape[1], tgt.shape[1]
        # (B, T, S)
        tgt_mask = not_padding[:, None, :] & causal_mask(
            length, offset + length, device=tgt.device
        )
        y = self.embed(tgt, self.tgt_embedding, "tgt", offset)
        return self.decoder(
            y, memory, tgt_mask, src_mask, None if cache is None else cache.layers
        )

    def new_cache(self) -> DecodingCache:
        """An empty key/value cache, one entry per
        decoder layer, for decoding one token at a time.
        """
        return DecodingCache([DecoderLayerCache() for _ in self.decoder.layers])

    @validated(check_forward)
    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Source ids (B, S) and target ids (B, T) -> logits
        (B, T, V): position t scores the token after tgt[:, t].
        """
        memory, src_mask = self.encode(src)
        return self.output(self.decode(tgt, memory, src_mask))

    # --8<-- [end:forward]

    def numpy_params(self) -> TransformerParams:
        """Every weight as float64 NumPy arrays,
        for ``transformer_tutorial.numpy.model``."""

        return TransformerParams(
            config=self.config,
            src_embedding=to_numpy(self.src_embedding.weight),
            tgt_embedding=to_numpy(self.tgt_embedding.weight),
            output_weight=to_numpy(self.output.weight.T),
            encoder_layers=[layer.numpy_params() for layer in self.encoder.layers],
            decoder_layers=[layer.numpy_params() for layer in self.decoder.layers],
            encoder_norm=None
            if self.encoder.norm is None
            else self.encoder.norm.numpy_params(),
            decoder_norm=None
            if self.decoder.norm is None
            else self.decoder.norm.numpy_params(),
        )
