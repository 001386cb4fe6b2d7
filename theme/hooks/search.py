"""MkDocs hook: keep code listings out of the search index.

Every page downloads the search index, and the code blocks were nearly half of it: listings included from ``src/``,
examples and their printed output, and the signatures of the API reference. A reader searches for words and names; the
prose and the headings hold both (every function has a heading on its API reference page), so the blocks are marked with
Material's ``data-search-exclude`` and the index keeps the rest.
"""

from __future__ import annotations

import re

_CODE_BLOCK = re.compile(r'<div class="(?P<classes>[^"]*\bhighlight\b[^"]*)"')


def on_page_content(html: str, page, config, files) -> str:
    return _CODE_BLOCK.sub(
        lambda block: f'<div data-search-exclude class="{block["classes"]}"', html
    )
