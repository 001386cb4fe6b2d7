"""What the attention heads of a real encoder do, measured: all-MiniLM-L6-v2 on sentences written for this site.

For every head (layer, head) three scores, each an average over many sentences:

* previous token: the weight a word gives to the token just before it;
* next token: the weight a word gives to the token just after it;
* pronoun to antecedent: the weight a pronoun ("it", "she", "he") gives to the noun it stands for, in sentences
  that have a second noun it does not stand for (whose weight is measured too, for comparison); and the share of
  sentences in which a head gives the antecedent more weight than the other noun. There are two groups of
  sentences: in ``COREFERENCES`` the antecedent is the first noun, the subject; in ``SECOND_NOUN_COREFERENCES``
  it is the second noun, the object, which also stands closer to the pronoun. A head that only looked at the
  subject, or only at the nearer noun, would do well on one group and badly on the other.

The scores are NumPy functions of attention weights; ``measure_minilm_heads`` runs the model (our PyTorch
``EncoderOnly``, imported when called) to get them, once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Thirty ordinary sentences of different shapes, for the previous-token and next-token scores.
PROBE_SENTENCES = [
    "Rain fell on the quiet town all night.",
    "She opened the window and let the cold air in.",
    "Our team shipped the new release two days early.",
    "The museum closes at five on Sundays.",
    "Please send me the report before the meeting.",
    "A small boat drifted slowly across the lake.",
    "He learned to play the violin when he was seven.",
    "The recipe calls for butter, sugar and three eggs.",
    "Scientists measured the temperature of the ocean floor.",
    "My brother moved to a flat near the station.",
    "The library lends laptops to students for a week.",
    "Heavy traffic delayed the bus by twenty minutes.",
    "The children built a sandcastle on the beach.",
    "Can you explain how the engine works?",
    "The committee approved the budget after a long debate.",
    "Fresh bread smells wonderful in the morning.",
    "The old bridge was repaired last summer.",
    "We watched the sun set behind the mountains.",
    "The software crashed whenever the file was too large.",
    "A loud noise woke the dog in the middle of the night.",
    "The teacher asked everyone to read the first chapter.",
    "Prices in the market rose sharply this year.",
    "The garden is full of roses and tall sunflowers.",
    "Two trains left the city at the same time.",
    "The doctor told him to rest for a few days.",
    "Birds migrate south when the weather turns cold.",
    "The painting was sold for a surprising amount.",
    "I lost my keys somewhere between the office and home.",
    "The model reads every word of the sentence at once.",
    "Snow covered the fields and the roads were closed.",
]

ANIMAL_SENTENCE = "The animal didn't cross the street because it was too tired."


@dataclass(frozen=True)
class Coreference:
    """A sentence whose ``pronoun`` stands for ``antecedent``,
    with ``other``, a noun it does not stand for."""

    sentence: str
    pronoun: str
    antecedent: str
    other: str


# Twelve sentences in which a pronoun refers to the first of two nouns; each word named is a single token.
COREFERENCES = [
    Coreference(ANIMAL_SENTENCE, "it", "animal", "street"),
    Coreference(
        "The dog ignored the ball because it was too sleepy.", "it", "dog", "ball"
    ),
    Coreference(
        "The cat knocked over the vase because it was bored.", "it", "cat", "vase"
    ),
    Coreference(
        "The bird left the nest when it was ready to fly.", "it", "bird", "nest"
    ),
    Coreference(
        "The baby dropped the spoon because it was tired.", "it", "baby", "spoon"
    ),
    Coreference(
        "The horse jumped over the fence because it was frightened.",
        "it",
        "horse",
        "fence",
    ),
    Coreference(
        "The robot lifted the box because it was told to.", "it", "robot", "box"
    ),
    Coreference(
        "The child broke the toy because she was angry.", "she", "child", "toy"
    ),
    Coreference(
        "The farmer sold the tractor because he needed money.",
        "he",
        "farmer",
        "tractor",
    ),
    Coreference(
        "The woman repaired the bicycle after she found the tools.",
        "she",
        "woman",
        "bicycle",
    ),
    Coreference(
        "The storm destroyed the barn because it was so strong.", "it", "storm", "barn"
    ),
    Coreference(
        "The pilot landed the plane although he was exhausted.", "he", "pilot", "plane"
    ),
]

# Twelve sentences in which the pronoun refers to the second noun, the object, nearer to the pronoun.
SECOND_NOUN_COREFERENCES = [
    Coreference(
        "The dog chased the ball because it was rolling away.", "it", "ball", "dog"
    ),
    Coreference(
        "The boy dropped the glass because it was slippery.", "it", "glass", "boy"
    ),
    Coreference("The cat ignored the toy because it was broken.", "it", "toy", "cat"),
    Coreference(
        "The girl returned the book because it was damaged.", "it", "book", "girl"
    ),
    Coreference(
        "The chef threw away the fish because it smelled bad.", "it", "fish", "chef"
    ),
    Coreference("The man sold the car because it was too old.", "it", "car", "man"),
    Coreference(
        "The student replaced the lamp because it was flickering.",
        "it",
        "lamp",
        "student",
    ),
    Coreference(
        "The woman watered the plant because it looked dry.", "it", "plant", "woman"
    ),
    Coreference(
        "The farmer fixed the fence because it was falling down.",
        "it",
        "fence",
        "farmer",
    ),
    Coreference(
        "The baby grabbed the spoon because it was shiny.", "it", "spoon", "baby"
    ),
    Coreference(
        "The pilot checked the engine because it made a strange noise.",
        "it",
        "engine",
        "pilot",
    ),
    Coreference(
        "The driver stopped the truck because it was overheating.",
        "it",
        "truck",
        "driver",
    ),
]


# --8<-- [start:scores]
def offset_scores(
    weights: np.ndarray,
    lengths: Sequence[int],
    offset: int,
) -> np.ndarray:
    """The average weight from each word to the token
    ``offset`` places away (-1: previous, +1: next), per head.

    Args:
        weights: (L, B, H, T, T) attention weights of B padded sentences, L layers, H heads.
        lengths: The number of real tokens of each sentence, [CLS] and [SEP] included.
        offset: -1 for the previous token, +1 for the next one.

    Returns:
        (L, H): for each head, the mean over every word (every real token but [CLS] and [SEP]) of every sentence.
    """
    picked = []
    for b, n in enumerate(lengths):
        queries = np.arange(1, n - 1)  # the words, between [CLS] and [SEP]
        # (words, L, H): NumPy puts them first
        picked.append(weights[:, b, :, queries, queries + offset])
    return np.concatenate(picked).mean(axis=0)


def word_position(tokens: Sequence[str], word: str, after: int = -1) -> int:
    """The position of the first token equal to ``word`` after position ``after``."""
    for position in range(after + 1, len(tokens)):
        if tokens[position] == word:
            return position
    raise ValueError(
        f"{word!r} is not a token of {list(tokens)} after position {after}",
    )


def pronoun_scores(
    weights: np.ndarray,
    tokens: Sequence[Sequence[str]],
    cases: Sequence[Coreference],
) -> tuple[np.ndarray, np.ndarray]:
    """The average weight from each pronoun to its
    antecedent, and to the other noun, per head.

    Args:
        weights: (L, B, H, T, T) attention weights of the B sentences of ``cases``, padded.
        tokens: The tokens of each sentence.
        cases: What each pronoun stands for.

    Returns:
        ``(to_antecedent, to_other)``, each (L, H).
    """
    to_antecedent, to_other = [], []
    for b, (case, words) in enumerate(zip(cases, tokens, strict=True)):
        antecedent = word_position(words, case.antecedent)
        other = word_position(words, case.other)
        pronoun = word_position(words, case.pronoun, after=max(antecedent, other))
        to_antecedent.append(weights[:, b, :, pronoun, antecedent])
        to_other.append(weights[:, b, :, pronoun, other])
    return np.mean(to_antecedent, axis=0), np.mean(to_other, axis=0)


def pronoun_accuracy(
    weights: np.ndarray, tokens: Sequence[Sequence[str]], cases: Sequence[Coreference]
) -> np.ndarray:
    """(L, H): for each head, the share of sentences whose
    pronoun gives its antecedent more weight than the other noun."""
    correct = []
    for b, (case, words) in enumerate(zip(cases, tokens, strict=True)):
        antecedent = word_position(words, case.antecedent)
        other = word_position(words, case.other)
        pronoun = word_position(words, case.pronoun, after=max(antecedent, other))
        correct.append(
            weights[:, b, :, pronoun, antecedent] > weights[:, b, :, pronoun, other]
        )
    return np.mean(correct, axis=0)


# --8<-- [end:scores]


def prefers_first_noun(
    weights: np.ndarray, tokens: Sequence[Sequence[str]], cases: Sequence[Coreference]
) -> np.ndarray:
    """(B, L, H): whether each sentence's pronoun gives the noun
    that comes first in the sentence more weight than the one that
    comes second, per head, whichever of the two it refers to.

    On pairs of sentences that differ only in the words that decide the referent, a head that follows the referent
    changes its preference within each pair; a head that does not keeps it.
    """
    preferences = []
    for b, (case, words) in enumerate(zip(cases, tokens, strict=True)):
        antecedent = word_position(words, case.antecedent)
        other = word_position(words, case.other)
        first, second = sorted((antecedent, other))
        pronoun = word_position(words, case.pronoun, after=second)
        preferences.append(
            weights[:, b, :, pronoun, first] > weights[:, b, :, pronoun, second]
        )
    return np.array(preferences)


@dataclass(frozen=True)
class HeadFindings:
    """The scores of every head, (L, H) each, the best head of each score as
    (layer, head), and the weights of every head on ``ANIMAL_SENTENCE`` (L, H, T,
    T) with its tokens. ``accuracy_first`` and ``accuracy_second`` are the shares
    of sentences of each group (antecedent first, antecedent second) a head gets
    right; the best pronoun head is chosen on the first group's average weights."""

    previous: np.ndarray
    next: np.ndarray
    to_antecedent: np.ndarray
    to_other: np.ndarray
    accuracy_first: np.ndarray
    accuracy_second: np.ndarray
    best_previous: tuple[int, int]
    best_next: tuple[int, int]
    best_pronoun: tuple[int, int]
    animal_tokens: list[str]
    animal_weights: np.ndarray


def _best(scores: np.ndarray) -> tuple[int, int]:
    layer, head = np.unravel_index(np.argmax(scores), scores.shape)
    return int(layer), int(head)


@functools.cache
def measure_minilm_heads() -> HeadFindings:
    """Run all-MiniLM-L6-v2 (through our PyTorch ``EncoderOnly``)
    on the sentences above and score every head.

    Needs the model package (see ``transformer_tutorial.data.pretrained``). Computed once per process.
    """
    import torch

    from transformer_tutorial.data.pretrained import load_minilm
    from transformer_tutorial.torch.encoder_only import EncoderOnly

    pretrained = load_minilm()
    tokenizer = pretrained.tokenizer
    model = EncoderOnly.from_bert(pretrained.weights, pretrained.config)

    def attention(sentences: list[str]) -> tuple[np.ndarray, list[list[str]]]:
        ids = tokenizer.encode_batch(sentences)  # (B, T), padded
        with torch.no_grad():
            _, weights = model(torch.from_numpy(ids), return_weights=True)
        tokens = [
            tokenizer.convert_ids_to_tokens(row[row != tokenizer.pad_id]) for row in ids
        ]
        return torch.stack(weights).double().numpy(), tokens  # (L, B, H, T, T)

    probe_weights, probe_tokens = attention(PROBE_SENTENCES)
    lengths = [len(tokens) for tokens in probe_tokens]
    previous = offset_scores(probe_weights, lengths, -1)
    following = offset_scores(probe_weights, lengths, +1)
    pronoun_weights, pronoun_tokens = attention(
        [case.sentence for case in COREFERENCES]
    )
    to_antecedent, to_other = pronoun_scores(
        pronoun_weights, pronoun_tokens, COREFERENCES
    )
    second_weights, second_tokens = attention(
        [case.sentence for case in SECOND_NOUN_COREFERENCES]
    )
    animal_weights, (animal_tokens,) = attention([ANIMAL_SENTENCE])
    return HeadFindings(
        previous=previous,
        next=following,
        to_antecedent=to_antecedent,
        to_other=to_other,
        accuracy_first=pronoun_accuracy(pronoun_weights, pronoun_tokens, COREFERENCES),
        accuracy_second=pronoun_accuracy(
            second_weights, second_tokens, SECOND_NOUN_COREFERENCES
        ),
        best_previous=_best(previous),
        best_next=_best(following),
        best_pronoun=_best(to_antecedent),
        animal_tokens=animal_tokens,
        animal_weights=animal_weights[:, 0],
    )
