"""Fixtures shared by the tests of the package and of the site.

The whole site is built once per test run. The build takes about a minute, most of it the notebooks, so it
starts in the background as soon as the tests are collected, and the tests that need it run last: the rest of
the suite runs on the other cores meanwhile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from project import ROOT, start_build

# No test is timed: Hypothesis's per-example deadline would fail a correct test on a busy machine.
settings.register_profile("untimed", deadline=None)
settings.load_profile("untimed")

# the build, and the folder it writes to
SITE_BUILD = pytest.StashKey[tuple[subprocess.Popen[str], Path]]()


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what will not run
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    needs_site = {
        id(item) for item in items if "built_site" in getattr(item, "fixturenames", ())
    }
    if not needs_site:
        return
    # a stable sort: the order is otherwise kept
    items.sort(key=lambda item: id(item) in needs_site)
    if os.environ.get("BUILT_SITE"):
        return
    folder = Path(tempfile.mkdtemp(prefix="site-build-"))
    # the build keeps its own handle
    with (folder / "build.log").open("w", encoding="utf-8") as log:
        build = start_build(
            ROOT / "mkdocs.yml", folder / "site", stdout=log, stderr=subprocess.STDOUT
        )
    config.stash[SITE_BUILD] = (build, folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    if SITE_BUILD in config.stash:
        build, folder = config.stash[SITE_BUILD]
        if build.poll() is None:  # the run was interrupted before the build finished
            build.kill()
            build.wait()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def built_site(request: pytest.FixtureRequest) -> Path:
    """The whole site, built with ``--strict`` (warnings are errors); the build executes every notebook.

    ``BUILT_SITE=/tmp/site pytest -m site`` tests a site built before instead, for a quicker loop on the site's
    tests alone (``make test`` always builds it afresh)."""
    if os.environ.get("BUILT_SITE"):
        return Path(os.environ["BUILT_SITE"])
    build, folder = request.config.stash[SITE_BUILD]
    if build.wait() != 0:
        log = (folder / "build.log").read_text(encoding="utf-8")
        pytest.fail(f"mkdocs build --strict failed:\n{log}", pytrace=False)
    return folder / "site"


@pytest.fixture(params=["numpy", "torch"])
def backend(request: pytest.FixtureRequest):
    """(the backend module, a function that makes one of its arrays from a NumPy array)."""
    import numpy as np
    import torch

    from transformer_tutorial import numpy as tnp
    from transformer_tutorial import torch as ttorch

    if request.param == "numpy":
        return tnp, np.asarray
    return ttorch, torch.from_numpy
