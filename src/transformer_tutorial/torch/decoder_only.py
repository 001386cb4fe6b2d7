"""A decoder-only Transformer (GPT-style) in PyTorch: the model, its training loop, and sampling with the cache.

The model is a stack of pre-norm self-attention layers under a causal mask: ``EncoderLayer`` from
``transformer_tutorial.torch.layers`` with ``norm_first=True``. Its input is a token embedding plus a learned position
embedding, its last LayerNorm follows the stack, and its output layer is the token embedding matrix again (weight
tying). When it generates, each layer keeps the keys and values of earlier positions in a ``KeyValueCache``, so each new
token costs one position's work instead of the whole sequence's.

Shapes use B (batch), T (positions), D (model width) and V (vocabulary size).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.checks import (
    check_generation_room,
    check_ndim,
    check_positive_int,
    check_positive_number,
    check_tokens,
)
from transformer_tutorial.config import DecoderOnlyConfig
from transformer_tutorial.data.text import evaluation_windows
from transformer_tutorial.numpy.decoder_only import DecoderOnlyParams
from transformer_tutorial.torch.attention import KeyValueCache, softmax, to_numpy
from transformer_tutorial.torch.layers import EncoderLayer, LayerNorm
from transformer_tutorial.torch.masks import causal_mask
from transformer_tutorial.torch.modes import device_of, evaluating
from transformer_tutorial.torch.positional import LearnedPositionalEmbedding


class DecoderOnly(nn.Module):
    """A GPT-style language model: token + learned position
    embeddings, pre-norm causal layers, a final LayerNorm, and an
    output layer that shares its weight with the token embedding.

    Args:
        config: The sizes.
    """

    def __init__(self, config: DecoderOnlyConfig) -> None:
        super().__init__()
        self.config = config
        d_model = config.d_model
        self.token_embedding = nn.Embedding(config.vocab_size, d_model)
        # small logits at first: a near-uniform start
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.positions = LearnedPositionalEmbedding(config.max_len, d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(
                d_model,
                config.num_heads,
                config.d_ff,
                config.dropout,
                norm_first=True,
                activation="gelu",
                eps=config.eps,
            )
            for _ in range(config.num_layers)
        )
        self.final_norm = LayerNorm(d_model, config.eps)
        self.output = nn.Linear(d_model, config.vocab_size, bias=False)
        # weight tying: one (V, D) matrix, two uses
        self.output.weight = self.token_embedding.weight

    # --8<-- [start:forward]
    def forward(
        self,
        tokens: torch.Tensor,
        cache: list[KeyValueCache] | None = None,
    ) -> torch.Tensor:
        """Token ids (B, T) -> logits (B, T, V): position
        t scores every candidate for token t + 1.

        Position t sees tokens 0 … t only (the causal mask), so all T predictions come from one pass. With a ``cache``
        (one ``KeyValueCache`` per layer, from ``new_cache``), ``tokens`` are the positions that follow the cached ones:
        their position embeddings start after them, and they attend to them too.
        """
        start = 0 if cache is None else len(cache[0])  # positions already in the cache
        length = tokens.shape[1]
        check_tokens("tokens", tokens, self.config.vocab_size, self.config.max_len)
        if start + length > self.config.max_len:
            raise ValueError(
                f"{length} new positions after the {start} cached ones are more than max_len={self.config.max_len}"
            )
        # (T, D): rows start … start + T - 1
        positions = self.positions(start + length)[start:]
        x = self.dropout(self.token_embedding(tokens) + positions)  # (B, T, D)
        # (T, start + T)
        mask = causal_mask(length, start + length, device=tokens.device)
        for i, layer in enumerate(self.layers):
            # pre-norm self-attention and feed-forward
            x = layer(x, mask, None if cache is None else cache[i])
        # the final LayerNorm, then the tied output layer
        return self.output(self.final_norm(x))

    # --8<-- [end:forward]

    def new_cache(self) -> list[KeyValueCache]:
        """An empty key/value cache for every layer,
        to pass to ``forward`` when generating."""
        return [KeyValueCache() for _ in self.layers]

    def numpy_params(self) -> DecoderOnlyParams:
        """Every weight as float64 NumPy arrays, for
        ``transformer_tutorial.numpy.decoder_only``."""
        return DecoderOnlyParams(
            config=self.config,
            token_embedding=to_numpy(self.token_embedding.weight),
            position_embedding=to_numpy(self.positions.table.weight),
            layers=[layer.numpy_params() for layer in self.layers],
            final_norm=self.final_norm.numpy_params(),
        )


# --8<-- [start:sampling]
def next_token_probabilities(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> torch.Tensor:
    """The distribution to sample the next token from:
    softmax(logits / temperature) over the top k logits.

    Args:
        logits: (..., V) scores for the next token.
        temperature: Above 0. Below 1 sharpens the distribution towards the largest logit (near 0 it is greedy
            decoding), above 1 flattens it towards uniform; 1 leaves the model's distribution as it is.
        top_k: Keep only the k largest logits (and any tied with the k-th) and give the rest probability 0; None keeps
            all V. ``top_k=1`` is greedy decoding.

    Returns:
        (..., V) probabilities that sum to 1 along the last axis.

    Examples:
        >>> logits = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64).log()
        >>> next_token_probabilities(logits).round(decimals=3)
        tensor([0.5000, 0.3000, 0.2000], dtype=torch.float64)
        >>> next_token_probabilities(logits, top_k=2).round(decimals=3)  # 0.5 and 0.3, renormalised
        tensor([0.6250, 0.3750, 0.0000], dtype=torch.float64)
        >>> next_token_probabilities(logits, temperature=0.5).round(decimals=3)  # squared, renormalised
        tensor([0.6580, 0.2370, 0.1050], dtype=torch.float64)
    """
    check_positive_number("temperature", temperature)
    keep = None
    if top_k is not None:
        check_positive_int("top_k", top_k)
        if top_k > logits.shape[-1]:
            raise ValueError(
                f"top_k={top_k} is more than the {logits.shape[-1]} entries of logits",
            )
        kth_largest = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1)
        keep = logits >= kth_largest
    return softmax(logits / temperature, axis=-1, mask=keep)


def sample_from(
    probabilities: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One index per row of (..., V) probabilities,
    drawn with one uniform number per row (inverse CDF).

    The draw is the first index whose cumulative probability exceeds u · total, with u uniform in [0, 1): an index of
    probability 0 is never drawn. Returns (...,) int64.
    """
    cumulative = probabilities.double().cumsum(dim=-1)  # (..., V)
    u = torch.rand(
        (*probabilities.shape[:-1], 1),
        generator=generator,
        dtype=torch.float64,
        device=None
        if generator is None
        else generator.device,  # a CUDA generator draws there
    )
    u = u.to(cumulative.device) * cumulative[..., -1:]  # (..., 1), in [0, total)
    return (cumulative <= u).sum(dim=-1)


# --8<-- [end:sampling]


# --8<-- [start:generate]
@torch.no_grad()
def generate(
    prompt: torch.Tensor,
    model: DecoderOnly,
    max_new_tokens: int,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Extend each prompt (B, T0) by ``max_new_tokens`` sampled tokens: (B, T0 + n).

    With ``use_cache`` the prompt runs once, filling every layer's key/value cache, and each later step feeds the model
    only the token just drawn. Without it, each step runs the whole sequence again. Both give the same logits (up to
    rounding) and, for the same generator state, the same tokens.

    Raises:
        ValueError: the result would be longer than ``max_len``: a learned position table has no rows beyond.
    """
    check_ndim("prompt", prompt, 2, "(B, T)")
    check_positive_int("max_new_tokens", max_new_tokens, allow_zero=True)
    check_generation_room(prompt.shape[1], max_new_tokens, model.config.max_len)
    cache = model.new_cache() if use_cache else None
    tokens = prompt.to(device_of(model))
    new = tokens  # what the model has not seen yet
    with evaluating(model):
        for _ in range(max_new_tokens):
            logits = model(new, cache) if use_cache else model(tokens)  # (B, T, V)
            # the last position's
            probabilities = next_token_probabilities(logits[:, -1], temperature, top_k)
            drawn = sample_from(probabilities, generator)[:, None]  # (B, 1)
            tokens = torch.cat([tokens, drawn], dim=1)
            new = drawn
    return tokens


# --8<-- [end:generate]


# --8<-- [start:train]
def language_model_loss(model: DecoderOnly, windows: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy (in nats) of predicting
    tokens 1 … T from windows (B, T + 1) of a text.

    Every position of every window is a training example: position t's logits are scored against token t + 1.
    """
    # (B, T) each: targets are the inputs shifted by one
    windows = windows.to(device_of(model))  # the text may sit on another device
    inputs, targets = windows[:, :-1], windows[:, 1:]
    logits = model(inputs)  # (B, T, V), in one pass thanks to the causal mask
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def train_language_model(
    model: DecoderOnly,
    ids: np.ndarray | torch.Tensor,
    steps: int,
    batch_size: int = 32,
    length: int | None = None,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Train on random windows of one long token
    sequence with AdamW; return the loss of every step.

    Args:
        model: The model; it is left in eval mode.
        ids: (N,) the token ids of the whole training text.
        steps: Optimiser steps.
        batch_size: Windows per step.
        length: Positions per window (``max_len`` if None): each window gives that many predictions.
        learning_rate: AdamW's step size.
        seed: Seeds the choice of windows (seed torch yourself for the model's initial weights and dropout).
    """
    ids = torch.as_tensor(ids, dtype=torch.int64)
    check_ndim("ids", ids, 1, "(N,)")
    check_positive_int("steps", steps, allow_zero=True)
    check_positive_int("batch_size", batch_size)
    length = model.config.max_len if length is None else length
    check_positive_int("length", length)
    if len(ids) < length + 1:
        raise ValueError(
            f"ids has {len(ids)} tokens, too few for windows of length + 1 = {length + 1}"
        )
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    offsets = torch.arange(length + 1)
    losses = []
    model.train()
    try:
        for _ in range(steps):
            starts = torch.randint(
                0,
                len(ids) - length,
                (batch_size, 1),
                generator=generator,
            )
            # windows: (batch_size, length + 1)
            loss = language_model_loss(model, ids[starts + offsets])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:  # eval mode afterwards, also after Ctrl-C
        model.eval()
    return losses


# --8<-- [end:train]


@torch.no_grad()
def evaluate_language_model(
    model: DecoderOnly,
    ids: np.ndarray | torch.Tensor,
    length: int | None = None,
    seen: np.ndarray | torch.Tensor | None = None,
) -> float:
    """The mean cross-entropy over consecutive, non-overlapping
    windows of ``ids`` (deterministic), in eval mode.

    With ``seen`` (the training ids), a window that occurs word for word in them is left out
    (``data.text.evaluation_windows``).
    """
    ids = torch.as_tensor(ids, dtype=torch.int64)
    check_ndim("ids", ids, 1, "(N,)")
    length = model.config.max_len if length is None else length
    if seen is not None:
        seen = torch.as_tensor(seen).cpu().numpy()
    windows = evaluation_windows(ids.cpu().numpy(), length, seen)
    with evaluating(model):
        return language_model_loss(
            model, torch.as_tensor(windows, device=ids.device)
        ).item()
