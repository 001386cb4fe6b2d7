"""MkDocs hook: what the search index holds, and how its entries rank.

Every page downloads the search index, so it keeps what a reader searches for and shows it readably:

- code blocks are left out: listings included from ``src/``, examples and their printed output, and the
  signatures of the API reference were nearly half of it. A reader searches for words and names; the prose and
  the headings hold both (every function has a heading on its API reference page);
- the labels of NumPy | PyTorch tabs are left out (the snippet read "NumPyPyTorch");
- a formula is indexed as a line of text with sub- and superscripts ("qᵀ R<sub>t</sub>…"), not as the letters of
  its MathML run together;
- the chapters rank above the API reference: a reader who searches a topic wants the chapter that teaches it,
  and the reference ranks lower (``REFERENCE_BOOST``). An API entry keeps its name (the heading) and its
  summary, the first paragraph of its docstring: the rest is on its page, one click away, and the API
  reference was most of the index that every page downloads;
- a section's title in the index carries the abbreviations a reader types for it (``ABBREVIATIONS``), so that
  "GQA" or "flash attention" finds the section that teaches it.

Material's search plugin indexes ``page.content`` when the page's context is made. Just before it does, this
hook gives it the searchable version of the page to index, and tells it to skip the page itself.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import SimpleNamespace

from mkdocs.plugins import event_priority

_CODE_BLOCK = re.compile(r'<div class="(?P<classes>[^"]*\bhighlight\b[^"]*)"')
_TAB_LABELS = re.compile(r'<div class="tabbed-labels')
_MATH = re.compile(r"<math\b.*?</math>", re.DOTALL)

REFERENCE_BOOST = 0.2  # lunr multiplies an entry's score by its boost; chapters keep 1
# Heading id -> what a reader may type for that section, shown after its title in the search results.
ABBREVIATIONS = {
    "grouped-query-attention": "GQA, MQA",
    "tiled-attention-and-the-online-softmax": "FlashAttention",
    "relative-positions-inside-attention-rope": "rotary embeddings",
}
_RELATIONS = set("=≠≈≤≥<>→↦∈∝∼≡") | {"≪", "≫"}


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri.startswith("reference/"):
        page.meta.setdefault("search", {}).setdefault("boost", REFERENCE_BOOST)
    return markdown


def on_page_content(html_text: str, page, config, files) -> str:
    return _CODE_BLOCK.sub(
        lambda block: f'<div data-search-exclude class="{block["classes"]}"',
        html_text,
    )


@event_priority(100)  # before Material's search plugin, which then skips the page
def on_page_context(context, page, config, nav):
    search = config.plugins.get("material/search") or config.plugins.get("search")
    meta = page.meta.setdefault("search", {})
    if search is None or meta.get("exclude"):
        return context
    search.search_index.add_entry_from_context(
        SimpleNamespace(
            content=searchable(
                page.content or "", page.file.src_uri.startswith("reference/")
            ),
            toc=page.toc,
            url=page.url,
            title=page.title,
            meta={**page.meta, "search": dict(meta)},
        )
    )
    meta["exclude"] = (
        True  # indexed above; the plugin still strips the data-search attributes from the page
    )
    return context


def searchable(page_html: str, reference: bool = False) -> str:
    """The page as the search index should read it: tab labels out, formulas as text, abbreviations added; on an
    API reference page, the tables of parameters out (their names are in the signatures' headings)."""
    if reference:
        page_html = page_html.replace("<table", "<table data-search-exclude")
    page_html = _TAB_LABELS.sub(
        '<div data-search-exclude class="tabbed-labels', page_html
    )
    page_html = _MATH.sub(lambda math: linear(math[0]), page_html)
    for anchor, words in ABBREVIATIONS.items():
        page_html = re.sub(
            rf'(<h[1-6] id="{anchor}"[^>]*>.*?)(<a class="headerlink"|</h[1-6]>)',
            lambda heading, words=words: f"{heading[1]} ({words}){heading[2]}",
            page_html,
            count=1,
            flags=re.DOTALL,
        )
    return page_html


def linear(math: str) -> str:
    """A MathML formula as one line of HTML text: sub- and superscripts as <sub> and <sup>, fractions with a
    slash, roots with √. A formula that is not well-formed XML is left out of the index rather than garbled."""
    try:
        tree = ElementTree.fromstring(math)
    except ElementTree.ParseError:
        return ""
    return " ".join(_linear(tree).split())


def _name(element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _grouped(text: str) -> str:
    plain = re.sub(r"<[^>]+>", "", text).strip()
    return text.strip() if len(plain) <= 1 else f"({text.strip()})"


def _linear(element) -> str:
    name, children = _name(element), list(element)
    if name in ("mi", "mn", "mtext", "ms"):
        return html.escape(element.text or "")
    if name == "mo":
        symbol = (element.text or "").strip()
        if symbol in _RELATIONS:
            return f" {html.escape(symbol)} "
        return html.escape(symbol) + (" " if symbol == "," else "")
    if name == "mspace":
        return " "
    parts = [_linear(child) for child in children]
    if name == "msub" and len(parts) == 2:
        return f"{parts[0]}<sub>{parts[1].strip()}</sub>"
    if name == "msup" and len(parts) == 2:
        return f"{parts[0]}<sup>{parts[1].strip()}</sup>"
    if name in ("msubsup", "munderover") and len(parts) == 3:
        return f"{parts[0]}<sub>{parts[1].strip()}</sub><sup>{parts[2].strip()}</sup>"
    if name == "munder" and len(parts) == 2:
        return f"{parts[0]}<sub>{parts[1].strip()}</sub>"
    if name == "mover" and len(parts) == 2:
        return parts[0]  # an accent (a hat, a bar) over its base
    if name == "mfrac" and len(parts) == 2:
        return f"{_grouped(parts[0])}/{_grouped(parts[1])}"
    if name == "msqrt":
        return f"√{_grouped(''.join(parts))}"
    if name == "mroot" and len(parts) == 2:
        return f"√{_grouped(parts[0])}"
    if name == "mtr":
        return " ".join(parts) + "; "
    return "".join(parts)


def on_post_build(config) -> None:
    """Each API reference entry keeps its summary only (runs after Material's plugin has written the index)."""
    path = Path(config["site_dir"], "search", "search_index.json")
    if not path.is_file():
        return
    index = json.loads(path.read_text(encoding="utf-8"))
    for entry in index["docs"]:
        if entry["location"].startswith("reference/") and "</p>" in entry["text"]:
            entry["text"] = entry["text"][: entry["text"].index("</p>") + len("</p>")]
    path.write_text(
        json.dumps(index, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
