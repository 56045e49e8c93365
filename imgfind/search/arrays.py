"""Array plumbing shared by the search engines: result triples, ranges, duplicate values.

Results are ``(indices, distances)`` (:data:`Matches`) or ``(query or item i, item j,
distance)`` (:data:`Triples`): int64 positions, uint8 distances.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

Matches = tuple[np.ndarray, np.ndarray]
Triples = tuple[np.ndarray, np.ndarray, np.ndarray]

# Work per numpy call. Large enough that the per-call overhead (microseconds) vanishes,
# small enough that a few temporaries of this many uint64 stay around 100 MB per thread.
BLOCK = 1 << 21

_T = TypeVar("_T")
_R = TypeVar("_R")


def empty_matches() -> Matches:
    return np.empty(0, np.int64), np.empty(0, np.uint8)


def empty_triples() -> Triples:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.uint8)


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return the concatenation of ``arange(s, s + n)`` for each start ``s`` and length ``n``."""
    lengths = lengths.astype(np.int64, copy=False)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(ends - lengths - starts, lengths)
    return np.arange(total, dtype=np.int64) - shift


def sort_matches(qids: np.ndarray, items: np.ndarray, dists: np.ndarray) -> Triples:
    order = np.lexsort((items, dists, qids))
    return qids[order], items[order], dists[order]


def parallel_map(fn: Callable[[_T], _R], tasks: Sequence[_T], workers: int = 1) -> list[_R]:
    """Map ``fn`` over ``tasks``, on ``workers`` threads when more than one.

    The tasks are long numpy calls, many of which release the GIL, so threads can use
    several cores without copying the tables into other processes.
    """
    if workers <= 1 or len(tasks) < 2:
        return [fn(task) for task in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, tasks))


def concat(parts: list[Triples]) -> Triples:
    if not parts:
        return empty_triples()
    return (
        np.concatenate([p[0] for p in parts]).astype(np.int64, copy=False),
        np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False),
        np.concatenate([p[2] for p in parts]).astype(np.uint8, copy=False),
    )


class Duplicates:
    """The distinct values among the items, and the way back from values to items.

    Engines search the distinct values only, then expand: real libraries hold many exact
    copies, and a copy should cost one output row, not another search.
    """

    def __init__(self, values: np.ndarray) -> None:
        n = len(values)
        self.n_items = n
        # Positions fit in int32 below 2**31 items: 4 bytes an item less at 10^7 items.
        index = np.int32 if n < 2**31 else np.int64
        # One unstable argsort (several times faster than np.unique's sort plus a stable
        # argsort of the inverse); the order of copies within a group does not matter,
        # as every result is sorted by item index before it is returned.
        order = np.argsort(values)
        ordered = values[order]
        new = np.ones(n, bool)
        new[1:] = ordered[1:] != ordered[:-1]
        first = np.flatnonzero(new)
        self.unique = ordered[first]
        #: Items grouped by value: those of distinct value u are order[start[u]:][:count[u]].
        self.order = order.astype(index)
        self.count = np.diff(first, append=n).astype(index)
        self.start = first.astype(index)

    def matches(self, qids: np.ndarray, uids: np.ndarray, dists: np.ndarray) -> Triples:
        """Turn ``(query, distinct value, distance)`` rows into sorted per-item rows."""
        n = self.count[uids]
        items = self.order[ranges(self.start[uids], n)].astype(np.int64)
        return sort_matches(np.repeat(qids, n), items, np.repeat(dists, n))

    def pairs(self, ua: np.ndarray, ub: np.ndarray, dists: np.ndarray) -> Triples:
        """Turn pairs of distinct values into sorted item pairs, adding the exact copies."""
        # Every item of value a with every item of value b: one row per item of a.
        rows = ranges(self.start[ua], self.count[ua])
        seg_start = np.repeat(self.start[ub], self.count[ua])
        seg_len = np.repeat(self.count[ub], self.count[ua])
        left = np.repeat(rows, seg_len)
        right = ranges(seg_start, seg_len)
        d = np.repeat(np.repeat(dists, self.count[ua]), seg_len)
        # Copies of one value: each position with the later positions of its group.
        multi = np.flatnonzero(self.count > 1)
        pos = ranges(self.start[multi], self.count[multi])
        group_end = np.repeat(self.start[multi] + self.count[multi], self.count[multi])
        later = group_end - pos - 1
        left = np.concatenate((left, np.repeat(pos, later)))
        right = np.concatenate((right, ranges(pos + 1, later)))
        d = np.concatenate((d, np.zeros(int(later.sum()), np.uint8))).astype(np.uint8)
        a, b = self.order[left].astype(np.int64), self.order[right].astype(np.int64)
        i, j = np.minimum(a, b), np.maximum(a, b)
        order = np.argsort(i * self.n_items + j)
        return i[order], j[order], d[order]


# --------------------------------------------------------------------------- engines


def chunk_bounds(lengths: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Split segments into consecutive runs whose total length is about ``budget``."""
    if len(lengths) == 0:
        return []
    ends = np.cumsum(lengths)
    cuts = np.searchsorted(ends, np.arange(budget, int(ends[-1]), budget), side="left")
    edges = np.unique(np.concatenate(([0], cuts + 1, [len(lengths)])))
    edges = edges[edges <= len(lengths)]
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
