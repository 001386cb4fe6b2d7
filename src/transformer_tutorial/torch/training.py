"""Training an encoder-decoder Transformer with the paper's recipe, scaled down to run on a laptop CPU.

The recipe: Adam with β = (0.9, 0.98) and ε = 1e-9; a learning rate that warms up linearly and then decays with the
inverse square root of the step; label smoothing; a loss that ignores padding. Shapes use B (batch), T (target
positions) and V (vocabulary size).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

# the text bar: tqdm.auto warns on stderr in a notebook without ipywidgets
from tqdm import (
    tqdm,
)

from transformer_tutorial.checks import check_positive_int
from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.data.tasks import EOS, PAD, ReversalTask
from transformer_tutorial.torch.attention import MultiHeadAttention
from transformer_tutorial.torch.decoding import greedy_decode
from transformer_tutorial.torch.model import Transformer
from transformer_tutorial.torch.modes import device_of, seeded


# --8<-- [start:learning_rate]
def learning_rate(step: int, d_model: int, warmup: int, factor: float = 1.0) -> float:
    """The paper's schedule: factor · d_model^-0.5 ·
    min(step^-0.5, step · warmup^-1.5), for steps 1, 2, ….

    It rises linearly for ``warmup`` steps, peaks at step = warmup, then decays like 1 / √step.

    Examples:
        >>> round(learning_rate(4000, d_model=512, warmup=4000), 6)  # the paper's peak
        0.000699
    """
    check_positive_int("step", step)
    return factor * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


# --8<-- [end:learning_rate]


# --8<-- [start:label_smoothing]
def smoothed_targets(
    targets: torch.Tensor,
    vocab_size: int,
    smoothing: float,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The target distribution of label smoothing: (…) ids -> (…, V) probabilities.

    1 - ε on the correct token, plus ε spread evenly over all V tokens (so the correct one gets 1 - ε + ε/V)."""
    uniform = torch.full(
        (*targets.shape, vocab_size),
        smoothing / vocab_size,
        dtype=dtype,
        device=targets.device,
    )
    return uniform.scatter_add(
        -1,
        targets[..., None],
        torch.full_like(uniform[..., :1], 1.0 - smoothing),
    )


def label_smoothed_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    smoothing: float,
    pad_id: int = PAD,
) -> torch.Tensor:
    """Cross-entropy against the smoothed targets,
    averaged over the positions that are not padding.

    Args:
        logits: (B, T, V) scores.
        targets: (B, T) the correct next tokens, ``pad_id`` where there is nothing to predict.
        smoothing: ε, the probability mass moved from the correct token to the uniform distribution.
    """
    log_probs = torch.log_softmax(logits, dim=-1)
    # (B, T, V)
    target_distribution = smoothed_targets(
        targets,
        logits.shape[-1],
        smoothing,
        logits.dtype,
    )
    per_position = -(target_distribution * log_probs).sum(dim=-1)  # (B, T)
    real = targets != pad_id
    return per_position[real].mean()


# --8<-- [end:label_smoothing]


@dataclass
class TrainingLog:
    """What happened during training, one entry per step."""

    losses: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    seconds: float = 0.0


# --8<-- [start:train]
@contextmanager
def training_mode(model: Transformer) -> Iterator[None]:
    """Train mode, every attention layer on the fused path, while the block runs;
    then eval mode and each layer's own path, also when the block raises (Ctrl-C)."""
    attention = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    paths = [module.fused for module in attention]
    model.train()
    for module in attention:
        module.fused = True  # training never looks at the attention weights
    try:
        yield
    finally:
        for module, fused in zip(attention, paths, strict=True):
            module.fused = fused
        model.eval()


def train(
    model: Transformer,
    next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    steps: int,
    warmup: int,
    lr_factor: float = 1.0,
    smoothing: float = 0.1,
    progress: bool = True,
) -> TrainingLog:
    """Train ``model`` for ``steps`` steps on batches
    ``(src, tgt_in, tgt_out)`` drawn from ``next_batch``.

    Teacher forcing: the decoder reads the correct target shifted right (``tgt_in``) and predicts every next token
    (``tgt_out``) in one pass, so a step trains all positions of all sequences at once.
    """
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=1.0,
        betas=(0.9, 0.98),
        eps=1e-9,
        foreach=True,
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda index: learning_rate(index + 1, model.config.d_model, warmup, lr_factor),
    )
    log = TrainingLog()
    device = device_of(model)  # the batches arrive on the CPU
    start = time.perf_counter()
    with training_mode(model):
        for _ in tqdm(
            range(steps), desc="training", disable=not progress, mininterval=3.0
        ):
            src, tgt_in, tgt_out = (t.to(device) for t in next_batch())
            loss = label_smoothed_loss(
                model(src, tgt_in),
                tgt_out,
                smoothing,
                model.config.pad_id,
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            log.losses.append(loss.item())
            log.learning_rates.append(schedule.get_last_lr()[0])
            schedule.step()
    log.seconds = time.perf_counter() - start
    return log


# --8<-- [end:train]


def reversal_batches(
    task: ReversalTask, batch_size: int, seed: int
) -> Callable[[], tuple[torch.Tensor, ...]]:
    """An endless source of training batches for the
    reversal task, as tensors, without held-out sequences."""
    rng = np.random.default_rng(seed)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = task.batch(rng, batch_size, part="training")
        return (
            torch.from_numpy(batch.src),
            torch.from_numpy(batch.tgt_in),
            torch.from_numpy(batch.tgt_out),
        )

    return next_batch


def exact_match_accuracy(
    model: Transformer,
    task: ReversalTask,
    num_sequences: int,
    seed: int,
    use_cache: bool = True,
) -> float:
    """The share of ``num_sequences`` distinct held-out sequences (which the training
    stream never produces) that greedy decoding reverses exactly, EOS included."""
    batch = task.held_out_batch(np.random.default_rng(seed), num_sequences)
    src = torch.from_numpy(batch.src).to(device_of(model))
    generated = greedy_decode(
        model, src, max_new_tokens=batch.tgt_out.shape[1], use_cache=use_cache
    ).tokens
    expected = torch.from_numpy(batch.tgt_out).to(generated.device)
    width = min(generated.shape[1], expected.shape[1])
    correct = (generated[:, :width] == expected[:, :width]) | (
        expected[:, :width] == PAD
    )
    ended = (generated == EOS).any(dim=1)
    return float((correct.all(dim=1) & ended).float().mean())


# --8<-- [start:recipe]
@dataclass(frozen=True)
class ReversalRecipe:
    """Everything that decides the training run of the
    training chapter: the task, the model and the schedule.
    """

    task: ReversalTask = field(
        default_factory=lambda: ReversalTask(
            num_symbols=10,
            min_length=1,
            max_length=8,
        ),
    )
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 256
    # every batch is freshly drawn: long sequences hardly ever repeat (see the page)
    dropout: float = 0.0
    smoothing: float = 0.1
    batch_size: int = 64
    steps: int = 400
    warmup: int = 200
    lr_factor: float = 0.3
    seed: int = 0

    def batches(self) -> Callable[[], tuple[torch.Tensor, ...]]:
        """The training stream: the same seed gives the same batches."""
        return reversal_batches(self.task, self.batch_size, seed=self.seed + 1)

    def config(self) -> TransformerConfig:
        # max_len leaves room to time long generated outputs
        vocab = self.task.vocab_size
        return TransformerConfig(
            vocab,
            vocab,
            d_model=self.d_model,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            d_ff=self.d_ff,
            dropout=self.dropout,
            max_len=512,
        )


def train_reversal(
    recipe: ReversalRecipe = ReversalRecipe(),
    progress: bool = True,
) -> tuple[Transformer, TrainingLog]:
    """Build a model from the recipe and train it; the
    same seed gives the same model on the same machine.
    """
    # the initial weights and dropout; the caller's state is kept
    with seeded(recipe.seed):
        model = Transformer(recipe.config())
        log = train(
            model,
            recipe.batches(),
            recipe.steps,
            recipe.warmup,
            recipe.lr_factor,
            recipe.smoothing,
            progress,
        )
    return model, log


# --8<-- [end:recipe]
