"""The browser half of the site tests: a local server for the built site, headless Chromium, and a watcher that
records every problem a page shows (console errors, uncaught exceptions, failed requests, requests to another
host).

The fixtures that use them are in ``tests/site/conftest.py``; the measurements each page visit collects are in
``tests/site/visits.py``.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from project import ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Chromium's own background traffic (updates, sync, field trials) would otherwise show up as failed requests.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The site is served under the path of its public address, as GitHub Pages serves it: the 404 page uses
# addresses that start with that path, since it answers for any missing address at any depth.
BASE_PATH = urlsplit(
    yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["site_url"]
).path


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves the built site under BASE_PATH, and its 404 page for anything missing."""

    def send_head(self):
        if not self.path.startswith(BASE_PATH):
            self.send_error(404)
            return None
        self.path = "/" + self.path.removeprefix(BASE_PATH)
        if not Path(self.translate_path(self.path)).exists():
            body = (Path(self.directory) / "404.html").read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        return super().send_head()

    def log_message(self, format, *args):
        pass


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 under BASE_PATH; yields the site's address."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(SiteHandler, directory=str(site))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{BASE_PATH}"
    finally:
        server.shutdown()


@contextmanager
def chromium():
    """Headless Chromium, or a skip (a failure under CI=true) where there is none."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI=true but there is no Chromium at {CHROMIUM}: .ci/run must install it"
            )
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install chromium); CI runs these tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()


class PageWatcher:
    """Opens pages and records every console error, failed request and request to another host.

    ``requests`` keeps the address of every request of the page open now (cleared by ``open``).
    """

    def __init__(
        self, browser, site_url: str, width: int = 1280, scheme: str = "light"
    ) -> None:
        self.site_url = site_url
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(
            viewport={"width": width, "height": 900}, color_scheme=scheme
        )
        self.page.on("console", self._console)
        self.page.on(
            "pageerror",
            lambda error: self.problems.append(f"{self.where}: uncaught {error}"),
        )
        self.page.on("requestfailed", self._failed)
        self.page.on("request", self._request)
        self.page.on("response", self._response)
        self.where = ""

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"{self.where}: console error {message.text}")

    def _failed(self, request) -> None:
        # A request still in flight when the next page opens is aborted by the browser, not refused by the server.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(
                f"{self.where}: failed {request.url} ({request.failure})"
            )

    def _request(self, request) -> None:
        self.requests.append(request.url)
        if not request.url.startswith((self.site_url, "data:", "blob:")):
            self.problems.append(f"{self.where}: request to another host {request.url}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(
                f"{self.where}: HTTP {response.status} for {response.url}"
            )

    def open(self, path: str):
        self.where = path
        self.requests = []
        self.page.goto(self.site_url + path, wait_until="load")
        return self.page

    def close(self) -> None:
        self.page.close()


def site_pages(site: Path) -> list[str]:
    """Every page of the built site, as an address relative to the site's root ("" for the home page)."""
    return sorted(
        (str(page.relative_to(site).parent) + "/").removeprefix("./")
        for page in site.rglob("index.html")
    )
