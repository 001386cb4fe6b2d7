"""MkDocs hook: render the package's figures (``transformer_tutorial.figures.FIGURES``) into the site.

Each figure becomes ``figures/<name>.svg``, a file of the build that a page links to like any other image, so
a page that links to a figure nobody draws fails the strict build.
"""

from __future__ import annotations

from mkdocs.structure.files import File

from transformer_tutorial.figures import FIGURES
from transformer_tutorial.plotting import svg_bytes


def on_files(files, config):
    for name, draw in FIGURES.items():
        files.append(File.generated(config, f"figures/{name}.svg", content=svg_bytes(draw())))
    return files
