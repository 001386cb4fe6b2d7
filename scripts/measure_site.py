"""Print, for each page of a built site, what a reader's screen shows: code blocks that scroll sideways at
1280 px, the page's width on a 390 px phone, figures shown below their drawn width, and the HTML's weight.

Build the site, then run from the repository root (headless Chromium, as the browser tests use it):

    .venv/bin/mkdocs build --strict -d /tmp/site
    .venv/bin/python scripts/measure_site.py /tmp/site

The last line gives the size of the search index that every page downloads.
"""

from __future__ import annotations

import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright

# Code blocks in every tab count, not only the tab that is open: all tab panels are shown while measuring.
SHOW_ALL_TABS = (
    ".tabbed-set > .tabbed-content > .tabbed-block { display: block !important; }"
)

MEASURE = """() => {
    const blocks = [...document.querySelectorAll("article pre")];
    const scrolls = blocks.filter(pre => {
        const box = pre.querySelector(":scope > code") || pre;
        return box.scrollWidth > box.clientWidth + 1 || pre.scrollWidth > pre.clientWidth + 1;
    });
    const figures = [...document.querySelectorAll("article img")].filter(img => /figures\\//.test(img.src))
        .filter(img => img.offsetParent !== null)
        .map(img => ({src: img.src.split("/").pop(), scale: img.clientWidth / img.naturalWidth}));
    return {blocks: blocks.length, scrolls: scrolls.length, figures};
}"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def measure(site: Path) -> None:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = f"http://127.0.0.1:{server.server_address[1]}/"
    pages = sorted(
        str(page.relative_to(site).parent) + "/" for page in site.rglob("index.html")
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        desktop = browser.new_page(viewport={"width": 1280, "height": 900})
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        print(
            f"{'page':42} {'scroll@1280':>12} {'width@390':>9} {'figs<90%':>9} {'KB':>6}"
        )
        for path in pages:
            path = path.removeprefix("./")
            desktop.goto(root + path, wait_until="load")
            desktop.add_style_tag(content=SHOW_ALL_TABS)
            report = desktop.evaluate(MEASURE)
            phone.goto(root + path, wait_until="load")
            width = phone.evaluate("() => document.documentElement.scrollWidth")
            small = [f for f in report["figures"] if f["scale"] < 0.9]
            weight = (site / path / "index.html").stat().st_size / 1000
            print(
                f"/{path:41} {report['scrolls']:>5}/{report['blocks']:<6} {width:>9} "
                f"{len(small):>3}/{len(report['figures']):<5} {weight:>6.0f}"
            )
            for figure in small:
                print(f"    {figure['src']} shown at {figure['scale']:.0%}")
        browser.close()
    server.shutdown()
    index = site / "search" / "search_index.json"
    print(f"search index: {index.stat().st_size / 1000:.0f} KB")


if __name__ == "__main__":
    measure(Path(sys.argv[1]))
