"""The model that writes: train the causal chapter's character model for minutes on the site's corpus, and store it.

``python -m transformer_tutorial.experiments.character_model --store`` trains a ``DecoderOnly`` on the first 90% of the
corpus (``transformer_tutorial.data.text.load_corpus``), stores its weights as the float16 checkpoint
``character-model`` (``transformer_tutorial.data.checkpoints``) and its measurements as the result ``character-model``
(``transformer_tutorial.results.load("character-model")``): the held-out loss of the stored weights on the last 10%, in
nats and bits per character, beside three baselines measured on the same held-out text: uniform, a bigram model counted
on the training text, and the 150-step model of the character-model notebook, trained here with the notebook's settings.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch

from transformer_tutorial.config import DecoderOnlyConfig
from transformer_tutorial.data.checkpoints import write_checkpoint
from transformer_tutorial.data.text import character_corpus, evaluation_windows
from transformer_tutorial.experiments import add_destination, keep
from transformer_tutorial.experiments.running import flat_provenance
from transformer_tutorial.numpy.character_model import CHECKPOINT, flat_params
from transformer_tutorial.torch.character_model import load_character_model
from transformer_tutorial.torch.decoder_only import (
    DecoderOnly,
    evaluate_language_model,
    language_model_loss,
    train_language_model,
)
from transformer_tutorial.torch.modes import seeded

RESULT = "character-model"
CONFIG = {  # the sizes of DecoderOnlyConfig's defaults, with dropout: the text is small
    "d_model": 64,
    "num_heads": 4,
    "num_layers": 2,
    "d_ff": 256,
    "max_len": 128,
    "dropout": 0.1,
}
RECIPE = {
    "steps": 3000,
    "batch_size": 16,
    "learning_rate": 3e-3,
    "warmup_steps": 100,
    "final_learning_rate_fraction": 0.1,
    "weight_decay": 0.1,
    "gradient_clip": 1.0,
    "seed": 0,
}
NOTEBOOK_CONFIG = {  # the 150-step model of docs/notebooks/character-model.py
    "d_model": 48,
    "num_heads": 4,
    "num_layers": 2,
    "d_ff": 192,
    "max_len": 48,
}


def bigram_loss(train_ids: np.ndarray, held_out_ids: np.ndarray, vocab: int) -> float:
    """Nats per character of a bigram model counted on
    ``train_ids`` with add-one smoothing, on ``held_out_ids``."""
    counts = np.ones((vocab, vocab))
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1)
    probabilities = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.log(probabilities[held_out_ids[:-1], held_out_ids[1:]]).mean())


def learning_rate_at(step: int) -> float:
    """Linear warm-up, then a cosine decay to a tenth of the peak."""
    peak, warmup = RECIPE["learning_rate"], RECIPE["warmup_steps"]
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, RECIPE["steps"] - warmup)
    floor = RECIPE["final_learning_rate_fraction"]
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(model: DecoderOnly, train_ids: np.ndarray, held_out_ids: np.ndarray):
    """The recipe's training loop; returns the mean
    training loss and the held-out loss every 1000 steps."""
    ids = torch.as_tensor(train_ids)
    generator = torch.Generator().manual_seed(RECIPE["seed"])
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=RECIPE["learning_rate"],
        weight_decay=RECIPE["weight_decay"],
    )
    length = model.config.max_len
    offsets = torch.arange(length + 1)
    curve, recent = [], []
    model.train()
    for step in range(RECIPE["steps"]):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step)
        starts = torch.randint(
            0, len(ids) - length, (RECIPE["batch_size"], 1), generator=generator
        )
        loss = language_model_loss(model, ids[starts + offsets])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), RECIPE["gradient_clip"])
        optimizer.step()
        recent.append(loss.item())
        if (step + 1) % 1000 == 0:
            curve.append(
                {
                    "step": step + 1,
                    "training_loss": round(float(np.mean(recent)), 4),
                    "held_out_loss": round(
                        evaluate_language_model(model, held_out_ids, seen=train_ids), 4
                    ),
                }
            )
            recent = []
            print(curve[-1], flush=True)
            model.train()
    model.eval()
    return curve


def notebook_model_loss(train_ids: np.ndarray, held_out_ids: np.ndarray, vocab: int):
    """The held-out loss of the notebook's model after
    its 150 steps, with the notebook's settings."""
    # the notebook's torch.manual_seed(0), without touching the caller's generator
    with seeded(0):
        model = DecoderOnly(DecoderOnlyConfig(vocab_size=vocab, **NOTEBOOK_CONFIG))
        train_language_model(
            model, train_ids, steps=150, batch_size=16, learning_rate=5e-3, seed=0
        )
    return evaluate_language_model(model, held_out_ids, seen=train_ids)


def bits(nats: float) -> float:
    return round(nats / math.log(2), 4)


def measure(store_checkpoint: bool) -> dict:
    """Train, store the checkpoint (when asked),
    and measure everything on the held-out text."""
    # the matrices are small: one thread, and every machine does the same
    torch.set_num_threads(1)
    tokenizer, train_ids, held_out_ids = character_corpus()
    vocab = len(tokenizer)
    config = DecoderOnlyConfig(vocab_size=vocab, **CONFIG)
    with seeded(RECIPE["seed"]):  # the initial weights and the dropout masks
        model = DecoderOnly(config)
        cpu_start = time.process_time()
        curve = train(model, train_ids, held_out_ids)
        cpu_seconds = time.process_time() - cpu_start
    float32_loss = evaluate_language_model(model, held_out_ids, seen=train_ids)
    metadata = {
        "config": {"vocab_size": vocab, **CONFIG},
        "vocabulary": tokenizer.vocabulary,
    }
    arrays = {k: v for k, v in flat_params(model.numpy_params()).items()}
    checkpoint_bytes = None
    if store_checkpoint:
        path = write_checkpoint(CHECKPOINT, metadata, arrays)
        checkpoint_bytes = path.stat().st_size
        stored, _ = load_character_model()
        stored_loss = evaluate_language_model(stored, held_out_ids, seen=train_ids)
    else:
        stored_loss = float32_loss
    notebook_loss = notebook_model_loss(train_ids, held_out_ids, vocab)
    bigram = bigram_loss(train_ids, held_out_ids, vocab)
    uniform = math.log(vocab)
    losses = {
        "uniform": uniform,
        "bigram": bigram,
        "notebook_150_steps": notebook_loss,
        "trained": stored_loss,
    }
    return {
        "config": metadata["config"],
        "recipe": RECIPE,
        "parameters": sum(p.numel() for p in model.parameters()),
        "training_characters": len(train_ids),
        "held_out_characters": len(held_out_ids),
        "held_out_windows": {  # those left after any that occur in the training text
            str(length): len(evaluation_windows(held_out_ids, length, seen=train_ids))
            for length in (CONFIG["max_len"], NOTEBOOK_CONFIG["max_len"])
        },
        "training_cpu_seconds": round(cpu_seconds, 1),
        "checkpoint_bytes": checkpoint_bytes,
        "held_out_loss_float32": round(float32_loss, 4),
        "held_out_nats": {key: round(value, 4) for key, value in losses.items()},
        "held_out_bits_per_character": {
            key: bits(value) for key, value in losses.items()
        },
        "curve": curve,
    }


def main(argv: list[str] | None = None) -> dict:
    """``python -m transformer_tutorial.experiments.character_model
    --store``: train, store checkpoint and result."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    add_destination(parser, RESULT)
    args = parser.parse_args(argv)
    results = measure(store_checkpoint=args.store)
    results.update(flat_provenance("character_model"))
    print(json.dumps(results, indent=2))
    keep(args, RESULT, results)
    return results


if __name__ == "__main__":
    main()
