"""Why several heads: one attention layer with 1 head against the same layer with 4, on a task with two jobs.

``python -m transformer_tutorial.experiments.head_count --store`` trains, for each seed and each head count, a one-layer
model on ``TwoJobsTask`` (every position must read its left neighbour *and* the marked token), and scores it on held-out
sequences (``TwoJobsTask.held_out_batch``). Splitting the width D into H heads changes nothing in the parameter count:
W_Q, W_K, W_V and W_O are D × D whatever H is, so the models compared have the same number of parameters, the same
initialisation recipe, the same training stream and the same steps; only H differs. The result ``head-count``
(``transformer_tutorial.results.load("head-count")``) keeps every run, and the attention weights of seed 0's models on
one held-out sequence, for the figure.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transformer_tutorial.data.two_jobs import IGNORE, TwoJobsTask
from transformer_tutorial.experiments import add_destination, keep
from transformer_tutorial.experiments.benchmark import machine_info
from transformer_tutorial.torch.attention import recorded_attention
from transformer_tutorial.torch.layers import EncoderLayer, LayerNorm
from transformer_tutorial.torch.modes import seeded
from transformer_tutorial.torch.positional import LearnedPositionalEmbedding

RESULT = "head-count"
TASK = TwoJobsTask(num_symbols=8, length=12)
D_MODEL, D_FF = 32, 64
HEAD_COUNTS = (1, 4)
STEPS, BATCH, LEARNING_RATE = 1500, 64, 3e-3
# steps after which the model is scored on the held-out sequences
SCORED_AT = (
    100,
    200,
    400,
    800,
    1500,
)
# the evaluation's own stream, of held-out sequences only
HELD_OUT, HELD_OUT_SEED = (
    1000,
    12345,
)


class TwoJobsModel(nn.Module):
    """Token and learned position embeddings, one pre-norm self-attention
    layer with ``num_heads`` heads, a final LayerNorm and a linear read-out
    to the task's classes. Token ids (B, T) -> logits (B, T, classes)."""

    def __init__(self, num_heads: int, task: TwoJobsTask = TASK) -> None:
        super().__init__()
        self.embedding = nn.Embedding(task.vocab_size, D_MODEL)
        self.positions = LearnedPositionalEmbedding(task.length, D_MODEL)
        self.layer = EncoderLayer(
            D_MODEL, num_heads, D_FF, 0.0, norm_first=True, activation="gelu"
        )
        self.norm = LayerNorm(D_MODEL)
        self.readout = nn.Linear(D_MODEL, task.num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens) + self.positions(tokens.shape[1])
        return self.readout(self.norm(self.layer(x, None)))


def loss_and_accuracy(
    model: TwoJobsModel, tokens: np.ndarray, targets: np.ndarray
) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy and the share of positions answered
    right (position 0, which has no task, left out)."""
    logits = model(torch.from_numpy(tokens))
    target = torch.from_numpy(targets)
    loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=IGNORE)
    scored = target != IGNORE
    accuracy = (logits.argmax(-1) == target)[scored].float().mean().item()
    return loss, accuracy


def train_one(num_heads: int, seed: int) -> tuple[TwoJobsModel, dict]:
    """Train one model from ``seed`` (its initial weights
    and its training stream), scoring it along the way."""
    with seeded(seed):  # the initial weights
        model = TwoJobsModel(num_heads)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    rng = np.random.default_rng(seed)
    held_out = TASK.held_out_batch(np.random.default_rng(HELD_OUT_SEED), HELD_OUT)
    scores, cpu_seconds = [], 0.0
    for step in range(1, STEPS + 1):
        cpu_start = time.process_time()
        loss, _ = loss_and_accuracy(model, *TASK.batch(rng, BATCH, part="training"))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        cpu_seconds += time.process_time() - cpu_start
        if step in SCORED_AT:
            model.eval()
            with torch.no_grad():
                loss, accuracy = loss_and_accuracy(model, *held_out)
            model.train()
            scores.append(
                {
                    "step": step,
                    "held_out_loss": round(loss.item(), 4),
                    "held_out_accuracy": round(accuracy, 4),
                }
            )
    model.eval()
    return model, {
        "heads": num_heads,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "training_cpu_seconds": round(cpu_seconds, 1),
        "held_out": scores,
    }


@torch.no_grad()
def attention_on(model: TwoJobsModel, tokens: np.ndarray) -> list:
    """The weights (H, T, T) of every head on one sequence (T,), rounded for storage."""
    with recorded_attention(model) as records:
        model(torch.from_numpy(tokens[None]))
    (weights,) = records["layer.self_attention"]
    return np.round(weights[0].numpy(), 3).tolist()


def measure(seeds: tuple[int, ...]) -> dict:
    """Every run, and seed 0's attention weights on the first held-out sequence."""
    # tiny matrices: one thread, and every machine does the same
    torch.set_num_threads(1)
    example, _ = TASK.held_out_batch(np.random.default_rng(HELD_OUT_SEED), 1)
    runs, patterns = [], {}
    for seed in seeds:
        for heads in HEAD_COUNTS:
            model, run = train_one(heads, seed)
            runs.append(run)
            print(run, flush=True)
            if seed == seeds[0]:
                patterns[str(heads)] = attention_on(model, example[0])
    return {
        "task": {"num_symbols": TASK.num_symbols, "length": TASK.length},
        "model": {"d_model": D_MODEL, "d_ff": D_FF, "layers": 1},
        "training": {
            "steps": STEPS,
            "batch_size": BATCH,
            "learning_rate": LEARNING_RATE,
        },
        "held_out_sequences": HELD_OUT,
        "runs": runs,
        "example": {
            "tokens": example[0].tolist(),
            "seed": seeds[0],
            "weights": patterns,
        },
    }


def main(argv: list[str] | None = None) -> dict:
    """``python -m transformer_tutorial.experiments.head_count
    --store``: train 1 and 4 heads from each seed, store."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    add_destination(parser, RESULT)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    results = measure(tuple(args.seeds))
    machine = machine_info(torch.device("cpu"))
    results.update(
        date=datetime.now(UTC).date().isoformat(),
        machine=machine["cpu"],
        logical_cpus=machine["logical_cpus"],
        python=machine["python"],
        torch=machine["torch"],
        command="python -m transformer_tutorial.experiments.head_count --store",
    )
    print(json.dumps({k: v for k, v in results.items() if k != "example"}, indent=2))
    keep(args, RESULT, results)
    return results


if __name__ == "__main__":
    main()
