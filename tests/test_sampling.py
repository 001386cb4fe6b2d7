"""Top-p sampling and beam search with GNMT's length penalty, in both backends."""

import math
from itertools import combinations

import numpy as np
import pytest
import torch

from transformer_tutorial.numpy import sampling as np_sampling
from transformer_tutorial.numpy.decoder_only import sample_from as np_sample_from
from transformer_tutorial.torch import sampling
from transformer_tutorial.torch.decoder_only import sample_from

PROBABILITIES = np.array([0.05, 0.3, 0.1, 0.25, 0.05, 0.2, 0.05])


def smallest_reaching(probabilities: np.ndarray, p: float) -> set[int]:
    """Every set of indices, smallest first, until one has probability at least p: brute force, no sorting."""
    n = len(probabilities)
    for size in range(1, n + 1):
        best = max(
            combinations(range(n), size),
            key=lambda subset: probabilities[list(subset)].sum(),
        )
        if probabilities[list(best)].sum() >= p - 1e-12:
            return set(best)
    raise AssertionError


@pytest.mark.parametrize("p", [0.1, 0.3, 0.31, 0.55, 0.56, 0.75, 0.8, 0.9, 1.0])
def test_top_p_keeps_the_smallest_set_whose_probability_reaches_p(p):
    expected = smallest_reaching(PROBABILITIES, p)
    ours = np_sampling.nucleus_mask(PROBABILITIES, p)
    theirs = sampling.nucleus_mask(torch.from_numpy(PROBABILITIES), p).numpy()
    assert (ours == theirs).all()
    # above 0.85 one of the three tied 0.05 is needed, and all three are kept (see the next test)
    if p <= 0.85:
        assert set(np.flatnonzero(ours)) == expected


def test_entries_tied_with_the_last_needed_one_are_kept():
    # 0.9 needs one of three 0.05: all three stay
    assert np_sampling.nucleus_mask(PROBABILITIES, 0.9).all()
    probabilities = np.array([0.4, 0.3, 0.3])
    assert np_sampling.nucleus_mask(probabilities, 0.5).tolist() == [True, True, True]
    assert np_sampling.nucleus_mask(probabilities, 0.4).tolist() == [True, False, False]
    assert sampling.nucleus_mask(torch.tensor([0.0, 1.0, 0.0]), 1.0).tolist() == [
        False,
        True,
        False,
    ]


def test_nucleus_probabilities_apply_temperature_and_top_k_first():
    logits = np.log(PROBABILITIES)
    ours = np_sampling.nucleus_probabilities(logits, 0.5, temperature=0.5, top_k=4)
    # temperature 0.5: p² renormalised
    squared = PROBABILITIES**2 / (PROBABILITIES**2).sum()
    keep = np.zeros(7, dtype=bool)
    keep[[1, 3]] = True  # 0.3² and 0.25² are 0.51 of the squared mass of the top 4
    expected = np.where(keep, squared, 0) / squared[keep].sum()
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-15)
    theirs = sampling.nucleus_probabilities(
        torch.from_numpy(logits), 0.5, temperature=0.5, top_k=4
    ).numpy()
    np.testing.assert_allclose(theirs, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_draws_follow_the_nucleus(backend):
    """20 000 draws with top_p = 0.8, which keeps 0.3, 0.25, 0.2 and 0.1, renormalised by 0.85.

    Each frequency must be within 5 standard errors, sqrt(p (1 - p) / n), of its probability (for a correct
    sampler a miss has probability below 1e-5 in all); the three tokens outside the nucleus never appear. A
    sampler that forgot to renormalise would be off by 0.04 to 0.05 in the large categories, about 15 standard
    errors, and the test checks that it could tell.
    """
    n = 20_000
    expected = (
        np.where(np_sampling.nucleus_mask(PROBABILITIES, 0.8), PROBABILITIES, 0) / 0.85
    )
    logits = np.log(PROBABILITIES)
    if backend == "numpy":
        probabilities = np.broadcast_to(
            np_sampling.nucleus_probabilities(logits, 0.8), (n, 7)
        )
        draws = np_sample_from(probabilities, np.random.default_rng(0))
    else:
        probabilities = sampling.nucleus_probabilities(
            torch.from_numpy(logits), 0.8
        ).expand(n, 7)
        draws = sample_from(probabilities, torch.Generator().manual_seed(0)).numpy()
    frequencies = np.bincount(draws, minlength=7) / n
    assert (frequencies[expected == 0] == 0).all()
    standard_error = np.sqrt(expected * (1 - expected) / n)
    assert (np.abs(frequencies - expected) <= 5 * standard_error).all(), (
        frequencies,
        expected,
    )
    unnormalised = np.where(expected > 0, PROBABILITIES, 0)
    assert (np.abs(frequencies - unnormalised) > 5 * standard_error).sum() >= 3


def test_length_penalty_is_gnmt_formula():
    assert np_sampling.length_penalty(1, 0.6) == 1.0
    assert math.isclose(np_sampling.length_penalty(10, 0.6), (15 / 6) ** 0.6)
    assert np_sampling.length_penalty(10, 0.0) == 1.0


# A language of two tokens, EOS = 0 and a = 1, whose next-token probabilities depend on the prefix only:
# after the prompt, EOS or a with 0.5 each; after "a", a with 0.95; after "a a", EOS with 0.95.
# Without a penalty "EOS" (log 0.5 = -0.693) beats "a a EOS" (log 0.451 = -0.796); with alpha = 0.6 the longer
# one scores -0.796 / (8/6)^0.6 = -0.670 and wins.
TABLE = {
    (): [0.5, 0.5],
    (1,): [0.05, 0.95],
    (1, 1): [0.95, 0.05],
    (1, 1, 1): [0.5, 0.5],
}
BOS = 2


def table_log_probs(prefixes):
    rows = [
        [*TABLE.get(tuple(int(t) for t in prefix[1:]), [0.5, 0.5]), 1e-300]
        for prefix in prefixes
    ]
    return np.log(np.array(rows))  # V = 3: BOS is never generated


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_the_length_penalty_changes_the_chosen_hypothesis(backend):
    if backend == "numpy":
        search, log_probs = np_sampling.penalised_beam_search, table_log_probs
    else:
        search, log_probs = (
            sampling.penalised_beam_search,
            lambda p: torch.from_numpy(table_log_probs(p.numpy())),
        )
    plain, plain_score = search(
        log_probs, [BOS], beam_size=4, max_new_tokens=10, eos_id=0, alpha=0.0
    )
    penalised, score = search(
        log_probs, [BOS], beam_size=4, max_new_tokens=10, eos_id=0, alpha=0.6
    )
    assert plain == [0] and math.isclose(plain_score, math.log(0.5))
    assert penalised == [1, 1, 0] and math.isclose(
        score, math.log(0.5 * 0.95 * 0.95) / (8 / 6) ** 0.6
    )


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_best_hypothesis_that_needs_exactly_max_new_tokens_is_found(backend):
    """ "a a EOS" wins with alpha = 0.6 and needs all three steps that max_new_tokens=3 allows; with two steps
    "a a" cannot end, and "EOS" is the best finished hypothesis."""
    if backend == "numpy":
        search, log_probs = np_sampling.penalised_beam_search, table_log_probs
    else:
        search, log_probs = (
            sampling.penalised_beam_search,
            lambda p: torch.from_numpy(table_log_probs(p.numpy())),
        )
    tokens, score = search(
        log_probs, [BOS], beam_size=4, max_new_tokens=3, eos_id=0, alpha=0.6
    )
    assert tokens == [1, 1, 0]
    assert math.isclose(score, math.log(0.5 * 0.95 * 0.95) / (8 / 6) ** 0.6)
    shorter, _ = search(
        log_probs, [BOS], beam_size=4, max_new_tokens=2, eos_id=0, alpha=0.6
    )
    assert shorter == [0]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_beam_search_of_width_one_is_greedy_and_finds_better_with_a_wider_beam(backend):
    """Greedy takes 'b' first (0.6) and ends with probability 0.6 · 0.5; the beam of 2 finds 'a EOS' (0.4 · 0.9)."""
    table = {(): [0.0, 0.4, 0.6], (1,): [0.9, 0.05, 0.05], (2,): [0.5, 0.25, 0.25]}

    def log_probs(prefixes):
        rows = [
            table.get(tuple(int(t) for t in prefix[1:]), [1.0, 0.0, 0.0])
            for prefix in prefixes
        ]
        result = np.log(np.maximum(np.array(rows), 1e-300))
        return result if backend == "numpy" else torch.from_numpy(result)

    search = (
        np_sampling.penalised_beam_search
        if backend == "numpy"
        else sampling.penalised_beam_search
    )
    assert search(log_probs, [3], beam_size=1, max_new_tokens=5, eos_id=0, alpha=0.0)[
        0
    ] == [2, 0]
    assert search(log_probs, [3], beam_size=2, max_new_tokens=5, eos_id=0, alpha=0.0)[
        0
    ] == [1, 0]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda b: b.nucleus_mask(PROBABILITIES, 0.0),
            ValueError,
            r"top_p must be in \(0, 1\], got 0.0",
        ),
        (
            lambda b: b.nucleus_mask(PROBABILITIES, 1.5),
            ValueError,
            r"top_p must be in \(0, 1\], got 1.5",
        ),
        (
            lambda b: b.nucleus_mask(PROBABILITIES, "0.5"),
            TypeError,
            "top_p must be a number",
        ),
        (
            lambda b: b.nucleus_probabilities(
                np.log(PROBABILITIES), 0.5, temperature=0.0
            ),
            ValueError,
            "temperature",
        ),
        (
            lambda b: b.penalised_beam_search(table_log_probs, [BOS], 0, 5, 0),
            ValueError,
            "beam_size must be at least 1",
        ),
    ],
)
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_bad_input(call, error, message, backend):
    module = np_sampling if backend == "numpy" else sampling
    with pytest.raises(error, match=message):
        call(module) if backend == "numpy" else call(TorchArgs(module))


class TorchArgs:
    """Hand the torch backend tensors where the numpy cases pass arrays."""

    def __init__(self, module):
        self.module = module

    def __getattr__(self, name):
        function = getattr(self.module, name)

        def call(*args, **kwargs):
            args = [
                torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args
            ]
            return function(*args, **kwargs)

        return call
