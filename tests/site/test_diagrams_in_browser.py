"""The teaching diagrams on the built site, in Chromium: each one is shown, loads, has alt text and a caption, in
the light and the dark palette, and fits a phone's width.

The pages are found from the built site (whichever page links the figure), so a page that moves or splits
keeps its picture checked.
"""

from __future__ import annotations

import pytest

DIAGRAMS = ("head-split", "qkv-projections", "attention-masks", "cross-attention", "kv-cache", "rope-rotation",
            "vit-patches")  # fmt: skip

FIGURE_REPORT = """(name) => {
    const images = [...document.querySelectorAll(`article img[src*="figures/${name}"]`)];
    return images.map(img => {
        const box = img.getBoundingClientRect();
        const figure = img.closest("figure");
        const caption = figure && figure.querySelector("figcaption");
        return {visible: box.width > 0 && box.height > 0, loaded: img.complete && img.naturalWidth > 0,
                alt: img.getAttribute("alt") || "", caption: caption ? caption.innerText.trim() : "",
                right: box.right, viewport: document.documentElement.clientWidth};
    });
}"""


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
        pages.setdefault(str(found[0].relative_to(site).parent) + "/", []).append(name)
    return pages


@pytest.mark.browser
@pytest.mark.parametrize(
    ("scheme", "width"), [("light", 1280), ("dark", 1280), ("light", 390)]
)
def test_every_diagram_is_shown_with_alt_text_and_a_caption(
    browser, built_site, site_url, scheme, width
):
    problems = []
    page = browser.new_page(
        viewport={"width": width, "height": 900}, color_scheme=scheme
    )
    for path, names in pages_of(built_site, DIAGRAMS).items():
        page.goto(site_url + path, wait_until="load")
        for name in names:
            shown = [
                image
                for image in page.evaluate(FIGURE_REPORT, name)
                if image["visible"]
            ]
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
    page.close()
    assert not problems, f"{scheme}, {width} px:\n" + "\n".join(problems)
