"""The harness that runs the pages' examples: nothing is skipped silently, and a broken example names its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from doc_examples import (
    count_python_fences,
    enclosing_framework_tab,
    make_sybils,
    python_blocks,
)

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").rglob("*.md"))


def collected_lines(page: Path) -> set[int]:
    """The lines of the Python blocks from which Sybil collected at least one example, over every pass."""
    blocks = list(python_blocks(page.read_text(encoding="utf-8"), str(page)))
    lines = set()
    for sybil in make_sybils(ROOT / "docs", ROOT / "src"):
        if not sybil.should_parse(page):
            continue
        for example in sybil.parse(page).examples():
            lines |= {
                block.line
                for block in blocks
                if block.start <= example.region.start < block.end
            }
    return lines


@pytest.mark.parametrize(
    "page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES]
)
def test_every_python_block_on_the_page_is_run_or_explained(page):
    text = page.read_text(encoding="utf-8")
    fences = count_python_fences(text)
    blocks = list(python_blocks(text, str(page)))
    assert [block.line for block in blocks] == fences, (
        "the harness and a plain line scan disagree on the blocks"
    )
    expected = {block.line for block in blocks if block.kind in ("run", "session")}
    assert collected_lines(page) == expected, "these blocks were not collected by Sybil"


def test_the_line_scan_finds_fences_with_attributes_at_any_indentation():
    page = textwrap.dedent(
        """\
        ```python title="a.py"
        x = 1
        ```

        !!! note

            ```py
            y = 2
            ```

        ```pycon
        >>> 1 + 1
        2
        ```

        ```bash
        echo not python
        ```
        """
    )
    assert count_python_fences(page) == [1, 7, 11]
    assert [block.kind for block in python_blocks(page)] == ["run", "run", "session"]


def test_tabs_are_found_through_nested_blocks():
    lines = textwrap.dedent(
        """\
        === "NumPy"

            !!! tip

                ```python
                x = 1
                ```

        === "Output"

            ```python
            y = 1
            ```
        """
    ).splitlines()
    assert enclosing_framework_tab(lines, 4) == "NumPy"
    assert enclosing_framework_tab(lines, 10) is None


def test_a_skip_marker_must_give_a_reason():
    page = "<!-- skip-example: -->\n```python\nraise SystemExit\n```\n"
    with pytest.raises(ValueError, match="must give a reason"):
        list(python_blocks(page))
    page = "<!-- skip-example: needs a GPU -->\n```python\nraise SystemExit\n```\n"
    assert [block.kind for block in python_blocks(page)] == ["skip"]


@pytest.fixture
def throwaway_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A temporary project wired like ours: docs/ and src/ collected by the same Sybil configuration."""
    pytester.makeconftest(
        """
        from pathlib import Path
        from doc_examples import make_sybils
        from sybil.sybil import SybilCollection
        here = Path(__file__).parent
        pytest_collect_file = SybilCollection(make_sybils(here / "docs", here / "src")).pytest()
        """
    )
    (pytester.path / "docs").mkdir()
    (pytester.path / "src").mkdir()
    return pytester


def test_a_broken_example_on_a_page_fails_with_the_page_and_line(throwaway_project):
    page = throwaway_project.path / "docs" / "broken.md"
    page.write_text(
        "# A page\n\n```python\nx = 1\n```\n\nText.\n\n```python\ny = x + 1\nassert y == 3, 'wrong sum'\n```\n",
        encoding="utf-8",
    )
    result = throwaway_project.runpytest("docs")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*broken.md line=9 column=1*", "docs/broken.md:11: AssertionError"]
    )


def test_a_wrong_printed_value_in_a_session_fails_with_the_page_and_line(
    throwaway_project,
):
    page = throwaway_project.path / "docs" / "session.md"
    page.write_text(
        "# A page\n\n```pycon\n>>> 1 + 1\n2\n>>> 2 * 2\n5\n```\n", encoding="utf-8"
    )
    result = throwaway_project.runpytest("docs")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*session.md line=6 column=1*",
            "Expected:",
            "    5",
            "Got:",
            "    4",
            "session.md:6: SybilFailure",
        ]
    )


def test_a_broken_docstring_example_fails_with_the_file_and_line(throwaway_project):
    module = throwaway_project.path / "src" / "broken_module.py"
    module.write_text(
        'def double(x):\n    """Twice x.\n\n    >>> double(2)\n    5\n    """\n    return 2 * x\n'
    )
    result = throwaway_project.runpytest("src", "-p", "no:doctest")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*broken_module.py::sybil:docstring,line:4*"])


def test_a_pytorch_tab_that_needs_a_numpy_tab_fails_its_own_reading(throwaway_project):
    page = throwaway_project.path / "docs" / "tabs.md"
    page.write_text(
        textwrap.dedent(
            """\
            === "NumPy"

                ```python
                backend = "numpy"
                ```

            === "PyTorch"

                ```python
                print("defined only in the NumPy tab:", backend)
                ```
            """
        ),
        encoding="utf-8",
    )
    result = throwaway_project.runpytest("docs")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*NameError*backend*"])
