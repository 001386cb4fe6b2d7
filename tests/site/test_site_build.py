"""The strict build of the site, what it produces, and the failures it must not let through."""

from __future__ import annotations

import json
import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from project import ROOT, build_site

CONFIG = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.py"))


class ResourceLinks(HTMLParser):
    """Collect the addresses a browser fetches by itself: scripts, styles, images, frames, media, fonts."""

    FETCHED: ClassVar = {
        "script": "src",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "audio": "src",
        "video": "src",
    }

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "link" and attributes.get("rel") in ("stylesheet", "preconnect", "preload", "icon", "manifest"):
            self.addresses.append(attributes.get("href") or "")
        elif tag in self.FETCHED and attributes.get(self.FETCHED[tag]) is not None:
            self.addresses.append(attributes[self.FETCHED[tag]])


def test_every_page_and_notebook_is_built(built_site):
    assert (built_site / "index.html").is_file()
    assert (built_site / "404.html").is_file()
    for notebook in NOTEBOOKS:
        page = built_site / "notebooks" / notebook.stem / "index.html"
        assert page.is_file(), f"no page for {notebook.name}"
        assert "jp-OutputArea-output" in page.read_text(encoding="utf-8"), f"{notebook.name} has no outputs"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_each_notebook_page_offers_its_ipynb(built_site, notebook):
    folder = built_site / "notebooks" / notebook.stem
    ipynb = json.loads((folder / f"{notebook.stem}.ipynb").read_text(encoding="utf-8"))
    assert ipynb["nbformat"] == 4 and any(cell["cell_type"] == "code" for cell in ipynb["cells"])
    assert f'href="{notebook.stem}.ipynb" download' in (folder / "index.html").read_text(encoding="utf-8")


def test_no_page_fetches_anything_from_another_host(built_site):
    offenders = []
    for page in built_site.rglob("*.html"):
        parser = ResourceLinks()
        parser.feed(page.read_text(encoding="utf-8"))
        for address in parser.addresses:
            if re.match(r"^([a-z]+:)?//", address) or address == "":
                offenders.append(f"{page.relative_to(built_site)}: {address!r}")
    assert not offenders


def test_all_math_is_mathml(built_site):
    for page in built_site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert 'class="arithmatex"' not in html, page
        assert "mathjax" not in html.lower(), page
    assert "<math" in (built_site / "index.html").read_text(encoding="utf-8")


def make_project(tmp_path: Path, pages: dict[str, str], plugins: list | None = None) -> Path:
    """A throwaway MkDocs project with this site's Markdown extensions, the given pages and plugins, no hooks."""
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
    }
    path = tmp_path / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "snippet.py").write_text("# --8<-- [start:here]\nx = 1\n# --8<-- [end:here]\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("include", ["snippet.py:missing_section", "no_such_file.py:here"])
def test_a_missing_snippet_fails_the_build(tmp_path, include):
    config = make_project(tmp_path, {"index.md": f'```python\n--8<-- "{include}"\n```\n'})
    result = build_site(config, tmp_path / "site")
    assert result.returncode != 0
    assert "missing_section" in result.stderr or "no_such_file.py" in result.stderr


def test_a_notebook_cell_that_raises_fails_the_build(tmp_path):
    (jupyter,) = [plugin for plugin in CONFIG["plugins"] if isinstance(plugin, dict) and "mkdocs-jupyter" in plugin]
    notebook = """\
        # %% [markdown]
        # # A notebook that breaks

        # %%
        raise RuntimeError("this cell is broken on purpose")
        """
    config = make_project(tmp_path, {"index.md": "# Home\n", "notebooks/broken.py": notebook}, plugins=[jupyter])
    result = build_site(config, tmp_path / "site")
    assert result.returncode != 0
    assert "this cell is broken on purpose" in result.stdout + result.stderr
