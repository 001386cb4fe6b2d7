"""MkDocs hook: what a notebook page downloads.

- nbconvert's template imports Mermaid from a CDN on every notebook page, to draw diagrams no notebook here
  has. The site makes no request to another host, so the import is cut; a notebook that does hold a Mermaid
  diagram fails the build instead of showing it undrawn.
- nbconvert's stylesheets (which theme/hooks/notebooks.py moves into shared files) hold the styles of all of
  JupyterLab, some 590 kB. After the build, each keeps only the rules that can match an element of a notebook
  page (every class a selector names is used there) and the custom properties those rules read.
"""

from __future__ import annotations

import re
from pathlib import Path

import tinycss2
from mkdocs.exceptions import PluginError

_MERMAID = re.compile(
    r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{\s*'
    r'const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>',
    re.DOTALL,
)
_CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
_SELECTOR_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
_PROPERTY = re.compile(r"(--[\w-]+)\s*:")
_READ = re.compile(r"var\(\s*(--[\w-]+)")


def on_post_page(output: str, page, config) -> str:
    if not getattr(page, "nb_url", None):
        return output
    if 'class="jp-Mermaid' in output:
        raise PluginError(
            f"{page.file.src_uri} has a Mermaid diagram, which would need a script from another host"
        )
    return _MERMAID.sub("", output)


def on_post_build(config) -> None:
    site = Path(config["site_dir"])
    sheets = sorted((site / "assets" / "notebooks").glob("*.css"))
    if not sheets:
        return
    used = set()
    for page in (site / "notebooks").rglob("*.html"):
        for classes in _CLASS_ATTRIBUTE.findall(page.read_text(encoding="utf-8")):
            used.update(classes.split())
    texts = prune({sheet: sheet.read_text(encoding="utf-8") for sheet in sheets}, used)
    for sheet, text in texts.items():
        sheet.write_text(text, encoding="utf-8")


def prune(sheets: dict, used: set[str]) -> dict:
    """The stylesheets without the rules that no element with the ``used`` classes can match, and without the
    custom properties that nothing left in any of them reads."""
    texts = {
        name: "".join(
            rule.serialize()
            for rule in _kept(
                tinycss2.parse_stylesheet(
                    css, skip_comments=True, skip_whitespace=True
                ),
                used,
            )
        )
        for name, css in sheets.items()
    }
    # A custom property may be read by another one: drop the unread ones until none is left to drop.
    while True:
        every = "".join(texts.values())
        unread = set(_PROPERTY.findall(every)) - set(_READ.findall(every))
        if not unread:
            return texts
        pattern = re.compile(
            r"(?<![\w-])(" + "|".join(map(re.escape, unread)) + r")\s*:[^;{}]*;?"
        )
        texts = {name: pattern.sub("", text) for name, text in texts.items()}


def _kept(rules, used: set[str]) -> list:
    kept = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = tinycss2.serialize(rule.prelude).split(",")
            if any(
                set(_SELECTOR_CLASS.findall(selector)) <= used for selector in selectors
            ):
                kept.append(rule)
        elif (
            rule.type == "at-rule"
            and rule.content is not None
            and rule.lower_at_keyword in ("media", "supports")
        ):
            inner = _kept(
                tinycss2.parse_rule_list(
                    rule.content, skip_comments=True, skip_whitespace=True
                ),
                used,
            )
            if inner:
                body = "".join(item.serialize() for item in inner)
                kept.append(
                    _Raw(
                        f"@{rule.at_keyword}{tinycss2.serialize(rule.prelude)}{{{body}}}"
                    )
                )
        elif rule.type == "at-rule":
            kept.append(rule)
    return kept


class _Raw:
    """Text that serializes as itself, for an at-rule rebuilt from the rules it keeps."""

    def __init__(self, text: str) -> None:
        self.text = text

    def serialize(self) -> str:
        return self.text
