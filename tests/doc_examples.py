"""Find and run the Python examples on the site's Markdown pages, and the doctests in ``src/``.

The rules, which the README repeats for page authors:

* A fence whose info string starts with ``python``, ``py`` or ``pycon`` is a Python block, with or without
  Material attributes (``python title="mask.py"``), at any indentation: inside content tabs, admonitions and
  collapsible blocks too.
* A block whose first line starts with ``>>>`` is a session: each statement runs and what it prints must match
  the lines below it. Any other block runs as a script.
* A block that holds only ``--8<--`` lines includes code from ``src/``. The page shows that code; it is tested
  by the unit tests and doctests of ``src/``, so it is not run here.
* A block right after ``<!-- skip-example: reason -->`` is not run. The reason is required.
* A page's blocks run top to bottom in one namespace, as if a reader pasted them into one session. A page with
  NumPy | PyTorch content tabs is read twice, once through each tab, because a reader follows one of them:
  the blocks outside those tabs run both times.
"""

from __future__ import annotations

import doctest
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sybil import Document, Region, Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.abstract import DocTestStringParser
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer
from sybil.parsers.rest import DocTestParser

# The tab labels a reader chooses between; every other tab is read on both paths.
FRAMEWORK_TABS = ("NumPy", "PyTorch")

DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# After the opening backticks: the language, then nothing or attributes separated by white space.
PYTHON_INFO = re.compile(
    r"(?P<language>python|pycon|py)(?:[ \t]+(?P<attributes>[^\n]*))?[ \t]*$\n",
    re.MULTILINE,
)
# An opening Python fence on a line of its own, for counting blocks independently of Sybil's lexer.
PYTHON_FENCE_LINE = re.compile(
    r"^[ \t]*(?:`{3,}|~{3,})[ \t]*(?:python|pycon|py)(?:[ \t]|$)"
)
SKIP_MARKER = re.compile(r"^[ \t]*<!--[ \t]*skip-example:(?P<reason>.*?)-->[ \t]*$")
TAB_LINE = re.compile(r'^[ \t]*===[+!]?[ \t]+"(?P<label>[^"]*)"')
SNIPPET_LINE = re.compile(r"^[ \t]*(?:;)?--8<--")


@dataclass(frozen=True)
class PythonBlock:
    """One Python fence on a page, and what the test harness does with it."""

    line: int  # 1-based line of the opening fence
    start: int  # character offsets of the whole fence, closing backticks included
    end: int
    source: str  # a Sybil Lexeme: it knows its line offset, which keeps tracebacks on the page's lines
    kind: str  # "run", "session", "include" or "skip"
    tab: str | None  # the framework tab that holds the block, if any


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def enclosing_framework_tab(lines: list[str], index: int) -> str | None:
    """The NumPy/PyTorch tab label that holds line ``index``, found by walking up to less-indented lines."""
    indent = _indent(lines[index])
    for line in reversed(lines[:index]):
        if not line.strip() or _indent(line) >= indent:
            continue
        indent = _indent(line)
        tab = TAB_LINE.match(line)
        if tab and tab["label"] in FRAMEWORK_TABS:
            return tab["label"]
        if indent == 0:
            return None
    return None


def _skip_reason(lines: list[str], index: int) -> str | None:
    """The reason given by a skip marker on the last non-blank line before line ``index``, if there is one."""
    for line in reversed(lines[:index]):
        if line.strip():
            marker = SKIP_MARKER.match(line)
            return None if marker is None else marker["reason"].strip()
    return None


def python_blocks(text: str, path: str = "<page>") -> Iterator[PythonBlock]:
    """Every Python fence in a Markdown text, in order, with what the harness does with it.

    Raises:
        ValueError: a skip marker gives no reason.
    """
    lines = text.splitlines()
    lexer = RawFencedCodeBlockLexer(info_pattern=PYTHON_INFO)
    document = Document(text, path)
    for region in lexer(document):
        line = text.count("\n", 0, region.start) + 1
        source = region.lexemes["source"]
        reason = _skip_reason(lines, line - 1)
        if reason == "":
            raise ValueError(f"{path}:{line}: a skip-example marker must give a reason")
        code_lines = [code for code in source.splitlines() if code.strip()]
        if reason is not None:
            kind = "skip"
        elif code_lines and all(SNIPPET_LINE.match(code) for code in code_lines):
            kind = "include"
        elif source.lstrip().startswith(">>>"):
            kind = "session"
        else:
            kind = "run"
        tab = enclosing_framework_tab(lines, line - 1)
        yield PythonBlock(line, region.start, region.end, source, kind, tab)


def count_python_fences(text: str) -> list[int]:
    """The line numbers of every opening Python fence, found by a plain line scan (no Sybil involved)."""
    return [
        number
        for number, line in enumerate(text.splitlines(), 1)
        if PYTHON_FENCE_LINE.match(line)
    ]


class MarkdownExamples:
    """A Sybil parser for the Python blocks of a page, read through one framework tab.

    Args:
        reading: The framework tab this pass reads (``"NumPy"`` or ``"PyTorch"``); blocks inside the other
            framework tab are left out. ``only_if_tabbed`` skips pages that have no framework tab at all, so
            that a page without tabs runs once, not twice.
    """

    def __init__(self, reading: str, only_if_tabbed: bool = False) -> None:
        self.reading = reading
        self.only_if_tabbed = only_if_tabbed
        self.run = PythonEvaluator()
        self.session = DocTestStringParser(DocTestEvaluator(DOCTEST_FLAGS))

    def __call__(self, document: Document) -> Iterable[Region]:
        blocks = list(python_blocks(document.text, document.path))
        if self.only_if_tabbed and not any(block.tab for block in blocks):
            return
        for block in blocks:
            if block.tab not in (None, self.reading) or block.kind in (
                "skip",
                "include",
            ):
                continue
            region = Region(block.start, block.end, block.source, self.run)
            if block.kind == "run":
                yield region
                continue
            # A session: one region per statement, placed where the statement stands on the page.
            for statement in self.session(region.parsed, document.path):
                statement.adjust(region, region.parsed)
                yield statement


def make_sybils(docs: Path, src: Path) -> list[Sybil]:
    """The Sybil configurations of the project: pages read through each tab, and docstrings in ``src``."""
    return [
        Sybil(
            parsers=[MarkdownExamples("NumPy")],
            path=str(docs),
            patterns=["*.md"],
            name="numpy-tab",
        ),
        Sybil(
            parsers=[MarkdownExamples("PyTorch", only_if_tabbed=True)],
            path=str(docs),
            patterns=["*.md"],
            name="pytorch-tab",
        ),
        Sybil(
            parsers=[DocTestParser(DOCTEST_FLAGS)],
            path=str(src),
            patterns=["*.py"],
            name="docstring",
        ),
    ]
