"""Brute force: compare every query with every item. The reference, and the fastest engine for
a few thousand items."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from . import arrays
from ..bits import MASK64, as_uint64
from .arrays import Matches, Triples, concat, empty_matches, empty_triples, parallel_map, sort_matches


def brute_find_many(values: np.ndarray, queries: np.ndarray, k: int) -> Triples:
    """Compare every query with every value, a block of queries at a time."""
    n = len(values)
    if n == 0 or len(queries) == 0 or k < 0:
        return empty_triples()
    step = max(1, arrays.BLOCK // n)

    def block(q0: int) -> Triples:
        d = np.bitwise_count(queries[q0 : q0 + step, None] ^ values[None, :]).ravel()
        # flatnonzero + divmod: 2-D nonzero is several times slower than 1-D.
        hit = np.flatnonzero(d <= k)
        qi, ii = np.divmod(hit, n)
        return qi + q0, ii, d[hit]

    qids, items, dists = concat(parallel_map(block, range(0, len(queries), step)))
    return sort_matches(qids, items, dists)


def brute_pairs(values: np.ndarray, k: int) -> Triples:
    """Compare every value with every later one, a block of rows at a time."""
    n = len(values)
    if n < 2 or k < 0:
        return empty_triples()
    step = max(1, arrays.BLOCK // n)

    def block(i0: int) -> Triples:
        i1 = min(n, i0 + step)
        d = np.bitwise_count(values[i0:i1, None] ^ values[None, i0:]).ravel()
        hit = np.flatnonzero(d <= k)
        rows, cols = np.divmod(hit, n - i0)
        keep = cols > rows  # the block's columns start at i0, so j > i means col > row
        return rows[keep] + i0, cols[keep] + i0, d[hit[keep]]

    return concat(parallel_map(block, range(0, n, step)))


class BruteForce:
    """Compare the query with every item: O(N) per query, O(N^2) for pairs, tiny constants."""

    def __init__(self, values: np.ndarray | Iterable[int]) -> None:
        self._values = as_uint64(values)

    def __len__(self) -> int:
        return len(self._values)

    def find(self, query: int, k: int) -> Matches:
        if k < 0 or len(self._values) == 0:
            return empty_matches()
        d = np.bitwise_count(self._values ^ np.uint64(int(query) & MASK64))
        items = np.flatnonzero(d <= k)
        dists = d[items]
        order = np.argsort(dists, kind="stable")  # items are ascending already
        return items[order].astype(np.int64), dists[order]

    def find_many(self, queries: np.ndarray, k: int) -> Triples:
        return brute_find_many(self._values, as_uint64(queries), k)

    def pairs(self, k: int) -> Triples:
        return brute_pairs(self._values, k)
