"""Attention in NumPy: softmax, scaled dot-product attention, masks, and multi-head attention.

Shapes use B (batch), H (heads), T (query positions), S (key positions), D (model width) and d_k (one head's width, D /
H). Boolean masks mean True = may attend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import (
    check_axis,
    check_bool_mask,
    check_heads,
    check_multi_head_inputs,
    check_multi_head_mask,
    check_ndim,
    check_positive_int,
    check_query_key_value,
    check_scores_mask,
    format_shape,
)
from transformer_tutorial.mask_shapes import with_head_axis
from transformer_tutorial.validation import validated


def check_softmax(
    x: np.ndarray, axis: int = -1, mask: np.ndarray | None = None
) -> None:
    check_axis("axis", axis, np.ndim(x))
    if mask is not None:
        check_bool_mask("mask", mask, np.shape(x), "(the shape of x)")


# --8<-- [start:softmax]
@validated(check_softmax)
def softmax(
    x: np.ndarray,
    axis: int = -1,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Numerically stable softmax along ``axis``, with an optional mask.

    Softmax does not change when the same constant is added to every entry along ``axis``, so subtracting the largest
    entry first changes nothing mathematically, and keeps ``exp`` from overflowing.

    Args:
        x: Scores of any shape.
        axis: The axis along which the result sums to one.
        mask: Optional boolean array that broadcasts to ``x.shape``; True where an entry may receive weight. Masked
            entries get exactly zero, and a slice with no True entry is all zeros instead of NaN.

    Returns:
        An array of ``x.shape`` whose slices along ``axis`` are non-negative and sum to one (zero where the whole slice
        is masked).

    Examples:
        >>> softmax(np.array([1.0, 2.0, 3.0])).round(4)
        array([0.09  , 0.2447, 0.6652])
        >>> softmax(np.array([1000.0, 1000.0]))  # exp(1000) alone would overflow
        array([0.5, 0.5])
        >>> softmax(np.array([1.0, 2.0, 3.0]), mask=np.array([True, True, False])).round(4)
        array([0.2689, 0.7311, 0.    ])
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if mask is not None:
        x = np.where(mask, x, -np.inf)
    if x.shape[axis] == 0:  # nothing to normalise over
        return np.zeros_like(x)
    row_max = x.max(axis=axis, keepdims=True)  # a constant shift
    if mask is not None:
        # a fully masked slice has max -inf
        row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    exps = np.exp(x - row_max)
    total = exps.sum(axis=axis, keepdims=True)
    return exps / np.where(total > 0, total, 1.0)


# --8<-- [end:softmax]


def check_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None = None,
) -> None:
    query, key, value = np.asarray(query), np.asarray(key), np.asarray(value)
    check_query_key_value(query, key, value)
    check_scores_mask(query, key, mask)


# --8<-- [start:scaled_dot_product_attention]
@validated(check_attention)
def scaled_dot_product_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """softmax(Q Kᵀ / √d_k) V, returning the output and the attention weights.

    Args:
        query: (..., T, d_k) queries.
        key: (..., S, d_k) keys.
        value: (..., S, d_v) values.
        mask: Optional boolean (T, S), or an array with one entry per score dimension (each of size 1 or the full size),
            True where a query may attend to a key.

    Returns:
        ``(output, weights)``: output (..., T, d_v), weights (..., T, S). A query that may attend to nothing (a fully
        masked row, or no keys at all) gets zero weights and a zero output.

    Examples:
        >>> q = np.array([[1.0, 0.0]])
        >>> k = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> v = np.array([[10.0], [20.0]])
        >>> out, w = scaled_dot_product_attention(q, k, v)
        >>> w.round(3), out.round(2)
        (array([[0.67, 0.33]]), array([[13.3]]))
    """
    query, key, value = np.asarray(query), np.asarray(key), np.asarray(value)
    d = query.shape[-1]
    # (..., T, S); scaling q first is T·d_k work, not T·S
    scores = (query / math.sqrt(d)) @ np.swapaxes(key, -1, -2)
    weights = softmax(scores, axis=-1, mask=mask)
    return weights @ value, weights


# --8<-- [end:scaled_dot_product_attention]


def check_split_heads(x: np.ndarray, num_heads: int) -> None:
    check_ndim("x", x, 3, "(B, T, D)")
    check_heads(x.shape[-1], num_heads, "x", x.shape)


# --8<-- [start:split_heads]
@validated(check_split_heads)
def split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    """Cut each position's features into H slices: (B, T, D) -> (B, H, T, D / H).

    The split is along the feature axis: every head sees every token, through its own D / H features.

    Examples:
        >>> x = np.arange(12.0).reshape(1, 2, 6)  # one sequence, 2 tokens, 6 features
        >>> split_heads(x, 3)[0, 1]  # head 1: features 2 and 3 of both tokens
        array([[2., 3.],
               [8., 9.]])
    """
    batch, length, width = x.shape
    return x.reshape(batch, length, num_heads, width // num_heads).transpose(0, 2, 1, 3)


# --8<-- [end:split_heads]


def check_merge_heads(x: np.ndarray) -> None:
    check_ndim("x", x, 4, "(B, H, T, d_k)")


# --8<-- [start:merge_heads]
@validated(check_merge_heads)
def merge_heads(x: np.ndarray) -> np.ndarray:
    """Undo ``split_heads``: (B, H, T, d_k) ->
    (B, T, H·d_k), head 0's features first.

    Examples:
        >>> x = np.random.default_rng(0).normal(size=(2, 5, 8))
        >>> bool((merge_heads(split_heads(x, 4)) == x).all())
        True
    """
    batch, heads, length, head_width = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch, length, heads * head_width)


# --8<-- [end:merge_heads]


# --8<-- [start:multi_head_attention_params]
@dataclass
class MultiHeadAttentionParams:
    """The weights of multi-head attention, in
    the paper's orientation: ``x @ w + b``.

    ``w_q``, ``w_k``, ``w_v`` (D, D) hold the H heads' matrices side by side: columns ``h·d_k : (h+1)·d_k`` are head
    h's. ``w_o`` (D, D) maps the merged heads back to D.
    """

    w_q: np.ndarray  # W^Q = [W_0^Q … W_{H-1}^Q]
    w_k: np.ndarray
    w_v: np.ndarray
    w_o: np.ndarray  # W^O
    b_q: np.ndarray  # the biases, (D,) each
    b_k: np.ndarray
    b_v: np.ndarray
    b_o: np.ndarray
    num_heads: int

    # --8<-- [end:multi_head_attention_params]

    def __post_init__(self) -> None:
        width = self.w_q.shape[0]
        check_heads(width, self.num_heads)
        for name in ("w_q", "w_k", "w_v", "w_o"):
            if getattr(self, name).shape != (width, width):
                raise ValueError(
                    f"{name} must have shape {format_shape((width, width))} (D, D), got "
                    f"{format_shape(getattr(self, name).shape)}"
                )
        for name in ("b_q", "b_k", "b_v", "b_o"):
            if getattr(self, name).shape != (width,):
                raise ValueError(
                    f"{name} must have shape ({width},) (D,), got {format_shape(getattr(self, name).shape)}"
                )

    @property
    def d_model(self) -> int:
        return self.w_q.shape[0]

    @classmethod
    def random(
        cls, d_model: int, num_heads: int, rng: np.random.Generator
    ) -> MultiHeadAttentionParams:
        """Weights drawn uniformly from ±1/√D (the scale
        of ``nn.Linear``'s default), biases likewise."""
        check_positive_int("d_model", d_model)
        bound = 1 / np.sqrt(d_model)

        def draw(*shape: int) -> np.ndarray:
            return rng.uniform(-bound, bound, size=shape)

        return cls(
            *(draw(d_model, d_model) for _ in range(4)),
            *(draw(d_model) for _ in range(4)),
            num_heads,
        )

    def head(self, h: int) -> tuple[np.ndarray, ...]:
        """Head h's own projections: (W_h^Q, b_h^Q, W_h^K,
        b_h^K, W_h^V, b_h^V), each (D, d_k) or (d_k,)."""
        d_k = self.d_model // self.num_heads
        cols = slice(h * d_k, (h + 1) * d_k)
        return (
            self.w_q[:, cols],
            self.b_q[cols],
            self.w_k[:, cols],
            self.b_k[cols],
            self.w_v[:, cols],
            self.b_v[cols],
        )


def check_multi_head_call(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    params: MultiHeadAttentionParams,
    mask: np.ndarray | None = None,
) -> None:
    """Raise unless query (B, T, D), key and value (B, S, D)
    (nested lists are read as NumPy would) fit the weights,
    and ``mask`` is boolean (T, S), (B, T, S) or (B, 1, S)."""
    query, key, value = np.asarray(query), np.asarray(key), np.asarray(value)
    check_multi_head_inputs(query, key, value, params.d_model)
    check_multi_head_mask(mask, len(query), query.shape[1], key.shape[1])


# --8<-- [start:multi_head_attention_per_head]
@validated(check_multi_head_call)
def multi_head_attention_per_head(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    params: MultiHeadAttentionParams,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-head attention written as the definition reads: one loop turn per head.

    Each head projects the inputs with its own weights and attends on its own; the head outputs are concatenated along
    the features and projected by W^O.

    Args:
        query: (B, T, D). key, value: (B, S, D).
        params: The weights; ``params.head(h)`` gives head h's projections.
        mask: Optional boolean (T, S), (B, T, S) or (B, 1, S); True = may attend.

    Returns:
        ``(output, weights)``: (B, T, D) and the per-head weights (B, H, T, S).
    """
    query, key, value = np.asarray(query), np.asarray(key), np.asarray(value)
    head_mask = with_head_axis(mask)
    if head_mask is not None:
        head_mask = head_mask[:, 0]  # one head at a time: (B or 1, T or 1, S)
    outputs, weights = [], []
    for h in range(params.num_heads):
        w_q, b_q, w_k, b_k, w_v, b_v = params.head(h)  # (D, d_k) and (d_k,) each
        head_output, head_weights = scaled_dot_product_attention(
            query @ w_q + b_q, key @ w_k + b_k, value @ w_v + b_v, head_mask
        )
        outputs.append(head_output)  # (B, T, d_k)
        weights.append(head_weights)  # (B, T, S)
    concatenated = np.concatenate(outputs, axis=-1)  # (B, T, H·d_k) = (B, T, D)
    return concatenated @ params.w_o + params.b_o, np.stack(weights, axis=1)


# --8<-- [end:multi_head_attention_per_head]


# --8<-- [start:multi_head_attention]
@validated(check_multi_head_call)
def multi_head_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    params: MultiHeadAttentionParams,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Attend from ``query`` (B, T, D) to ``key`` and ``value`` (B, S, D).

    ``mask``: boolean (T, S), (B, T, S) or (B, 1, S), True = may attend. Returns the output (B, T, D) and the weights
    (B, H, T, S).
    """
    query, key, value = np.asarray(query), np.asarray(key), np.asarray(value)
    q = split_heads(query @ params.w_q + params.b_q, params.num_heads)  # project, split
    k = split_heads(key @ params.w_k + params.b_k, params.num_heads)  # (B, H, S, d_k)
    v = split_heads(value @ params.w_v + params.b_v, params.num_heads)
    mask = with_head_axis(mask)  # (B or 1, 1, T or 1, S)
    heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T, d_k)
    return merge_heads(heads) @ params.w_o + params.b_o, weights  # merge, project


# --8<-- [end:multi_head_attention]
