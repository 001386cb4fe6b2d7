"""MkDocs hook: the data files of the two interactive pages.

* ``attention-explorer/minilm-attention.json``: every head of all-MiniLM-L6-v2 on the explorer's sentences,
  computed by the NumPy encoder (``transformer_tutorial.experiments.explorer``) in a thread from the moment the
  configuration is read (about two seconds, one core), and written before MkDocs copies the files;
* ``attention-explorer/minilm-int8.bin`` and ``attention-explorer/vocab.txt``: the encoder's weights as int8
  with a scale per row (``transformer_tutorial.experiments.browser_encoder``) and its vocabulary, which the
  explorer downloads only when a reader asks to run their own sentence;
* ``flash-attention/flash-example.json``: the FlashAttention stepper's example
  (``transformer_tutorial.experiments.flash_stepper``);
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
from transformer_tutorial.data.pretrained import minilm_dir
from transformer_tutorial.experiments.browser_encoder import minilm_int8
from transformer_tutorial.experiments.explorer import explorer_data
from transformer_tutorial.experiments.flash_stepper import stepper_data

EXPLORER_FILE = "attention-explorer/minilm-attention.json"
MODEL_FILE = "live-model/reversal-model.json"
WEIGHTS_FILE = "attention-explorer/minilm-int8.bin"
VOCABULARY_FILE = "attention-explorer/vocab.txt"
FLASH_FILE = "flash-attention/flash-example.json"

_pool: ThreadPoolExecutor | None = None
_explorer: Future[dict] | None = None
_weights: Future[bytes] | None = None
_folder: tempfile.TemporaryDirectory | None = None


def on_config(config):
    global _pool, _explorer, _weights, _folder
    _stop()  # `mkdocs serve` reads the configuration again before each rebuild
    _pool = ThreadPoolExecutor(max_workers=1)
    _explorer = _pool.submit(explorer_data)
    _weights = _pool.submit(minilm_int8)
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
    files.append(
        File.generated(config, WEIGHTS_FILE, abs_src_path=f"{_folder.name}/int8.bin")
    )
    files.append(
        File.generated(
            config, VOCABULARY_FILE, abs_src_path=str(minilm_dir() / "vocab.txt")
        )
    )
    files.append(
        File.generated(
            config,
            FLASH_FILE,
            content=json.dumps(stepper_data(), separators=(",", ":")),
        )
    )
    return files


def on_env(env, config, files):
    """The pages are rendered and MkDocs copies the files
    next, so the explorer's data must be on disk now."""
    try:
        data = _explorer.result()
        weights = _weights.result()
    except Exception as error:
        raise PluginError(
            f"the attention explorer's data could not be computed: {error!r}"
        ) from error
    Path(_folder.name, "int8.bin").write_bytes(weights)
    vocabulary = minilm_dir() / "vocab.txt"
    # What the page needs to offer the download before it starts: the files and their sizes
    data["model"] = {
        "weights": WEIGHTS_FILE.split("/")[-1],
        "weights_bytes": len(weights),
        "vocabulary": VOCABULARY_FILE.split("/")[-1],
        "vocabulary_bytes": vocabulary.stat().st_size,
    }
    Path(_folder.name, "explorer.json").write_text(
        json.dumps(data, separators=(",", ":")), encoding="utf-8"
    )
    return env


def _stop(**_event) -> None:
    global _pool, _explorer, _weights, _folder
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)
    if _folder is not None:
        _folder.cleanup()
    _pool, _explorer, _weights, _folder = None, None, None, None


on_post_build = on_build_error = on_shutdown = _stop
