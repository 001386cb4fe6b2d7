"""One visit per page and view: what the browser tests of the built site measure, collected in a single pass.

A view is a colour scheme at a screen width. Each page is opened once per view, in one browser page per view,
and ``REPORT`` measures everything the tests need there: formulas, widths, figures, code blocks, tables. A
few pages also get an interaction in that same visit (``ACTIONS``): searching from the home page, picking a
tab, toggling the colour scheme. The tests then read the reports; none opens the pages again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from browsing import PageWatcher, site_pages

# name: (colour scheme, width in CSS px)
VIEWS = {"light": ("light", 1280), "dark": ("dark", 1280), "phone": ("light", 390)}

# Every tab's code blocks count, not only the open tab's: all tab panels are shown while measuring.
SHOW_ALL_TABS = (
    ".tabbed-set > .tabbed-content > .tabbed-block { display: block !important; }"
)

REPORT = """async ({zoom, showAllTabs}) => {
    const article = document.querySelector("article");
    const report = {width: document.documentElement.scrollWidth, scheme: document.body.dataset.mdColorScheme};

    const formulas = [...document.querySelectorAll("article math")];
    const fractions = [...document.querySelectorAll("article mfrac")].filter(f => f.children.length === 2);
    report.math = {
        count: formulas.length,
        flat: formulas.filter(m => { const r = m.getBoundingClientRect(); return r.width === 0 || r.height === 0; })
            .length,
        stacked: fractions.every(f =>
            f.children[0].getBoundingClientRect().bottom <= f.children[1].getBoundingClientRect().top + 1),
        rawTex: /\\\\\\(|\\\\\\[|\\$\\$/.test(article.innerText),
    };
    // A formula wider than its frame: inline ones must never be, display ones must show that they scroll.
    report.clipped = [...document.querySelectorAll("article .math-frame")]
        .filter(frame => frame.offsetParent !== null && frame.scrollWidth > frame.clientWidth + 1)
        .map(frame => ({inline: frame.tagName === "SPAN", text: frame.textContent.slice(0, 60),
                        hint: getComputedStyle(frame).backgroundImage.includes("gradient")}));
    // The tables of the text (a widget's own table, such as the explorer's matrix, has a class and its frame).
    report.tables = [...document.querySelectorAll("article table:not([class])")]
        .filter(table => table.offsetParent !== null)
        .map(table => ({width: Math.round(table.getBoundingClientRect().width), column: article.clientWidth,
                        head: table.rows[0] ? table.rows[0].innerText.slice(0, 60) : ""}));

    // Figures: the ones shown are loaded now (they may wait for the reader to scroll to them otherwise).
    const images = [...document.querySelectorAll("article img")].filter(img => img.src.includes("/figures/"));
    const shown = images.filter(img => img.offsetParent !== null);
    for (const img of shown) { img.loading = "eager"; await img.decode().catch(() => {}); }
    report.figures = [];
    for (const img of shown) {
        const box = img.getBoundingClientRect();
        const figure = img.closest("figure");
        const caption = figure && figure.querySelector("figcaption");
        const entry = {
            src: img.src.split("/").pop(), name: img.src.split("/").pop().split(/[.#]/)[0].replace(/-dark$/, ""),
            scale: img.clientWidth / img.naturalWidth, loaded: img.complete && img.naturalWidth > 0,
            alt: img.getAttribute("alt") || "", caption: caption ? caption.innerText.trim() : "",
            right: box.right, viewport: document.documentElement.clientWidth,
        };
        if (zoom) {
            // The smallest text of the drawing, in the drawing's units: matplotlib draws each piece of text as
            // glyphs scaled by (font size / 100).
            const svg = await (await fetch(img.src)).text();
            const viewBox = Number(svg.match(/viewBox="[\\d.]+ [\\d.]+ ([\\d.]+) /)[1]);
            const sizes = [...svg.matchAll(/scale\\(([\\d.]+) -\\1\\)/g)].map(m => Number(m[1]) * 100);
            const smallest = sizes.length ? Math.min(...sizes) : null;
            entry.textOnPage = smallest && smallest * img.clientWidth / viewBox;
            img.scrollIntoView();
            img.click();
            const zoomed = document.querySelector(".figure-zoom img");
            if (zoomed) {
                await zoomed.decode().catch(() => {});
                entry.textZoomed = smallest && smallest * zoomed.getBoundingClientRect().width / viewBox;
                document.querySelector(".figure-zoom button").click();
                entry.zoomClosed = !document.querySelector(".figure-zoom[open]");
            }
        }
        report.figures.push(entry);
    }

    const style = document.createElement("style");
    style.textContent = showAllTabs;
    document.head.append(style);
    report.code = [...document.querySelectorAll("article pre")].map(pre => {
        const box = pre.querySelector(":scope > code") || pre;
        return box.scrollWidth > box.clientWidth + 1 || pre.scrollWidth > pre.clientWidth + 1;
    });
    style.remove();
    return report;
}"""

# The queries of the search test, and the chapters one of which must come first (None: any chapter).
SEARCHES = {
    "softmax": None,
    "KV cache": ("training/",),
    "RoPE": ("relative-positions/", "rope-scaling/"),  # where RoPE is taught, or scaled
    "GQA": ("modern-attention/",),
    "MQA": ("modern-attention/",),
    "flash attention": ("modern-attention/", "flash"),
}


def search(page, query: str) -> dict:
    """Type ``query`` into the header's search box; the first result's address and the snippets shown."""
    box = page.locator("input.md-search__input")
    box.fill("")
    box.press_sequentially(query)  # Material searches on key presses
    meta = page.locator(".md-search-result__meta")
    results = page.locator(".md-search-result__item > .md-search-result__link")
    # The results are ready when they stop changing (the index loads in a worker, then each key searches).
    seen, steady = None, 0
    for _ in range(100):
        page.wait_for_timeout(100)
        now = (
            meta.inner_text(),
            results.first.get_attribute("href") if results.count() else None,
        )
        steady = steady + 1 if now == seen and "matching" in now[0] else 0
        seen = now
        if steady == 3:
            break
    found = {
        "count": meta.inner_text(),
        "first": results.first.get_attribute("href") if results.count() else None,
        "first_title": results.first.inner_text()[:80] if results.count() else None,
        "text": page.locator(".md-search-result").inner_text(),
        "html": page.locator(".md-search-result").inner_html(),
    }
    box.fill("")
    return found


def home_actions(page) -> dict:
    """On the home page: link the tabs, toggle the colour scheme (and put both back), then search."""
    done = {}
    tab_sets = page.locator(".tabbed-set")
    second = tab_sets.nth(1).locator(".tabbed-block")
    done["tabs_before"] = second.nth(0).inner_text()
    tab_sets.nth(0).locator("label", has_text="PyTorch").click()
    second.nth(1).wait_for(state="visible")
    done["tabs_after"] = second.nth(1).inner_text()
    done["numpy_hidden"] = not second.nth(0).is_visible()
    tab_sets.nth(0).locator("label", has_text="NumPy").click()
    schemes = [page.get_attribute("body", "data-md-color-scheme")]
    for _ in range(2):
        page.locator("form[data-md-component='palette'] label:visible").first.click()
        schemes.append(page.get_attribute("body", "data-md-color-scheme"))
    done["schemes"] = schemes
    done["searches"] = {query: search(page, query) for query in SEARCHES}
    page.keyboard.press("Escape")
    return done


SOLUTION_TABS = """() => [...document.querySelectorAll("article details")]
    .filter(box => box.querySelector(".tabbed-set"))
    .map(box => {
        const set = box.querySelector(".tabbed-set");
        const checked = set.querySelector(":scope > input:checked");
        const label = checked && set.querySelector(`label[for="${checked.id}"]`);
        const labels = [...set.querySelectorAll(":scope > .tabbed-labels > label")].map(l => l.textContent.trim());
        return {open: box.open, summary: box.querySelector("summary").textContent, labels,
                tab: label && label.textContent.trim()};
    })"""


def solution_tabs(page) -> dict:
    """Pick PyTorch in the first tab set; which tab each closed box's tab set then shows (NumPy put back)."""
    closed = page.evaluate(SOLUTION_TABS)
    page.locator(".tabbed-set:visible").first.locator(
        "label", has_text="PyTorch"
    ).click()
    after = page.evaluate(SOLUTION_TABS)
    page.locator(".tabbed-set:visible").first.locator("label", has_text="NumPy").click()
    return {"before": closed, "after": after}


# Interactions done during the light view's visit of a page.
ACTIONS = {"": home_actions, "multi-head-attention/": solution_tabs}


@dataclass
class View:
    """What one view saw: a report per page, and every problem the browser recorded."""

    reports: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def pages_with_figures(site: Path) -> list[str]:
    return [
        path
        for path in site_pages(site)
        if "figures/" in (site / path / "index.html").read_text(encoding="utf-8")
    ]


def visit(browser, site: Path, site_url: str, name: str) -> View:
    """Open each page once in view ``name`` and measure it (the dark view opens only the pages with figures)."""
    scheme, width = VIEWS[name]
    pages = pages_with_figures(site) if name == "dark" else site_pages(site)
    watcher = PageWatcher(browser, site_url, width=width, scheme=scheme)
    view = View()
    for path in pages:
        page = watcher.open(path)
        report = page.evaluate(
            REPORT, {"zoom": name == "phone", "showAllTabs": SHOW_ALL_TABS}
        )
        report["figure_requests"] = [
            re.sub(r"[?#].*", "", url).rsplit("/", 1)[-1]
            for url in watcher.requests
            if "/figures/" in url
        ]
        if name == "light" and path in ACTIONS:
            report["actions"] = ACTIONS[path](page)
        view.reports[path] = report
    watcher.close()
    view.problems = watcher.problems
    return view


class Visits:
    """The views, each visited the first time a test asks for it."""

    def __init__(self, browser, site: Path, site_url: str) -> None:
        self.browser, self.site, self.site_url = browser, site, site_url
        self._views: dict[str, View] = {}

    def __getitem__(self, name: str) -> View:
        if name not in self._views:
            self._views[name] = visit(self.browser, self.site, self.site_url, name)
        return self._views[name]
