"""The byte-pair encoding written for reading: the merges and ids of the ``tokenizers`` library on the site's own
text, every merge the most frequent pair of its step, lossless round trips, and clear errors."""

from __future__ import annotations

import json
import random
from collections import Counter
from itertools import pairwise

import pytest

from transformer_tutorial.data.bpe import (
    BPETokenizer,
    split_words,
    tokenizers_reference,
    train_bpe,
)
from transformer_tutorial.data.text import load_corpus

CORPUS = load_corpus()  # the prose of the site's pages, as packaged


def library_vocabulary_and_merges(tokenizer) -> tuple[list[str], list[tuple[str, str]]]:
    model = json.loads(tokenizer.to_str())["model"]
    vocabulary = sorted(model["vocab"], key=model["vocab"].get)
    assert [model["vocab"][token] for token in vocabulary] == list(
        range(len(vocabulary))
    )
    return vocabulary, [tuple(pair) for pair in model["merges"]]


@pytest.fixture(scope="module")
def trained():
    """Our trainer and the library, both at 1000 tokens on the site's text (about 2 s and 0.1 s)."""
    return BPETokenizer.train(CORPUS, 1000), tokenizers_reference(CORPUS, 1000)


def test_the_trainer_learns_the_merges_and_vocabulary_of_the_tokenizers_library(
    trained,
):
    ours, library = trained
    vocabulary, merges = library_vocabulary_and_merges(library)
    # a real vocabulary, not a few merges that any rule would agree on
    assert len(merges) > 800
    assert list(ours.ranks) == merges
    assert ours.vocabulary == vocabulary


def test_the_tokenizer_gives_the_ids_of_the_tokenizers_library(trained):
    ours, library = trained
    for text in (
        CORPUS,
        "Queries meet keys; unseen words like Zyxwvut still split into known pieces.",
    ):
        ids = ours.encode(text)
        assert ids == library.encode(text).ids
        assert ours.decode(ids) == library.decode(ids) == text
    # subwords: fewer tokens than characters
    assert len(ours.encode(CORPUS)) < len(CORPUS) / 2.5


def test_the_words_are_the_librarys_pre_tokens_and_join_back_into_the_text(trained):
    _, library = trained
    pieces = [piece for piece, _ in library.pre_tokenizer.pre_tokenize_str(CORPUS)]
    assert split_words(CORPUS) == pieces
    assert "".join(pieces) == CORPUS


def naive_pair_counts(segmentation: dict[str, list[str]], words: Counter) -> Counter:
    counts: Counter = Counter()
    for word, symbols in segmentation.items():
        for pair in pairwise(symbols):
            counts[pair] += words[word]
    return counts


def glue(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Merge ``pair`` left to right, written differently from the module (a stack; the glued symbol is longer
    than ``pair[0]``, so it never glues again)."""
    out: list[str] = []
    for symbol in symbols:
        if out and (out[-1], symbol) == pair:
            out[-1] += symbol
        else:
            out.append(symbol)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_merge_is_a_most_frequent_pair_and_ties_go_to_the_smallest_ids(seed):
    # Many ties and runs of one letter: random words over two letters. Replayed with a recount at every step.
    rng = random.Random(seed)
    text = " ".join(
        "".join(rng.choice("aab") for _ in range(rng.randint(1, 7))) for _ in range(300)
    )
    vocabulary, merges = train_bpe(text, 60)
    assert (vocabulary, merges) == library_vocabulary_and_merges(
        tokenizers_reference(text, 60)
    )
    words = Counter(split_words(text))
    segmentation = {word: list(word) for word in words}
    ids = {token: index for index, token in enumerate(vocabulary)}
    ties = 0
    for pair in merges:
        counts = naive_pair_counts(segmentation, words)
        best = max(counts.values())
        tied = sorted(
            (ids[a], ids[b]) for (a, b), count in counts.items() if count == best
        )
        assert counts[pair] == best and (ids[pair[0]], ids[pair[1]]) == tied[0]
        ties += len(tied) > 1
        segmentation = {
            word: glue(symbols, pair) for word, symbols in segmentation.items()
        }
    # the tie rule decided many steps, so a different rule would have failed this test
    assert ties > 5
    tokenizer = BPETokenizer(vocabulary, merges)
    assert [tokenizer.tokens(word) for word in words] == [
        segmentation[word] for word in words
    ]


def test_a_hand_worked_example():
    # "low" once, " lower" once, " lowest" once. Step 1: (l, o) and (o, w) both occur 3 times; l has the
    # smaller id. Then (lo, w) 3, then (" ", low) 2 ties with (low, e) 2 and " " has the smallest id.
    vocabulary, merges = train_bpe("low lower lowest", 12)
    assert vocabulary[:8] == [" ", "e", "l", "o", "r", "s", "t", "w"]
    assert merges == [("l", "o"), ("lo", "w"), (" ", "low"), (" low", "e")]


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="text is empty"):
        train_bpe("", 10)
    with pytest.raises(
        ValueError, match="vocab_size=3 is smaller than the 4 distinct characters"
    ):
        train_bpe("abcd", 3)
    tokenizer = BPETokenizer.train("abcd abcd", 8)
    with pytest.raises(
        ValueError, match=r"ids not in the vocabulary \(0 to 7\): \[-1, 8\]"
    ):
        tokenizer.decode([0, 8, -1])
    with pytest.raises(
        ValueError, match=r"characters not in the vocabulary: \['e', 'r', 'z'\]"
    ):
        tokenizer.encode("zebra")
