"""The layers of the Transformer in NumPy: LayerNorm, feed-forward, Add & Norm, encoder and decoder layers.

Each layer is a function of its input and a dataclass of parameters; the PyTorch modules of the same names produce those
dataclasses with ``numpy_params()``. Shapes use B (batch), T (target positions), S (source positions), D (model width)
and F (feed-forward width).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from transformer_tutorial.numpy.attention import (
    MultiHeadAttentionParams,
    multi_head_attention,
)


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0), in the dtype of x."""
    return np.maximum(x, 0.0)


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact GELU, x·Φ(x) with Φ the standard normal
    CDF (not the tanh approximation), in the dtype of x.

    SciPy's erf (SciPy comes with scikit-learn) works on whole arrays of float32 or float64; other float dtypes are
    computed in float64 and rounded back, as PyTorch computes float16 in float32."""
    x = np.asarray(x)
    exact = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
    return (0.5 * exact * (1.0 + erf(exact / math.sqrt(2.0)))).astype(x.dtype)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": relu,
    "gelu": gelu,
}


@dataclass
class LayerNormParams:
    """LayerNorm's scale γ (``weight``, (D,)), shift β (``bias``, (D,)) and epsilon."""

    weight: np.ndarray
    bias: np.ndarray
    eps: float = 1e-5


@dataclass
class FeedForwardParams:
    """The two linear layers of the feed-forward
    network, in the orientation ``x @ w + b``.

    ``w_1`` is (D, F), ``b_1`` (F,), ``w_2`` (F, D), ``b_2`` (D,).
    """

    w_1: np.ndarray
    b_1: np.ndarray
    w_2: np.ndarray
    b_2: np.ndarray
    activation: str = "relu"


@dataclass
class EncoderLayerParams:
    self_attention: MultiHeadAttentionParams
    feed_forward: FeedForwardParams
    norm_1: LayerNormParams
    norm_2: LayerNormParams


@dataclass
class DecoderLayerParams:
    self_attention: MultiHeadAttentionParams
    cross_attention: MultiHeadAttentionParams
    feed_forward: FeedForwardParams
    norm_1: LayerNormParams
    norm_2: LayerNormParams
    norm_3: LayerNormParams


# --8<-- [start:layer_norm]
def layer_norm(x: np.ndarray, params: LayerNormParams) -> np.ndarray:
    """Normalise each position's D features to mean 0
    and variance 1, then scale and shift them (learned).

    The variance is the biased one (divided by D, not D - 1) and ``eps`` sits inside the square root, as in
    ``nn.LayerNorm``. (..., D) -> (..., D).
    """
    centred = x - x.mean(axis=-1, keepdims=True)
    # divided by D: the biased variance
    variance = np.square(centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + params.eps) * params.weight + params.bias


# --8<-- [end:layer_norm]


# --8<-- [start:feed_forward]
def feed_forward(x: np.ndarray, params: FeedForwardParams) -> np.ndarray:
    """The position-wise feed-forward network:
    linear (D -> F), activation, linear (F -> D).

    It sees one position at a time: the same weights transform every position, and no information moves between
    positions (that is attention's job). (..., D) -> (..., D).
    """
    hidden = ACTIVATIONS[params.activation](x @ params.w_1 + params.b_1)
    return hidden @ params.w_2 + params.b_2


# --8<-- [end:feed_forward]


# --8<-- [start:add_and_norm]
def add_and_norm(
    x: np.ndarray,
    sublayer: Callable[[np.ndarray], np.ndarray],
    norm: LayerNormParams,
    norm_first: bool = False,
) -> np.ndarray:
    """A residual connection around a sub-layer, with
    LayerNorm after the sum (post-norm) or before (pre-norm).

    Post-norm, the paper's form: ``LayerNorm(x + sublayer(x))``. Pre-norm: ``x + sublayer(LayerNorm(x))``, which leaves
    the residual path free of normalisation. (Dropout on the sub-layer's output belongs here too; the NumPy backend only
    runs inference.)
    """
    if norm_first:
        return x + sublayer(layer_norm(x, norm))
    return layer_norm(x + sublayer(x), norm)


# --8<-- [end:add_and_norm]


# --8<-- [start:encoder_layer]
def encoder_layer(
    x: np.ndarray,
    params: EncoderLayerParams,
    mask: np.ndarray | None = None,
    norm_first: bool = False,
) -> np.ndarray:
    """Self-attention over the whole source, then the
    feed-forward network, each wrapped in Add & Norm.

    x: (B, S, D); mask: (B, 1, S) source padding or None. Returns (B, S, D).
    """
    x = add_and_norm(
        x,
        lambda h: multi_head_attention(h, h, h, params.self_attention, mask)[0],
        params.norm_1,
        norm_first,
    )
    return add_and_norm(
        x,
        lambda h: feed_forward(h, params.feed_forward),
        params.norm_2,
        norm_first,
    )


# --8<-- [end:encoder_layer]


# --8<-- [start:decoder_layer]
def decoder_layer(
    y: np.ndarray,
    memory: np.ndarray,
    params: DecoderLayerParams,
    self_mask: np.ndarray | None = None,
    memory_mask: np.ndarray | None = None,
    norm_first: bool = False,
) -> np.ndarray:
    """Masked self-attention over the target so far,
    cross-attention over the encoder's output ("memory"), then
    the feed-forward network, each wrapped in Add & Norm.

    y: (B, T, D) target; memory: (B, S, D) encoder output; self_mask: (T, T) or (B, T, T), causal and target padding;
    memory_mask: (B, 1, S) source padding. Returns (B, T, D).
    """
    y = add_and_norm(
        y,
        lambda h: multi_head_attention(h, h, h, params.self_attention, self_mask)[0],
        params.norm_1,
        norm_first,
    )
    y = add_and_norm(
        y,
        lambda h: multi_head_attention(
            h,
            memory,
            memory,
            params.cross_attention,
            memory_mask,
        )[0],
        params.norm_2,
        norm_first,
    )
    return add_and_norm(
        y,
        lambda h: feed_forward(h, params.feed_forward),
        params.norm_3,
        norm_first,
    )


# --8<-- [end:decoder_layer]
