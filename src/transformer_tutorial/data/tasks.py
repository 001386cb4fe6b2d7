"""A toy translation task for training a Transformer in seconds: reverse a sequence of symbols (framework-free).

Reversal needs both halves of attention. The decoder must find *which* source position to copy next (the one at the
mirrored position, so it needs positional information) and *what* is there (content). A plain copy task is easier:
attending to "the same position" is solvable from positions alone.

Token ids: 0 is padding, 1 starts the target, 2 ends it, and the symbols are 3, 4, ….

Held-out sequences: a fixed hash of its symbols puts one sequence in four of length 4 or more in a held-out part. The
training stream (``part="training"``) redraws any sequence of that part, and the evaluation (``held_out_batch``) draws
only from it, so the two never share a sequence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import check_positive_int

PAD, BOS, EOS = 0, 1, 2
FIRST_SYMBOL = 3


# --8<-- [start:held_out]
HELD_OUT_FROM_LENGTH = (
    4  # with 10 symbols there are only 10, 100 and 1,000 sequences of length 1, 2 and 3
)
HELD_OUT_ONE_IN = 4


def is_held_out(symbols: np.ndarray) -> bool:
    """Whether a sequence belongs to the held-out part: one in
    ``HELD_OUT_ONE_IN`` of the sequences at least ``HELD_OUT_FROM_LENGTH`` long,
    chosen by a hash of the symbols, the same on every machine and in every run.

    Examples:
        >>> [is_held_out(np.array(symbols)) for symbols in ([3, 4], [3, 4, 5, 6], [3, 4, 5, 8])]
        [False, True, False]
    """
    if len(symbols) < HELD_OUT_FROM_LENGTH:
        return False
    digest = hashlib.blake2b(
        np.asarray(symbols, dtype=np.int64).tobytes(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "little") % HELD_OUT_ONE_IN == 0


# --8<-- [end:held_out]


# --8<-- [start:reversal_task]
@dataclass(frozen=True)
class ReversalTask:
    """Random sequences of ``num_symbols`` symbols,
    ``min_length`` to ``max_length`` long, to be reversed.

    Examples:
        >>> task = ReversalTask(num_symbols=5, min_length=2, max_length=4)
        >>> batch = task.batch(np.random.default_rng(0), 2)
        >>> batch.src
        array([[5, 4, 4, 3],
               [3, 3, 3, 0]])
        >>> batch.tgt_in  # BOS, then the reversed source: what the decoder reads
        array([[1, 3, 4, 4, 5],
               [1, 3, 3, 3, 0]])
        >>> batch.tgt_out  # the reversed source, then EOS: what it must predict at each position
        array([[3, 4, 4, 5, 2],
               [3, 3, 3, 2, 0]])
        >>> task.decode(batch.src[0])
        'c b b a'
    """

    num_symbols: int = 10
    min_length: int = 1
    max_length: int = 10

    def __post_init__(self) -> None:
        check_positive_int("num_symbols", self.num_symbols)
        check_positive_int("min_length", self.min_length)
        check_positive_int("max_length", self.max_length)
        low, high = self.min_length, self.max_length
        if low > high:
            raise ValueError(f"min_length={low} is greater than max_length={high}")

    @property
    def vocab_size(self) -> int:
        """Padding, start, end, and the symbols."""
        return FIRST_SYMBOL + self.num_symbols

    def batch(
        self, rng: np.random.Generator, size: int, part: str = "any"
    ) -> ReversalBatch:
        """``size`` random examples, padded to the longest
        one; ``part="training"`` redraws held-out sequences."""
        check_positive_int("size", size)
        if part not in ("any", "training"):
            raise ValueError(f"part must be 'any' or 'training', got {part!r}")
        lengths = rng.integers(self.min_length, self.max_length + 1, size=size)
        sequences = []
        for length in lengths:
            symbols = rng.integers(FIRST_SYMBOL, self.vocab_size, size=length)
            while part == "training" and is_held_out(symbols):
                symbols = rng.integers(FIRST_SYMBOL, self.vocab_size, size=length)
            sequences.append(symbols)
        return examples(sequences)

    def decode(self, ids: np.ndarray) -> str:
        """Token ids as text: symbols as letters a,
        b, c, …; padding, start and end left out.
        """
        symbols = [int(i) - FIRST_SYMBOL for i in ids if int(i) >= FIRST_SYMBOL]
        return " ".join(chr(ord("a") + symbol) for symbol in symbols)

    # --8<-- [end:reversal_task]

    def held_out_batch(self, rng: np.random.Generator, size: int) -> ReversalBatch:
        """``size`` distinct sequences of the held-out
        part, taking the lengths from 4 up in turn."""
        check_positive_int("size", size)
        lengths = range(max(self.min_length, HELD_OUT_FROM_LENGTH), self.max_length + 1)
        if not lengths:
            raise ValueError(
                f"max_length={self.max_length}: held-out sequences are {HELD_OUT_FROM_LENGTH} or longer"
            )
        seen: set[tuple[int, ...]] = set()
        sequences = []
        for index in range(size):
            length = lengths[index % len(lengths)]
            for _ in range(100 * HELD_OUT_ONE_IN):
                symbols = rng.integers(FIRST_SYMBOL, self.vocab_size, size=length)
                if is_held_out(symbols) and tuple(symbols.tolist()) not in seen:
                    break
            else:
                raise ValueError(
                    f"size={size}: too few held-out sequences of length {length} to draw distinct ones"
                )
            seen.add(tuple(symbols.tolist()))
            sequences.append(symbols)
        return examples(sequences)


@dataclass(frozen=True)
class ReversalBatch:
    """``src`` (B, S): the sequences; ``tgt_in`` (B, T):
    BOS + reversed; ``tgt_out`` (B, T): reversed + EOS."""

    src: np.ndarray
    tgt_in: np.ndarray
    tgt_out: np.ndarray


def examples(sequences: list[np.ndarray]) -> ReversalBatch:
    """Source sequences as a padded batch: the
    sources, the decoder's inputs and its targets."""
    longest = max(len(symbols) for symbols in sequences)
    src = np.full((len(sequences), longest), PAD)
    tgt_in = np.full((len(sequences), longest + 1), PAD)
    tgt_out = np.full((len(sequences), longest + 1), PAD)
    for row, symbols in enumerate(sequences):
        length = len(symbols)
        src[row, :length] = symbols
        tgt_in[row, : length + 1] = [BOS, *symbols[::-1]]
        tgt_out[row, : length + 1] = [*symbols[::-1], EOS]
    return ReversalBatch(src, tgt_in, tgt_out)
