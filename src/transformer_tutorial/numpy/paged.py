"""A paged key/value cache in NumPy, as in PagedAttention (Kwon et al., 2023, arXiv 2309.06180): keys and values live
in fixed-size blocks of one shared pool, and a block table per sequence says which blocks hold its positions, in order.

A contiguous cache reserves the longest length for every sequence up front, so a batch of mostly short sequences leaves
most of its memory empty. The paged cache takes a block only when a sequence's last block is full, and gives a
sequence's blocks back when it ends, so the only memory held and unused is the part of each sequence's last block that
is not filled yet. Attention reads through the table: it gathers each sequence's blocks into one (G, S, d_k) run of
keys, which is what a paged attention kernel does without the copy.

``ContiguousCache`` is the baseline with the same interface. Both keep keys before RoPE for ``llama_forward``
(``numpy.cached_decoding``), which rotates them by their positions at every step.

Shapes use B (batch), G (key/value heads), T (new positions), S (positions read), d_k, and N (blocks).
"""

from __future__ import annotations

import math

import numpy as np

from transformer_tutorial.checks import check_int, check_positive_int, format_shape
from transformer_tutorial.numpy.cached_decoding import CacheView


class OutOfBlocksError(RuntimeError):
    """The pool has too few free blocks for the positions asked for."""


def padded_view(
    keys: np.ndarray, values: np.ndarray, lengths: np.ndarray, count: int
) -> CacheView:
    """The view of sequences of different lengths, gathered into (B, G, S, d_k) runs.

    ``lengths`` (B,) counts each sequence's positions before the ``count`` new ones; S is the longest sequence after
    them. Keys past a sequence's end are masked.
    """
    batch, size = len(lengths), keys.shape[2]
    key_positions = np.broadcast_to(np.arange(size), (batch, size))
    query_positions = lengths[:, None] + np.arange(count)  # (B, T)
    mask = key_positions[:, None, :] <= query_positions[:, :, None]  # (B, T, S)
    return CacheView(keys, values, key_positions, query_positions, mask[:, None])


# --8<-- [start:paged_cache]
class PagedCache:
    """Keys and values of every layer in a pool of
    ``num_blocks`` blocks of ``block_size`` positions.

    Each sequence has a block table: block j of its table holds its positions j·block_size to (j + 1)·block_size - 1.
    ``add_sequence`` starts one, ``free_sequence`` gives its blocks back, ``batch`` decodes several.
    """

    def __init__(
        self,
        num_blocks: int,
        block_size: int,
        num_layers: int,
        num_kv_heads: int,
        d_k: int,
        dtype: type = np.float64,
    ) -> None:
        for name, value in (
            ("num_blocks", num_blocks),
            ("block_size", block_size),
            ("num_layers", num_layers),
            ("num_kv_heads", num_kv_heads),
            ("d_k", d_k),
        ):
            check_positive_int(name, value)
        self.block_size = block_size
        shape = (num_layers, num_blocks, num_kv_heads, block_size, d_k)
        self.keys, self.values = np.zeros(shape, dtype), np.zeros(shape, dtype)
        self.free_blocks = list(range(num_blocks))[::-1]  # pop() takes block 0 first
        self.block_tables: dict[int, list[int]] = {}
        self.lengths: dict[int, int] = {}
        self._next_sequence = 0

    def add_sequence(self) -> int:
        """Start an empty sequence; return its id. It holds no block yet."""
        sequence, self._next_sequence = self._next_sequence, self._next_sequence + 1
        self.block_tables[sequence], self.lengths[sequence] = [], 0
        return sequence

    def free_sequence(self, sequence: int) -> None:
        """End a sequence: its blocks go back to the pool, to be taken first."""
        self._check_sequence(sequence)
        self.free_blocks.extend(self.block_tables.pop(sequence)[::-1])
        del self.lengths[sequence]

    def grow(self, sequences: list[int], count: int) -> None:
        """Take the blocks that ``count`` more positions of each sequence need."""
        needs = {
            sequence: math.ceil((self.lengths[sequence] + count) / self.block_size)
            - len(self.block_tables[sequence])
            for sequence in sequences
        }
        if sum(needs.values()) > len(self.free_blocks):
            raise OutOfBlocksError(
                f"out of blocks: {count} more positions for sequences {list(sequences)} need "
                f"{sum(needs.values())} new blocks of {self.block_size} positions, and only "
                f"{len(self.free_blocks)} of the pool's {self.keys.shape[1]} blocks are free; "
                "free finished sequences or make the pool larger"
            )
        for sequence, need in needs.items():
            self.block_tables[sequence] += [self.free_blocks.pop() for _ in range(need)]

    def batch(self, sequences: list[int]) -> PagedBatch:
        """The cache that ``llama_forward`` reads for
        these sequences, row b being sequences[b]."""
        for sequence in sequences:
            self._check_sequence(sequence)
        if len(set(sequences)) != len(sequences):
            raise ValueError(f"sequences must be distinct, got {list(sequences)}")
        return PagedBatch(self, list(sequences))

    # --8<-- [end:paged_cache]

    def reserved_positions(self) -> int:
        """Positions of memory held by sequences: their blocks times the block size."""
        return sum(len(table) for table in self.block_tables.values()) * self.block_size

    def _check_sequence(self, sequence: int) -> None:
        check_int("sequence", sequence)
        if sequence not in self.lengths:
            raise ValueError(
                f"sequence {sequence} is not in the cache; the live sequences are "
                f"{sorted(self.lengths)}"
            )


# --8<-- [start:paged_batch]
class PagedBatch:
    """Some sequences of a ``PagedCache``, decoded together: row b is sequences[b]."""

    def __init__(self, cache: PagedCache, sequences: list[int]) -> None:
        self.cache, self.sequences = cache, sequences

    def append(self, layer: int, keys: np.ndarray, values: np.ndarray) -> CacheView:
        """Write (B, G, T, d_k) keys and values at each sequence's next positions;
        return every position of every sequence, read through the block tables.
        """
        cache, size = self.cache, self.cache.block_size
        _check_append(layer, keys, values, cache.keys, len(self.sequences))
        count = keys.shape[2]
        if layer == 0:
            cache.grow(self.sequences, count)  # every layer writes the same slots
        lengths = np.array([cache.lengths[s] for s in self.sequences])
        positions = lengths[:, None] + np.arange(count)  # (B, T)
        tables = [cache.block_tables[s] for s in self.sequences]
        blocks = np.array(
            [
                [t[p // size] for p in row]
                for t, row in zip(tables, positions, strict=True)
            ]
        )
        slots = positions % size
        # (B, T, G, d_k) into (blocks, G, slots): one slot per new position
        cache.keys[layer][blocks, :, slots] = keys.transpose(0, 2, 1, 3)
        cache.values[layer][blocks, :, slots] = values.transpose(0, 2, 1, 3)
        longest = int(positions.max()) + 1
        width = math.ceil(longest / size)
        padded = np.array([t + [0] * (width - len(t)) for t in tables])  # block 0 pads

        # (N, G, size, d_k) -> (B, G, S, d_k)
        def gather(
            pool: np.ndarray,
        ) -> np.ndarray:
            runs = pool[padded]  # (B, width, G, size, d_k): each row's blocks, in order
            batch, _, heads, _, width_k = runs.shape
            runs = runs.transpose(0, 2, 1, 3, 4).reshape(batch, heads, -1, width_k)
            return runs[:, :, :longest]

        return padded_view(
            gather(cache.keys[layer]), gather(cache.values[layer]), lengths, count
        )

    def advance(self, count: int) -> None:
        for sequence in self.sequences:
            self.cache.lengths[sequence] += count


# --8<-- [end:paged_batch]


class ContiguousCache:
    """The baseline: ``max_len`` positions reserved for
    each of ``batch_size`` rows, whatever they hold.

    The same interface as ``PagedCache``: ``add_sequence`` takes a free row, ``free_sequence`` gives it back.
    """

    def __init__(
        self,
        batch_size: int,
        max_len: int,
        num_layers: int,
        num_kv_heads: int,
        d_k: int,
        dtype: type = np.float64,
    ) -> None:
        for name, value in (
            ("batch_size", batch_size),
            ("max_len", max_len),
            ("num_layers", num_layers),
            ("num_kv_heads", num_kv_heads),
            ("d_k", d_k),
        ):
            check_positive_int(name, value)
        shape = (num_layers, batch_size, num_kv_heads, max_len, d_k)
        self.keys, self.values = np.zeros(shape, dtype), np.zeros(shape, dtype)
        self.free_rows = list(range(batch_size))[::-1]
        self.lengths: dict[int, int] = {}

    def add_sequence(self) -> int:
        """Take a free row; return it. Raises
        ``OutOfBlocksError`` when every row is taken."""
        if not self.free_rows:
            raise OutOfBlocksError(f"all {self.keys.shape[1]} rows are taken")
        row = self.free_rows.pop()
        self.lengths[row] = 0
        return row

    def free_sequence(self, sequence: int) -> None:
        del self.lengths[sequence]
        self.free_rows.append(sequence)

    def reserved_positions(self) -> int:
        """Positions of memory reserved: every row's ``max_len``, used or not."""
        return self.keys.shape[1] * self.keys.shape[3]

    def batch(self, sequences: list[int]) -> ContiguousBatch:
        for sequence in sequences:
            if sequence not in self.lengths:
                raise ValueError(f"sequence {sequence} is not in the cache")
        return ContiguousBatch(self, list(sequences))


class ContiguousBatch:
    """Rows of a ``ContiguousCache``, decoded together: row b is sequences[b]."""

    def __init__(self, cache: ContiguousCache, sequences: list[int]) -> None:
        self.cache, self.sequences = cache, sequences

    def append(self, layer: int, keys: np.ndarray, values: np.ndarray) -> CacheView:
        cache = self.cache
        _check_append(layer, keys, values, cache.keys, len(self.sequences))
        count, max_len = keys.shape[2], cache.keys.shape[3]
        lengths = np.array([cache.lengths[s] for s in self.sequences])
        if int(lengths.max()) + count > max_len:
            raise ValueError(
                f"{count} new positions after {int(lengths.max())} would pass max_len={max_len}"
            )
        for row, (sequence, start) in enumerate(
            zip(self.sequences, lengths, strict=True)
        ):
            cache.keys[layer, sequence, :, start : start + count] = keys[row]
            cache.values[layer, sequence, :, start : start + count] = values[row]
        longest = int(lengths.max()) + count
        rows = np.array(self.sequences)
        return padded_view(
            cache.keys[layer, rows, :, :longest],
            cache.values[layer, rows, :, :longest],
            lengths,
            count,
        )

    def advance(self, count: int) -> None:
        for sequence in self.sequences:
            self.cache.lengths[sequence] += count


def _check_append(
    layer: int, keys: np.ndarray, values: np.ndarray, pool: np.ndarray, batch: int
) -> None:
    check_int("layer", layer)
    if not 0 <= layer < pool.shape[0]:
        raise ValueError(f"layer must be in [0, {pool.shape[0]}), got {layer}")
    expected = (batch, pool.shape[2], pool.shape[-1])
    if (
        keys.ndim != 4
        or values.shape != keys.shape
        or (keys.shape[0], keys.shape[1], keys.shape[3]) != expected
    ):
        raise ValueError(
            f"keys and values must both be (B, G, T, d_k) = ({batch}, {pool.shape[2]}, T, "
            f"{pool.shape[-1]}), got shapes {format_shape(keys.shape)} and {format_shape(values.shape)}"
        )
