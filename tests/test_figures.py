"""The site's figures: each one is drawn, used by a page, and the same from one build to the next."""

import json
import re

import pytest
from project import ROOT

from transformer_tutorial.figures import DATA_FIGURES, FIGURES
from transformer_tutorial.plotting import svg_bytes

PAGE_TEXT = "\n".join(page.read_text(encoding="utf-8") for page in (ROOT / "docs").rglob("*.md"))
LINKED = set(re.findall(r"\]\((?:\.\./)*figures/([\w-]+)\.svg\)", PAGE_TEXT))


def test_every_figure_is_shown_on_a_page_and_every_shown_figure_is_drawn():
    assert set(FIGURES) | set(DATA_FIGURES) == LINKED


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_a_figure_is_reproducible(name):
    first, second = svg_bytes(FIGURES[name]()), svg_bytes(FIGURES[name]())
    assert first.startswith(b"<?xml") and b"<svg" in first
    assert first == second


@pytest.mark.parametrize("name", sorted(DATA_FIGURES))
def test_a_figure_of_stored_measurements_reads_its_file(name):
    draw, data_path = DATA_FIGURES[name]
    data = json.loads((ROOT / "docs" / data_path).read_text(encoding="utf-8"))
    assert svg_bytes(draw(data)) == svg_bytes(draw(data))


def test_every_figure_has_alt_text():
    for match in re.finditer(r"!\[(?P<alt>[^\]]*)\]\((?:\.\./)*figures/", PAGE_TEXT):
        assert len(match["alt"].split()) >= 8, f"alt text too short: {match['alt']!r}"
