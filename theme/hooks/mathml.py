"""MkDocs hook: typeset TeX as MathML when the site is built.

Browsers render MathML natively, so pages need no math script, no web font and no request to another host, and
formulas appear at once, before any JavaScript runs.

* On Markdown pages, ``pymdownx.arithmatex`` (generic mode) wraps each formula in ``<span class="arithmatex">``
  (inline, ``\\( … \\)``) or ``<div class="arithmatex">`` (display, ``\\[ … \\]``).
* On notebook pages, mkdocs-jupyter leaves ``$ … $`` and ``$$ … $$`` as text inside the rendered Markdown
  cells, and adds a MathJax loader whose address is empty; the loader is removed.

A formula that latex2mathml cannot read fails the build with the page and the formula in the message.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert
from mkdocs.exceptions import PluginError

ARITHMATEX = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">(?P<tex>.*?)</(?P=tag)>', re.DOTALL
)
MARKDOWN_CELL = re.compile(r'<div class="[^"]*jp-RenderedMarkdown[^"]*"[^>]*>')
DIV_TAG = re.compile(r"<div[\s>]|</div>")
# Code (<pre>, <code>) is skipped whole; then $$display$$, then $inline$. A dollar sign escaped as \$ is text
# (theme/hooks/notebooks.py hides it from nbconvert, which would drop the backslash, and from this hook).
DOLLAR_MATH = re.compile(
    r"(?P<code><pre[\s>].*?</pre>|<code[\s>].*?</code>)"
    r"|\$\$(?P<display>.+?)\$\$|(?<![\\$])\$(?P<inline>[^$\n]+?)\$",
    re.DOTALL,
)
UNKNOWN_COMMAND = re.compile(r">(\\[A-Za-z]+)<")
# mkdocs-jupyter (0.26) writes a MathJax loader into every notebook page. No option leaves it out:
# custom_mathjax_url only changes its address, and an empty one gives <script src="">. So the hook cuts it.
MATHJAX_LOADER = re.compile(
    r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.DOTALL
)


def tex_to_mathml(tex: str, display: bool, where: str) -> str:
    """One formula as a ``<math>`` element, or a
    build error that names the page and the formula."""
    try:
        mathml = convert(tex.strip(), display="block" if display else "inline")
    # latex2mathml raises many types; the build must stop on any of them
    except Exception as error:
        raise PluginError(
            f"{where}: cannot typeset {tex!r}: {type(error).__name__} {error}"
        ) from error
    unknown = UNKNOWN_COMMAND.search(mathml)
    # latex2mathml prints a command it does not know as text instead of failing
    if unknown:
        raise PluginError(
            f"{where}: cannot typeset {tex!r}: unknown command {unknown[1]}"
        )
    # A formula cannot break across lines: on a phone a long one scrolls inside its own frame instead of
    # widening the page (docs/stylesheets/extra.css).
    if display:
        return f'<div class="math-frame">{mathml}</div>'
    return f'<span class="math-frame">{mathml}</span>'


def _arithmatex(match: re.Match[str], where: str) -> str:
    tex = html.unescape(match["tex"]).strip()
    display = match["tag"] == "div"
    # drop the \( \) or \[ \] delimiters
    return tex_to_mathml(tex[2:-2], display, where)


def _dollars(match: re.Match[str], where: str) -> str:
    if match["code"] is not None:
        return match["code"]
    if match["display"] is not None:
        return tex_to_mathml(html.unescape(match["display"]), True, where)
    return tex_to_mathml(html.unescape(match["inline"]), False, where)


def _cell_end(page_html: str, start: int) -> int:
    """Where the ``<div>`` that opens just before ``start``
    closes: the matching ``</div>``, inner divs counted."""
    depth = 1
    for tag in DIV_TAG.finditer(page_html, start):
        depth += -1 if tag[0] == "</div>" else 1
        if depth == 0:
            return tag.start()
    return len(page_html)


def typeset(page_html: str, where: str) -> str:
    """Replace every formula in a page's HTML by MathML."""
    page_html = ARITHMATEX.sub(lambda m: _arithmatex(m, where), page_html)
    if "jp-RenderedMarkdown" not in page_html:
        return page_html
    page_html = MATHJAX_LOADER.sub("", page_html)
    pieces, done = [], 0
    for cell in MARKDOWN_CELL.finditer(page_html):
        # a Markdown cell inside another one was typeset with it
        if cell.start() < done:
            continue
        end = _cell_end(page_html, cell.end())
        body = DOLLAR_MATH.sub(
            lambda m: _dollars(m, where), page_html[cell.end() : end]
        )
        pieces += [page_html[done : cell.end()], body]
        done = end
    return "".join([*pieces, page_html[done:]])


def on_page_content(html: str, page, config, files) -> str:
    return typeset(html, page.file.src_uri)
