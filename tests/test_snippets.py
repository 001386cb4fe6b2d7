"""Snippet sections: every ``--8<-- [start:name]`` section in ``src/`` is shown on some page, and every section a
page includes exists. A section nobody includes is code written for a reader who never sees it."""

from __future__ import annotations

import re

from project import ROOT

SECTION = re.compile(r"--8<-- \[start:([\w-]+)\]")
INCLUDE = re.compile(r'--8<-- "(src/[^":]+):([\w-]+)"')


def sections() -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / "src").rglob("*.py"):
        for name in SECTION.findall(path.read_text(encoding="utf-8")):
            found.add((path.relative_to(ROOT).as_posix(), name))
    return found


def includes() -> set[tuple[str, str]]:
    found = set()
    for page in (ROOT / "docs").rglob("*.md"):
        found.update(INCLUDE.findall(page.read_text(encoding="utf-8")))
    return found


def test_every_snippet_section_is_included_by_a_page():
    dead = sorted(f"{path}:{name}" for path, name in sections() - includes())
    assert not dead, f"snippet sections that no page includes: {dead}"


def test_every_included_section_exists():
    missing = sorted(f"{path}:{name}" for path, name in includes() - sections())
    assert not missing, f"pages include sections that src/ does not mark: {missing}"
