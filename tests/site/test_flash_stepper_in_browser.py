"""The FlashAttention stepper in headless Chromium: every number it shows, at every step, for both tile sizes
and both masks, equals what NumPy's tiled_attention records (``experiments.flash_stepper.recorded_steps``) to
1e-12; the keyboard moves it; it fits a phone in both schemes. One visit of the page for the whole module.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_built_site import PageWatcher

from transformer_tutorial.experiments.flash_stepper import TILE_SIZES, recorded_steps

STEPPER = "flash-attention/"
EVERY_STEP = """([blockSize, causal]) => {
    window.flashStepper.show({blockSize, causal, step: 0});
    const shown = [];
    for (let step = 0; step < window.flashStepper.state().steps; step++) {
        window.flashStepper.show({step});
        shown.push({numbers: window.flashStepper.shown(),
                    label: document.querySelector(".flash__label").textContent,
                    skipped: document.querySelectorAll(".flash__cell.is-current.is-skipped").length});
    }
    return shown;
}"""


@pytest.fixture(scope="module")
def stepper(browser, site_url):
    watcher = PageWatcher(browser, site_url)
    watcher.open(STEPPER).evaluate("() => window.flashStepper.ready")
    yield watcher
    watcher.page.close()


def by_kind(numbers: list[dict], kind: str, shape: tuple[int, ...]) -> np.ndarray:
    """The shown numbers of one kind, placed by their data-row (and data-col) in an array of ``shape``."""
    chosen = [n for n in numbers if n["kind"] == kind]
    rows = sorted({n["row"] for n in chosen})
    array = np.full(shape, np.nan)
    for n in chosen:
        r = rows.index(n["row"])
        if len(shape) == 1:
            array[r] = n["value"]
        else:
            cols = sorted({m["col"] for m in chosen})
            array[r, cols.index(n["col"])] = n["value"]
    assert len(chosen) == array.size, (kind, len(chosen), shape)
    return array


@pytest.mark.browser
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block_size", TILE_SIZES)
def test_every_number_shown_equals_numpys_tiled_attention(stepper, block_size, causal):
    steps, tiled, explicit = recorded_steps(block_size, causal)
    shown = stepper.page.evaluate(EVERY_STEP, [block_size, causal])
    assert len(shown) == len(steps) + 1  # every tile, then the output
    checked = 0
    for step, seen in zip(steps, shown, strict=False):
        rows = f"query rows {step.rows}" + (
            f"–{step.rows + block_size - 1}" if block_size > 1 else ""
        )
        assert rows in seen["label"], seen["label"]
        assert f"keys {step.cols}–{step.cols + block_size - 1}" in seen["label"]
        if step.skipped:
            assert "Skipped" in seen["label"] and not seen["numbers"]
            assert seen["skipped"] == block_size * block_size
            continue
        numbers = seen["numbers"]
        b = block_size
        for kind, expected in [
            ("score", step.scores),
            ("max", step.running_max[:, 0]),
            ("rescale", step.rescale[:, 0]),
            ("sum", step.running_sum[:, 0]),
            ("accumulated", step.accumulated),
        ]:
            got = by_kind(numbers, kind, expected.shape)
            # −∞ where the mask hides a score: the same cells, then the finite ones to 1e-12
            assert np.array_equal(np.isinf(got), np.isinf(expected)), kind
            finite = np.isfinite(expected)
            np.testing.assert_allclose(
                got[finite], expected[finite], rtol=0, atol=1e-12
            )
            checked += int(finite.sum())
        # nothing else is shown
        assert len(numbers) == b * b + 3 * b + b * tiled.shape[1]
    last = shown[-1]["numbers"]
    np.testing.assert_allclose(
        by_kind(last, "output", tiled.shape), tiled, rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        by_kind(last, "explicit", explicit.shape), explicit, rtol=0, atol=1e-12
    )
    checked += 2 * tiled.size
    assert re.search(
        r"Step \d+ of \d+: every row.s o divided by its sum", shown[-1]["label"]
    )
    print(
        f"\nstepper, tiles of {block_size}, causal={causal}: {checked} numbers equal NumPy to 1e-12"
    )
    assert not stepper.problems, "\n".join(stepper.problems)


@pytest.mark.browser
def test_the_keyboard_moves_through_the_steps(stepper):
    page = stepper.page
    page.evaluate(
        "() => window.flashStepper.show({blockSize: 2, causal: true, step: 0})"
    )
    page.focus(".flash__view")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => window.flashStepper.state().step") == 2
    page.keyboard.press("End")
    state = page.evaluate("() => window.flashStepper.state()")
    assert state["step"] == state["steps"] - 1
    page.keyboard.press("Home")
    assert page.evaluate("() => window.flashStepper.state().step") == 0
    page.focus('.flash__button[aria-label="Next step"]')
    page.keyboard.press("Enter")
    assert page.evaluate("() => window.flashStepper.state().step") == 1
    page.select_option("#flash-tile", "4")
    page.uncheck("#flash-causal")
    state = page.evaluate("() => window.flashStepper.state()")
    assert (state["blockSize"], state["causal"], state["step"]) == (4, False, 0)
    assert not stepper.problems, "\n".join(stepper.problems)


@pytest.mark.browser
def test_the_stepper_fits_a_phone_in_both_schemes(stepper):
    page = stepper.page
    page.set_viewport_size({"width": 390, "height": 800})
    page.evaluate(
        "() => window.flashStepper.show({blockSize: 2, causal: true, step: 16})"
    )
    for scheme in ("default", "slate"):
        page.evaluate(
            f"() => document.body.setAttribute('data-md-color-scheme', '{scheme}')"
        )
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        buttons = page.locator(".flash__button").evaluate_all(
            "bs => bs.map(b => Math.min(b.getBoundingClientRect().width, b.getBoundingClientRect().height))"
        )
        assert min(buttons) >= 44
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'default')")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not stepper.problems, "\n".join(stepper.problems)
