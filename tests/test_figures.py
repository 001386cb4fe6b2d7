"""The site's figures: each one is drawn, used by a page, and the same from one build to the next."""

import re

import pytest
from project import ROOT

from transformer_tutorial.figures import FIGURES
from transformer_tutorial.plotting import svg_bytes

PAGE_TEXT = "\n".join(page.read_text(encoding="utf-8") for page in (ROOT / "docs").rglob("*.md"))
LINKED = set(re.findall(r"\]\((?:\.\./)*figures/([\w-]+)\.svg\)", PAGE_TEXT))


def test_every_figure_is_shown_on_a_page_and_every_shown_figure_is_drawn():
    assert set(FIGURES) == LINKED


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_a_figure_is_reproducible(name):
    first, second = svg_bytes(FIGURES[name]()), svg_bytes(FIGURES[name]())
    assert first.startswith(b"<?xml") and b"<svg" in first
    assert first == second


def test_every_figure_has_alt_text():
    for match in re.finditer(r"!\[(?P<alt>[^\]]*)\]\((?:\.\./)*figures/", PAGE_TEXT):
        assert len(match["alt"].split()) >= 8, f"alt text too short: {match['alt']!r}"
