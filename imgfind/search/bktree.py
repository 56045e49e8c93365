"""The BK-tree, the small reference engine: near-neighbour search by Hamming distance.

A BK-tree stores each value as a node whose children are keyed by their distance to it.
The triangle inequality lets a search for everything within ``k`` of a query skip every
child whose edge distance lies outside ``[d - k, d + k]``, where ``d`` is the query's
distance to the node. Every walk here is an explicit loop, never recursion: a tree built
from sorted or clustered input degenerates into long chains, and imagededup's recursive
BK-tree dies on ``RecursionError`` at about 180,000 values.

>>> tree = BKTree([0b0000, 0b0001, 0b0011, 0b1111])
>>> tree.find(0b0000, 1)
[(0, 0), (1, 1)]
>>> tree.add(0b0011)  # already present: its index, nothing added
2
>>> tree.pairs(1)
[(0, 1, 1), (1, 2, 1)]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ..bits import MASK64, as_uint64
from .arrays import Duplicates, Matches, Triples, empty_triples


class BKTree:
    """A BK-tree of unique values; ``values[i]`` is the value with index ``i``.

    Nodes live in flat lists indexed by insertion order rather than as linked objects, so a
    node is just an index and the whole tree is two lists and a dict.
    """

    def __init__(self, values: Iterable[int] = ()) -> None:
        self.values: list[int] = []
        # _children[i] maps an edge distance to the index of the child at that distance.
        self._children: list[dict[int, int]] = []
        self._index: dict[int, int] = {}
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[int]:
        return iter(self.values)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and (value & MASK64) in self._index

    def add(self, value: int) -> int:
        """Insert ``value`` unless present; return its index in ``values`` either way.

        The dict of known values answers repeats in O(1), which matters because real photo
        libraries hold many exact duplicates.
        """
        value &= MASK64
        known = self._index.get(value)
        if known is not None:
            return known
        new = len(self.values)
        self.values.append(value)
        self._children.append({})
        self._index[value] = new
        if new == 0:
            return new
        node = 0
        while True:
            d = (value ^ self.values[node]).bit_count()
            children = self._children[node]
            child = children.get(d)
            if child is None:
                children[d] = new
                return new
            node = child

    def find(self, value: int, k: int) -> list[tuple[int, int]]:
        """Return ``(distance, index)`` for every stored value within ``k`` of ``value``.

        The result is sorted by distance, then index.

        >>> BKTree([7, 8, 6]).find(7, 1)
        [(0, 0), (1, 2)]
        """
        if not self.values or k < 0:
            return []
        value &= MASK64
        values = self.values
        children = self._children
        found: list[tuple[int, int]] = []
        stack = [0]
        while stack:
            node = stack.pop()
            d = (value ^ values[node]).bit_count()
            if d <= k:
                found.append((d, node))
            lo, hi = d - k, d + k
            for edge, child in children[node].items():
                if lo <= edge <= hi:
                    stack.append(child)
        found.sort()
        return found

    def pairs(self, k: int) -> list[tuple[int, int, int]]:
        """Return ``(i, j, distance)`` for every pair of stored values with ``i < j`` within ``k``.

        One ``find`` per value; sorted by ``(i, j)``.

        >>> BKTree([0, 1, 3]).pairs(2)
        [(0, 1, 1), (0, 2, 2), (1, 2, 1)]
        """
        result: list[tuple[int, int, int]] = []
        for i, value in enumerate(self.values):
            result.extend((i, j, d) for d, j in self.find(value, k) if j > i)
        result.sort()
        return result


class BKTreeEngine:
    """A BK-tree over the distinct values; one Python-level tree walk per query."""

    def __init__(self, values: np.ndarray | Iterable[int]) -> None:
        self._dups = Duplicates(as_uint64(values))
        # The distinct values are inserted in order, so tree index == distinct-value index.
        self._tree = BKTree(self._dups.unique.tolist())

    def __len__(self) -> int:
        return self._dups.n_items

    def find(self, query: int, k: int) -> Matches:
        _, items, dists = self.find_many(np.array([int(query) & MASK64], np.uint64), k)
        return items, dists

    def find_many(self, queries: np.ndarray, k: int) -> Triples:
        qids: list[int] = []
        uids: list[int] = []
        dists: list[int] = []
        for qi, query in enumerate(as_uint64(queries).tolist()):
            for d, uid in self._tree.find(query, k):
                qids.append(qi)
                uids.append(uid)
                dists.append(d)
        return self._dups.matches(
            np.array(qids, np.int64), np.array(uids, np.int64), np.array(dists, np.uint8)
        )

    def pairs(self, k: int) -> Triples:
        if k < 0:
            return empty_triples()
        found = np.array(self._tree.pairs(k), np.int64).reshape(-1, 3)
        return self._dups.pairs(found[:, 0], found[:, 1], found[:, 2].astype(np.uint8))
