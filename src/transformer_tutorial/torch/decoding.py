"""Generating a target sequence with a trained encoder-decoder: greedy decoding and beam search.

The encoder runs once over the source. The decoder then produces one token per step, each step reading the tokens
produced so far. With a key/value cache a step projects only the newest token; without one it recomputes the whole
prefix, which gives the same tokens at a higher cost. Shapes use B (batch), S (source), T (target).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from transformer_tutorial.data.tasks import BOS, EOS, PAD
from transformer_tutorial.torch.model import Transformer
from transformer_tutorial.torch.modes import evaluating


@dataclass
class DecodingStep:
    """What greedy decoding saw at one step, for one
    sequence: the prefix and the next-token probabilities."""

    prefix: list[int]
    probabilities: torch.Tensor  # (V,)
    chosen: int


@dataclass
class GreedyResult:
    # (B, T) generated ids after BOS, PAD after each sequence's EOS
    tokens: torch.Tensor
    # filled for sequence 0 when record=True
    steps: list[DecodingStep] = field(default_factory=list)


# --8<-- [start:greedy_decode]
@torch.no_grad()
def greedy_decode(
    model: Transformer,
    src: torch.Tensor,
    max_new_tokens: int,
    use_cache: bool = True,
    record: bool = False,
    stop_at_eos: bool = True,
) -> GreedyResult:
    """Pick the most probable next token at every
    step, until every sequence has produced EOS.

    Args:
        model: A trained model; it runs in eval mode, and is given back in the mode it was in.
        src: (B, S) source ids.
        max_new_tokens: The most tokens to generate per sequence.
        use_cache: Keep each layer's keys and values between steps (same result, less work).
        record: Keep, for sequence 0, the prefix and the full next-token distribution of every step.
        stop_at_eos: Stop once every sequence has produced EOS (set False to time a fixed number of steps).

    Returns:
        The generated ids (B, T), T ≤ max_new_tokens, without the leading BOS; PAD after a sequence's EOS.
    """
    with evaluating(model):  # dropout off; the model's own mode comes back after
        memory, src_mask = model.encode(src)
        batch = src.shape[0]
        generated = torch.full((batch, 1), BOS, dtype=torch.long, device=src.device)
        finished = torch.zeros(batch, dtype=torch.bool, device=src.device)
        cache = model.new_cache() if use_cache else None
        steps = []
        for _ in range(max_new_tokens):
            new_tokens = generated[:, -1:] if use_cache else generated
            # (B, D): the last position only
            hidden = model.decode(new_tokens, memory, src_mask, cache)[:, -1]
            probabilities = torch.softmax(model.output(hidden), dim=-1)  # (B, V)
            next_token = probabilities.argmax(dim=-1).masked_fill(finished, PAD)
            if record:
                steps.append(
                    DecodingStep(
                        generated[0].tolist(),
                        probabilities[0],
                        int(next_token[0]),
                    )
                )
            generated = torch.cat([generated, next_token[:, None]], dim=1)
            finished |= next_token == EOS
            if stop_at_eos and finished.all():
                break
    return GreedyResult(generated[:, 1:], steps)


# --8<-- [end:greedy_decode]


# --8<-- [start:beam_search]
@torch.no_grad()
def beam_search(
    model: Transformer,
    src: torch.Tensor,
    beam_size: int,
    max_new_tokens: int,
) -> list[int]:
    """Keep the ``beam_size`` most probable prefixes
    at every step; return the best finished sequence.

    A prefix's score is the sum of the log-probabilities of its tokens. Each step extends every live prefix by every
    token, keeps the best ``beam_size`` extensions, and sets aside those that end with EOS. The search stops when no
    live prefix can beat the best finished one (log-probabilities only fall as a prefix grows). With ``beam_size=1``
    this is exactly greedy decoding.

    Args:
        model: A trained model; it runs in eval mode, and is given back in the mode it was in.
        src: (1, S): one source sequence.

    Returns:
        The generated ids after BOS, ending with EOS if one was produced.
    """
    if src.shape[0] != 1:
        raise ValueError(
            f"beam_search decodes one sequence at a time: src must have shape (1, S), got {tuple(src.shape)}"
        )
    with evaluating(model):  # dropout off; the model's own mode comes back after
        memory, src_mask = model.encode(src)
        beams = [([BOS], 0.0)]  # (tokens, log-probability)
        finished: list[tuple[list[int], float]] = []
        for _ in range(max_new_tokens):
            # (beams, t)
            prefixes = torch.tensor([tokens for tokens, _ in beams], device=src.device)
            hidden = model.decode(
                prefixes,
                memory.expand(len(beams), -1, -1),
                src_mask.expand(len(beams), -1, -1),
            )
            # (beams, V)
            log_probs = torch.log_softmax(model.output(hidden[:, -1]), dim=-1)
            beam_scores = torch.tensor([score for _, score in beams], device=src.device)
            scores = beam_scores[:, None] + log_probs
            # a stable sort: of equal scores, the lower index first, as in NumPy
            best = torch.argsort(-scores.flatten(), stable=True)[:beam_size]
            beams = []
            for score, index in zip(
                scores.flatten()[best].tolist(),
                best.tolist(),
                strict=True,
            ):
                beam, token = divmod(index, scores.shape[1])
                extended = ([*prefixes[beam].tolist(), token], score)
                (finished if token == EOS else beams).append(extended)
            best_finished = max((score for _, score in finished), default=-float("inf"))
            if not beams or max(score for _, score in beams) < best_finished:
                break
    best_tokens, _ = max(finished or beams, key=lambda candidate: candidate[1])
    return best_tokens[1:]


# --8<-- [end:beam_search]
