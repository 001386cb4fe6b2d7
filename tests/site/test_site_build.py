"""The strict build of the site, what it produces, and the failures it must not let through."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from project import ROOT, build_site, start_build

pytestmark = pytest.mark.site  # each test builds a small site

CONFIG = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.py"))


def make_project(
    tmp_path: Path,
    pages: dict[str, str],
    plugins: list | None = None,
    hooks: list | None = None,
) -> Path:
    """A throwaway MkDocs project with this site's Markdown extensions and the given pages, plugins and hooks."""
    docs = tmp_path / "docs"
    for name, text in pages.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(textwrap.dedent(text), encoding="utf-8")
    config = {
        "site_name": "throwaway",
        "docs_dir": str(docs),
        "strict": True,
        "markdown_extensions": CONFIG["markdown_extensions"],
        "plugins": plugins or [],
        "hooks": [str(ROOT / hook) for hook in hooks or []],
    }
    path = tmp_path / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "snippet.py").write_text(
        "# --8<-- [start:here]\nx = 1\n# --8<-- [end:here]\n", encoding="utf-8"
    )
    return path


@pytest.mark.parametrize(
    "include", ["snippet.py:missing_section", "no_such_file.py:here"]
)
def test_a_missing_snippet_fails_the_build(tmp_path, include):
    config = make_project(
        tmp_path, {"index.md": f'```python\n--8<-- "{include}"\n```\n'}
    )
    result = build_site(config, tmp_path / "site")
    assert result.returncode != 0
    assert "missing_section" in result.stderr or "no_such_file.py" in result.stderr


# The notebook-failure builds: a one-page site with one notebook each, all started at once (each mostly waits
# for its kernel), with only the plugin and the hook that run notebooks.
BROKEN_NOTEBOOKS = {
    "raises": (
        '# %%\nraise RuntimeError("this cell is broken on purpose")\n',
        "this cell is broken on purpose",
    ),
    "broken-link": (
        "# %% [markdown]\n# See [the missing page](../missing.md).\n",
        "missing.md, which is not a page",
    ),
    "stderr": (
        '# %%\nimport sys\n\nprint("careful", file=sys.stderr)\n',
        "wrote to stderr",
    ),
}


@pytest.fixture(scope="module")
def notebook_builds(tmp_path_factory) -> dict[str, subprocess.CompletedProcess[str]]:
    (jupyter,) = [
        plugin
        for plugin in CONFIG["plugins"]
        if isinstance(plugin, dict) and "mkdocs-jupyter" in plugin
    ]
    builds = {}
    for name, (cell, _) in BROKEN_NOTEBOOKS.items():
        folder = tmp_path_factory.mktemp(name)
        pages = {
            "index.md": "# Home\n",
            "notebooks/shaky.py": "# %% [markdown]\n# # A notebook\n\n" + cell,
        }
        # The hook runs the notebooks side by side before mkdocs-jupyter renders them: it must fail the build too.
        config = make_project(
            folder, pages, plugins=[jupyter], hooks=["theme/hooks/notebooks.py"]
        )
        builds[name] = start_build(
            config, folder / "site", stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    results = {}
    for name, build in builds.items():
        stdout, stderr = build.communicate()
        results[name] = subprocess.CompletedProcess(
            build.args, build.returncode, stdout, stderr
        )
    return results


@pytest.mark.parametrize("broken", BROKEN_NOTEBOOKS)
def test_a_notebook_that_raises_or_shows_something_broken_fails_the_build(
    notebook_builds, broken
):
    result = notebook_builds[broken]
    assert result.returncode != 0
    assert BROKEN_NOTEBOOKS[broken][1] in result.stdout + result.stderr
