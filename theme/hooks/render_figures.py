"""MkDocs hook: render the site's figures (``theme/figures``, imported as ``figures``) into the site.

Each figure becomes ``figures/<name>.svg``, a file of the build that a page links to like any other image, so
a page that links to a figure nobody draws fails the strict build. It is drawn a second time in the site's
dark palette, as ``figures/<name>-dark.svg``: on the page, each figure's image is followed by its dark twin,
and Material's ``#only-light`` and ``#only-dark`` address fragments show the one that matches the colour
scheme the reader picked. Both images load lazily: a browser fetches a figure when the reader nears it, and
never the twin that is hidden (Chromium and Firefox do not fetch a lazy image that is not displayed), so a page
downloads only the figures of the scheme shown.

Drawing them all takes a core for a good part of the build, so they are drawn in another process from the moment the
configuration is read, while MkDocs renders the pages; the files are written just before MkDocs copies them into the
site. A figure whose code raises fails the build with that figure's traceback.
"""

from __future__ import annotations

import multiprocessing
import re
import sys
import tempfile
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

# The figures are the site's own code, not the package's: they sit beside this folder. The worker processes
# below start from the parent's sys.path, so they find them too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from figures import DATA_FIGURES, FIGURES, figure_svg
from figures.plotting import PALETTES

_pool: ProcessPoolExecutor | None = None
_folder: tempfile.TemporaryDirectory | None = None
_drawings: dict[str, Future[bytes]] = {}


def on_config(config):
    global _pool, _folder
    _stop()  # `mkdocs serve` reads the configuration again before each rebuild
    # A process, not a thread, because drawing holds the interpreter lock and would stall the page rendering.
    # One worker: the other cores are busy with the notebooks' kernels and MkDocs itself, and a second worker
    # would import matplotlib and the package again only to compete with them for those cores.
    # A fresh interpreter, not a fork: the parent may already have threads (PyTorch's among them).
    _pool = ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    )
    _folder = tempfile.TemporaryDirectory(prefix="figures-")
    for name in [*FIGURES, *DATA_FIGURES]:
        for colours in PALETTES:
            _drawings[_file_name(name, colours)] = _pool.submit(
                figure_svg, name, colours
            )
    return config


def _file_name(name: str, colours: str) -> str:
    return name if colours == "light" else f"{name}-{colours}"


# An <img> whose address ends in figures/<name>.svg (with the attributes Markdown gives it, in any order).
_IMAGE = re.compile(
    r'<img (?P<before>[^>]*?)src="(?P<path>[^"]*figures/)(?P<name>[\w-]+)\.svg"(?P<after>[^>]*)>'
)


@event_priority(50)
def on_page_content(html, page, config, files):
    """Follow every figure's image with its dark twin;
    each is shown in its own colour scheme only."""

    def twins(image: re.Match[str]) -> str:
        if image["name"] not in FIGURES and image["name"] not in DATA_FIGURES:
            return image[0]
        light, dark = (
            f'<img loading="lazy" decoding="async" {image["before"]}'
            f'src="{image["path"]}{_file_name(image["name"], colours)}.svg#only-{colours}"{image["after"]}>'
            for colours in PALETTES
        )
        return light + dark

    return _IMAGE.sub(twins, html)


def on_files(files, config):
    for name in _drawings:
        files.append(
            File.generated(
                config, f"figures/{name}.svg", abs_src_path=f"{_folder.name}/{name}.svg"
            )
        )
    return files


def on_env(env, config, files):
    """The pages are rendered and MkDocs copies the
    files next, so every figure must be on disk now."""
    for name, drawing in _drawings.items():
        try:
            svg = drawing.result()
        except Exception as error:
            trace = "".join(traceback.format_exception(error))
            raise PluginError(
                f"figure {name!r} could not be drawn:\n{trace}"
            ) from error
        Path(_folder.name, f"{name}.svg").write_bytes(svg)
    return env


def _stop(**_event) -> None:
    global _pool, _folder
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)
    if _folder is not None:
        _folder.cleanup()
    _pool, _folder = None, None
    _drawings.clear()


# When the build ends, fails or `mkdocs serve` quits, stop what on_config started.
on_post_build = on_build_error = on_shutdown = _stop
