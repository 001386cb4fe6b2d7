"""Text for the small language models of the site: a character tokenizer, and a corpus made of the site's pages.

The corpus is the prose of the site's own Markdown pages, so that a model trained on it learns to babble about attention
from text this project wrote. It ships with the package as ``corpus.txt`` (``load_corpus``), made by ``site_corpus``
from the pages of one version of the site: a fixed text, so that the models trained on it, and the numbers the pages
print about them, do not change each time a page is edited. Framework-free.

Make it again from a clone of the repository with::

    python -c "from transformer_tutorial.data.text import *; write_corpus(site_corpus('docs'))"
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from transformer_tutorial.checks import check_positive_int, format_shape

# A fenced code block (``` or ~~~, at any indentation, up to the matching closing fence), an HTML comment, and a
# line that is only an HTML tag or a snippet include.
_FENCE = re.compile(
    r"^([ \t]*)(`{3,}|~{3,})[^\n]*\n.*?^\1\2[ \t]*$\n?", re.MULTILINE | re.DOTALL
)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MARKUP_LINE = re.compile(r"^[ \t]*(?:<[^\n]*>|--8<--[^\n]*)[ \t]*$\n?", re.MULTILINE)


# --8<-- [start:corpus]
def site_corpus(docs_dir: str | Path) -> str:
    """The prose of every Markdown page under ``docs_dir``, in path order.

    Pages are separated by a blank line. Code blocks, HTML and snippet includes are left out: the model should learn
    sentences, not code."""
    pages = sorted(Path(docs_dir).rglob("*.md"))
    if not pages:
        raise FileNotFoundError(f"no Markdown pages under {docs_dir}")
    texts = []
    for page in pages:
        text = _MARKUP_LINE.sub(
            "",
            _COMMENT.sub("", _FENCE.sub("", page.read_text(encoding="utf-8"))),
        )
        texts.append(re.sub(r"\n{3,}", "\n\n", text).strip())
    return "\n\n".join(texts) + "\n"


# --8<-- [end:corpus]


def load_corpus() -> str:
    """The corpus that ships with the package: the
    prose of the site's pages (``site_corpus``)."""
    return (
        resources.files(__package__).joinpath("corpus.txt").read_text(encoding="utf-8")
    )


def write_corpus(text: str) -> Path:
    """Replace the packaged corpus with ``text`` (for a
    maintainer, after the pages changed); returns its path."""
    destination = Path(str(resources.files(__package__))) / "corpus.txt"
    destination.write_text(text, encoding="utf-8")
    return destination


# The last tenth of the corpus: no model of the site trains on it
HELD_OUT_FRACTION = 0.1


def split_held_out(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(training ids, held-out ids): the first nine tenths of ``ids`` and the last tenth."""
    split = int((1 - HELD_OUT_FRACTION) * len(ids))
    return ids[:split], ids[split:]


def evaluation_windows(
    ids: np.ndarray,
    length: int,
    seen: np.ndarray | None = None,
    count: int | None = None,
) -> np.ndarray:
    """Consecutive, non-overlapping windows of ``length`` + 1 ids: (N, length + 1) int64.

    A window that occurs word for word in ``seen`` (the training ids) is left out: the site's pages repeat a few
    phrases, a link for example, so the held-out tenth can contain a copy of training text, and a model scored on
    it would be scored on what it read. ``count`` keeps the first ``count`` windows that remain.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1:
        raise ValueError(f"ids must be (N,), got shape {format_shape(ids.shape)}")
    check_positive_int("length", length)
    starts = range(0, len(ids) - length, length)
    windows = [ids[start : start + length + 1] for start in starts]
    if seen is not None:
        seen_bytes = _as_bytes(np.asarray(seen, dtype=np.int64))
        windows = [w for w in windows if not _occurs_in(_as_bytes(w), seen_bytes)]
    if count is not None:
        check_positive_int("count", count)
        windows = windows[:count]
    if not windows:
        raise ValueError(
            f"ids has {len(ids)} tokens: no window of length + 1 = {length + 1} is left"
        )
    return np.stack(windows)


def _as_bytes(ids: np.ndarray) -> bytes:
    return ids.astype("<u4").tobytes()


def _occurs_in(needle: bytes, haystack: bytes) -> bool:
    """Whether the ids of ``needle`` occur in those of ``haystack``, 4 bytes per id (a match must start on an id)."""
    start = haystack.find(needle)
    while start != -1 and start % 4:
        start = haystack.find(needle, start + 1)
    return start != -1


class CharTokenizer:
    """One token per character: the vocabulary
    is the sorted set of characters of a text.

    Examples:
        >>> tokenizer = CharTokenizer.from_text("attention")
        >>> tokenizer.vocabulary
        ['a', 'e', 'i', 'n', 'o', 't']
        >>> tokenizer.encode("tent").tolist()
        [5, 1, 3, 5]
        >>> tokenizer.decode([3, 4, 5, 1])
        'note'
    """

    def __init__(self, vocabulary: Sequence[str]) -> None:
        if len(set(vocabulary)) != len(vocabulary) or any(
            len(char) != 1 for char in vocabulary
        ):
            raise ValueError("vocabulary must be distinct single characters")
        self.vocabulary = list(vocabulary)
        self.ids = {char: index for index, char in enumerate(self.vocabulary)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer whose vocabulary is every character that occurs in ``text``."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        """V, the vocabulary size."""
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text``: (len(text),) int64.

        Raises:
            ValueError: a character is not in the vocabulary.
        """
        unknown = sorted(set(text) - self.ids.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown}")
        return np.array([self.ids[char] for char in text], dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """The text of a sequence of ids."""
        return "".join(self.vocabulary[int(index)] for index in ids)


def character_corpus() -> tuple[CharTokenizer, np.ndarray, np.ndarray]:
    """The packaged corpus, one id per character: the tokenizer, the training ids (the first nine tenths) and the
    held-out ids (the last tenth)."""
    text = load_corpus()
    tokenizer = CharTokenizer.from_text(text)
    return tokenizer, *split_held_out(tokenizer.encode(text))
