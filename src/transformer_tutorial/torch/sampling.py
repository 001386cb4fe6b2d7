"""Choosing the next tokens, in PyTorch: top-p (nucleus) sampling, and beam search with GNMT's length penalty
(whose bookkeeping is the NumPy module's).

Temperature and top-k are in ``transformer_tutorial.torch.decoder_only``; ``nucleus_probabilities`` applies them first.
Shapes use V (vocabulary size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from transformer_tutorial.checks import check_top_p
from transformer_tutorial.numpy import sampling as numpy_sampling
from transformer_tutorial.torch.attention import to_numpy
from transformer_tutorial.torch.decoder_only import next_token_probabilities


# --8<-- [start:nucleus]
def nucleus_mask(probabilities: torch.Tensor, top_p: float) -> torch.Tensor:
    """True for the smallest set of most probable
    entries whose sum reaches ``top_p``.

    Sorted from the most probable down, an entry is needed while the entries before it add up to less than ``top_p``.
    Entries tied with the least probable needed one are kept too, so the set does not depend on how a sort orders equal
    values; entries of probability 0 are never kept. (..., V) -> (..., V) boolean.

    Examples:
        >>> nucleus_mask(torch.tensor([0.125, 0.5, 0.25, 0.125]), top_p=0.75)
        tensor([False,  True,  True, False])
        >>> # Both 0.125 tie with the least probable needed entry: both are kept.
        >>> nucleus_mask(torch.tensor([0.125, 0.5, 0.25, 0.125]), top_p=0.8)
        tensor([True, True, True, True])
    """
    check_top_p(top_p)
    descending = torch.sort(probabilities, dim=-1, descending=True).values
    # The mass of the entries ranked above each one:
    above = torch.cumsum(descending, dim=-1)[..., :-1]
    before = torch.cat([torch.zeros_like(descending[..., :1]), above], dim=-1)
    needed = before < top_p  # the first entry always is: nothing comes before it
    candidates = torch.where(needed, descending, float("inf"))
    smallest_needed = candidates.amin(dim=-1, keepdim=True)
    return (probabilities >= smallest_needed) & (probabilities > 0)


def nucleus_probabilities(
    logits: torch.Tensor,
    top_p: float,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> torch.Tensor:
    """softmax(logits / temperature) over the
    top k, cut to its nucleus, renormalised.

    The nucleus is ``nucleus_mask``'s.

    Examples:
        >>> logits = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=torch.float64).log()
        >>> # 0.5 + 0.25 reach 0.7: the nucleus is the first two.
        >>> nucleus_probabilities(logits, top_p=0.7).round(decimals=3)
        tensor([0.6670, 0.3330, 0.0000, 0.0000], dtype=torch.float64)
    """
    probabilities = next_token_probabilities(logits, temperature, top_k)
    kept = torch.where(nucleus_mask(probabilities, top_p), probabilities, 0.0)
    return kept / kept.sum(dim=-1, keepdim=True)


# --8<-- [end:nucleus]


# --8<-- [start:penalised_beam_search]
@torch.no_grad()
def penalised_beam_search(
    next_log_probs: Callable[[torch.Tensor], torch.Tensor],
    prompt: Sequence[int],
    beam_size: int,
    max_new_tokens: int,
    eos_id: int,
    alpha: float = 0.6,
) -> tuple[list[int], float]:
    """The NumPy beam search with GNMT's length penalty,
    scoring with a PyTorch model.

    The search is bookkeeping over a few lists of token ids, the same in both libraries, so it is written once
    (``transformer_tutorial.numpy.sampling.penalised_beam_search``, which documents the arguments); here the
    model's log-probabilities are read into NumPy, in float64, at each step.

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

    def log_probs(prefixes: np.ndarray) -> np.ndarray:
        return to_numpy(next_log_probs(torch.from_numpy(prefixes)))

    return numpy_sampling.penalised_beam_search(
        log_probs, prompt, beam_size, max_new_tokens, eos_id, alpha
    )


# --8<-- [end:penalised_beam_search]
