"""Byte-pair encoding written to be read: learn merges from a text, then encode and decode with them.

A subword vocabulary is learned, not designed. Start from the characters of a text; count every pair of neighbouring
symbols inside every word; glue the most frequent pair into one new symbol; repeat until the vocabulary has the size
asked for. Encoding a new text replays the learned merges, in the order they were learned. Plain Python (no NumPy, no
backend), and made to give the same merges and ids as the ``tokenizers`` library trained with the settings of
``tokenizers_reference`` (tests/test_bpe.py checks it on the site's text).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

# --8<-- [start:pretokenize]
# A word: letters and digits, or punctuation, each with the one space before it;
# or white space. Each character lands in one word: the words join back into the text.
WORD = r" ?\w+| ?[^\w\s]+|\s+"


def split_words(text: str) -> list[str]:
    """The words of ``text`` (merges never cross from one word into the next)."""
    return re.findall(WORD, text)


# --8<-- [end:pretokenize]


def _merge(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """``symbols`` with every occurrence of ``pair``,
    read left to right, glued into one symbol."""
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged


# --8<-- [start:train]
def train_bpe(text: str, vocab_size: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Learn a byte-pair encoding of ``text`` with ``vocab_size`` tokens.

    Returns:
        ``(vocabulary, merges)``: the tokens in id order (the sorted characters first, then each new token as it was
        made) and the merges in the order learned.

    Raises:
        ValueError: ``text`` is empty, or ``vocab_size`` is below its character count.
    """
    if not text:
        raise ValueError("text is empty: there is nothing to learn a vocabulary from")
    vocabulary = sorted(set(text))  # the characters: any text made of them encodes
    if vocab_size < len(vocabulary):
        count = len(vocabulary)
        raise ValueError(
            f"vocab_size={vocab_size} is smaller than the {count} distinct characters",
        )
    ids = {token: index for index, token in enumerate(vocabulary)}
    word_counts = Counter(split_words(text))
    words = [list(word) for word in word_counts]  # each word spelled in characters
    counts = list(word_counts.values())
    pair_counts: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], set[int]] = {}  # pair -> the words it may occur in
    for index, symbols in enumerate(words):
        for pair in pairwise(symbols):
            pair_counts[pair] += counts[index]
            where.setdefault(pair, set()).add(index)
    merges = []
    while len(vocabulary) < vocab_size and pair_counts:
        # The most frequent pair; among ties, the one with the smallest ids.
        best = max(pair_counts, key=lambda p: (pair_counts[p], -ids[p[0]], -ids[p[1]]))
        merges.append(best)
        token = best[0] + best[1]
        if token not in ids:  # two pairs may spell one token: it keeps its first id
            ids[token] = len(vocabulary)
            vocabulary.append(token)
        for index in sorted(where.pop(best)):  # rewrite the words holding it, recount
            for pair in pairwise(words[index]):
                pair_counts[pair] -= counts[index]
            words[index] = _merge(words[index], best)
            for pair in pairwise(words[index]):
                pair_counts[pair] += counts[index]
                where.setdefault(pair, set()).add(index)
        pair_counts = +pair_counts  # drop the pairs that no longer occur
    return vocabulary, merges


# --8<-- [end:train]


class BPETokenizer:
    """Encode text with learned merges and decode ids back to text.

    Examples:
        >>> tokenizer = BPETokenizer.train("low lower lowest", vocab_size=12)
        >>> tokenizer.vocabulary[-4:]
        ['lo', 'low', ' low', ' lowe']
        >>> tokenizer.tokens("lowest low")
        ['low', 'e', 's', 't', ' low']
        >>> tokenizer.decode(tokenizer.encode("lowest low"))
        'lowest low'
    """

    def __init__(
        self, vocabulary: Sequence[str], merges: Sequence[tuple[str, str]]
    ) -> None:
        self.vocabulary = list(vocabulary)
        self.ids = {token: index for index, token in enumerate(self.vocabulary)}
        # earlier merges come first
        self.ranks = {tuple(pair): rank for rank, pair in enumerate(merges)}

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        """The tokenizer learned from ``text`` by ``train_bpe``."""
        return cls(*train_bpe(text, vocab_size))

    def __len__(self) -> int:
        """V, the vocabulary size."""
        return len(self.vocabulary)

    # --8<-- [start:encode]
    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text``: each word in characters, then merged in order.

        Raises:
            ValueError: a character of ``text`` is not in the vocabulary.
        """
        unknown = sorted(set(text) - self.ids.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown}")
        tokens, never = [], len(self.ranks)  # never: past the rank of every merge
        for word in split_words(text):
            symbols = list(word)
            while len(symbols) > 1:
                pair = min(pairwise(symbols), key=lambda p: self.ranks.get(p, never))
                if pair not in self.ranks:
                    break  # no learned merge applies any more
                symbols = _merge(symbols, pair)
            tokens += symbols
        return tokens

    def encode(self, text: str) -> list[int]:
        """The ids of the tokens of ``text``."""
        return [self.ids[token] for token in self.tokens(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of a sequence of ids: their tokens, joined.

        Raises:
            ValueError: an id is not in ``range(len(self))``.
        """
        ids = [int(index) for index in ids]
        size = len(self.vocabulary)
        unknown = sorted({index for index in ids if not 0 <= index < size})
        if unknown:
            raise ValueError(f"ids not in the vocabulary (0 to {size - 1}): {unknown}")
        return "".join(self.vocabulary[index] for index in ids)

    # --8<-- [end:encode]


# --8<-- [start:reference]
def tokenizers_reference(text: str, vocab_size: int):
    """The ``tokenizers`` library's BPE trained on ``text`` as ``train_bpe`` trains:
    the same words (a ``Split`` pre-tokenizer on ``WORD``), no normalizer, no special
    or unknown token, no extra alphabet, every pair may merge (``min_frequency=0``)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(WORD), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()  # join the tokens as they are, no spaces
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=0,
        special_tokens=[],
        initial_alphabet=[],
        show_progress=False,
    )
    tokenizer.train_from_iterator([text], trainer)
    return tokenizer


# --8<-- [end:reference]
