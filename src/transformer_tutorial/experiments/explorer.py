"""The data of the attention explorer: every head of all-MiniLM-L6-v2 on a set of sentences, computed by the
NumPy encoder (``transformer_tutorial.numpy.encoder_only``), in a compact JSON file for the page's JavaScript.

Each weight is stored as one byte, ``round(weight * 255)``: 72 heads of a 14-token sentence take 14 kB. The site's build
writes the file (``theme/hooks/interactive.py``); ``explorer_data()`` gives the same dictionary to the tests. The heads
marked in the explorer are the ones the encoder-only page measures (``transformer_tutorial.experiments.heads``), scored
here with the NumPy encoder.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from transformer_tutorial.experiments.heads import (
    ANIMAL_SENTENCE,
    COREFERENCES,
    PROBE_SENTENCES,
    Coreference,
    offset_scores,
    pronoun_scores,
    word_position,
)

LEVELS = 255  # a weight w is stored as the byte round(w * LEVELS)


@dataclass(frozen=True)
class ExplorerGroup:
    """Sentences shown under one heading. With ``padded``, they are run
    as one batch and kept with the padding tokens that make them as
    long as the longest; otherwise each runs alone, without padding."""

    title: str
    sentences: tuple[str | Coreference, ...]
    padded: bool = False


# Pairs of sentences that differ at the end, so that the pronoun refers to the first noun, then to the second.
COREFERENCE_PAIRS = (
    Coreference(ANIMAL_SENTENCE, "it", "animal", "street"),
    Coreference(
        "The animal didn't cross the street because it was too wide.",
        "it",
        "street",
        "animal",
    ),
    Coreference(
        "The trophy did not fit in the suitcase because it was too big.",
        "it",
        "trophy",
        "suitcase",
    ),
    Coreference(
        "The trophy did not fit in the suitcase because it was too small.",
        "it",
        "suitcase",
        "trophy",
    ),
    Coreference(
        "The dog ignored the ball because it was too sleepy.", "it", "dog", "ball"
    ),
    Coreference(
        "The dog chased the ball because it was rolling away.", "it", "ball", "dog"
    ),
    Coreference(
        "The storm destroyed the barn because it was so strong.", "it", "storm", "barn"
    ),
    Coreference(
        "The storm destroyed the barn because it was so old.", "it", "barn", "storm"
    ),
    Coreference(
        "The farmer sold the tractor because he needed money.",
        "he",
        "farmer",
        "tractor",
    ),
    Coreference(
        "The farmer sold the tractor because it was too slow.",
        "it",
        "tractor",
        "farmer",
    ),
    Coreference("The cat watched the bird until it fell asleep.", "it", "cat", "bird"),
    Coreference("The cat watched the bird until it flew away.", "it", "bird", "cat"),
)

LONG_SENTENCE = (
    "When the river finally reached the old mill at the edge of the village, the water turned the great "
    "wooden wheel faster than anyone living there could remember seeing it turn, and the miller laughed."
)

EXPLORER_GROUPS = (
    ExplorerGroup("A pronoun and two nouns, in both orders", COREFERENCE_PAIRS),
    ExplorerGroup(
        "Ordinary sentences",
        (*(PROBE_SENTENCES[i] for i in (0, 2, 13, 29)), "Transformers read tokens."),
    ),
    ExplorerGroup(
        "Short sentences in one padded batch",
        ("Cats sleep.", "The dog barked twice.", "Birds sing."),
        True,
    ),
    ExplorerGroup("A long sentence", (LONG_SENTENCE,)),
)


@functools.cache
def _minilm():
    from transformer_tutorial.data.pretrained import load_minilm
    from transformer_tutorial.numpy.encoder_only import EncoderOnlyParams

    pretrained = load_minilm()
    return EncoderOnlyParams.from_bert(
        pretrained.weights, pretrained.config
    ), pretrained.tokenizer


# --8<-- [start:attention_weights]
def attention_weights(sentences: list[str]) -> tuple[np.ndarray, list[list[str]]]:
    """Every head's weights on a batch of sentences, padded to the longest:
    (L, B, H, T, T), and the tokens of each sentence, [PAD] included. Row i
    of a head is where token i looks; entry (i, j) is its weight on j."""
    from transformer_tutorial.numpy.encoder_only import encoder_only

    params, tokenizer = _minilm()
    ids = tokenizer.encode_batch(sentences)  # (B, T), padded on the right with id 0
    # Small matrices: one BLAS thread is fastest and leaves the other cores free
    with threadpool_limits(1):
        _, weights = encoder_only(ids, params, return_weights=True)
    return np.stack(weights), [tokenizer.convert_ids_to_tokens(row) for row in ids]


# --8<-- [end:attention_weights]


def measured_heads() -> list[dict]:
    """The three heads the encoder-only page finds,
    scored by the NumPy encoder on that page's sentences."""
    probe_weights, probe_tokens = attention_weights(PROBE_SENTENCES)
    lengths = [sum(token != "[PAD]" for token in tokens) for tokens in probe_tokens]
    pronoun_weights, pronoun_tokens = attention_weights(
        [case.sentence for case in COREFERENCES]
    )
    to_antecedent, _ = pronoun_scores(pronoun_weights, pronoun_tokens, COREFERENCES)
    found = []
    for name, scores in [
        ("previous token", offset_scores(probe_weights, lengths, -1)),
        ("next token", offset_scores(probe_weights, lengths, +1)),
        ("pronoun to its noun", to_antecedent),
    ]:
        layer, head = np.unravel_index(np.argmax(scores), scores.shape)
        found.append(
            {
                "name": name,
                "layer": int(layer),
                "head": int(head),
                "score": round(float(scores.max()), 2),
            }
        )
    return found


def quantise(weights: np.ndarray) -> str:
    """Weights in [0, 1] as bytes round(w * 255), in base64."""
    return base64.b64encode(
        np.rint(weights * LEVELS).astype(np.uint8).tobytes()
    ).decode("ascii")


def dequantise(text: str, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of ``quantise``: within 0.5 / 255 of the weights that were stored."""
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(shape) / LEVELS


def _entry(
    group: str, sentence: str | Coreference, weights: np.ndarray, tokens: list[str]
) -> dict:
    """One sentence of the file. weights: (L, H, T, T)."""
    case = sentence if isinstance(sentence, Coreference) else None
    entry = {
        "text": case.sentence if case else sentence,
        "group": group,
        "tokens": tokens,
        "real": sum(token != "[PAD]" for token in tokens),
        "weights": quantise(weights),
    }
    if case is not None:
        antecedent, other = (
            word_position(tokens, case.antecedent),
            word_position(tokens, case.other),
        )
        entry["pronoun"] = word_position(
            tokens, case.pronoun, after=max(antecedent, other)
        )
        entry["antecedent"], entry["other"] = antecedent, other
    return entry


@functools.cache
def explorer_data() -> dict:
    """The explorer's file as a dictionary: the model's sizes, the
    measured heads and, for every sentence, its tokens and every head's
    weights (``weights``: (L, H, T, T) bytes, base64, from ``quantise``)."""
    params, _ = _minilm()
    sentences = []
    for group in EXPLORER_GROUPS:
        texts = [
            s.sentence if isinstance(s, Coreference) else s for s in group.sentences
        ]
        if group.padded:
            weights, tokens = attention_weights(texts)
            sentences += [
                _entry(group.title, s, weights[:, b], tokens[b])
                for b, s in enumerate(group.sentences)
            ]
        else:
            for sentence, text in zip(group.sentences, texts, strict=True):
                weights, (tokens,) = attention_weights([text])
                sentences.append(_entry(group.title, sentence, weights[:, 0], tokens))
    return {
        "model": "all-MiniLM-L6-v2",
        "layers": params.config.num_layers,
        "heads": params.config.num_heads,
        "levels": LEVELS,
        "measured": measured_heads(),
        "sentences": sentences,
    }
