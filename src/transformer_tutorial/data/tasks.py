"""A toy translation task for training a Transformer in seconds: reverse a sequence of symbols (framework-free).

Reversal needs both halves of attention. The decoder must find *which* source position to copy next (the one at
the mirrored position, so it needs positional information) and *what* is there (content). A plain copy task is
easier: attending to "the same position" is solvable from positions alone.

Token ids: 0 is padding, 1 starts the target, 2 ends it, and the symbols are 3, 4, ….
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import check_positive_int

PAD, BOS, EOS = 0, 1, 2
FIRST_SYMBOL = 3


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

    def batch(self, rng: np.random.Generator, size: int) -> ReversalBatch:
        """``size`` random examples, padded to the longest one."""
        check_positive_int("size", size)
        lengths = rng.integers(self.min_length, self.max_length + 1, size=size)
        longest = int(lengths.max())
        src = np.full((size, longest), PAD)
        tgt_in = np.full((size, longest + 1), PAD)
        tgt_out = np.full((size, longest + 1), PAD)
        for row, length in enumerate(lengths):
            symbols = rng.integers(FIRST_SYMBOL, self.vocab_size, size=length)
            src[row, :length] = symbols
            tgt_in[row, : length + 1] = [BOS, *symbols[::-1]]
            tgt_out[row, : length + 1] = [*symbols[::-1], EOS]
        return ReversalBatch(src, tgt_in, tgt_out)

    def decode(self, ids: np.ndarray) -> str:
        """Token ids as text: symbols as letters a,
        b, c, …; padding, start and end left out.
        """
        symbols = [int(i) - FIRST_SYMBOL for i in ids if int(i) >= FIRST_SYMBOL]
        return " ".join(chr(ord("a") + symbol) for symbol in symbols)


# --8<-- [end:reversal_task]


@dataclass(frozen=True)
class ReversalBatch:
    """``src`` (B, S): the sequences; ``tgt_in`` (B, T): BOS + reversed; ``tgt_out`` (B, T): reversed + EOS."""

    src: np.ndarray
    tgt_in: np.ndarray
    tgt_out: np.ndarray
