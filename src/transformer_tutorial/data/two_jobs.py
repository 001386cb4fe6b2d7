"""A toy task that gives every position two jobs at once: read its left neighbour, and read one marked token.

A sequence holds ``length`` symbols out of ``num_symbols``; exactly one position carries a mark (its token id is the
symbol plus ``num_symbols``). At every position t ≥ 1 the answer is the pair (symbol at t - 1, marked symbol), one class
out of ``num_symbols ** 2``. The first job is found by position (always one place to the left), the second by content
(wherever the mark is), so one attention distribution has to split itself between two places chosen by different rules,
while several heads can take one rule each. Framework-free.

Held-out sequences: the reversal task's hash (``is_held_out``) puts one sequence in four in a held-out part; the
training stream (``part="training"``) redraws those, and ``held_out_batch`` draws only from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transformer_tutorial.checks import check_positive_int
from transformer_tutorial.data.tasks import is_held_out

# the target of position 0, which has no left neighbour (PyTorch's ignore_index)
IGNORE = -100


@dataclass(frozen=True)
class TwoJobsTask:
    """Sequences of ``length`` symbols, one of them marked;
    the target pairs each left neighbour with the mark.

    Examples:
        >>> task = TwoJobsTask(num_symbols=4, length=5)
        >>> tokens, targets = task.batch(np.random.default_rng(0), 1)
        >>> tokens  # the mark is on position 0 (id 7 = symbol 3 + 4)
        array([[7, 2, 2, 1, 1]])
        >>> targets  # 4 · left neighbour + marked symbol 3
        array([[-100,   15,   11,   11,    7]])
    """

    num_symbols: int = 8
    length: int = 12

    def __post_init__(self) -> None:
        check_positive_int("num_symbols", self.num_symbols)
        if self.length < 4:
            raise ValueError(f"length must be at least 4, got {self.length}")

    @property
    def vocab_size(self) -> int:
        """Plain symbols, then marked ones."""
        return 2 * self.num_symbols

    @property
    def num_classes(self) -> int:
        """One class per (left neighbour, marked symbol) pair."""
        return self.num_symbols**2

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        tokens = rng.integers(0, self.num_symbols, size=self.length)
        tokens[rng.integers(0, self.length)] += self.num_symbols  # the mark
        return tokens

    def targets(self, tokens: np.ndarray) -> np.ndarray:
        """(B, T) int64: ``num_symbols`` · symbol at t
        - 1 + marked symbol, and ``IGNORE`` at t = 0."""
        symbols = tokens % self.num_symbols
        marked = (tokens * (tokens >= self.num_symbols)).max(axis=1) - self.num_symbols
        targets = self.num_symbols * symbols[:, :-1] + marked[:, None]
        return np.concatenate(
            [np.full((len(tokens), 1), IGNORE), targets], axis=1
        ).astype(np.int64)

    def batch(
        self, rng: np.random.Generator, size: int, part: str = "any"
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(tokens, targets)``, (B, T) each;
        ``part="training"`` redraws held-out sequences."""
        check_positive_int("size", size)
        if part not in ("any", "training"):
            raise ValueError(f"part must be 'any' or 'training', got {part!r}")
        rows = []
        for _ in range(size):
            tokens = self._draw(rng)
            while part == "training" and is_held_out(tokens):
                tokens = self._draw(rng)
            rows.append(tokens)
        tokens = np.stack(rows).astype(np.int64)
        return tokens, self.targets(tokens)

    def held_out_batch(
        self, rng: np.random.Generator, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``size`` sequences of the held-out part
        (which the training stream never draws)."""
        check_positive_int("size", size)
        rows = []
        while len(rows) < size:
            tokens = self._draw(rng)
            if is_held_out(tokens):
                rows.append(tokens)
        tokens = np.stack(rows).astype(np.int64)
        return tokens, self.targets(tokens)
