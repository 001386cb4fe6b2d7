"""Every external link of the site is https, well formed, and listed in ``links.txt``, and that list holds nothing
else.

``links.txt``, at the top of the repository, is the one place a link checker needs: one address per line, blank
lines and lines starting with ``#`` ignored. The links are read from the source of the site, not from a build:

* every Markdown page under ``docs/`` (``[text](url)``, ``![alt](url)``, ``[id]: url`` definitions, ``<url>``
  autolinks, and ``href``/``src`` attributes of raw HTML), leaving out fenced code blocks and inline code, where
  an address is text rather than a link;
* the Markdown cells of the notebooks in ``docs/notebooks/`` (jupytext percent format);
* every string value of ``mkdocs.yml`` that is an address (``site_url``, ``repo_url``, ``extra``, …).

An external link is one with a scheme (``https:``, ``http:``, ``mailto:``, …) or starting with ``//``; a link
to another page or file of the site is relative and is checked by the strict build instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from project import ROOT

REGISTRY = ROOT / "links.txt"

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[^\n]*\n.*?^(?P=indent)?[ \t]*(?P=fence)[ \t]*$",
    re.M | re.S,
)
# never across a blank line
INLINE_CODE = re.compile(r"(?P<ticks>`+)(?:(?!\n[ \t]*\n).)+?(?P=ticks)", re.S)
# [text](target "title") and ![alt](target): the target is <...> or runs to the first space or closing parenthesis,
# allowing one level of balanced parentheses inside it.
INLINE_LINK = re.compile(
    r"\]\(\s*(?:<(?P<angled>[^>\n]*)>|(?P<bare>(?:[^()\s]|\([^()\s]*\))+))"
)
DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?(?P<target>[^\s>]+)>?", re.M)
AUTOLINK = re.compile(r"<(?P<target>[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>]*)>")
HTML_ATTRIBUTE = re.compile(
    r"""\b(?:href|src)\s*=\s*(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<plain>[^\s>]+))""",
    re.I,
)
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")


def without_code(markdown: str) -> str:
    """The Markdown with fenced code blocks and inline code spans removed."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def markdown_links(markdown: str) -> list[str]:
    """Every link target of a Markdown text, external or not, in order."""
    text = without_code(markdown)
    targets = [
        match["angled"] if match["angled"] is not None else match["bare"]
        for match in INLINE_LINK.finditer(text)
    ]
    targets += [match["target"] for match in DEFINITION.finditer(text)]
    targets += [match["target"] for match in AUTOLINK.finditer(text)]
    targets += [
        next(value for value in match.groups() if value is not None)
        for match in HTML_ATTRIBUTE.finditer(text)
    ]
    return targets


def notebook_markdown(source: str) -> str:
    """The Markdown cells of a jupytext percent-format notebook, with the leading ``# `` of each line removed."""
    cells = re.split(r"^# %%", source, flags=re.M)
    markdown = [cell for cell in cells if cell.startswith(" [markdown]")]
    return "\n".join(
        re.sub(r"^# ?", "", line) for cell in markdown for line in cell.splitlines()[1:]
    )


def _ignore_tags(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> None:
    return None  # mkdocs.yml may hold !!python/name: and !ENV tags; their values are not addresses


class _ConfigLoader(yaml.SafeLoader):
    pass


_ConfigLoader.add_multi_constructor("", _ignore_tags)


def config_links(text: str) -> list[str]:
    """Every string value of a YAML document that contains ``://``."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and "://" in value:
            found.append(value.strip())

    # a SafeLoader that ignores unknown tags
    walk(yaml.load(text, Loader=_ConfigLoader))
    return found


def site_links() -> dict[str, list[str]]:
    """External address -> the files that use it."""
    sources: list[tuple[Path, list[str]]] = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        sources.append((page, markdown_links(page.read_text(encoding="utf-8"))))
    for notebook in sorted((ROOT / "docs" / "notebooks").glob("*.py")):
        sources.append(
            (
                notebook,
                markdown_links(notebook_markdown(notebook.read_text(encoding="utf-8"))),
            )
        )
    config = ROOT / "mkdocs.yml"
    sources.append((config, config_links(config.read_text(encoding="utf-8"))))
    links: dict[str, list[str]] = {}
    for path, targets in sources:
        for target in targets:
            if EXTERNAL.match(target):
                links.setdefault(target, []).append(str(path.relative_to(ROOT)))
    return links


def registry() -> list[str]:
    lines = (line.strip() for line in REGISTRY.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


LINKS = site_links()


def link_problems(link: str) -> list[str]:
    """What is wrong with an external address; an empty list when it is an https URL with a host name."""
    parts = urlsplit(link)
    problems = []
    if parts.scheme != "https":
        problems.append(f"uses {parts.scheme or 'no scheme'}, not https")
    if not parts.hostname or "." not in parts.hostname:
        problems.append("has no host name")
    if re.search(r"\s", link):
        problems.append("contains white space")
    if parts.netloc != parts.netloc.lower():
        problems.append("writes its host name in capitals")
    return problems


@pytest.mark.parametrize("link", sorted(LINKS))
def test_an_external_link_is_https_and_well_formed(link):
    assert not link_problems(link), (
        f"{link!r} (in {', '.join(sorted(set(LINKS[link])))}): {link_problems(link)}"
    )


def test_every_external_link_is_listed_in_links_txt():
    listed = set(registry())
    missing = {
        link: sorted(set(files)) for link, files in LINKS.items() if link not in listed
    }
    assert not missing, f"add these links to links.txt (one per line): {missing}"


def test_links_txt_lists_only_links_the_site_uses_and_each_once():
    entries = registry()
    duplicates = sorted({entry for entry in entries if entries.count(entry) > 1})
    assert not duplicates, f"listed more than once in links.txt: {duplicates}"
    unused = sorted(set(entries) - set(LINKS))
    assert not unused, (
        f"links.txt lists links no page or mkdocs.yml uses any more: {unused}"
    )


# The extraction itself, on small examples: a test of the finder that cannot see a link proves nothing.


def test_the_finder_sees_every_kind_of_link_and_skips_code():
    page = """
A [link](https://a.example/one "title") and an image ![alt](https://b.example/two.png) and
a [link with (parentheses)](https://c.example/wiki/Thing_(x)) and <https://d.example/auto>.

[ref]: https://e.example/defined

<a href="https://f.example/html">raw</a> <img src='https://g.example/i.png'>

Relative links stay out: [page](attention.md#masks), [top](#top).

`https://h.example/inline-code` is text, and so is this fence:

```bash
curl https://i.example/fenced
```

    ```python
    print("https://j.example/indented-fence")
    ```
"""
    found = [link for link in markdown_links(page) if EXTERNAL.match(link)]
    assert found == [
        "https://a.example/one",
        "https://b.example/two.png",
        "https://c.example/wiki/Thing_(x)",
        "https://e.example/defined",
        "https://d.example/auto",
        "https://f.example/html",
        "https://g.example/i.png",
    ]


def test_the_finder_reads_notebook_markdown_cells_and_yaml_values():
    notebook = '# %% [markdown]\n# See [the paper](https://a.example/paper).\n\n# %%\nurl = "https://b.example/code"\n'
    assert markdown_links(notebook_markdown(notebook)) == ["https://a.example/paper"]
    config = "site_url: https://c.example/\nextra:\n  social:\n    - link: https://d.example/x\nhooks: [a.py]\n"
    assert config_links(config) == ["https://c.example/", "https://d.example/x"]


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ("http://a.example/", "uses http, not https"),
        ("https://a.example/has space", "contains white space"),
        ("https:/a.example/missing-slash", "has no host name"),
        ("mailto:someone@a.example", "uses mailto, not https"),
        ("//a.example/protocol-relative", "uses no scheme, not https"),
        ("https://A.example/", "writes its host name in capitals"),
    ],
)
def test_the_checks_name_what_is_wrong_with_a_bad_link(link, problem):
    assert problem in link_problems(link)
    assert link_problems("https://a.example/fine?q=1#part") == []
