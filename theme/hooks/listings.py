"""MkDocs hook: a listing included from ``src/`` shows the code, and only the summary of each docstring.

A page includes a function or class from the package with a snippet section (``--8<-- "file.py:name"``). The
docstrings in ``src/`` are written for the API reference: arguments, shapes, errors, doctests. On a page that
teaches the idea they would be most of the listing, so a listing keeps the first paragraph of each docstring
(its summary) and leaves the rest to the reference page of that module. The code itself is shown unchanged,
and stays the one source of truth.

The hook adds a Markdown extension that gives pymdownx.snippets' ``process_snippet_lines`` (its documented
place for changing the lines of a snippet) this shortening, for the sections of ``.py`` files.
"""

from __future__ import annotations

import ast
import textwrap

from markdown import Extension, Markdown


def short_docstrings(lines: list[str]) -> list[str]:
    """``lines`` of Python source with every multi-paragraph docstring cut to its first paragraph."""
    try:
        tree = ast.parse(textwrap.dedent("\n".join(lines)))
    except SyntaxError:  # not a whole statement: leave it as it is
        return lines
    cuts: list[tuple[int, int, list[str]]] = []  # (first, last) 0-based line indices, replacement lines
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or not node.body:
            continue
        first = node.body[0]
        if not (
            isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
        ):
            continue
        start, end = first.lineno - 1, first.end_lineno - 1
        if start == end:
            continue
        kept = []
        for line in lines[start:end]:
            if kept and not line.strip():
                break
            kept.append(line)
        if len(kept) == end - start:  # one paragraph only, already short
            continue
        quote = lines[start].lstrip()[:3] if lines[start].lstrip()[:3] in ('"""', "'''") else '"""'
        kept[-1] = kept[-1].rstrip() + quote
        cuts.append((start, end, kept))
    for start, end, kept in sorted(cuts, reverse=True):
        lines = [*lines[:start], *kept, *lines[end + 1 :]]
    return lines


class ShortListings(Extension):
    """Cut the docstrings of Python snippet sections to their summaries (needs pymdownx.snippets first)."""

    def extendMarkdown(self, md: Markdown) -> None:
        snippets = md.preprocessors["snippet"]
        process = snippets.process_snippet_lines

        def process_snippet_lines(lines, target):
            lines = process(lines, target)
            if target.get("section") and str(target.get("snippet", "")).endswith(".py"):
                return short_docstrings(lines)
            return lines

        snippets.process_snippet_lines = process_snippet_lines


def on_config(config):
    if not any(isinstance(extension, ShortListings) for extension in config.markdown_extensions):
        config.markdown_extensions.append(ShortListings())  # after pymdownx.snippets, which it extends
    return config
