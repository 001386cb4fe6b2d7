"""Causal self-attention grown in four steps, each a small change to the one before.

1. Every position takes the mean of itself and the positions before it, with a loop.
2. The same means as one matrix product with a lower-triangular matrix of weights.
3. The same weights as a softmax of scores: zeros where a position may look, -inf where it may not.
4. The scores come from queries and keys, so each position chooses how much of each earlier value to take.

Each function reads one sequence x of shape (T, D); the last one is one head of causal self-attention, the package's
``scaled_dot_product_attention`` with a causal mask. The PyTorch backend has the same four functions.
"""

from __future__ import annotations

import math

import numpy as np

from transformer_tutorial.checks import check_array, check_ndim, check_same_size
from transformer_tutorial.numpy.attention import softmax
from transformer_tutorial.numpy.masks import causal_mask


def _check_sequence(x: np.ndarray) -> None:
    check_array("x", x, np.ndarray, "numpy.ndarray")
    check_ndim("x", x, 2, "(T, D)")


# --8<-- [start:loop]
def mean_with_loop(x: np.ndarray) -> np.ndarray:
    """Step 1: row t of the result is the mean of rows 0, ..., t of x: (T, D)."""
    _check_sequence(x)
    out = np.zeros(x.shape)
    for t in range(x.shape[0]):
        out[t] = x[: t + 1].mean(axis=0)  # itself and everything before it
    return out


# --8<-- [end:loop]


# --8<-- [start:matrix]
def mean_with_matrix(x: np.ndarray) -> np.ndarray:
    """Step 2: the same means as one product, weights @ x, weights (T, T)."""
    _check_sequence(x)
    T = x.shape[0]
    weights = np.tril(np.ones((T, T)))  # row t: ones up to column t
    weights = weights / weights.sum(axis=1, keepdims=True)  # row t: 1 / (t + 1) each
    return weights @ x


# --8<-- [end:matrix]


# --8<-- [start:softmax]
def mean_with_softmax(x: np.ndarray) -> np.ndarray:
    """Step 3: the same weights as a softmax of scores: 0 allowed, -inf not."""
    _check_sequence(x)
    T = x.shape[0]
    scores = np.zeros((T, T))  # every key alike, for now
    scores = np.where(causal_mask(T), scores, -np.inf)  # exp(-inf) = 0: no future
    return softmax(scores) @ x


# --8<-- [end:softmax]


# --8<-- [start:head]
def causal_attention_head(
    x: np.ndarray,
    w_query: np.ndarray,
    w_key: np.ndarray,
    w_value: np.ndarray,
) -> np.ndarray:
    """Step 4: scores q·k / √d from queries and keys, and weighted means of values.

    Args:
        x: (T, D) one sequence.
        w_query: (D, d) projection to queries.
        w_key: (D, d) projection to keys.
        w_value: (D, d_v) projection to values.

    Returns:
        (T, d_v): row t is a weighted mean of the values of positions 0, ..., t.
    """
    _check_sequence(x)
    for name, weight in (("w_query", w_query), ("w_key", w_key), ("w_value", w_value)):
        check_ndim(name, weight, 2, "(D, d)")
        check_same_size("x", x, 1, name, weight, 0, "width D")
    q, k, v = x @ w_query, x @ w_key, x @ w_value  # looked for, offered, handed on
    scores = q @ k.T / math.sqrt(k.shape[-1])  # (T, T): how well query t matches key j
    scores = np.where(causal_mask(x.shape[0]), scores, -np.inf)
    return softmax(scores) @ v


# --8<-- [end:head]
