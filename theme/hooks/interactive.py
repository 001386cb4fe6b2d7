"""MkDocs hook: the data files of the two interactive pages.

* ``attention-explorer/minilm-attention.json``: every head of all-MiniLM-L6-v2 on the explorer's sentences,
  computed by the NumPy encoder (``transformer_tutorial.experiments.explorer``) in a thread from the moment the
  configuration is read (about two seconds, one core), and written before MkDocs copies the files;
* ``live-model/reversal-model.json``: the trained reversal model, copied from the package's stored results.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

from transformer_tutorial import results
from transformer_tutorial.experiments.explorer import explorer_data

EXPLORER_FILE = "attention-explorer/minilm-attention.json"
MODEL_FILE = "live-model/reversal-model.json"

_pool: ThreadPoolExecutor | None = None
_explorer: Future[dict] | None = None
_folder: tempfile.TemporaryDirectory | None = None


def on_config(config):
    global _pool, _explorer, _folder
    _stop()  # `mkdocs serve` reads the configuration again before each rebuild
    _pool = ThreadPoolExecutor(max_workers=1)
    _explorer = _pool.submit(explorer_data)
    _folder = tempfile.TemporaryDirectory(prefix="explorer-")
    return config


def on_files(files, config):
    files.append(
        File.generated(
            config, MODEL_FILE, abs_src_path=str(results.path("reversal-model"))
        )
    )
    files.append(
        File.generated(
            config, EXPLORER_FILE, abs_src_path=f"{_folder.name}/explorer.json"
        )
    )
    return files


def on_env(env, config, files):
    """The pages are rendered and MkDocs copies the files
    next, so the explorer's data must be on disk now."""
    try:
        data = _explorer.result()
    except Exception as error:
        raise PluginError(
            f"the attention explorer's data could not be computed: {error!r}"
        ) from error
    Path(_folder.name, "explorer.json").write_text(
        json.dumps(data, separators=(",", ":")), encoding="utf-8"
    )
    return env


def _stop(**_event) -> None:
    global _pool, _explorer, _folder
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)
    if _folder is not None:
        _folder.cleanup()
    _pool, _explorer, _folder = None, None, None


on_post_build = on_build_error = on_shutdown = _stop
