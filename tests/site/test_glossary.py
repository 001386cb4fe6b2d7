"""Every glossary entry is defined and links to a section of a page that exists, found by the heading's anchor.

The strict build checks the anchors too (``validation: anchors: warn`` in mkdocs.yml); this test says which
entry is wrong without a build, and also requires that every entry has such a link.
"""

from __future__ import annotations

import re

from markdown.extensions.toc import slugify
from project import ROOT

DOCS = ROOT / "docs"
# A definition list: a term on a line of its own, then one or more lines starting with ":   " or indented.
ENTRY = re.compile(
    r"^(?P<term>[^\s:#][^\n]*)\n(?P<definition>(?::   |    )[^\n]*(?:\n    [^\n]*)*)",
    re.M,
)
LINK = re.compile(r"\]\((?P<page>[\w/-]+\.md)#(?P<anchor>[\w-]+)\)")


def headings(page: str) -> set[str]:
    text = re.sub(
        r"^```.*?^```", "", (DOCS / page).read_text(encoding="utf-8"), flags=re.M | re.S
    )
    titles = re.findall(r"^#{1,6} (.+?)\s*$", text, re.M)
    anchors = set()
    for title in titles:
        # attr_list: ## Title { #anchor }
        explicit = re.search(r"\{\s*#([\w-]+)\s*\}$", title)
        anchors.add(
            explicit[1] if explicit else slugify(re.sub(r"[`*]", "", title), "-")
        )
    return anchors


def entries() -> dict[str, str]:
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    return {match["term"]: match["definition"] for match in ENTRY.finditer(text)}


def test_the_glossary_has_its_terms_in_order():
    terms = list(entries())
    assert len(terms) >= 30
    assert terms == sorted(terms, key=str.lower)


def test_every_entry_links_to_a_section_that_exists():
    problems = []
    for term, definition in entries().items():
        links = LINK.findall(definition)
        if not links:
            problems.append(f"{term}: no link to a page section")
        for page, anchor in links:
            if not (DOCS / page).exists():
                problems.append(f"{term}: no page {page}")
            elif anchor not in headings(page):
                problems.append(f"{term}: {page} has no section #{anchor}")
    assert not problems, problems


def test_the_anchor_finder_sees_a_heading_with_code_and_symbols():
    assert "why-divide-by-d_k" in headings("attention.md")
    assert "add-norm" in headings("architecture.md")
    assert "no-such-section" not in headings("attention.md")
    # set with { #the-keyvalue-cache }
    assert "the-keyvalue-cache" in headings("training.md")
