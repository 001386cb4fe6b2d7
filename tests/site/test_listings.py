"""What a listing included from ``src/`` shows: the code, each docstring's summary, and no argument checks."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

from project import ROOT

_spec = importlib.util.spec_from_file_location(
    "listings", ROOT / "theme" / "hooks" / "listings.py"
)
listings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(listings)

SOURCE = textwrap.dedent('''\
    def attend(query, key, mask=None):
        """Attend from query to key.

        Args:
            query: (T, d) queries.
        """
        check_ndim("query", query, 2)
        if query.shape[-1] != key.shape[-1]:
            # the widths must agree
            raise ValueError("query and key differ in width")
        if mask is not None:
            check_mask("mask", mask)
            scores = query @ key.T
        return query
    ''').split("\n")


def test_a_listing_keeps_the_summary_and_the_code_and_drops_the_checks():
    shown = listings.without_checks(listings.short_docstrings(SOURCE))
    assert shown == [
        "def attend(query, key, mask=None):",
        '    """Attend from query to key."""',
        "    if mask is not None:",
        "        scores = query @ key.T",
        "    return query",
        "",
    ]


def test_the_lines_next_to_a_docstring_or_a_check_are_kept():
    """A line straight after a cut docstring, after a dropped check, or after a dropped comment-and-check pair is
    code the reader must see: losing it by one line would change the listing."""
    source = textwrap.dedent('''\
        def attend(query, key):
            """Attend from query to key.

            More detail for the reference.
            """
            scores = query @ key.T
            check_ndim("scores", scores, 2)
            weights = softmax(scores)
            # the widths must agree
            check_same("query", query, key)
            # a comment above code stays
            return weights @ key
        ''').split("\n")
    shown = listings.without_checks(listings.short_docstrings(source))
    assert shown == [
        "def attend(query, key):",
        '    """Attend from query to key."""',
        "    scores = query @ key.T",
        "    weights = softmax(scores)",
        "    # a comment above code stays",
        "    return weights @ key",
        "",
    ]


def test_a_block_made_only_of_checks_is_left_alone_rather_than_emptied():
    lines = [
        "def check_all(x):",
        "    check_ndim('x', x, 2)",
        "    check_finite('x', x)",
    ]
    assert listings.without_checks(lines) == lines


def test_text_that_is_not_python_is_left_as_it_is():
    lines = ["not python (", "at all"]
    assert listings.short_docstrings(lines) == lines
    assert listings.without_checks(lines) == lines


# What the text column holds at 1280 px (docs/stylesheets/extra.css), in characters of code.
CODE_COLUMNS = 88


def rendered_blocks(page: Path) -> list[tuple[set[str], str, list[str]]]:
    """Each code block of a page as the site shows it (snippets included and shortened), with the snippet
    sections it includes and the heading it is under."""
    import html
    import re

    import markdown
    import yaml

    config = yaml.safe_load(
        (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nplugins:")[0]
    )
    names = [
        next(iter(e)) if isinstance(e, dict) else e
        for e in config["markdown_extensions"]
    ]
    wanted = [
        "pymdownx.snippets",
        "pymdownx.superfences",
        "pymdownx.tabbed",
        "admonition",
        "pymdownx.details",
    ]
    extension_configs = {
        e: next(iter(c.values())) or {}
        for c in config["markdown_extensions"]
        if isinstance(c, dict)
        for e in c
    }
    converter = markdown.Markdown(
        extensions=[
            *[name for name in wanted if name in names],
            listings.ShortListings(),
        ],
        extension_configs={name: extension_configs.get(name, {}) for name in wanted},
    )
    text = page.read_text(encoding="utf-8")
    blocks = []
    # outside, inside, outside, ... of every fence
    parts = re.split(r"(?m)^\s*```", text)
    fences, headings, heading = [], [], ""
    for number, part in enumerate(parts):
        if number % 2:
            fences.append(part)
            headings.append(heading)
        else:
            heading = ["", *re.findall(r"(?m)^## (.+)$", part)][-1] or heading
    for number, block in enumerate(
        re.findall(r"<pre[^>]*>(.*?)</pre>", converter.convert(text), re.DOTALL)
    ):
        sections = (
            set(re.findall(r'--8<-- "[^":]+:([\w-]+)"', fences[number]))
            if number < len(fences)
            else set()
        )
        under = headings[number] if number < len(headings) else ""
        blocks.append(
            (sections, under, html.unescape(re.sub(r"<[^>]+>", "", block)).split("\n"))
        )
    return blocks


def test_every_listing_and_example_on_the_pages_fits_the_column():
    wide = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for number, (_, _, lines) in enumerate(rendered_blocks(page)):
            wide += [
                f"{page.name} block {number}: {line!r}"
                for line in lines
                if len(line) > CODE_COLUMNS
            ]
    assert not wide, "\n".join(wide)


def test_every_notebook_cell_fits_the_column():
    import jupytext

    wide = []
    for notebook in sorted((ROOT / "docs" / "notebooks").glob("*.py")):
        for cell in jupytext.read(notebook).cells:
            if cell.cell_type == "code":
                wide += [
                    f"{notebook.name}: {line!r}"
                    for line in cell.source.split("\n")
                    if len(line) > CODE_COLUMNS
                ]
    assert not wide, "\n".join(wide)
