"""Every notebook runs from top to bottom in a fresh kernel, as a reader who downloads it would run it."""

import jupytext
import pytest
from nbclient import NotebookClient
from project import ROOT

NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    notebook = jupytext.read(path)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert outputs, "the notebook ran but showed nothing"
    assert not [output for output in outputs if output.output_type == "error"]
