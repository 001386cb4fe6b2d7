"""The stored measurement of vocabulary size against length is what the measuring code gives on the corpus."""

from __future__ import annotations

from transformer_tutorial import results
from transformer_tutorial.experiments.tokenization import RESULT, corpus, measure


def test_the_stored_measurement_is_reproduced():
    assert RESULT == "tokenization"
    stored = results.load("tokenization")
    # the cheap rows: characters, the smallest BPE, words
    measured = measure(corpus(), bpe_sizes=(256,))
    rows = {row["tokenizer"]: row for row in stored["rows"]}
    assert [rows[row["tokenizer"]] for row in measured["rows"]] == measured["rows"]
    assert (
        stored["characters"] == measured["characters"]
        and stored["last_tenth"] == measured["last_tenth"]
    )
    lengths = [row["tokens"] for row in stored["rows"]]
    # a larger vocabulary never gave a longer text here
    assert lengths == sorted(lengths, reverse=True)


def test_the_measurement_on_a_small_text():
    text = "the cat sat on the mat. the cat ran.\n" * 3
    result = measure(text, bpe_sizes=(20,))
    rows = {row["tokenizer"]: row for row in result["rows"]}
    assert rows["characters"] == {
        "tokenizer": "characters",
        "vocab_size": len(set(text)),
        "tokens": len(text),
    }
    assert rows["words"]["vocab_size"] == len(
        {"the", " cat", " sat", " on", " the", " mat", ".", " ran", "\n"}
    )
    assert rows["BPE 20"]["vocab_size"] == 20 and rows["words"]["tokens"] < rows[
        "BPE 20"
    ]["tokens"] < len(text)
