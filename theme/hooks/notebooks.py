"""MkDocs hook: run the notebooks side by side, and offer each one as an ``.ipynb`` download.

The notebooks live in ``docs/notebooks/`` as jupytext percent-format ``.py`` files (readable diffs, lintable code), and
mkdocs-jupyter renders them. Left to itself, mkdocs-jupyter runs each notebook when it reaches that page, one after
another, and the notebooks would be most of the build's time. So, when the plugin is set to execute, this hook starts
every notebook on a kernel of its own as soon as the configuration is read; when mkdocs-jupyter reaches a notebook's
page, it waits for that run and renders the executed copy. A cell that raises fails the build with its traceback, as it
did before.

The hook also holds the notebooks to what a page promises its reader:

- a notebook that writes to stderr, or prints a path of the machine that builds the site, fails the build
  (progress bars included: a notebook turns them off and prints one line when the work is done);
- every figure has alt text: a code cell that draws one carries it in its metadata (``# %% alt="..."``), and
  a figure without it fails the build (nbconvert would write "No description has been provided");
- a link in a notebook's Markdown is written as on any page, to the ``.md`` or ``.py`` source relative to the
  notebook, and is checked and rewritten to the page's address; a link to nothing fails the build;
- the ``.ipynb`` beside each page, for the download button, is the executed notebook, with the outputs the page
  shows;
- prompts, copy buttons and the copy buttons' hidden text are left out of the search index;
- the stylesheets that nbconvert writes into every notebook page (some 600 kB, the same on each) move into
  shared files, which a browser fetches once.
"""

from __future__ import annotations

import hashlib
import html as html_text
import os
import posixpath
import re
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import jupytext
import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.utils import get_relative_url
from mkdocs_jupyter import plugin as jupyter_plugin
from nbclient import NotebookClient

_render_notebook = jupyter_plugin.convert.nb2html  # mkdocs-jupyter's own renderer
_pool: ThreadPoolExecutor | None = None
# resolved source path -> its run, which gives the executed copy
_runs: dict[str, Future[Path]] = {}
_folder: tempfile.TemporaryDirectory | None = None
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
_stylesheets: dict[str, str] = {}  # path in the site -> CSS
_NO_ALT = 'alt="No description has been provided for this image"'
# Parts of a notebook page that are not its text: prompts, copy buttons, the copy buttons' hidden source.
_NOT_TEXT = re.compile(
    r'<(div|a) class="(jp-InputPrompt|jp-OutputPrompt|zeroclipboard-container|clipboard-copy-txt|anchor-link)'
)
_LINK = re.compile(r'href="(?P<target>[^"#:]*)(?P<anchor>#[^"]*)?"')
_IMAGE_TAG = re.compile(r"<img [^>]*>")
ESCAPED_DOLLAR = "\ue024"  # stands for a dollar sign written \$ until the page is finished (U+E024: private use)
_CODE_OR_ESCAPED_DOLLAR = re.compile(
    r"(?P<code>```.*?```|~~~.*?~~~|`[^`\n]*`)|\\\$", re.DOTALL
)


def _not_in_lightbox(tag: re.Match[str]) -> str:
    """An inline image (a figure of the notebook) with the
    class that mkdocs-glightbox skips: wrapped in a link
    to itself, each figure would be in the page twice."""
    if 'src="data:' not in tag[0]:
        return tag[0]
    if 'class="' in tag[0]:
        return tag[0].replace('class="', 'class="no-lightbox ', 1)
    return tag[0].replace("<img ", '<img class="no-lightbox" ', 1)


def on_config(config):
    global _pool, _folder
    _stop()  # `mkdocs serve` reads the configuration again before each rebuild
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None or not jupyter.config["execute"]:
        return config
    docs_dir = Path(config["docs_dir"])
    sources = sorted(
        {
            source
            for pattern in jupyter.config["include"]
            for source in docs_dir.glob(pattern)
        }
    )
    if not sources:
        return config
    # ipykernel's own kernel, on the Python of the build
    kernel = jupyter.config["kernel_name"] or "python3"
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
    """Run every cell of the notebook ``source`` in its own
    folder, as Jupyter would; write the result to ``target``."""
    notebook = jupytext.read(source)
    NotebookClient(
        notebook,
        kernel_name=kernel,
        resources={"metadata": {"path": str(source.parent)}},
    ).execute()
    check_outputs(notebook, source.name, machine_paths(source))
    nbformat.write(notebook, target)
    return target


def machine_paths(source: Path) -> list[str]:
    """Paths that belong to the machine that
    runs a notebook, which no output may show."""
    paths = {
        str(source.resolve().parents[2]),
        sys.prefix,
        sys.base_prefix,
        os.path.expanduser("~"),
    }
    return sorted(path for path in paths if len(path) > 1)


def check_outputs(notebook, name: str, forbidden: list[str]) -> None:
    """Fail if a cell wrote to stderr, printed one of the
    ``forbidden`` paths, or drew a figure without alt text."""
    for number, cell in enumerate(notebook.cells, 1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                raise PluginError(
                    f"notebook {name}, cell {number} wrote to stderr:\n{output['text'][:500]}"
                )
            text = output.get("text") or "".join(
                str(value) for value in output.get("data", {}).values()
            )
            for path in forbidden:
                if path in text:
                    raise PluginError(
                        f"notebook {name}, cell {number} shows a path of this machine: {path}"
                    )
            if "image/png" in output.get("data", {}) and not cell.metadata.get("alt"):
                raise PluginError(
                    f'notebook {name}, cell {number} draws a figure without alt text: add alt="..."'
                )


def escaped_dollars(markdown: str) -> str:
    """Markdown with each ``\\$`` outside code written as ``ESCAPED_DOLLAR``.

    nbconvert turns ``\\$`` into a bare ``$`` (and ``&#36;`` too), which the MathML hook would then read as the
    start of a formula; a character of the private use area passes through both untouched, and
    ``shown_dollars`` writes it back as a dollar sign once the page's content is typeset. Code spans and fences
    keep their text as written.
    """
    return _CODE_OR_ESCAPED_DOLLAR.sub(
        lambda part: part["code"] or ESCAPED_DOLLAR, markdown
    )


def shown_dollars(page_html: str) -> str:
    """The finished page with every ``ESCAPED_DOLLAR`` shown as a dollar sign again."""
    return page_html.replace(ESCAPED_DOLLAR, "&#36;")


def _render_executed_copy(nb_path, execute=False, **options):
    """mkdocs-jupyter's renderer, given the copy this hook
    executed instead of executing the notebook again."""
    run = _runs.get(str(Path(nb_path).resolve()))
    if not execute or run is None:
        return _render_notebook(nb_path, execute=execute, **options)
    try:
        executed = run.result()
    # a cell raised (nbclient's CellExecutionError) or the kernel died
    except Exception as error:
        raise PluginError(f"notebook {nb_path} failed:\n{error}") from error
    shown = executed.with_name(f"{executed.stem}-shown.ipynb")
    notebook = nbformat.read(executed, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = escaped_dollars(cell.source)
    nbformat.write(notebook, shown)
    rendered = _render_notebook(str(shown), execute=False, **options)
    alts = [
        cell.metadata["alt"]
        for cell in nbformat.read(executed, as_version=4).cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    for alt in alts:  # nbconvert writes the images in the order of the outputs
        rendered = rendered.replace(_NO_ALT, f'alt="{html_text.escape(alt)}"', 1)
    return rendered


@event_priority(50)  # before mkdocs-glightbox
def on_page_content(html: str, page, config, files) -> str:
    if not getattr(page, "nb_url", None):
        return html
    html = _IMAGE_TAG.sub(_not_in_lightbox, html)
    html = _NOT_TEXT.sub(
        lambda part: f'<{part[1]} data-search-exclude class="{part[2]}', html
    )

    def checked(link: re.Match[str]) -> str:
        target, anchor = link["target"], link["anchor"] or ""
        if not target or target.startswith("/"):  # (a data: URI never matches _LINK)
            return link[0]
        # a source file, as on any page: relative to this notebook's source
        if target.endswith((".md", ".py")):
            src_uri = posixpath.normpath(
                posixpath.join(posixpath.dirname(page.file.src_uri), target)
            )
            linked = files.get_file_from_path(src_uri)
            if linked is None or not linked.is_documentation_page():
                raise PluginError(
                    f"notebook {page.file.src_uri} links to {target}, which is not a page"
                )
            return f'href="{get_relative_url(linked.url, page.url)}{anchor}"'
        if target.endswith(".css"):
            return link[0]
        url = posixpath.normpath(
            posixpath.join(posixpath.dirname(page.url.rstrip("/") + "/x"), target)
        )
        if not any(
            f.url.rstrip("/") == url.rstrip("/") for f in files.documentation_pages()
        ):
            raise PluginError(
                f"notebook {page.file.src_uri} links to {target}, which is not a page of the site"
            )
        return link[0]

    html = _LINK.sub(checked, html)

    def link(style: re.Match[str]) -> str:
        path = (
            f"assets/notebooks/{hashlib.sha256(style[1].encode()).hexdigest()[:16]}.css"
        )
        _stylesheets[path] = style[1]
        return f'<link rel="stylesheet" href="{get_relative_url(path, page.url)}">'

    return _STYLE.sub(link, html)


@event_priority(
    100
)  # after every page's content is typeset, before the search plugin reads it
def on_page_context(context, page, config, nav):
    if getattr(page, "nb_url", None):
        page.content = shown_dollars(page.content)
    return context


def on_post_page(output: str, page, config) -> str:
    if getattr(page, "nb_url", None):
        source = Path(page.file.abs_src_path)
        target = Path(page.file.abs_dest_path).parent / f"{source.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        run = _runs.get(str(source.resolve()))
        if run is not None:  # the executed copy, with the outputs the page shows
            nbformat.write(nbformat.read(run.result(), as_version=4), target)
        else:  # the notebooks were not executed: the bare notebook
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
        # a run already started finishes first: its kernel then shuts down
        _pool.shutdown(cancel_futures=True)
    _pool = None
    _runs.clear()
    _stylesheets.clear()
    if _folder is not None:
        _folder.cleanup()
    _folder = None
    jupyter_plugin.convert.nb2html = _render_notebook


# When the build fails or `mkdocs serve` quits, stop what on_config started.
on_build_error = on_shutdown = _stop
