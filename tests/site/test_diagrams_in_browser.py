"""The teaching diagrams on the built site, in Chromium: each one is shown, loads, has alt text and a caption, in
the light and the dark palette, and fits a phone's width.

The pages are found from the built site (whichever page links the figure), so a page that moves or splits
keeps its picture checked. The measurements come from the one visit per page and view (tests/site/visits.py).
"""

from __future__ import annotations

import pytest

DIAGRAMS = ("head-split", "qkv-projections", "attention-masks", "cross-attention", "kv-cache", "rope-rotation",
            "vit-patches")  # fmt: skip


def pages_of(site, names) -> dict[str, list[str]]:
    """Each page that shows one of ``names``, with the names it shows; every name is on exactly one page."""
    pages: dict[str, list[str]] = {}
    for name in names:
        found = [
            page
            for page in site.rglob("index.html")
            if f"figures/{name}.svg" in page.read_text(encoding="utf-8")
        ]
        assert len(found) == 1, f"{name}: shown on {len(found)} pages"
        path = (str(found[0].relative_to(site).parent) + "/").removeprefix("./")
        pages.setdefault(path, []).append(name)
    return pages


@pytest.mark.parametrize("view", ["light", "dark", "phone"])
def test_every_diagram_is_shown_with_alt_text_and_a_caption(visits, built_site, view):
    problems = []
    for path, names in pages_of(built_site, DIAGRAMS).items():
        report = visits[view].reports[path]
        for name in names:
            shown = [image for image in report["figures"] if image["name"] == name]
            if len(shown) != 1:
                problems.append(f"{name}: {len(shown)} visible images")
                continue
            image = shown[0]
            if not image["loaded"]:
                problems.append(f"{name}: the image did not load")
            if len(image["alt"].split()) < 8:
                problems.append(f"{name}: alt text too short: {image['alt']!r}")
            if len(image["caption"].split()) < 8:
                problems.append(
                    f"{name}: no caption under the picture: {image['caption']!r}"
                )
            if image["right"] > image["viewport"] + 0.5:
                problems.append(
                    f"{name}: wider than the page ({image['right']:.0f} px)"
                )
    assert not problems, f"{view}:\n" + "\n".join(problems)
