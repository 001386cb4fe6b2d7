"""The package works outside a clone: a built wheel, installed into a fresh environment, runs the pages' blocks.

The pages that read stored results (and the corpus) are run from an empty folder, by pytest and Sybil in a new
virtual environment whose only copy of ``transformer_tutorial`` is the wheel. The environment borrows the
already-installed third-party packages (torch among them) through a ``.pth`` line, so the test costs seconds,
not a download; the repository's own editable install is not visible there.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from project import ROOT

PAGES = [
    "training.md",
    "vision-transformers.md",
    "benchmarks.md",
    "causal-self-attention.md",
]


def run(
    *command: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its python."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so the build writes nothing into the repository
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        work / "dist",
        ".",
        cwd=source,
    )
    (wheel,) = (work / "dist").glob("transformer_tutorial-*.whl")

    env_dir = work / "env"
    run(sys.executable, "-m", "venv", "--without-pip", env_dir, cwd=work)
    python = env_dir / "bin" / "python"
    purelib = Path(
        run(
            python,
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
            cwd=work,
        ).stdout.strip()
    )
    # The third-party packages of this environment, as a plain path: its .pth files (the editable install of this
    # repository among them) are not processed there.
    (purelib / "borrowed.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8"
    )
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        "-q",
        wheel,
        cwd=work,
    )
    return python


def test_the_wheel_carries_the_results_and_the_corpus(environment, tmp_path):
    script = textwrap.dedent(
        """\
        import transformer_tutorial
        from transformer_tutorial import results
        from transformer_tutorial.data.text import load_corpus
        print(transformer_tutorial.__file__)
        print(sorted(results.names()))
        print(len(load_corpus()) > 10_000)
        """
    )
    lines = run(environment, "-c", script, cwd=tmp_path).stdout.splitlines()
    assert lines[0].startswith(str(environment.parents[1])), (
        f"imported from {lines[0]}, not from the wheel"
    )
    assert {"cpu-benchmark", "parallelism", "reversal-training", "vit-digits"} <= set(
        eval(lines[1])
    )
    assert lines[2] == "True"


def test_the_pages_that_read_stored_results_run_from_an_empty_folder(
    environment, tmp_path
):
    pages = tmp_path / "pages"
    pages.mkdir()
    for page in PAGES:
        shutil.copy(ROOT / "docs" / page, pages / page)
    shutil.copy(ROOT / "tests" / "doc_examples.py", pages / "doc_examples.py")
    (pages / "conftest.py").write_text(
        textwrap.dedent(
            """\
            import os
            from pathlib import Path

            import torch
            from doc_examples import make_sybils
            from sybil.sybil import SybilCollection

            os.environ.setdefault("MPLBACKEND", "Agg")
            torch.set_num_threads(1)
            HERE = Path(__file__).parent
            pytest_collect_file = SybilCollection(make_sybils(HERE, HERE / "no-source")).pytest()
            """
        ),
        encoding="utf-8",
    )
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = run(
        environment,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        pages,
        pages,
        cwd=empty,
        env=env,
    )
    assert " passed" in result.stdout and "failed" not in result.stdout, result.stdout
