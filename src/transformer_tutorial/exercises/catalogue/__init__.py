"""Every exercise of the site, chapter by chapter, one module per chapter.

A case's inputs are NumPy arrays made from a seeded generator, so every run checks the same numbers; a PyTorch solution
receives them as tensors of the same dtype. Each reference is computed when the case is compared, from the package's
NumPy code and, where PyTorch has the operation, from PyTorch itself.
"""

from __future__ import annotations

from transformer_tutorial.exercises.catalogue.architecture import ARCHITECTURE
from transformer_tutorial.exercises.catalogue.attention import ATTENTION
from transformer_tutorial.exercises.catalogue.causal import CAUSAL
from transformer_tutorial.exercises.catalogue.encoder import ENCODER
from transformer_tutorial.exercises.catalogue.latent import LATENT
from transformer_tutorial.exercises.catalogue.long_context import LONG_CONTEXT
from transformer_tutorial.exercises.catalogue.modern import MODERN
from transformer_tutorial.exercises.catalogue.multi_head import MULTI_HEAD
from transformer_tutorial.exercises.catalogue.positional import POSITIONAL
from transformer_tutorial.exercises.catalogue.training import TRAINING
from transformer_tutorial.exercises.catalogue.vision import VISION
from transformer_tutorial.exercises.checker import Exercise, quietly

# The chapters in the order of the site, with the page that holds their exercises.
CHAPTERS: dict[str, tuple[str, list[Exercise]]] = {
    "attention": ("attention.md", ATTENTION),
    "multi-head": ("multi-head-attention.md", MULTI_HEAD),
    "positional-encodings": ("positional-encodings.md", POSITIONAL),
    "architecture": ("architecture.md", ARCHITECTURE),
    "training": ("training.md", TRAINING),
    "causal-self-attention": ("causal-self-attention.md", CAUSAL),
    "modern-attention": ("modern-blocks.md", MODERN),
    "latent-attention": ("latent-attention.md", LATENT),
    "long-contexts": ("long-contexts.md", LONG_CONTEXT),
    "encoder-only-models": ("encoder-only-models.md", ENCODER),
    "vision-transformers": ("vision-transformers.md", VISION),
}

EXERCISES: dict[str, Exercise] = {
    exercise.id: exercise for _, (_, group) in CHAPTERS.items() for exercise in group
}

__all__ = ["CHAPTERS", "EXERCISES", "quietly"]
