"""A sentence that states a measured figure is bound to the measurement: the rule of README's "Adding a page".

A page states the figure in its prose and, right after it, a collapsible ``??? note "How we know"`` box holds a
Python block that recomputes the figure from the stored result and asserts it, with the sentence as the
assertion's message (``claim = "..."``, then ``assert ..., claim``). Sybil runs the block with the page's other
examples, so re-measuring a result that no longer supports the sentence fails the suite and prints the sentence.

These tests keep the two halves together:

* every ``claim`` a box quotes is a sentence, or part of one, of the same page's prose, word for word, so that
  editing the prose without the box (or the box without the prose) fails;
* every box that holds code quotes at least one claim and asserts it (a box may also hold prose only: which
  test, which tolerance);
* the NumPy tab of every page imports nothing from PyTorch, which the prerequisites page promises.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from doc_examples import python_blocks

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md"))
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.py"))
BOX = re.compile(
    r'^(?P<indent>[ \t]*)\?\?\?\+?[ \t]+note[ \t]+"How we know"[ \t]*$', re.MULTILINE
)
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})", re.MULTILINE)
TORCH_IMPORT = re.compile(
    r"\b(import torch|from torch\b|transformer_tutorial\.torch\b)"
)


def prose(text: str) -> str:
    """The page without its fenced blocks, white space collapsed, as a reader would quote it."""
    kept, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            kept.append(line.strip())
    return " ".join(" ".join(kept).split())


def claims(source: str, name: str = "claim") -> list[str]:
    """Every string assigned to ``name`` (``claim``, the README's convention) in a block of Python source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name
            for target in node.targets
        ):
            found.append(ast.literal_eval(node.value))
    return found


def boxes(text: str) -> list[tuple[int, str]]:
    """(line, Python source) of every block inside a "How we know" box."""
    found = []
    blocks = list(python_blocks(text))
    for match in BOX.finditer(text):
        indent = len(match["indent"])
        start = match.end()
        # the box ends at the first non-blank line indented no deeper than its marker
        end = len(text)
        for line in re.finditer(r"^(?P<lead>[ \t]*)\S.*$", text[start:], re.MULTILINE):
            if len(line["lead"]) <= indent:
                end = start + line.start()
                break
        inside = [block for block in blocks if start <= block.start < end]
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, "\n".join(str(block.source) for block in inside)))
    return found


BOXES = [
    pytest.param(page, line, source, id=f"{page.relative_to(ROOT)}:{line}")
    for page in PAGES
    for line, source in boxes(page.read_text(encoding="utf-8"))
    if source.strip()  # a box of prose only (which test, which tolerance) has nothing to check
]


def test_the_rule_is_in_use():
    assert len(BOXES) >= 10


@pytest.mark.parametrize(("page", "line", "source"), BOXES)
def test_every_claim_a_box_asserts_is_in_the_pages_prose(page, line, source):
    quoted = claims(source)
    # Boxes written before the rule name their sentence ``sentence`` and may abridge it; they still assert one.
    assert quoted or claims(source, "sentence"), (
        f"{page.name}:{line}: the box's code asserts no claim"
    )
    assert "assert" in source
    text = prose(page.read_text(encoding="utf-8"))
    for claim in quoted:
        assert " ".join(claim.split()) in text, (
            f"{page.name}:{line}: the box asserts a sentence the page does not say: {claim!r}"
        )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_every_claim_a_notebook_asserts_is_in_its_markdown(notebook):
    text = notebook.read_text(encoding="utf-8")
    markdown = " ".join(
        line[1:].strip() for line in text.splitlines() if line.startswith("#")
    )
    markdown = " ".join(markdown.split())
    for claim in claims(text):
        assert " ".join(claim.split()) in markdown, (notebook.name, claim)


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_the_numpy_tab_never_imports_pytorch(page):
    for block in python_blocks(page.read_text(encoding="utf-8"), str(page)):
        if block.tab == "NumPy" and block.kind != "include":
            assert not TORCH_IMPORT.search(str(block.source)), (
                f"{page.name}:{block.line}: the NumPy tab uses PyTorch"
            )


def test_the_prose_extraction_finds_a_wrapped_sentence():
    page = 'Intro.\n\nThe LSTM wins 9 of\nthe 14 settings.\n\n```python\nclaim = "x"\n```\n'
    assert "The LSTM wins 9 of the 14 settings." in prose(page)
    assert 'claim = "x"' not in prose(page)
