"""The browser fixtures of tests/site/test_built_site.py, shared with the other browser tests of the site."""

from test_built_site import browser, site_url  # noqa: F401 - fixtures, found by name
