"""Collect the Python examples of the site's pages and of the docstrings in src/ (rules: tests/doc_examples.py)."""

import os
from pathlib import Path

import torch
from doc_examples import make_sybils
from sybil.sybil import SybilCollection

os.environ.setdefault("MPLBACKEND", "Agg")  # examples that draw must not need a screen
# the models in tests and examples are tiny: one thread is fastest, and deterministic
torch.set_num_threads(
    1
)

ROOT = Path(__file__).parent

# tests/site/test_page_examples.py runs the harness on throwaway pages
pytest_plugins = [
    "pytester"
]

pytest_collect_file = SybilCollection(make_sybils(ROOT / "docs", ROOT / "src")).pytest()
