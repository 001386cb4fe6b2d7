"""MkDocs hook: lay out the typeset formulas (theme/hooks/mathml.py) for a narrow screen, and set the symbols
the prose writes as text the way the formulas set them.

- An inline formula cannot break across lines, and on a phone a long one was cut mid-number by its frame. A long
  inline formula (``LONG`` characters of text or more) is split before each top-level ``=``, and a piece still
  too long before each top-level ``+``: the pieces wrap like words.
- Punctuation right after an inline formula stays on its line (", and" no longer starts the next one).
- A prime is set at full size: latex2mathml writes ``j'`` as a superscript ′, which a browser shrinks a second
  time, so the prime all but vanished.
- ``d_k``, ``d_v``, ``d_ff`` and ``d_model`` written as text in headings, captions and tables (where TeX is not
  at hand) are set as the formulas set them, an italic d with a subscript; code keeps them as written. The table
  of contents follows the headings.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from mkdocs.plugins import event_priority

MATHML = "http://www.w3.org/1998/Math/MathML"
ElementTree.register_namespace("", MATHML)

LONG = 24  # characters of an inline formula's text from which it may be split
_INLINE = re.compile(
    r'<span class="math-frame">(<math\b[^>]*display="inline".*?</math>)</span>',
    re.DOTALL,
)
_PUNCTUATED = re.compile(
    r'(<span class="math-frame"><math\b(?:(?!</math>).)*</math></span>)([,.;:!?)\]]+)',
    re.DOTALL,
)
_PRIME = re.compile(r"<msup>(<mi>[^<]*</mi>)<mi>&#x02032;</mi></msup>")
_SYMBOL = re.compile(r"\bd_(k|v|ff|model)\b")
# a word as a subscript is a name, set upright as \text{} sets it
_UPRIGHT = {
    "ff",
    "model",
}
# Text inside these elements is code, a formula or not text at all: the symbols there stay as written.
_KEEP = re.compile(r"<(/?)(code|pre|math|script|style|textarea|svg)\b[^>]*?(/?)>")
_TAG = re.compile(r"(<[^>]*>)")


@event_priority(-50)  # after theme/hooks/mathml.py has typeset the formulas
def on_page_content(html: str, page, config, files) -> str:
    html = _PRIME.sub(r"<mrow>\1<mo>&#x02032;</mo></mrow>", html)
    html = _INLINE.sub(lambda match: split_inline(match[1]), html)
    html = _PUNCTUATED.sub(r'<span class="math-nowrap">\1\2</span>', html)
    if getattr(page, "nb_url", None):
        return html  # a notebook page's text is mostly code, in elements that are not <code> (copy buttons' text)
    html = symbols_as_math(html)
    for item in _toc_items(page.toc):
        item.title = _SYMBOL.sub(lambda m: symbol(m[1]), item.title)
    return html


def _toc_items(items):
    for item in items:
        yield item
        yield from _toc_items(item.children)


def symbol(subscript: str) -> str:
    """``d`` with ``subscript`` as inline MathML, as the pages' formulas set it."""
    inner = (
        f"<mtext>{subscript}</mtext>"
        if subscript in _UPRIGHT
        else f"<mi>{subscript}</mi>"
    )
    return f'<math display="inline"><msub><mi>d</mi>{inner}</msub></math>'


def symbols_as_math(html: str) -> str:
    """Set every ``d_k``-like symbol of the text as MathML, outside code, formulas and tags' attributes."""
    pieces, inside = [], 0
    for piece in _TAG.split(html):
        if piece.startswith("<"):
            tag = _KEEP.match(piece)
            if tag and not tag[3]:
                inside += -1 if tag[1] else 1
                inside = max(inside, 0)
            pieces.append(piece)
        elif inside or "d_" not in piece:
            pieces.append(piece)
        else:
            pieces.append(_SYMBOL.sub(lambda m: symbol(m[1]), piece))
    return "".join(pieces)


def split_inline(math: str) -> str:
    """One inline formula, framed, or its pieces framed one by one when it is long (see the module's text)."""
    framed = f'<span class="math-frame">{math}</span>'
    try:
        root = ElementTree.fromstring(math)
    except ElementTree.ParseError:
        return framed
    if len("".join(root.itertext())) < LONG:
        return framed
    row = root[0] if len(root) == 1 and root[0].tag == f"{{{MATHML}}}mrow" else root
    pieces = []
    for piece in _split(list(row), "="):
        text = "".join("".join(child.itertext()) for child in piece)
        pieces += _split(piece, "+") if len(text) >= LONG else [piece]
    if len(pieces) < 2:
        return framed
    return " ".join(
        f'<span class="math-frame">{_math(piece, root)}</span>' for piece in pieces
    )


def _split(children: list, operator: str) -> list[list]:
    """``children`` in runs, a new run starting at each ``<mo>operator</mo>`` outside brackets (not the first)."""
    runs: list[list] = [[]]
    depth = 0
    for child in children:
        text = (child.text or "").strip() if child.tag == f"{{{MATHML}}}mo" else ""
        depth += (text in "([{") - (text in ")]}") if text else 0
        if text == operator and depth == 0 and runs[-1]:
            runs.append([])
        runs[-1].append(child)
    return runs


def _math(children: list, root) -> str:
    math = ElementTree.Element(root.tag, root.attrib)
    row = ElementTree.SubElement(math, f"{{{MATHML}}}mrow")
    row.extend(children)
    return ElementTree.tostring(math, encoding="unicode", short_empty_elements=False)
