"""Character models of the modern-attention chapter: a paper-style decoder, and the LLaMA-style sizes that
match its parameter budget, trained side by side on the site's corpus with the same steps and windows."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from transformer_tutorial.config import DecoderOnlyConfig, LlamaConfig
from transformer_tutorial.data.text import character_corpus, evaluation_windows
from transformer_tutorial.torch.decoder_only import (
    DecoderOnly,
    evaluate_language_model,
    train_language_model,
)
from transformer_tutorial.torch.layers import EncoderLayer
from transformer_tutorial.torch.llama import LlamaDecoder
from transformer_tutorial.torch.masks import causal_mask
from transformer_tutorial.torch.modes import seeded
from transformer_tutorial.torch.positional import SinusoidalPositionalEncoding

if TYPE_CHECKING:
    from transformer_tutorial.experiments.modern_attention import ModernSettings


class PaperStyleDecoder(nn.Module):
    """A decoder-only model built like the paper's decoder layer without
    cross-attention: sinusoids added to embeddings scaled by √D, post-norm
    layers with ReLU, no final norm, and the output tied to the embedding."""

    def __init__(self, config: DecoderOnlyConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        nn.init.normal_(self.token_embedding.weight, std=config.d_model**-0.5)
        self.positions = SinusoidalPositionalEncoding(config.max_len, config.d_model)
        self.layers = nn.ModuleList(
            EncoderLayer(
                config.d_model,
                config.num_heads,
                config.d_ff,
                0.0,
                norm_first=False,
                activation="relu",
            )
            for _ in range(config.num_layers)
        )
        self.output = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.output.weight = self.token_embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        x = self.token_embedding(tokens) * math.sqrt(
            self.config.d_model
        ) + self.positions(length)
        mask = causal_mask(length, device=tokens.device)
        for layer in self.layers:
            x = layer(x, mask)
        return self.output(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_llama_config(
    settings: ModernSettings, vocab_size: int, budget: int
) -> LlamaConfig:
    """The LLaMA-style sizes with SwiGLU's width F chosen
    so that the parameter count is closest to ``budget``."""

    def config(d_ff: int) -> LlamaConfig:
        return LlamaConfig(
            vocab_size=vocab_size,
            d_model=settings.corpus_width,
            num_heads=settings.corpus_heads,
            num_kv_heads=settings.corpus_kv_heads,
            num_layers=settings.corpus_layers,
            d_ff=d_ff,
            max_len=settings.corpus_context,
        )

    base = count_parameters(LlamaDecoder(config(1)))
    # parameters per unit of F: 3·D per layer
    per_unit = count_parameters(LlamaDecoder(config(2))) - base
    return config(max(1, 1 + round((budget - base) / per_unit)))


def train_character_models(settings: ModernSettings) -> dict[str, Any]:
    """Paper-style, GPT-style (the site's ``DecoderOnly``)
    and LLaMA-style decoders, same steps and windows."""
    tokenizer, train_ids, held_out = character_corpus()
    paper_config = DecoderOnlyConfig(
        vocab_size=len(tokenizer),
        d_model=settings.corpus_width,
        num_heads=settings.corpus_heads,
        num_layers=settings.corpus_layers,
        d_ff=settings.corpus_d_ff,
        max_len=settings.corpus_context,
    )
    budget = count_parameters(PaperStyleDecoder(paper_config))
    llama_config = matched_llama_config(settings, len(tokenizer), budget)
    builders = {
        "paper": lambda: PaperStyleDecoder(paper_config),
        "gpt": lambda: DecoderOnly(paper_config),
        "llama": lambda: LlamaDecoder(llama_config),
    }
    runs = []
    for name, build in builders.items():
        for seed in settings.seeds:
            with seeded(seed):  # the caller's global random state is given back
                model = build()
                start = time.process_time()
                losses = train_language_model(
                    model,
                    train_ids,
                    settings.corpus_steps,
                    settings.corpus_batch,
                    settings.corpus_context,
                    settings.corpus_learning_rate,
                    seed=seed,
                )
            seconds = time.process_time() - start
            runs.append(
                {
                    "model": name,
                    "seed": seed,
                    "parameters": count_parameters(model),
                    "train_seconds": round(seconds, 2),
                    "final_train_loss": round(float(np.mean(losses[-10:])), 4),
                    "held_out_loss": round(
                        evaluate_language_model(
                            model, held_out, settings.corpus_context, seen=train_ids
                        ),
                        4,
                    ),
                }
            )
    return {
        "characters": len(train_ids) + len(held_out),
        "vocab_size": len(tokenizer),
        "held_out_characters": len(held_out),
        "held_out_windows": len(
            evaluation_windows(held_out, settings.corpus_context, seen=train_ids)
        ),
        "uniform_loss": round(math.log(len(tokenizer)), 4),
        "llama_d_ff": llama_config.d_ff,
        "runs": runs,
    }
