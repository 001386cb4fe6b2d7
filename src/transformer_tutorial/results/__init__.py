"""Stored measurements: the JSON files the pages plot and quote, shipped inside the package.

Each result is one file in this folder, ``<name>.json``. The commands under ``transformer_tutorial.experiments`` write
here (``save``), so re-measuring updates what the pages show; the pages and notebooks read through ``load``, so their
blocks run wherever the package is installed, not only inside a clone of the repository.

Examples:
    >>> from transformer_tutorial import results
    >>> "reversal-training" in results.names()
    True
    >>> results.load("no-such-result")
    Traceback (most recent call last):
    ...
    KeyError: "no stored result named 'no-such-result'; the known results are: ..."
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["dumps", "load", "names", "path", "save"]


def _folder() -> Path:
    return Path(str(resources.files(__name__)))


def names() -> list[str]:
    """The names of every stored result, sorted."""
    entries = resources.files(__name__).iterdir()
    return sorted(
        entry.name.removesuffix(".json")
        for entry in entries
        if entry.name.endswith(".json")
    )


def path(name: str) -> Path:
    """Where the result ``name`` is stored (it
    need not exist yet: ``save`` writes there)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(
            f"a result name is a plain file stem like 'cpu-benchmark', got {name!r}"
        )
    return _folder() / f"{name}.json"


def load(name: str) -> Any:
    """The stored result ``name``, parsed from JSON.

    Raises:
        KeyError: no result of that name is stored; the message lists the known names.
    """
    known = names()
    if name not in known:
        raise KeyError(
            f"no stored result named {name!r}; the known results are: {', '.join(known)}"
        )
    return json.loads(
        resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    )


def dumps(data: dict[str, Any]) -> str:
    """A result as JSON text with one row per line,
    so that a stored file reads and diffs well."""
    parts = []
    for key, value in data.items():
        if (
            isinstance(value, list)
            and value
            and all(isinstance(row, dict) for row in value)
        ):
            rows = ",\n".join(
                "  " + json.dumps(row, ensure_ascii=False) for row in value
            )
            parts.append(f" {json.dumps(key)}: [\n{rows}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def save(name: str, data: dict[str, Any]) -> Path:
    """Store ``data`` as the result ``name`` (``dumps``) and return the path written."""
    destination = path(name)
    destination.write_text(dumps(data), encoding="utf-8")
    return destination
