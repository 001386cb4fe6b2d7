"""MkDocs hook: a listing included from ``src/`` shows the idea:
the code, the summary of each docstring, and no argument checks.

A page includes a function or class from the package with a snippet section (``--8<-- "file.py:name"``). The docstrings
in ``src/`` are written for the API reference: arguments, shapes, errors, doctests. The argument checks are there so
that a wrong call fails with a clear message. On a page that teaches the idea both would be most of the listing, so a
listing keeps the first paragraph of each docstring (its summary), leaves out the statements that only check arguments
(a call to a ``check_*`` function, an ``if`` whose body only raises), and leaves both to the reference page of that
module. Every other line is shown as it is in ``src/``, which stays the one source of truth.

The hook adds a Markdown extension that gives pymdownx.snippets' ``process_snippet_lines`` (its documented place for
changing the lines of a snippet) this shortening, for the sections of ``.py`` files.
"""

from __future__ import annotations

import ast
import textwrap

from markdown import Extension, Markdown


def _is_check(statement: ast.stmt) -> bool:
    """A statement that only checks arguments: ``check_*(...)``,
    ``raise``, or a block made of nothing else."""
    if isinstance(statement, ast.Raise):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        function = statement.value.func
        name = (
            function.id
            if isinstance(function, ast.Name)
            else getattr(function, "attr", "")
        )
        return name.startswith("check_")
    if isinstance(statement, ast.If | ast.For) and not statement.orelse:
        return all(_is_check(inner) for inner in statement.body)
    return False


def without_checks(lines: list[str]) -> list[str]:
    """``lines`` of Python source without the statements that
    only check arguments (and the comments just above them)."""
    try:
        tree = ast.parse(textwrap.dedent("\n".join(lines)))
    except SyntaxError:
        return lines
    dropped: set[int] = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list) or isinstance(node, ast.Module):
                continue
            checks = [
                statement
                for statement in body
                if isinstance(statement, ast.stmt) and _is_check(statement)
            ]
            # a block of checks only: its parent is a check, or it is left alone
            if len(checks) == len(body):
                continue
            for statement in checks:
                first = statement.lineno - 1
                while first > 0 and lines[first - 1].strip().startswith("#"):
                    first -= 1
                dropped.update(range(first, statement.end_lineno))
    return [line for number, line in enumerate(lines) if number not in dropped]


def without_validation(lines: list[str]) -> list[str]:
    """``lines`` without ``@validated(...)`` decorators: a public function's
    check is a function of its own, which the reference page documents, and
    a reader who copies the listing gets code that runs without it."""
    return [line for line in lines if not line.strip().startswith("@validated(")]


def short_docstrings(lines: list[str]) -> list[str]:
    """``lines`` of Python source with every
    multi-paragraph docstring cut to its first paragraph."""
    try:
        tree = ast.parse(textwrap.dedent("\n".join(lines)))
    except SyntaxError:  # not a whole statement: leave it as it is
        return lines
    # (first, last) 0-based line indices, replacement lines
    cuts: list[tuple[int, int, list[str]]] = []
    for node in ast.walk(tree):
        if (
            not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            or not node.body
        ):
            continue
        first = node.body[0]
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
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
        quote = (
            lines[start].lstrip()[:3]
            if lines[start].lstrip()[:3] in ('"""', "'''")
            else '"""'
        )
        kept[-1] = kept[-1].rstrip() + quote
        cuts.append((start, end, kept))
    for start, end, kept in sorted(cuts, reverse=True):
        lines = [*lines[:start], *kept, *lines[end + 1 :]]
    return lines


class ShortListings(Extension):
    """Cut the docstrings of Python snippet sections to their summaries,
    and leave out their argument checks (needs pymdownx.snippets first)."""

    def extendMarkdown(self, md: Markdown) -> None:
        snippets = md.preprocessors["snippet"]
        process = snippets.process_snippet_lines

        def process_snippet_lines(lines, target):
            lines = process(lines, target)
            if target.get("section") and str(target.get("snippet", "")).endswith(".py"):
                return without_checks(without_validation(short_docstrings(lines)))
            return lines

        snippets.process_snippet_lines = process_snippet_lines


def on_config(config):
    if not any(
        isinstance(extension, ShortListings) for extension in config.markdown_extensions
    ):
        # after pymdownx.snippets, which it extends
        config.markdown_extensions.append(ShortListings())
    return config
