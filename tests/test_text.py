"""The character tokenizer and the corpus made of the site's own pages."""

from __future__ import annotations

import numpy as np
import pytest
from project import ROOT

from transformer_tutorial.data.text import (
    CharTokenizer,
    character_corpus,
    evaluation_windows,
    site_corpus,
)

PAGE = """# A page

Some prose about attention.

```python
import numpy as np  # code is left out
```

<!-- a comment is left out -->
<div class="figure" markdown="0">
--8<-- "docs/diagrams/a.svg"
</div>
    ~~~
    indented fence, left out too
    ~~~

More prose.
"""


def test_site_corpus_keeps_the_prose_of_every_page_in_path_order(tmp_path):
    (tmp_path / "b.md").write_text(PAGE, encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "z.md").write_text("First page.\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not Markdown", encoding="utf-8")
    assert (
        site_corpus(tmp_path)
        == "First page.\n\n# A page\n\nSome prose about attention.\n\nMore prose.\n"
    )


def test_site_corpus_needs_pages(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Markdown pages under"):
        site_corpus(tmp_path)


def test_the_site_corpus_is_prose():
    text = site_corpus(ROOT / "docs")
    assert len(text) > 20_000
    assert "```" not in text and "--8<--" not in text and "<!--" not in text
    assert "attention" in text


def test_char_tokenizer_round_trip():
    text = "Attention, executed: √d scaling!"
    tokenizer = CharTokenizer.from_text(text)
    assert len(tokenizer) == len(set(text))
    assert tokenizer.vocabulary == sorted(tokenizer.vocabulary)
    ids = tokenizer.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert tokenizer.decode(ids) == text


def test_char_tokenizer_refuses_unknown_characters_and_bad_vocabularies():
    tokenizer = CharTokenizer.from_text("abc")
    with pytest.raises(
        ValueError, match=r"characters not in the vocabulary: \['d', 'e'\]"
    ):
        tokenizer.encode("bead")
    with pytest.raises(
        ValueError, match="vocabulary must be distinct single characters"
    ):
        CharTokenizer(["a", "a"])
    with pytest.raises(
        ValueError, match="vocabulary must be distinct single characters"
    ):
        CharTokenizer(["ab"])


def test_evaluation_windows_leave_out_a_window_the_training_text_contains():
    held_out = np.arange(10, 23)  # windows of 4: 10-13, 13-16, 16-19, 19-22
    seen = np.array(
        [1, 2, 13, 14, 15, 16, 3]
    )  # holds the second window, and half of the third
    windows = evaluation_windows(held_out, 3)
    assert windows.tolist() == [
        [10, 11, 12, 13],
        [13, 14, 15, 16],
        [16, 17, 18, 19],
        [19, 20, 21, 22],
    ]
    kept = evaluation_windows(held_out, 3, seen=seen)
    assert kept.tolist() == [[10, 11, 12, 13], [16, 17, 18, 19], [19, 20, 21, 22]]
    assert (
        evaluation_windows(held_out, 3, seen=seen, count=2).tolist()
        == kept[:2].tolist()
    )


def test_a_match_must_start_on_an_id():
    """Ids are compared 4 bytes at a time: bytes that straddle two ids are not a match."""
    window = np.array([256, 1])
    shifted = b"\x07" + window.astype("<u4").tobytes() + b"\x00" * 3  # one byte off
    seen = np.frombuffer(shifted, dtype="<u4").astype(np.int64)
    assert seen.tolist() == [65543, 256, 0]  # no [256, 1] among the ids ...
    assert (
        window.astype("<u4").tobytes() in seen.astype("<u4").tobytes()
    )  # ... but in the bytes
    assert evaluation_windows(window, 1, seen=seen).tolist() == [[256, 1]]


def test_no_held_out_window_of_the_corpus_repeats_training_text():
    """Checked on the text itself, with Python's own substring search: at the context lengths of the site's
    models, every window kept is new, and only one window of 48 (a link) is left out."""
    tokenizer, train_ids, held_out = character_corpus()
    training_text = tokenizer.decode(train_ids)
    for length in (48, 64, 128, 256):
        every = evaluation_windows(held_out, length)
        kept = evaluation_windows(held_out, length, seen=train_ids)
        texts = [tokenizer.decode(window) for window in kept]
        assert not any(text in training_text for text in texts)
        dropped = [
            tokenizer.decode(w) for w in every if tokenizer.decode(w) not in texts
        ]
        assert len(dropped) == len(every) - len(kept)
        assert all(text in training_text for text in dropped)
        assert len(dropped) == (1 if length == 48 else 0)


def test_evaluation_windows_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"ids must be \(N,\)"):
        evaluation_windows(np.zeros((2, 3), dtype=np.int64), 2)
    with pytest.raises(ValueError, match="length must be at least 1"):
        evaluation_windows(np.arange(5), 0)
    with pytest.raises(ValueError, match="no window of length \\+ 1 = 6 is left"):
        evaluation_windows(np.arange(5), 5)
