"""Choosing the next tokens, in NumPy: top-p (nucleus) sampling, and beam search with GNMT's length penalty.

Temperature and top-k are in ``transformer_tutorial.numpy.decoder_only``; ``nucleus_probabilities`` applies them first.
Shapes use V (vocabulary size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from transformer_tutorial.checks import check_positive_int, check_top_p
from transformer_tutorial.numpy.decoder_only import next_token_probabilities


# --8<-- [start:nucleus]
def nucleus_mask(probabilities: np.ndarray, top_p: float) -> np.ndarray:
    """True for the smallest set of most probable
    entries whose sum reaches ``top_p``.

    Sorted from the most probable down, an entry is needed while the entries before it add up to less than ``top_p``.
    Entries tied with the least probable needed one are kept too, so the set does not depend on how a sort orders equal
    values; entries of probability 0 are never kept. (..., V) -> (..., V) boolean.

    Examples:
        >>> nucleus_mask(np.array([0.125, 0.5, 0.25, 0.125]), top_p=0.75)
        array([False,  True,  True, False])
        >>> # Both 0.125 tie with the least probable needed entry: both are kept.
        >>> nucleus_mask(np.array([0.125, 0.5, 0.25, 0.125]), top_p=0.8)
        array([ True,  True,  True,  True])
    """
    check_top_p(top_p)
    descending = -np.sort(-probabilities, axis=-1)
    # The mass of the entries ranked above each one:
    above = np.cumsum(descending, axis=-1)[..., :-1]
    before = np.concatenate([np.zeros_like(descending[..., :1]), above], axis=-1)
    needed = before < top_p  # the first entry always is: nothing comes before it
    candidates = np.where(needed, descending, np.inf)
    smallest_needed = candidates.min(axis=-1, keepdims=True)
    return (probabilities >= smallest_needed) & (probabilities > 0)


def nucleus_probabilities(
    logits: np.ndarray,
    top_p: float,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> np.ndarray:
    """softmax(logits / temperature) over the
    top k, cut to its nucleus, renormalised.

    The nucleus is ``nucleus_mask``'s.

    Examples:
        >>> logits = np.log(np.array([0.5, 0.25, 0.125, 0.125]))
        >>> # 0.5 + 0.25 reach 0.7: the nucleus is the first two.
        >>> nucleus_probabilities(logits, top_p=0.7).round(3)
        array([0.667, 0.333, 0.   , 0.   ])
    """
    probabilities = next_token_probabilities(logits, temperature, top_k)
    kept = np.where(nucleus_mask(probabilities, top_p), probabilities, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)


# --8<-- [end:nucleus]


# --8<-- [start:length_penalty]
def length_penalty(length: int, alpha: float = 0.6) -> float:
    """GNMT's length penalty, ((5 + length) / 6) ** alpha:
    a hypothesis's log-probability is divided by it.

    The Transformer paper decoded with alpha = 0.6 and a beam of 4; alpha = 0 divides by 1 (no penalty).

    Examples:
        >>> length_penalty(1), round(length_penalty(7), 4)
        (1.0, 1.5157)
    """
    return ((5 + length) / 6) ** alpha


# --8<-- [end:length_penalty]


# --8<-- [start:penalised_beam_search]
def penalised_beam_search(
    next_log_probs: Callable[[np.ndarray], np.ndarray],
    prompt: Sequence[int],
    beam_size: int,
    max_new_tokens: int,
    eos_id: int,
    alpha: float = 0.6,
) -> tuple[list[int], float]:
    """Beam search ranking finished hypotheses
    by log P(Y) / length_penalty(|Y|, alpha).

    Each step extends every live prefix by every token and keeps the ``beam_size`` extensions of highest
    log-probability; those that end with ``eos_id`` are set aside as finished, with |Y| the number of tokens generated,
    EOS included. The search stops when no live prefix can beat the best finished one: a prefix's log-probability only
    falls as it grows, and the penalty is at most length_penalty(max_new_tokens).

    Args:
        next_log_probs: Prefixes (n, t) of token ids -> (n, V) log-probabilities of the next token.
        prompt: The tokens every hypothesis starts with (for example ``[BOS]``); they are not scored.
        beam_size: Live prefixes kept per step, at least 1.
        max_new_tokens: The most tokens a hypothesis may add.
        eos_id: The token that ends a hypothesis.
        alpha: The penalty's exponent; 0 ranks by log-probability alone.

    Returns:
        ``(tokens, score)``: the best hypothesis's tokens after the prompt, and its penalised score.
    """
    check_positive_int("beam_size", beam_size)
    check_positive_int("max_new_tokens", max_new_tokens)
    beams = [(list(prompt), 0.0)]  # (tokens, log-probability)
    finished: list[tuple[list[int], float]] = []  # (tokens, penalised score)
    for step in range(1, max_new_tokens + 1):
        prefixes = np.array([tokens for tokens, _ in beams])
        log_probs = np.asarray(next_log_probs(prefixes))  # (n, V)
        scores = np.array([score for _, score in beams])
        totals = scores[:, None] + log_probs
        best = np.argsort(-totals, axis=None, kind="stable")[:beam_size]
        beams_before, beams = beams, []
        values, indices = totals.flat[best].tolist(), best.tolist()
        for total, index in zip(values, indices, strict=True):
            beam, token = divmod(index, totals.shape[1])
            extended = [*beams_before[beam][0], token]
            if token == eos_id:
                finished.append((extended, total / length_penalty(step, alpha)))
            else:
                beams.append((extended, total))
        best_finished = max((score for _, score in finished), default=-np.inf)
        best_live = max((score for _, score in beams), default=-np.inf)
        if best_live / length_penalty(max_new_tokens, alpha) < best_finished:
            break
    penalised = [(t, s / length_penalty(len(t) - len(prompt), alpha)) for t, s in beams]
    tokens, score = max(finished or penalised, key=lambda candidate: candidate[1])
    return tokens[len(prompt) :], score


# --8<-- [end:penalised_beam_search]
