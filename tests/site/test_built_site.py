"""The built site: its files, then the pages in a real browser (headless Chromium, driven by Playwright, on
127.0.0.1).

The site is built once per test run, in the background while the other tests run (the ``built_site`` fixture,
in ``tests/conftest.py``). The build executes every notebook: a cell that raises fails it. Without Chromium
the browser tests skip locally (``apt-get install chromium`` enables them); with ``CI=true`` a missing Chromium
is a failure, so CI can never pass by skipping them. Each page is opened once per view (a colour scheme at a
width), and that one visit collects every measurement the tests below read (tests/site/visits.py).
"""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
from browsing import BASE_PATH, PageWatcher
from project import ROOT
from visits import SEARCHES, VIEWS

__all__ = ["PageWatcher"]  # tests/site/test_interactive_pages.py imports it from here

NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.py"))


class ResourceLinks(HTMLParser):
    """Collect the addresses a browser fetches by itself: scripts, styles, images, frames, media, fonts."""

    FETCHED: ClassVar = {
        "script": "src",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "audio": "src",
        "video": "src",
    }

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "link" and attributes.get("rel") in (
            "stylesheet",
            "preconnect",
            "preload",
            "icon",
            "manifest",
        ):
            self.addresses.append(attributes.get("href") or "")
        elif tag in self.FETCHED and attributes.get(self.FETCHED[tag]) is not None:
            self.addresses.append(attributes[self.FETCHED[tag]])


def test_every_page_and_notebook_is_built(built_site):
    assert (built_site / "index.html").is_file()
    assert (built_site / "404.html").is_file()
    for notebook in NOTEBOOKS:
        page = built_site / "notebooks" / notebook.stem / "index.html"
        assert page.is_file(), f"no page for {notebook.name}"
        assert "jp-OutputArea-output" in page.read_text(encoding="utf-8"), (
            f"{notebook.name} has no outputs"
        )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_each_notebook_page_offers_its_ipynb_with_the_outputs_it_shows(
    built_site, notebook
):
    folder = built_site / "notebooks" / notebook.stem
    ipynb = json.loads((folder / f"{notebook.stem}.ipynb").read_text(encoding="utf-8"))
    assert ipynb["nbformat"] == 4 and any(
        cell["cell_type"] == "code" for cell in ipynb["cells"]
    )
    assert f'href="{notebook.stem}.ipynb" download' in (
        folder / "index.html"
    ).read_text(encoding="utf-8")
    code = [cell for cell in ipynb["cells"] if cell["cell_type"] == "code"]
    assert all(
        cell.get("outputs") for cell in code if "print(" in "".join(cell["source"])
    ), "outputs missing"
    images = [
        output
        for cell in code
        for output in cell["outputs"]
        if "image/png" in output.get("data", {})
    ]
    assert images, "the notebook's figures are not in the download"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_notebook_pages_show_no_stderr_no_machine_paths_and_describe_their_figures(
    built_site, notebook
):
    html = (built_site / "notebooks" / notebook.stem / "index.html").read_text(
        encoding="utf-8"
    )
    assert "application/vnd.jupyter.stderr" not in html
    assert str(ROOT) not in html and sys.prefix not in html
    assert "No description has been provided" not in html
    assert re.search(r'<img alt="[^"]{40,}"[^>]* src="data:image/png', html), (
        "a figure without real alt text"
    )


def test_notebook_pages_link_shared_stylesheets_instead_of_inlining_them(built_site):
    stylesheets = set()
    for notebook in NOTEBOOKS:
        page = built_site / "notebooks" / notebook.stem / "index.html"
        html = page.read_text(encoding="utf-8")
        inline = re.findall(r"<style[^>]*>(.*?)</style>", html, re.DOTALL)
        assert all(len(css) < 2_000 for css in inline), (
            f"{notebook.name}: nbconvert's stylesheet is still inline"
        )
        links = re.findall(
            r'<link rel="stylesheet" href="([^"]*assets/notebooks/[^"]+)"', html
        )
        assert links, f"{notebook.name}: no shared stylesheet"
        stylesheets |= {(page.parent / link).resolve() for link in links}
    assert all(path.is_file() for path in stylesheets)
    # nbconvert's styles, fetched once, and only the rules a notebook page can use (all of JupyterLab's was 590 kB)
    css = "".join(path.read_text(encoding="utf-8") for path in stylesheets)
    assert ".jp-OutputArea" in css and ".jp-InputArea" in css
    assert len(css.encode()) < 150_000


def test_no_page_fetches_anything_from_another_host(built_site):
    offenders = []
    for page in built_site.rglob("*.html"):
        parser = ResourceLinks()
        parser.feed(page.read_text(encoding="utf-8"))
        for address in parser.addresses:
            if re.match(r"^([a-z]+:)?//", address) or address == "":
                offenders.append(f"{page.relative_to(built_site)}: {address!r}")
    assert not offenders


def test_all_math_is_mathml(built_site):
    for page in built_site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert 'class="arithmatex"' not in html, page
        assert "mathjax" not in html.lower(), page
    assert "<math" in (built_site / "index.html").read_text(encoding="utf-8")


PAGE_WEIGHT_LIMIT = (
    250_000  # bytes of HTML; the API reference used to be one page of 728 kB
)


def test_no_page_weighs_more_than_250_kb(built_site):
    heavy = {
        str(page.relative_to(built_site)): page.stat().st_size
        for page in built_site.rglob("*.html")
        if page.stat().st_size > PAGE_WEIGHT_LIMIT
    }
    assert not heavy


def test_the_search_index_has_no_code_and_clean_notebook_entries(built_site):
    index = json.loads(
        (built_site / "search" / "search_index.json").read_text(encoding="utf-8")
    )
    pages = [
        entry
        for entry in index["docs"]
        if not entry["location"].startswith("notebooks/")
    ]
    assert not any("<pre>" in entry["text"] for entry in pages), (
        "code blocks are in the search index"
    )
    # A notebook's entries hold its text and its printed results, once, without prompts or copy buttons.
    notebook_text = " ".join(
        e["text"] + e["title"]
        for e in index["docs"]
        if e["location"].startswith("notebooks/")
    )
    assert (
        notebook_text and "Copied!" not in notebook_text and "In [" not in notebook_text
    )
    assert "¶" not in notebook_text and "import matplotlib" not in notebook_text
    assert any("KV cache" in entry["title"] for entry in index["docs"]), (
        "KV cache is not findable"
    )


# The browser tests below read the measurements of one visit per page and view (tests/site/visits.py).


def test_every_page_loads_cleanly_offline_with_typeset_math(visits, built_site):
    view = visits["light"]
    assert len(view.reports) >= 3
    typeset_pages = 0
    for path, report in view.reports.items():
        math = report["math"]
        if math["count"]:
            typeset_pages += 1
            assert math["flat"] == 0, (
                f"{path}: {math['flat']} formulas were not laid out"
            )
            assert math["stacked"], (
                f"{path}: a fraction's numerator is not above its denominator"
            )
        assert not math["rawTex"], f"{path}: TeX delimiters left in the text"
    assert typeset_pages >= 2, "the home page and the notebook both have formulas"
    problems = [problem for name in VIEWS for problem in visits[name].problems]
    assert not problems, "\n".join(problems)


def test_a_missing_address_gets_the_styled_404_page(browser, site_url):
    watcher = PageWatcher(browser, site_url)
    watcher.open("no/such/page/")
    assert "404" in watcher.page.inner_text("article")
    assert watcher.page.locator("link[rel=stylesheet]").count() >= 2
    # The page itself answers 404, as it must; every asset it loads answers 200.
    assert watcher.problems == [
        f"no/such/page/: HTTP 404 for {site_url}no/such/page/",
        "no/such/page/: console error Failed to load resource: the server responded with a status of 404 (Not Found)",
    ]
    watcher.close()


def test_picking_a_tab_switches_every_linked_tab_set(visits):
    done = visits["light"].reports[""]["actions"]
    assert "import numpy" in done["tabs_before"]
    assert "import torch" in done["tabs_after"] and done["numpy_hidden"]


def test_tabs_inside_closed_solution_boxes_follow_the_readers_choice(visits):
    done = visits["light"].reports["multi-head-attention/"]["actions"]
    closed = [
        box for box in done["after"] if not box["open"] and "PyTorch" in box["labels"]
    ]
    assert closed, "no closed box with NumPy | PyTorch tabs on the multi-head page"
    assert [box for box in closed if box["tab"] != "PyTorch"] == []


def test_the_colour_scheme_toggle_switches_to_dark_and_back(visits):
    schemes = visits["light"].reports[""]["actions"]["schemes"]
    assert schemes == ["default", "slate", "default"]


def test_search_ranks_each_chapter_above_the_reference_for_its_topic(visits):
    searches = visits["light"].reports[""]["actions"]["searches"]
    wrong = {}
    for query, expected in SEARCHES.items():
        found = searches[query]
        page = urlsplit(found["first"] or "").path.removeprefix(BASE_PATH)
        if (
            not found["first"]
            or page.startswith("reference/")
            or (expected and not any(page.startswith(e) or e in page for e in expected))
        ):
            wrong[query] = (page, found["count"])
    assert not wrong, wrong
    assert "softmax" in searches["softmax"]["text"].lower()


def test_search_snippets_keep_tab_labels_apart(visits):
    searches = visits["light"].reports[""]["actions"]["searches"]
    assert "NumPyPyTorch" not in " ".join(found["text"] for found in searches.values())


def test_the_search_index_keeps_formulas_readable(built_site):
    index = json.loads(
        (built_site / "search" / "search_index.json").read_text(encoding="utf-8")
    )
    text = " ".join(entry["text"] for entry in index["docs"])
    # A formula reads as a formula, with its scripts: RoPE's qᵀR_tᵀR_s k was indexed as "q⊤Rt⊤Rsk".
    assert "q⊤Rt⊤Rs" not in text
    assert "R<sub>t</sub><sup>⊤</sup>" in text
    assert "NumPyPyTorch" not in text


def test_code_blocks_do_not_scroll_sideways_at_1280_px(visits):
    scrolling, blocks = [], 0
    for path, report in visits["light"].reports.items():
        blocks += len(report["code"])
        scrolling += [
            f"{path or 'home'} block {number}"
            for number, wide in enumerate(report["code"])
            if wide
        ]
    assert blocks > 100
    assert not [entry for entry in scrolling if entry.startswith("home ")], scrolling
    assert len(scrolling) <= 0.02 * blocks, (
        f"{len(scrolling)} of {blocks} blocks scroll:\n" + "\n".join(scrolling)
    )


def test_no_page_is_wider_than_a_phone(visits):
    reports = visits["phone"].reports
    too_wide = {
        path or "home": r["width"] for path, r in reports.items() if r["width"] > 390
    }
    assert not too_wide


def test_tables_fit_a_phone(visits):
    wide = [
        f"{path}: {table['width']} px in {table['column']} ({table['head']!r})"
        for path, report in visits["phone"].reports.items()
        for table in report["tables"]
        if table["width"] > table["column"] + 1
    ]
    assert not wide, "\n".join(wide)


@pytest.mark.parametrize("view", ["light", "phone"])
def test_no_formula_is_clipped(visits, view):
    clipped = [
        f"{path}: {formula['text']!r}"
        for path, report in visits[view].reports.items()
        for formula in report["clipped"]
        if formula["inline"] or not formula["hint"]
    ]
    assert not clipped, "\n".join(clipped)


@pytest.mark.parametrize("view", ["light", "dark"])
def test_figures_are_shown_at_their_drawn_size_with_a_numbered_caption(visits, view):
    shown = []
    for path, report in visits[view].reports.items():
        if not report["figures"]:
            continue
        assert report["scheme"] == ("slate" if view == "dark" else "default")
        for figure in report["figures"]:
            shown.append(figure["src"])
            assert figure["src"].endswith(
                "-dark.svg#only-dark" if view == "dark" else ".svg#only-light"
            ), figure
            assert figure["scale"] >= 0.9, (
                f"{path}: {figure['src']} is shown at {figure['scale']:.0%}"
            )
            assert re.match(r"Figure \d+\. \w", figure["caption"]), (
                f"{path}: {figure['src']} has no caption"
            )
    assert len(shown) >= 20


@pytest.mark.parametrize("view", ["light", "dark"])
def test_a_page_fetches_only_the_figures_of_the_scheme_shown(visits, view):
    wrong = {
        path: names
        for path, report in visits[view].reports.items()
        if (
            names := [
                name
                for name in report["figure_requests"]
                if name.endswith("-dark.svg") != (view == "dark")
            ]
        )
    }
    assert not wrong


FIGURE_TEXT_PX = (
    9  # the smallest text of a figure, in CSS px as displayed once the reader taps it
)


def test_a_figure_tapped_on_a_phone_opens_with_legible_text(visits):
    small, measured = [], 0
    for path, report in visits["phone"].reports.items():
        for figure in report["figures"]:
            if figure.get("textOnPage") is None:
                continue  # a drawing without text
            measured += 1
            zoomed = figure.get("textZoomed")
            if zoomed is None or zoomed < FIGURE_TEXT_PX or not figure["zoomClosed"]:
                small.append(f"{path}: {figure['src']} {zoomed}")
    assert measured >= 20
    assert not small, "\n".join(small)
