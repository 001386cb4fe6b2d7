"""The site's figures: each one is used by a page, has alt text, and comes out the same from one build to the next.

The build draws every figure (``theme/hooks/render_figures.py``), so a figure whose code raises fails the site tests;
drawing each one again here would double the cost without checking anything more. What the build cannot see is
whether a figure is deterministic, which is checked on figures that draw random numbers and on stored data.
"""

import re

from figures import DATA_FIGURES, FIGURES
from figures.plotting import svg_bytes
from project import ROOT

from transformer_tutorial import results

PAGE_TEXT = "\n".join(
    page.read_text(encoding="utf-8") for page in (ROOT / "docs").rglob("*.md")
)
LINKED = set(re.findall(r"\]\((?:\.\./)*figures/([\w-]+)\.svg\)", PAGE_TEXT))


def test_every_figure_is_shown_on_a_page_and_every_shown_figure_is_drawn():
    assert set(FIGURES) | set(DATA_FIGURES) == LINKED


def test_a_figure_of_random_numbers_is_reproducible():
    first, second = (
        svg_bytes(FIGURES["multi-head-weights"]()),
        svg_bytes(FIGURES["multi-head-weights"]()),
    )
    assert first.startswith(b"<?xml") and b"<svg" in first
    assert first == second


def test_a_figure_of_stored_measurements_is_reproducible():
    draw, name = DATA_FIGURES["benchmark-ratios"]
    data = results.load(name)
    assert svg_bytes(draw(data)) == svg_bytes(draw(data))


def test_every_figure_has_alt_text():
    for match in re.finditer(r"!\[(?P<alt>[^\]]*)\]\((?:\.\./)*figures/", PAGE_TEXT):
        assert len(match["alt"].split()) >= 8, f"alt text too short: {match['alt']!r}"
