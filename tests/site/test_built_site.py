"""The built site: its files, then the pages in a real browser (headless Chromium, driven by Playwright, on
127.0.0.1).

The site is built once per test run, in the background while the other tests run (the ``built_site`` fixture,
in ``tests/conftest.py``). The build executes every notebook: a cell that raises fails it. Without Chromium
the browser tests skip locally (``apt-get install chromium`` enables them); with ``CI=true`` a missing Chromium
is a failure, so CI can never pass by skipping them.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
import yaml
from project import ROOT

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
    # nbconvert's styles, now fetched once
    assert sum(path.stat().st_size for path in stylesheets) > 100_000


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


CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Chromium's own background traffic (updates, sync, field trials) would otherwise show up as failed requests.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# The site is served under the path of its public address, as GitHub Pages serves it: the 404 page uses
# addresses that start with that path, since it answers for any missing address at any depth.
BASE_PATH = urlsplit(
    yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["site_url"]
).path


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves the built site under BASE_PATH, and its 404 page for anything missing."""

    def send_head(self):
        if not self.path.startswith(BASE_PATH):
            self.send_error(404)
            return None
        self.path = "/" + self.path.removeprefix(BASE_PATH)
        if not Path(self.translate_path(self.path)).exists():
            body = (Path(self.directory) / "404.html").read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        return super().send_head()

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(SiteHandler, directory=str(built_site))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{BASE_PATH}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI=true but there is no Chromium at {CHROMIUM}: .ci/run must install it"
            )
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install chromium); CI runs these tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


class PageWatcher:
    """Opens pages and records every console error, failed request and request to another host."""

    def __init__(self, browser, site_url: str, width: int = 1280) -> None:
        self.site_url = site_url
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.page.on("console", self._console)
        self.page.on(
            "pageerror",
            lambda error: self.problems.append(f"{self.where}: uncaught {error}"),
        )
        self.page.on("requestfailed", self._failed)
        self.page.on("request", self._request)
        self.page.on("response", self._response)
        self.where = ""

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"{self.where}: console error {message.text}")

    def _failed(self, request) -> None:
        # A request still in flight when the next page opens is aborted by the browser, not refused by the server.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(
                f"{self.where}: failed {request.url} ({request.failure})"
            )

    def _request(self, request) -> None:
        if not request.url.startswith((self.site_url, "data:", "blob:")):
            self.problems.append(f"{self.where}: request to another host {request.url}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(
                f"{self.where}: HTTP {response.status} for {response.url}"
            )

    def open(self, path: str):
        self.where = path
        self.page.goto(self.site_url + path, wait_until="load")
        return self.page


MATH_REPORT = """() => {
    const formulas = [...document.querySelectorAll("article math")];
    const flat = formulas.filter(m => { const r = m.getBoundingClientRect(); return r.width === 0 || r.height === 0; });
    const fractions = [...document.querySelectorAll("article mfrac")].filter(f => f.children.length === 2);
    const stacked = fractions.every(f =>
        f.children[0].getBoundingClientRect().bottom <= f.children[1].getBoundingClientRect().top + 1);
    const text = document.querySelector("article").innerText;
    return {count: formulas.length, flat: flat.length, fractions: fractions.length, stacked,
            rawTex: /\\\\\\(|\\\\\\[|\\$\\$/.test(text)};
}"""


def site_pages(site: Path) -> list[str]:
    return sorted(
        str(page.relative_to(site).parent) + "/" for page in site.rglob("index.html")
    )


@pytest.mark.browser
def test_every_page_loads_cleanly_offline_with_typeset_math(
    browser, built_site, site_url
):
    watcher = PageWatcher(browser, site_url)
    pages = [page.removeprefix("./") for page in site_pages(built_site)]
    assert len(pages) >= 3
    typeset_pages = 0
    for path in pages:
        page = watcher.open(path)
        report = page.evaluate(MATH_REPORT)
        if report["count"]:
            typeset_pages += 1
            assert report["flat"] == 0, (
                f"{path}: {report['flat']} formulas were not laid out"
            )
            assert report["stacked"], (
                f"{path}: a fraction's numerator is not above its denominator"
            )
        assert not report["rawTex"], f"{path}: TeX delimiters left in the text"
    assert typeset_pages >= 2, "the home page and the notebook both have formulas"
    assert not watcher.problems, "\n".join(watcher.problems)


@pytest.mark.browser
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


@pytest.mark.browser
def test_picking_a_tab_switches_every_linked_tab_set(browser, site_url):
    watcher = PageWatcher(browser, site_url)
    page = watcher.open("")
    tab_sets = page.locator(".tabbed-set")
    assert tab_sets.count() >= 2
    assert (
        "import numpy" in tab_sets.nth(1).locator(".tabbed-block").nth(0).inner_text()
    )
    tab_sets.nth(0).locator("label", has_text="PyTorch").click()
    second_set = tab_sets.nth(1)
    second_set.locator(".tabbed-block").nth(1).wait_for(state="visible")
    assert "import torch" in second_set.locator(".tabbed-block").nth(1).inner_text()
    assert not second_set.locator(".tabbed-block").nth(0).is_visible()
    assert not watcher.problems, "\n".join(watcher.problems)


@pytest.mark.browser
def test_search_finds_a_word(browser, site_url):
    watcher = PageWatcher(browser, site_url)
    page = watcher.open("")
    # the header box, visible at desktop widths
    page.locator("input.md-search__input").fill("softmax")
    results = page.locator(".md-search-result__item")
    results.first.wait_for(state="visible", timeout=10_000)
    assert results.count() >= 1
    assert "softmax" in results.first.inner_text().lower()
    assert not watcher.problems, "\n".join(watcher.problems)


@pytest.mark.browser
def test_the_colour_scheme_toggle_switches_to_dark(browser, site_url):
    watcher = PageWatcher(browser, site_url)
    page = watcher.open("")
    before = page.get_attribute("body", "data-md-color-scheme")
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    after = page.get_attribute("body", "data-md-color-scheme")
    assert {before, after} == {"default", "slate"}
    assert not watcher.problems, "\n".join(watcher.problems)


# Every tab's code blocks count, not only the open tab's: all tab panels are shown while measuring.
SHOW_ALL_TABS = (
    ".tabbed-set > .tabbed-content > .tabbed-block { display: block !important; }"
)
MEASURE_CODE = """() => [...document.querySelectorAll("article pre")].map(pre => {
    const box = pre.querySelector(":scope > code") || pre;
    return box.scrollWidth > box.clientWidth + 1 || pre.scrollWidth > pre.clientWidth + 1;
})"""
MEASURE_FIGURES = """() => [...document.querySelectorAll("article img")]
    .filter(img => img.src.includes("/figures/") && img.offsetParent !== null)
    .map(img => ({
        src: img.src.split("/").pop(),
        scale: img.clientWidth / img.naturalWidth,
        caption: (img.closest("figure")?.querySelector("figcaption")?.innerText || ""),
    }))"""


def pages_with_figures(site: Path) -> list[str]:
    return [
        path.removeprefix("./")
        for path in site_pages(site)
        if "figures/" in (site / path / "index.html").read_text(encoding="utf-8")
    ]


@pytest.mark.browser
def test_code_blocks_do_not_scroll_sideways_at_1280_px(browser, built_site, site_url):
    watcher = PageWatcher(browser, site_url, width=1280)
    scrolling, blocks = [], 0
    for path in [page.removeprefix("./") for page in site_pages(built_site)]:
        page = watcher.open(path)
        page.add_style_tag(content=SHOW_ALL_TABS)
        overflows = page.evaluate(MEASURE_CODE)
        blocks += len(overflows)
        scrolling += [
            f"{path or 'home'} block {number}"
            for number, wide in enumerate(overflows)
            if wide
        ]
    assert blocks > 100
    assert not [entry for entry in scrolling if entry.startswith("home ")], scrolling
    assert len(scrolling) <= 0.02 * blocks, (
        f"{len(scrolling)} of {blocks} blocks scroll:\n" + "\n".join(scrolling)
    )


@pytest.mark.browser
def test_no_page_is_wider_than_a_phone(browser, built_site, site_url):
    watcher = PageWatcher(browser, site_url, width=390)
    too_wide = {}
    for path in [page.removeprefix("./") for page in site_pages(built_site)]:
        width = watcher.open(path).evaluate(
            "() => document.documentElement.scrollWidth"
        )
        if width > 390:
            too_wide[path or "home"] = width
    assert not too_wide


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_figures_are_shown_at_their_drawn_size_with_a_numbered_caption(
    browser, built_site, site_url, scheme
):
    page = browser.new_page(
        viewport={"width": 1280, "height": 900}, color_scheme=scheme
    )
    shown = []
    for path in pages_with_figures(built_site):
        page.goto(site_url + path, wait_until="load")
        assert page.get_attribute("body", "data-md-color-scheme") == (
            "slate" if scheme == "dark" else "default"
        )
        for figure in page.evaluate(MEASURE_FIGURES):
            shown.append(figure["src"])
            assert figure["src"].endswith(
                "-dark.svg#only-dark" if scheme == "dark" else ".svg#only-light"
            ), figure
            assert figure["scale"] >= 0.9, (
                f"{path}: {figure['src']} is shown at {figure['scale']:.0%}"
            )
            assert re.match(r"Figure \d+\. \w", figure["caption"]), (
                f"{path}: {figure['src']} has no caption"
            )
    assert len(shown) >= 20
    page.close()


@pytest.mark.browser
def test_a_figure_opens_full_size(browser, site_url):
    watcher = PageWatcher(browser, site_url)
    page = watcher.open("attention/")
    page.locator("article a.glightbox:visible").first.click()
    page.locator(".glightbox-container .gslide-image img").first.wait_for(
        state="visible", timeout=10_000
    )
    assert not watcher.problems, "\n".join(watcher.problems)
