"""BERT's tokenizer in plain Python: clean and split the text (the "basic" tokenizer), then WordPiece.

It reads a BERT ``vocab.txt`` (one token a line; the line number is the id) and gives the ids that the checkpoint's own
tokenizer gives: the tests compare it with ids produced by the ``tokenizers`` library on the all-MiniLM-L6-v2
vocabulary. Framework-free: it returns NumPy arrays of ids.

The steps, for an uncased model:

1. Special tokens written in the text (``[CLS]``, ``[SEP]``, ``[MASK]``, …) are kept whole.
2. Cleaning: control characters are dropped and every kind of white space becomes a plain space.
3. Chinese, Japanese and Korean ideographs get a space on each side, so that each becomes a word.
4. Lower case, and accents removed (Unicode NFD, then the combining marks dropped): "Café" -> "cafe".
5. Split on white space, and cut every punctuation character out as a word of its own.
6. WordPiece: each word is cut, greedily from the left, into the longest pieces found in the vocabulary; pieces
   after the first carry the prefix ``##``. A word that cannot be cut this way becomes ``[UNK]`` as a whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from transformer_tutorial.checks import check_positive_int

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    if char in "\t\n\r":  # white space, not control
        return False
    return unicodedata.category(char).startswith("C")


def _is_punctuation(char: str) -> bool:
    """ASCII symbols such as ``$``, ``+`` and ``^`` count
    as punctuation too, though Unicode calls them symbols."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_ideograph(code: int) -> bool:
    """The CJK Unified Ideographs blocks, the ones
    BERT's tokenizer splits into single characters."""
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def basic_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Steps 2 to 5: clean the text, space out ideographs,
    lower-case and strip accents, split into words.

    Examples:
        >>> basic_tokenize("Café-au-lait, s'il vous plaît!")
        ['cafe', '-', 'au', '-', 'lait', ',', 's', "'", 'il', 'vous', 'plait', '!']
    """
    cleaned = []
    for char in text:
        if char in "\x00\ufffd" or _is_control(char):
            continue
        if _is_ideograph(ord(char)):
            cleaned.append(f" {char} ")
        else:
            cleaned.append(" " if _is_whitespace(char) else char)
    text = "".join(cleaned)
    if lowercase:
        # "é" -> "e" followed by a combining accent
        decomposed = unicodedata.normalize("NFD", text)
        text = "".join(
            char for char in decomposed if unicodedata.category(char) != "Mn"
        ).lower()
    words = []
    for chunk in text.split():
        word = ""
        for char in chunk:
            if _is_punctuation(char):
                words.extend([word, char] if word else [char])
                word = ""
            else:
                word += char
        if word:
            words.append(word)
    return words


class WordPieceTokenizer:
    """BERT's uncased tokenizer over a fixed vocabulary.

    Args:
        vocabulary: The tokens in id order (line i of ``vocab.txt`` is id i). Continuation pieces start with ``##``.
        lowercase: Lower-case and strip accents (an uncased model).
        max_chars_per_word: Longer words become ``[UNK]`` without trying to cut them.

    Examples:
        >>> tokenizer = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!"])
        >>> tokenizer.tokenize("Unaffable! Unable, unknown")
        ['un', '##aff', '##able', '!', 'un', '##able', '[UNK]', '[UNK]']
        >>> tokenizer.encode("Unaffable!").tolist()
        [2, 5, 6, 7, 8, 3]
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        lowercase: bool = True,
        max_chars_per_word: int = 100,
    ) -> None:
        check_positive_int("max_chars_per_word", max_chars_per_word)
        self.vocabulary = list(vocabulary)
        self.ids = {token: index for index, token in enumerate(self.vocabulary)}
        missing = [token for token in SPECIAL_TOKENS if token not in self.ids]
        if missing:
            raise ValueError(f"vocabulary lacks the special tokens {missing}")
        self.lowercase = lowercase
        self.max_chars_per_word = max_chars_per_word
        self.pad_id, self.unk_id = self.ids["[PAD]"], self.ids["[UNK]"]
        self.cls_id, self.sep_id = self.ids["[CLS]"], self.ids["[SEP]"]
        self._special = re.compile(
            "(" + "|".join(re.escape(token) for token in SPECIAL_TOKENS) + ")"
        )

    @classmethod
    def from_file(cls, path: str | Path, lowercase: bool = True) -> WordPieceTokenizer:
        """Read a ``vocab.txt``: one token a line, in id order."""
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the final newline ends the last line; it does not start another token
        return cls(lines, lowercase)

    # --8<-- [start:wordpiece]
    def wordpiece(self, word: str) -> list[str]:
        """Step 6: cut one word into the longest vocabulary
        pieces, left to right; ``[UNK]`` if that fails.
        """
        if len(word) > self.max_chars_per_word:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            # try the longest candidate first, then shorten it by one character
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    break
                end -= 1
            # not even one character matched: the whole word is unknown
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    # --8<-- [end:wordpiece]

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text``, without ``[CLS]`` and
        ``[SEP]``; special tokens written in the text stay whole."""
        tokens = []
        for part in self._special.split(text):
            if part in SPECIAL_TOKENS:
                tokens.append(part)
                continue
            for word in basic_tokenize(part, self.lowercase):
                tokens.extend(self.wordpiece(word))
        return tokens

    def encode(self, text: str, max_length: int | None = None) -> np.ndarray:
        """Token ids of ``[CLS] text [SEP]``: an int64 array,
        cut to ``max_length`` ids (``[SEP]`` kept last)."""
        ids = [self.ids[token] for token in self.tokenize(text)]
        if max_length is not None:
            check_positive_int("max_length", max_length)
            if max_length < 2:
                raise ValueError(
                    f"max_length must leave room for [CLS] and [SEP], got {max_length}"
                )
            ids = ids[: max_length - 2]
        return np.array([self.cls_id, *ids, self.sep_id], dtype=np.int64)

    def encode_batch(
        self, texts: Sequence[str], max_length: int | None = None
    ) -> np.ndarray:
        """(B, T) int64 ids of several texts, padded on
        the right with ``[PAD]`` to the longest one.

        Examples:
            >>> tokenizer = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"])
            >>> tokenizer.encode_batch(["a b a", "b"]).tolist()
            [[2, 5, 6, 5, 3], [2, 6, 3, 0, 0]]
        """
        if isinstance(texts, str):
            raise TypeError(
                "texts must be a sequence of strings, got one str; wrap it in a list"
            )
        encoded = [self.encode(text, max_length) for text in texts]
        length = max((len(ids) for ids in encoded), default=0)
        batch = np.full((len(encoded), length), self.pad_id, dtype=np.int64)
        for row, ids in enumerate(encoded):
            batch[row, : len(ids)] = ids
        return batch

    def convert_ids_to_tokens(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        """The vocabulary entries of ``ids``."""
        return [self.vocabulary[int(index)] for index in ids]
