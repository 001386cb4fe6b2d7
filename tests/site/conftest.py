"""The fixtures of the browser tests, shared by every test file here: the built site served on 127.0.0.1, one
headless Chromium for the whole run, and the pages' measurements, one visit per page and view
(tests/site/visits.py).

Every test that needs the built site or the browser gets the ``site`` marker here, so that
``pytest -m "not site"`` is the quick loop that leaves out the site's build and the browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import chromium, serve
from visits import Visits

SITE_FIXTURES = {"built_site", "site_url", "browser", "visits"}
BROWSER_FIXTURES = {"browser", "visits"}


# before -m deselects, so that "not site" sees the marker
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if SITE_FIXTURES & fixtures:
            item.add_marker(pytest.mark.site)
        if BROWSER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    with serve(built_site) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="session")
def visits(browser, built_site: Path, site_url: str) -> Visits:
    """``visits[view]``: each page's report in that view (``visits.VIEWS``), measured once per run."""
    return Visits(browser, built_site, site_url)
