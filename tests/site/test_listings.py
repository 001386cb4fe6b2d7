"""What a listing included from ``src/`` shows: the code, each docstring's summary, and no argument checks."""

from __future__ import annotations

import importlib.util
import textwrap

from project import ROOT

_spec = importlib.util.spec_from_file_location("listings", ROOT / "theme" / "hooks" / "listings.py")
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


def test_a_block_made_only_of_checks_is_left_alone_rather_than_emptied():
    lines = ["def check_all(x):", "    check_ndim('x', x, 2)", "    check_finite('x', x)"]
    assert listings.without_checks(lines) == lines


def test_text_that_is_not_python_is_left_as_it_is():
    lines = ["not python (", "at all"]
    assert listings.short_docstrings(lines) == lines
    assert listings.without_checks(lines) == lines
