"""MkDocs hook: render the package's figures (``transformer_tutorial.figures``) into the site.

Each figure becomes ``figures/<name>.svg``, a file of the build that a page links to like any other image, so
a page that links to a figure nobody draws fails the strict build. Figures of stored measurements read their
JSON file from the docs folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from mkdocs.structure.files import File

from transformer_tutorial.figures import DATA_FIGURES, FIGURES
from transformer_tutorial.plotting import svg_bytes


def on_files(files, config):
    for name, draw in FIGURES.items():
        files.append(File.generated(config, f"figures/{name}.svg", content=svg_bytes(draw())))
    for name, (draw, data_path) in DATA_FIGURES.items():
        data = json.loads((Path(config["docs_dir"]) / data_path).read_text(encoding="utf-8"))
        files.append(File.generated(config, f"figures/{name}.svg", content=svg_bytes(draw(data))))
    return files
