"""Small trained models shipped with the package: named arrays in a compressed ``.npz`` file, framework-free.

A checkpoint is ``<name>.npz`` in this folder: every weight in float16 (half the bytes of float32, and plenty for
sampling text), under the flat names of the NumPy backend's parameters, plus one JSON string of metadata (the model's
sizes, its vocabulary, how it was trained). The backends turn the arrays into their own parameters
(``transformer_tutorial.numpy.character_model``, ``transformer_tutorial.torch.character_model``).
"""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

_METADATA = "__metadata__"


def checkpoint_path(name: str) -> Path:
    """Where the checkpoint ``name`` is stored (it need not exist yet)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"a checkpoint name is a plain file stem, got {name!r}")
    return Path(str(resources.files(__package__))) / f"{name}.npz"


def write_checkpoint(
    name: str, metadata: dict[str, Any], arrays: dict[str, np.ndarray]
) -> Path:
    """Store ``arrays`` as float16 and ``metadata``
    as JSON under ``name``; return the path written."""
    if _METADATA in arrays:
        raise ValueError(f"{_METADATA!r} is reserved for the metadata")
    half = {key: np.asarray(value, dtype=np.float16) for key, value in arrays.items()}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **half, **{_METADATA: np.array(json.dumps(metadata))})
    destination = checkpoint_path(name)
    destination.write_bytes(buffer.getvalue())
    return destination


def read_checkpoint(name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and the arrays (as float32) of the checkpoint ``name``.

    Raises:
        KeyError: no checkpoint of that name ships with the package.
    """
    source = resources.files(__package__).joinpath(f"{name}.npz")
    if not source.is_file():
        raise KeyError(f"no checkpoint named {name!r} ships with the package")
    with np.load(io.BytesIO(source.read_bytes()), allow_pickle=False) as stored:
        metadata = json.loads(str(stored[_METADATA]))
        arrays = {
            key: stored[key].astype(np.float32) for key in stored if key != _METADATA
        }
    return metadata, arrays
