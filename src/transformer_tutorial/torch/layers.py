"""The layers of the Transformer in PyTorch: LayerNorm, feed-forward, Add & Norm, encoder and decoder layers.

Shapes use B (batch), T (target positions), S (source positions), D (model width) and F (feed-forward width).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.checks import check_positive_int
from transformer_tutorial.numpy.layers import (
    DecoderLayerParams,
    EncoderLayerParams,
    FeedForwardParams,
    LayerNormParams,
)
from transformer_tutorial.torch.attention import (
    KeyValueCache,
    MultiHeadAttention,
    to_numpy,
)

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
}


def widened(x: torch.Tensor) -> torch.Tensor:
    """x in float32 if it is float16 or bfloat16, else x itself: where
    norms compute their statistics, as PyTorch's own norms do (a mean of
    squares overflows float16 above 256 and loses bfloat16's few digits)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


# --8<-- [start:layer_norm]
class LayerNorm(nn.Module):
    """Normalise each position's D features to mean 0
    and variance 1, then scale and shift them (learned).

    The variance is the biased one (divided by D, not D - 1) and ``eps`` sits inside the square root, as in
    ``nn.LayerNorm``.
    """

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        check_positive_int("d_model", d_model)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))  # γ
        self.bias = nn.Parameter(torch.zeros(d_model))  # β

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., D), in the dtype of x."""
        h = widened(x)  # float16 cannot hold 300²: the statistics are taken in float32
        centred = h - h.mean(dim=-1, keepdim=True)
        # The mean of the squares, not Tensor.var: the same value, and many times faster
        # on the CPU.
        variance = centred.square().mean(dim=-1, keepdim=True)
        normalised = centred / torch.sqrt(variance + self.eps)
        return (normalised * self.weight + self.bias).to(x.dtype)

    # --8<-- [end:layer_norm]

    def numpy_params(self) -> LayerNormParams:
        return LayerNormParams(to_numpy(self.weight), to_numpy(self.bias), self.eps)


# --8<-- [start:feed_forward]
class FeedForward(nn.Module):
    """The position-wise feed-forward network:
    Linear (D -> F), activation, Linear (F -> D).

    It sees one position at a time: the same weights transform every position, and no information moves between
    positions (that is attention's job).
    """

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}",
            )
        self.activation = activation
        self.linear_1 = nn.Linear(d_model, d_ff)
        self.linear_2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., D)."""
        return self.linear_2(ACTIVATIONS[self.activation](self.linear_1(x)))

    # --8<-- [end:feed_forward]

    def numpy_params(self) -> FeedForwardParams:
        return FeedForwardParams(
            to_numpy(self.linear_1.weight.T),
            to_numpy(self.linear_1.bias),
            to_numpy(self.linear_2.weight.T),
            to_numpy(self.linear_2.bias),
            self.activation,
        )


# --8<-- [start:add_and_norm]
class AddAndNorm(nn.Module):
    """A residual connection around a sub-layer, with
    LayerNorm after the sum (post-norm) or before (pre-norm).

    Post-norm, the paper's form: ``LayerNorm(x + Dropout(sublayer(x)))``. Pre-norm: ``x +
    Dropout(sublayer(LayerNorm(x)))``, which leaves the residual path free of normalisation.
    """

    def __init__(
        self,
        d_model: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm = LayerNorm(d_model, eps)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(
        self,
        x: torch.Tensor,
        sublayer: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """x: (B, T, D); ``sublayer`` maps (B, T, D) to (B, T, D)."""
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))


# --8<-- [end:add_and_norm]


# --8<-- [start:encoder_layer]
class EncoderLayer(nn.Module):
    """Self-attention over the whole source, then the
    feed-forward network, each wrapped in Add & Norm.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, num_heads)
        self.feed_forward = FeedForward(d_model, d_ff, activation)
        self.add_norm_1 = AddAndNorm(d_model, dropout, norm_first, eps)
        self.add_norm_2 = AddAndNorm(d_model, dropout, norm_first, eps)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: KeyValueCache | None = None,
    ) -> torch.Tensor:
        """x: (B, S, D); mask: (B, 1, S) source padding or None. Returns (B, S, D).

        ``cache`` is for a causal stack (a decoder-only model) that runs one position at a time.
        """
        x = self.add_norm_1(
            x,
            lambda h: self.self_attention(h, h, h, mask, cache=cache)[0],
        )
        return self.add_norm_2(x, self.feed_forward)

    # --8<-- [end:encoder_layer]

    @classmethod
    def from_pytorch(cls, layer: nn.TransformerEncoderLayer) -> EncoderLayer:
        """Ours, with the weights and dropout probabilities
        of a batch-first ``nn.TransformerEncoderLayer``."""
        return _from_pytorch(
            cls, layer, {"self_attention": layer.self_attn}, sublayers=2
        )

    def numpy_params(self) -> EncoderLayerParams:
        return EncoderLayerParams(
            self.self_attention.numpy_params(),
            self.feed_forward.numpy_params(),
            self.add_norm_1.norm.numpy_params(),
            self.add_norm_2.norm.numpy_params(),
        )


@dataclass
class DecoderLayerCache:
    """What one decoder layer keeps between decoding steps: its
    self-attention's growing keys and values, and the memory's
    keys and values for cross-attention, computed once."""

    self_attention: KeyValueCache = field(default_factory=KeyValueCache)
    cross_attention: KeyValueCache = field(
        default_factory=lambda: KeyValueCache(static=True)
    )


# --8<-- [start:decoder_layer]
class DecoderLayer(nn.Module):
    """Masked self-attention over the target so far,
    cross-attention over the encoder's output ("memory"), then
    the feed-forward network, each wrapped in Add & Norm."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, num_heads)
        self.cross_attention = MultiHeadAttention(d_model, num_heads)
        self.feed_forward = FeedForward(d_model, d_ff, activation)
        self.add_norm_1 = AddAndNorm(d_model, dropout, norm_first, eps)
        self.add_norm_2 = AddAndNorm(d_model, dropout, norm_first, eps)
        self.add_norm_3 = AddAndNorm(d_model, dropout, norm_first, eps)

    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: DecoderLayerCache | None = None,
    ) -> torch.Tensor:
        """y: (B, T, D) target; memory: (B, S, D) encoder output;
        self_mask: (T, T) or (B, T, T), causal and target padding;
        memory_mask: (B, 1, S) source padding. Returns (B, T, D).

        With a ``cache``, y holds only the new positions and the earlier ones are read from the cache."""
        self_cache = None if cache is None else cache.self_attention
        cross_cache = None if cache is None else cache.cross_attention
        y = self.add_norm_1(
            y,
            lambda h: self.self_attention(h, h, h, self_mask, cache=self_cache)[0],
        )
        y = self.add_norm_2(
            y,
            lambda h: self.cross_attention(
                h,
                memory,
                memory,
                memory_mask,
                cache=cross_cache,
            )[0],
        )
        return self.add_norm_3(y, self.feed_forward)

    # --8<-- [end:decoder_layer]

    @classmethod
    def from_pytorch(cls, layer: nn.TransformerDecoderLayer) -> DecoderLayer:
        """Ours, with the weights and dropout probabilities
        of a batch-first ``nn.TransformerDecoderLayer``."""
        attention = {
            "self_attention": layer.self_attn,
            "cross_attention": layer.multihead_attn,
        }
        return _from_pytorch(cls, layer, attention, sublayers=3)

    def numpy_params(self) -> DecoderLayerParams:
        return DecoderLayerParams(
            self.self_attention.numpy_params(),
            self.cross_attention.numpy_params(),
            self.feed_forward.numpy_params(),
            self.add_norm_1.norm.numpy_params(),
            self.add_norm_2.norm.numpy_params(),
            self.add_norm_3.norm.numpy_params(),
        )


def _from_pytorch(
    cls: type,
    layer: nn.Module,
    attention: dict[str, nn.MultiheadAttention],
    sublayers: int,
):
    """The body of both ``from_pytorch``: an encoder
    or decoder layer of ours, copied from PyTorch's.

    PyTorch's ``normI`` and ``dropoutI`` belong to our ``add_norm_I``. PyTorch also drops out inside the feed-forward
    network (``layer.dropout``), which the paper does not; so with dropout above zero the two layers agree in eval mode
    only.
    """
    if not layer.self_attn.batch_first:
        raise ValueError(
            "layer must be built with batch_first=True, the convention of this package"
        )
    ours = cls(
        layer.self_attn.embed_dim,
        layer.self_attn.num_heads,
        layer.linear1.out_features,
        norm_first=layer.norm_first,
        activation=_activation_name(layer),
        eps=layer.norm1.eps,
    ).to(device=layer.linear1.weight.device, dtype=layer.linear1.weight.dtype)
    for name, module in attention.items():
        setattr(ours, name, MultiHeadAttention.from_pytorch(module))
    with torch.no_grad():
        pairs = [
            (layer.linear1, ours.feed_forward.linear_1),
            (layer.linear2, ours.feed_forward.linear_2),
        ]
        for i in range(1, sublayers + 1):
            add_norm = getattr(ours, f"add_norm_{i}")
            pairs.append((getattr(layer, f"norm{i}"), add_norm.norm))
            add_norm.dropout.p = getattr(layer, f"dropout{i}").p
        for theirs, mine in pairs:
            mine.weight.copy_(theirs.weight)
            if theirs.bias is None:  # built with bias=False: a zero bias adds nothing
                mine.bias.zero_()
            else:
                mine.bias.copy_(theirs.bias)
    return ours


def _activation_name(layer: nn.Module) -> str:
    for name, function in ACTIVATIONS.items():
        if layer.activation is function:
            return name
    raise ValueError(
        f"unsupported activation {layer.activation!r}; this package has {sorted(ACTIVATIONS)}"
    )
