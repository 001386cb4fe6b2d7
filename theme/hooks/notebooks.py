"""MkDocs hook: put each notebook's ``.ipynb`` beside its page, for the download button.

The notebooks live in ``docs/notebooks/`` as jupytext percent-format ``.py`` files (readable diffs, lintable
code). mkdocs-jupyter renders and executes them and copies the ``.py``; this hook adds the same notebook as an
``.ipynb`` file, without outputs, which is what a reader opens in Jupyter.
"""

from __future__ import annotations

from pathlib import Path

import jupytext


def on_post_page(output: str, page, config) -> str:
    if getattr(page, "nb_url", None):
        source = Path(page.file.abs_src_path)
        target = Path(page.file.abs_dest_path).parent / f"{source.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        jupytext.write(jupytext.read(source), target, fmt="ipynb")
    return output
