"""The hyper-parameters of the models, shared by both backends and the data readers (framework-free)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformer_tutorial.checks import (
    check_heads,
    check_kv_heads,
    check_positive_int,
    check_probability,
)


def check_sizes(config: Any, names: tuple[str, ...]) -> None:
    """Every size named is a positive int, and the heads divide d_model: what every configuration checks first."""
    for name in names:
        check_positive_int(name, getattr(config, name))
    check_heads(config.d_model, config.num_heads)


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes and switches of an encoder-decoder Transformer.

    Attributes:
        src_vocab_size: Number of source token ids.
        tgt_vocab_size: Number of target token ids.
        d_model: D, the width of every position's vector between the layers.
        num_heads: H, attention heads per attention layer; D must be divisible by H.
        num_layers: N, layers in the encoder stack and in the decoder stack.
        d_ff: Width of the hidden layer of each position-wise feed-forward network.
        dropout: Dropout on each sub-layer's output and on the sum of embeddings and positions.
        max_len: Longest sequence the positional table covers.
        share_embeddings: One embedding matrix for source and target tokens and for the output layer (needs one shared
            vocabulary, as in the paper's English-German model).
        norm_first: False for post-norm (the paper: LayerNorm after each residual sum), True for pre-norm.
        pad_id: The padding token id, ignored by attention.
        eps: The LayerNorm epsilon.

    Examples:
        >>> TransformerConfig.base().d_ff, TransformerConfig.big().num_heads
        (2048, 16)
    """

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 512
    num_heads: int = 8
    num_layers: int = 6
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 512
    share_embeddings: bool = True
    norm_first: bool = False
    pad_id: int = 0
    eps: float = 1e-5

    def __post_init__(self) -> None:
        check_sizes(
            self,
            (
                "src_vocab_size",
                "tgt_vocab_size",
                "d_model",
                "num_heads",
                "num_layers",
                "d_ff",
                "max_len",
            ),
        )
        check_probability("dropout", self.dropout)
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError(
                f"share_embeddings needs one vocabulary, got src_vocab_size={self.src_vocab_size} and "
                f"tgt_vocab_size={self.tgt_vocab_size}"
            )
        if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise ValueError(
                f"pad_id={self.pad_id} is not a token id of both vocabularies"
            )

    # --8<-- [start:table_3]
    @classmethod
    def base(cls, vocab_size: int = 37000) -> TransformerConfig:
        """The paper's base model (Table 3), with its shared
        English-German vocabulary of about 37000 tokens.
        """
        return cls(
            vocab_size,
            vocab_size,
            d_model=512,
            num_heads=8,
            num_layers=6,
            d_ff=2048,
            dropout=0.1,
        )

    @classmethod
    def big(cls, vocab_size: int = 37000) -> TransformerConfig:
        """The paper's big model (Table 3)."""
        return cls(
            vocab_size,
            vocab_size,
            d_model=1024,
            num_heads=16,
            num_layers=6,
            d_ff=4096,
            dropout=0.3,
        )

    # --8<-- [end:table_3]


@dataclass(frozen=True)
class EncoderOnlyConfig:
    """The sizes of a BERT-style encoder. The defaults are those of all-MiniLM-L6-v2.

    Attributes:
        vocab_size: V, the number of token ids (30522 for BERT's uncased WordPiece vocabulary).
        d_model: D, the width of every position's vector.
        num_heads: H; each head has D / H features.
        num_layers: L, encoder layers.
        d_ff: Width of the feed-forward network's hidden layer.
        max_len: Rows of the learned position table: the longest input the model can read.
        type_vocab_size: Token types ("segment A" and "segment B" for sentence pairs).
        eps: LayerNorm epsilon (BERT uses 1e-12).
        pad_id: The padding id, which no position attends to.
    """

    vocab_size: int = 30522
    d_model: int = 384
    num_heads: int = 12
    num_layers: int = 6
    d_ff: int = 1536
    max_len: int = 512
    type_vocab_size: int = 2
    eps: float = 1e-12
    pad_id: int = 0

    def __post_init__(self) -> None:
        check_sizes(
            self,
            (
                "vocab_size",
                "d_model",
                "num_heads",
                "num_layers",
                "d_ff",
                "max_len",
                "type_vocab_size",
            ),
        )


@dataclass(frozen=True)
class DecoderOnlyConfig:
    """The sizes of a GPT-style model. The defaults make
    a small character-level model that trains on a CPU.

    Attributes:
        vocab_size: V, the number of token ids.
        d_model: D, the width of every position's vector.
        num_heads: H; each head has D / H features.
        num_layers: Pre-norm layers (blocks) in the stack.
        d_ff: Width of the feed-forward network's hidden layer.
        max_len: Rows of the learned position table: the longest context the model can read.
        dropout: Dropout on the embeddings and every sub-layer's output, in training only.
        eps: LayerNorm epsilon.
    """

    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 256
    max_len: int = 128
    dropout: float = 0.0
    eps: float = 1e-5

    def __post_init__(self) -> None:
        check_sizes(
            self,
            ("vocab_size", "d_model", "num_heads", "num_layers", "d_ff", "max_len"),
        )
        check_probability("dropout", self.dropout)


@dataclass(frozen=True)
class LlamaConfig:
    """The sizes of a LLaMA-style model.

    Attributes:
        vocab_size: V, the number of token ids.
        d_model: D, the width of every position's vector.
        num_heads: H query heads of D / H features.
        num_kv_heads: G key/value heads, G dividing H (G = H: multi-head, G = 1: multi-query).
        num_layers: Blocks in the stack.
        d_ff: F, the width of SwiGLU's two parallel hidden layers.
        max_len: The longest sequence the model accepts (RoPE itself has no table that would run out).
        eps: RMSNorm epsilon.
        qk_norm: RMSNorm on each head's queries and keys before RoPE (QK-norm).
    """

    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_kv_heads: int = 2
    num_layers: int = 2
    d_ff: int = 172
    max_len: int = 128
    eps: float = 1e-5
    qk_norm: bool = False

    def __post_init__(self) -> None:
        check_sizes(
            self,
            (
                "vocab_size",
                "d_model",
                "num_heads",
                "num_kv_heads",
                "num_layers",
                "d_ff",
                "max_len",
            ),
        )
        check_kv_heads(self.num_heads, self.num_kv_heads)
        if (self.d_model // self.num_heads) % 2:
            raise ValueError(
                f"RoPE pairs features: d_model / num_heads = {self.d_model // self.num_heads} is odd"
            )
