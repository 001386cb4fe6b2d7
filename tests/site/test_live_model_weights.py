"""The live model while its weights are on their way, and when they never come: the page says what is happening
and throws nothing. (What the model computes is tested in tests/site/test_interactive_pages.py.)"""

from __future__ import annotations

from browsing import PageWatcher

LIVE = "live-model/"
WEIGHTS = "**/reversal-model.json"


def test_the_live_model_waits_for_slow_weights_and_then_answers(browser, site_url):
    watcher = PageWatcher(browser, site_url)
    held = []
    # The weights are held back until the test lets them go.
    watcher.page.route(WEIGHTS, lambda route: held.append(route))
    page = watcher.open(LIVE)
    assert held, "the page did not ask for its weights"
    assert "Loading the model's weights" in page.inner_text(".live-model__message")
    assert page.get_attribute("#live-model-app", "aria-busy") == "true"
    page.fill("#live-model-input", "a b c")
    page.press("#live-model-input", "Enter")  # before the weights arrive
    page.evaluate("() => document.querySelector('.live-model__form').requestSubmit()")
    assert "Loading the model's weights" in page.inner_text(".live-model__message")
    assert page.locator(".live-model__token").count() == 0
    held[0].continue_()
    page.evaluate("() => window.liveModel.ready")
    assert page.locator(".live-model__token").all_inner_texts() == [
        "c",
        "b",
        "a",
        "end",
    ]
    assert page.get_attribute("#live-model-app", "aria-busy") is None
    assert not watcher.problems, "\n".join(watcher.problems)
    watcher.close()


def test_missing_weights_get_a_clear_message_and_no_error(browser, site_url):
    watcher = PageWatcher(browser, site_url)
    watcher.page.route(
        WEIGHTS, lambda route: route.fulfill(status=404, body="Not Found")
    )
    page = watcher.open(LIVE)
    page.evaluate("() => window.liveModel.ready")
    text = page.inner_text(".live-model__message")
    assert "could not be loaded" in text and "404" in text, text
    assert "JSON" not in text
    page.press("#live-model-input", "Enter")
    assert page.inner_text(".live-model__message") == text
    # The 404 itself is the only problem the browser reports: no uncaught error, no other failure.
    assert [p for p in watcher.problems if "404" not in p] == []
    watcher.close()
