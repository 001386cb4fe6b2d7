"""Print what a reader meets on a built site: the smallest figure text on a 390 px phone (on the page and once
tapped), the formulas a phone clips, the first search result for the queries the browser tests ask, the raw
weight of each page's first visit (every byte fetched, the search index included) and the search index's size.

Build the site, then run from the repository root (headless Chromium, as the browser tests use it):

    .venv/bin/mkdocs build --strict -d /tmp/site
    .venv/bin/python scripts/measure_reader.py /tmp/site
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "site"), str(ROOT / "tests")]

from browsing import chromium, serve, site_pages  # noqa: E402
from visits import visit  # noqa: E402


def first_visit_bytes(browser, url: str) -> int:
    """Every byte a first visit of ``url`` fetches, with an empty cache, once the network is idle."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sizes = []
    page.on(
        "requestfinished",
        lambda request: sizes.append(request.sizes()["responseBodySize"]),
    )
    page.goto(url, wait_until="networkidle")
    context.close()
    return sum(sizes)


def main(site: Path) -> None:
    with chromium() as browser, serve(site) as url:
        phone = visit(browser, site, url, "phone")
        light = visit(browser, site, url, "light")
        on_page = [
            (f["textOnPage"], path, f["src"])
            for path, r in phone.reports.items()
            for f in r["figures"]
            if f.get("textOnPage")
        ]
        zoomed = [
            f.get("textZoomed")
            for r in phone.reports.values()
            for f in r["figures"]
            if f.get("textOnPage")
        ]
        print(f"figures with text at 390 px: {len(on_page)}")
        print(
            f"smallest figure text at 390 px, on the page: {min(on_page)[0]:.1f} px ({min(on_page)[1:]})"
        )
        print(f"  largest of the smallest: {max(on_page)[0]:.1f} px")
        if all(zoomed):
            print(f"smallest figure text at 390 px, tapped: {min(zoomed):.1f} px")
        else:
            print("smallest figure text at 390 px, tapped: no enlargement")
        for name, view in (("390 px", phone), ("1280 px", light)):
            clipped = [
                (path, f)
                for path, r in view.reports.items()
                for f in r["clipped"]
                if f["inline"] or not f["hint"]
            ]
            hinted = sum(
                1
                for r in view.reports.values()
                for f in r["clipped"]
                if not f["inline"] and f["hint"]
            )
            print(
                f"clipped formulas at {name}: {len(clipped)} (wide, in a frame that shows it scrolls: {hinted})"
            )
            for path, formula in clipped:
                print(
                    f"    {path}: {'inline' if formula['inline'] else 'display'} {formula['text']!r}"
                )
        tables = [
            (path, t)
            for path, r in phone.reports.items()
            for t in r["tables"]
            if t["width"] > t["column"] + 1
        ]
        print(f"tables wider than the column at 390 px: {len(tables)}")
        for path, table in tables:
            print(
                f"    {path}: {table['width']} px in {table['column']} ({table['head'][:40]!r})"
            )
        for query, found in light.reports[""]["actions"]["searches"].items():
            print(f"search {query!r}: {found['first']} ({found['count']})")
        weights = {
            path: first_visit_bytes(browser, url + path) for path in site_pages(site)
        }
        for path, size in sorted(weights.items(), key=lambda item: -item[1])[:4]:
            print(f"first visit /{path}: {size / 1e6:.2f} MB")
        for path in ("prerequisites/", "notation/"):
            print(f"first visit /{path} (a text page): {weights[path] / 1e6:.2f} MB")
    index = site / "search" / "search_index.json"
    print(f"search index: {index.stat().st_size / 1000:.0f} KB")
    css = sum(p.stat().st_size for p in (site / "assets" / "notebooks").glob("*.css"))
    print(f"notebook stylesheets: {css / 1000:.0f} KB")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
