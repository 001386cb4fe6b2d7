"""Attention in PyTorch: softmax, scaled dot-product attention, masks, and multi-head attention.

Shapes use B (batch), H (heads), T (query positions), S (key positions), D (model width) and d_k (one head's width, D /
H). Boolean masks mean True = may attend.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transformer_tutorial.checks import (
    check_array,
    check_axis,
    check_bool_mask,
    check_float_arrays,
    check_heads,
    check_multi_head_inputs,
    check_multi_head_mask,
    check_ndim,
    check_query_key_value,
    check_scores_mask,
)
from transformer_tutorial.mask_shapes import with_head_axis
from transformer_tutorial.numpy.attention import MultiHeadAttentionParams
from transformer_tutorial.validation import validated


def to_numpy(tensor: Tensor) -> np.ndarray:
    """A tensor as a float64 NumPy array (detached,
    on the CPU): how weights reach the NumPy backend."""
    return tensor.detach().double().cpu().numpy()


def check_softmax(
    x: torch.Tensor, axis: int = -1, mask: torch.Tensor | None = None
) -> None:
    check_array("x", x, torch.Tensor, "torch.Tensor")
    check_axis("axis", axis, x.ndim)
    if mask is not None:
        check_bool_mask("mask", mask, x.shape, "(the shape of x)")


# --8<-- [start:softmax]
@validated(check_softmax)
def softmax(
    x: torch.Tensor,
    axis: int = -1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Numerically stable softmax along ``axis``, with an optional mask.

    Softmax does not change when the same constant is added to every entry along ``axis``, so subtracting the largest
    entry first changes nothing mathematically, and keeps ``exp`` from overflowing.

    Args:
        x: Scores of any shape.
        axis: The axis along which the result sums to one.
        mask: Optional boolean tensor that broadcasts to ``x.shape``; True where an entry may receive weight. Masked
            entries get exactly zero, and a slice with no True entry is all zeros instead of NaN.

    Returns:
        A tensor of ``x.shape`` whose slices along ``axis`` are non-negative and sum to one (zero where the whole slice
        is masked).

    Examples:
        >>> softmax(torch.tensor([1.0, 2.0, 3.0])).round(decimals=4)
        tensor([0.0900, 0.2447, 0.6652])
        >>> softmax(torch.tensor([1000.0, 1000.0]))  # exp(1000) alone would overflow
        tensor([0.5000, 0.5000])
        >>> softmax(torch.tensor([1.0, 2.0, 3.0]), mask=torch.tensor([True, True, False])).round(decimals=4)
        tensor([0.2689, 0.7311, 0.0000])
    """
    if not x.is_floating_point():
        x = x.float()
    if mask is not None:
        x = x.masked_fill(~mask, float("-inf"))
    if x.shape[axis] == 0:  # nothing to normalise over
        return torch.zeros_like(x)
    # a constant shift: it needs no gradient
    row_max = x.amax(dim=axis, keepdim=True).detach()
    if mask is not None:
        # a fully masked slice has max -inf
        row_max = torch.where(torch.isfinite(row_max), row_max, 0.0)
    exps = torch.exp(x - row_max)
    total = exps.sum(dim=axis, keepdim=True)
    return exps / torch.where(total > 0, total, 1.0)


# --8<-- [end:softmax]


def check_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> None:
    arrays = {"query": query, "key": key, "value": value}
    check_float_arrays(arrays, torch.Tensor, "torch.Tensor")
    check_query_key_value(query, key, value)
    check_scores_mask(query, key, mask)


# --8<-- [start:scaled_dot_product_attention]
@validated(check_attention)
def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q Kᵀ / √d_k) V, returning the output and the attention weights.

    Args:
        query: (..., T, d_k) queries.
        key: (..., S, d_k) keys.
        value: (..., S, d_v) values.
        mask: Optional boolean (T, S), or a tensor with one entry per score dimension (each of size 1 or the full size),
            True where a query may attend to a key.
        dropout_p: Probability of zeroing each weight before it multiplies the values; keep it 0 outside training. The
            returned weights are the ones before dropout.

    Returns:
        ``(output, weights)``: output (..., T, d_v), weights (..., T, S). A query that may attend to nothing (a fully
        masked row, or no keys at all) gets zero weights and a zero output.

    Examples:
        >>> q = torch.tensor([[1.0, 0.0]])
        >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> v = torch.tensor([[10.0], [20.0]])
        >>> out, w = scaled_dot_product_attention(q, k, v)
        >>> w.round(decimals=3), out.round(decimals=2)
        (tensor([[0.6700, 0.3300]]), tensor([[13.3000]]))
    """
    d = query.shape[-1]
    # (..., T, S); scaling q first is T·d_k work, not T·S
    scores = (query / math.sqrt(d)) @ key.transpose(-1, -2)
    weights = softmax(scores, axis=-1, mask=mask)
    return F.dropout(
        weights,
        dropout_p,
    ) @ value if dropout_p else weights @ value, weights


# --8<-- [end:scaled_dot_product_attention]


def check_split_heads(x: torch.Tensor, num_heads: int) -> None:
    check_ndim("x", x, 3, "(B, T, D)")
    check_heads(x.shape[-1], num_heads, "x", x.shape)


# --8<-- [start:split_heads]
@validated(check_split_heads)
def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Cut each position's features into H slices: (B, T, D) -> (B, H, T, D / H).

    The split is along the feature axis: every head sees every token, through its own D / H features.

    Examples:
        >>> x = torch.arange(12.0).reshape(1, 2, 6)  # 1 sequence, 2 tokens, 6 features
        >>> split_heads(x, 3)[0, 1]  # head 1: features 2 and 3 of both tokens
        tensor([[2., 3.],
                [8., 9.]])
    """
    batch, length, width = x.shape
    return x.reshape(batch, length, num_heads, width // num_heads).transpose(1, 2)


# --8<-- [end:split_heads]


def check_merge_heads(x: torch.Tensor) -> None:
    check_ndim("x", x, 4, "(B, H, T, d_k)")


# --8<-- [start:merge_heads]
@validated(check_merge_heads)
def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """Undo ``split_heads``: (B, H, T, d_k) ->
    (B, T, H·d_k), head 0's features first.

    Examples:
        >>> x = torch.randn(2, 5, 8)
        >>> bool((merge_heads(split_heads(x, 4)) == x).all())
        True
    """
    batch, heads, length, head_width = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_width)


# --8<-- [end:merge_heads]


# --8<-- [start:key_value_cache]
class KeyValueCache:
    """Keys and values of earlier positions,
    kept while a model decodes token by token.

    Self-attention appends each new position's key and value (B, H, 1, d_k) and attends over all of them, instead of
    projecting the whole prefix again at every step. Cross-attention (``static=True``) projects the encoder's memory
    once and keeps it.
    """

    def __init__(self, static: bool = False) -> None:
        self.static = static
        self.keys: torch.Tensor | None = None  # (B, H, S, d_k)
        self.values: torch.Tensor | None = None

    def __len__(self) -> int:
        """How many positions are cached."""
        return 0 if self.keys is None else self.keys.shape[2]

    def update(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Append (B, H, T, d_k) keys and values;
        return all of them, (B, H, S + T, d_k)."""
        if self.keys is None or self.static:
            self.keys, self.values = keys, values
        else:
            self.keys = torch.cat([self.keys, keys], dim=2)
            self.values = torch.cat([self.values, values], dim=2)
        return self.keys, self.values


# --8<-- [end:key_value_cache]


def check_multi_head_call(
    module: MultiHeadAttention,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    cache: KeyValueCache | None = None,
) -> None:
    """Raise unless query (B, T, D), key and value (B, S, D) are
    tensors in the dtype of the weights, and ``mask`` is boolean (T,
    S), (B, T, S) or (B, 1, S) over the keys, cached ones included."""
    arrays = {"query": query, "key": key, "value": value}
    weights = module.q_proj.weight.dtype
    check_float_arrays(arrays, torch.Tensor, "torch.Tensor", weights, "the weights")
    check_multi_head_inputs(query, key, value, module.d_model)
    cached = 0 if cache is None else len(cache)
    keys = (
        cached
        if cache is not None and cache.static and cached
        else cached + key.shape[1]
    )
    check_multi_head_mask(mask, len(query), query.shape[1], keys)


# --8<-- [start:multi_head_attention]
class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch first: project, split, attend, merge, project.

    Args:
        d_model: D, the width of the inputs and of the output.
        num_heads: H; each head gets d_k = D / H of the features.
        dropout: Probability of zeroing an attention weight, in training mode only.
        bias: Whether the four projections have biases.
        fused: Attend with PyTorch's fused kernel, which returns no weights.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        fused: bool = False,
    ) -> None:
        super().__init__()
        check_heads(d_model, num_heads)
        self.d_model, self.num_heads = d_model, num_heads
        self.dropout, self.fused = dropout, fused
        # Each holds the H heads' matrices side by side: W^Q = [W_0^Q … W_{H-1}^Q].
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)  # W^O

    @validated(check_multi_head_call)
    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor | None = None,
        cache: KeyValueCache | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` (B, T, D) to ``key`` and ``value`` (B, S, D).

        ``mask``: boolean (T, S), (B, T, S) or (B, 1, S), True = may attend. ``cache``: see ``keys_values``. Returns (B,
        T, D) and the weights (B, H, T, S).
        """
        q = split_heads(self.q_proj(query), self.num_heads)  # project, split
        k, v = self.keys_values(key, value, cache)  # project, split: (B, H, S, d_k)
        mask = with_head_axis(mask)  # (B or 1, 1, T or 1, S)
        heads, weights = self.attend(q, k, v, mask)  # attend: (B, H, T, d_k)
        return self.out_proj(merge_heads(heads)), weights  # merge, project

    # --8<-- [end:multi_head_attention]

    # --8<-- [start:attend]
    def attend(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Every head at once: (B, H, T, d_k) outputs, and weights (None when fused)."""
        dropout_p = self.dropout if self.training else 0.0
        if self.fused:  # PyTorch's kernel: faster, and it never stores T × S weights
            heads = F.scaled_dot_product_attention(q, k, v, mask, dropout_p=dropout_p)
            return heads, None
        return scaled_dot_product_attention(q, k, v, mask, dropout_p)

    # --8<-- [end:attend]

    # --8<-- [start:keys_values]
    def keys_values(
        self,
        key: Tensor,
        value: Tensor,
        cache: KeyValueCache | None = None,
    ) -> tuple[Tensor, Tensor]:
        """The keys and values, projected and split into heads: (B, H, S, d_k) each.

        With a ``KeyValueCache``, those of the earlier calls come first."""
        if cache is not None and cache.static and cache.keys is not None:
            return cache.keys, cache.values  # the encoder's memory: projected once
        k = split_heads(self.k_proj(key), self.num_heads)
        v = split_heads(self.v_proj(value), self.num_heads)
        return (k, v) if cache is None else cache.update(k, v)

    # --8<-- [end:keys_values]

    # --8<-- [start:per_head]
    @validated(check_multi_head_call)
    def per_head(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """The same attention as the definition reads: one loop turn per head.

        Head h's projections are rows ``h·d_k : (h+1)·d_k`` of each ``nn.Linear`` weight (PyTorch stores them
        transposed, output features first). Returns the output (B, T, D) and the weights (B, H, T, S).
        """
        mask = with_head_axis(mask)
        if mask is not None:
            mask = mask[:, 0]  # one head at a time: (B or 1, T or 1, S)
        d_k = self.d_model // self.num_heads
        outputs, weights = [], []
        for h in range(self.num_heads):
            rows = slice(h * d_k, (h + 1) * d_k)  # head h's rows of each projection
            q = head_projection(self.q_proj, rows, query)  # (B, T, d_k)
            k = head_projection(self.k_proj, rows, key)  # (B, S, d_k)
            v = head_projection(self.v_proj, rows, value)
            head_output, head_weights = scaled_dot_product_attention(q, k, v, mask)
            outputs.append(head_output)  # (B, T, d_k)
            weights.append(head_weights)  # (B, T, S)
        concatenated = torch.cat(outputs, dim=-1)  # (B, T, H·d_k) = (B, T, D)
        return self.out_proj(concatenated), torch.stack(weights, dim=1)

    # --8<-- [end:per_head]

    @classmethod
    def from_pytorch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """Ours, with the weights of an
        ``nn.MultiheadAttention`` (same dtype and device).

        PyTorch stacks the three input projections in ``in_proj_weight`` (3D, D): rows 0…D-1 are the query projection,
        then the key, then the value.
        """
        check_array(
            "module", module, nn.MultiheadAttention, "torch.nn.MultiheadAttention"
        )
        if (
            not module._qkv_same_embed_dim
            or module.bias_k is not None
            or module.add_zero_attn
        ):
            raise ValueError(
                "module must use kdim = vdim = embed_dim, add_bias_kv=False and add_zero_attn=False"
            )
        weight = module.in_proj_weight
        ours = cls(
            module.embed_dim,
            module.num_heads,
            module.dropout,
            bias=module.in_proj_bias is not None,
        )
        ours.to(device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            for proj, w in zip(
                (ours.q_proj, ours.k_proj, ours.v_proj), weight.chunk(3), strict=True
            ):
                proj.weight.copy_(w)
            if module.in_proj_bias is not None:
                for proj, b in zip(
                    (ours.q_proj, ours.k_proj, ours.v_proj),
                    module.in_proj_bias.chunk(3),
                    strict=True,
                ):
                    proj.bias.copy_(b)
                ours.out_proj.bias.copy_(module.out_proj.bias)
            ours.out_proj.weight.copy_(module.out_proj.weight)
        return ours

    def to_pytorch(self) -> nn.MultiheadAttention:
        """An ``nn.MultiheadAttention`` (batch first) with
        these weights: the way back from ``from_pytorch``."""
        weight = self.q_proj.weight
        bias = self.q_proj.bias is not None
        module = nn.MultiheadAttention(
            self.d_model, self.num_heads, self.dropout, bias=bias, batch_first=True
        )
        module.to(device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            module.in_proj_weight.copy_(
                torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight])
            )
            module.out_proj.weight.copy_(self.out_proj.weight)
            if bias:
                module.in_proj_bias.copy_(
                    torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias])
                )
                module.out_proj.bias.copy_(self.out_proj.bias)
        return module

    def numpy_params(self) -> MultiHeadAttentionParams:
        """The weights as float64 NumPy arrays for the
        NumPy backend, in the paper's orientation (x @ W)."""

        projections = (self.q_proj, self.k_proj, self.v_proj, self.out_proj)
        weights = [to_numpy(proj.weight.T) for proj in projections]
        biases = [
            np.zeros(self.d_model) if proj.bias is None else to_numpy(proj.bias)
            for proj in projections
        ]
        return MultiHeadAttentionParams(*weights, *biases, self.num_heads)


def head_projection(proj: nn.Linear, rows: slice, x: Tensor) -> Tensor:
    """x W_iᵀ + b_i: the projection by the ``rows``
    of one head (all of them without a bias)."""
    return F.linear(
        x, proj.weight[rows], None if proj.bias is None else proj.bias[rows]
    )


@contextmanager
def recorded_attention(
    model: nn.Module,
) -> Iterator[dict[str, list[torch.Tensor | None]]]:
    """Record the attention weights of every
    ``MultiHeadAttention`` inside ``model`` while the block runs.

    Yields a dictionary from each attention module's name (such as ``"decoder.layers.0.cross_attention"``) to the
    per-head weights (B, H, T, S) of each of its calls, in order (None for calls on the fused path).

    Examples:
        >>> layer = MultiHeadAttention(8, 2)
        >>> x = torch.randn(1, 3, 8)
        >>> with recorded_attention(layer) as weights:
        ...     _ = layer(x, x, x)
        >>> weights[""][0].shape
        torch.Size([1, 2, 3, 3])
    """
    records: dict[str, list[torch.Tensor | None]] = defaultdict(list)
    handles = [
        module.register_forward_hook(
            lambda _, __, output, name=name: records[name].append(output[1]),
        )
        for name, module in model.named_modules()
        if isinstance(module, MultiHeadAttention)
    ]
    try:
        yield records
    finally:
        for handle in handles:
            handle.remove()
