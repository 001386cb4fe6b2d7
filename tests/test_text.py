"""The character tokenizer and the corpus made of the site's own pages."""

from __future__ import annotations

import numpy as np
import pytest
from project import ROOT

from transformer_tutorial.data.text import CharTokenizer, site_corpus

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
