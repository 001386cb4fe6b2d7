"""MkDocs hook: run the notebooks side by side, and offer each one as an ``.ipynb`` download.

The notebooks live in ``docs/notebooks/`` as jupytext percent-format ``.py`` files (readable diffs, lintable
code), and mkdocs-jupyter renders them. Left to itself, mkdocs-jupyter runs each notebook when it reaches that
page, one after another, and the notebooks would be most of the build's time. So, when the plugin is set to
execute, this hook starts every notebook on a kernel of its own as soon as the configuration is read; when
mkdocs-jupyter reaches a notebook's page, it waits for that run and renders the executed copy. A cell that
raises fails the build with its traceback, as it did before.

The hook also puts each notebook's ``.ipynb``, without outputs, beside its page for the download button, and
moves the stylesheets that nbconvert writes into every notebook page (some 600 kB, the same on each) into
shared files, which a browser fetches once.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import jupytext
import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.utils import get_relative_url
from mkdocs_jupyter import plugin as jupyter_plugin
from nbclient import NotebookClient

_render_notebook = jupyter_plugin.convert.nb2html  # mkdocs-jupyter's own renderer
_pool: ThreadPoolExecutor | None = None
_runs: dict[str, Future[Path]] = {}  # resolved source path -> its run, which gives the executed copy
_folder: tempfile.TemporaryDirectory | None = None
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
_stylesheets: dict[str, str] = {}  # path in the site -> CSS


def on_config(config):
    global _pool, _folder
    _stop()  # `mkdocs serve` reads the configuration again before each rebuild
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None or not jupyter.config["execute"]:
        return config
    docs_dir = Path(config["docs_dir"])
    sources = sorted({source for pattern in jupyter.config["include"] for source in docs_dir.glob(pattern)})
    if not sources:
        return config
    kernel = jupyter.config["kernel_name"] or "python3"  # ipykernel's own kernel, on the Python of the build
    _folder = tempfile.TemporaryDirectory(prefix="notebooks-")
    # Threads are enough: each kernel is a process of its own, and a thread only waits for its kernel's replies.
    _pool = ThreadPoolExecutor(max_workers=len(sources))
    for source in sources:
        executed = Path(_folder.name, f"{source.stem}.ipynb")
        _runs[str(source.resolve())] = _pool.submit(_execute, source, executed, kernel)
    # Why patch mkdocs-jupyter instead of configuring it: its options (execute, execute_ignore, cache, kernel_name,
    # …, as of 0.26) run each notebook when its page is rendered, one at a time, and none of them renders a copy
    # executed elsewhere. So its renderer is wrapped: the wrapper waits for this hook's run and renders that copy
    # with execute=False; _stop puts the original back.
    jupyter_plugin.convert.nb2html = _render_executed_copy
    return config


def _execute(source: Path, target: Path, kernel: str) -> Path:
    """Run every cell of the notebook ``source`` in its own folder, as Jupyter would; write the result to ``target``."""
    notebook = jupytext.read(source)
    NotebookClient(notebook, kernel_name=kernel, resources={"metadata": {"path": str(source.parent)}}).execute()
    nbformat.write(notebook, target)
    return target


def _render_executed_copy(nb_path, execute=False, **options):
    """mkdocs-jupyter's renderer, given the copy this hook executed instead of executing the notebook again."""
    run = _runs.get(str(Path(nb_path).resolve()))
    if not execute or run is None:
        return _render_notebook(nb_path, execute=execute, **options)
    try:
        executed = run.result()
    except Exception as error:  # a cell raised (nbclient's CellExecutionError) or the kernel died
        raise PluginError(f"notebook {nb_path} failed:\n{error}") from error
    return _render_notebook(str(executed), execute=False, **options)


def on_page_content(html: str, page, config, files) -> str:
    if not getattr(page, "nb_url", None):
        return html

    def link(style: re.Match[str]) -> str:
        path = f"assets/notebooks/{hashlib.sha256(style[1].encode()).hexdigest()[:16]}.css"
        _stylesheets[path] = style[1]
        return f'<link rel="stylesheet" href="{get_relative_url(path, page.url)}">'

    return _STYLE.sub(link, html)


def on_post_page(output: str, page, config) -> str:
    if getattr(page, "nb_url", None):
        source = Path(page.file.abs_src_path)
        target = Path(page.file.abs_dest_path).parent / f"{source.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        jupytext.write(jupytext.read(source), target, fmt="ipynb")
    return output


def on_post_build(config):
    for path, css in _stylesheets.items():
        target = Path(config["site_dir"], path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(css, encoding="utf-8")
    _stop()


def _stop(**_event) -> None:
    global _pool, _folder
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)  # a run already started finishes first: its kernel then shuts down
    _pool = None
    _runs.clear()
    _stylesheets.clear()
    if _folder is not None:
        _folder.cleanup()
    _folder = None
    jupyter_plugin.convert.nb2html = _render_notebook


# When the build fails or `mkdocs serve` quits, stop what on_config started.
on_build_error = on_shutdown = _stop
