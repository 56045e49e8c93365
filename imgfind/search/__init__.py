"""Exact Hamming-distance search over 64-bit fingerprints: one interface, three engines.

Every engine answers the same three questions over a fixed array of items (numpy
``uint64``; callers turn SQLite's signed integers into it with ``.view(np.uint64)``):

* ``find(query, k)``: the items within ``k`` bits of one fingerprint;
* ``find_many(queries, k)``: the same for a batch;
* ``pairs(k)``: every pair of items within ``k`` bits of each other.

Results are exact and deterministic. Indices are ``int64`` positions in the input array,
distances ``uint8``. Duplicate values are allowed; each input position is its own item.

Modules: ``brute`` (:class:`BruteForce`), ``bktree`` (:class:`BKTree` and
:class:`BKTreeEngine`), ``mih`` (:class:`MultiIndexHash`) with its cost model in ``mih_cost``,
and ``arrays`` (the plumbing they share).

* :class:`BruteForce` compares against every item. It is the reference, and the fastest
  choice for a few thousand items.
* :class:`BKTreeEngine` wraps :class:`imgfind.bktree.BKTree`; it is here to be compared with.
* :class:`MultiIndexHash` is multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search
  in Hamming Space with Multi-Index Hashing", CVPR 2012), vectorised with numpy. It is the
  one to use for large collections; :func:`make_engine` picks it above a size threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np

from ..bits import as_uint64
from .arrays import Matches, Triples, ranges
from .bktree import BKTree, BKTreeEngine
from .brute import BruteForce
from .mih import MultiIndexHash

__all__ = ["AUTO_BRUTE_MAX", "BKTree", "BKTreeEngine", "BruteForce", "Engine", "Matches",
           "MultiIndexHash", "Triples", "as_fingerprints", "make_engine", "ranges"]

#: Below this many items ``make_engine("auto")`` uses brute force: building MIH tables
#: costs more than it saves (measured crossover for pairs(k<=10) and find; see
#: benchmarks/bench_search.py).
AUTO_BRUTE_MAX = 2_000

#: Every engine takes hashes as uint64; signed arrays (SQLite's) are reinterpreted.
as_fingerprints = as_uint64


class Engine(Protocol):
    """What every search engine answers; all results are exact."""

    def __len__(self) -> int: ...

    def find(self, query: int, k: int) -> Matches:
        """Return ``(indices, distances)`` of items within ``k`` of ``query``.

        Sorted by distance, then index.
        """
        ...

    def find_many(self, queries: np.ndarray, k: int) -> Triples:
        """Return ``(query_index, item_index, distance)`` of every match of every query.

        Sorted by query index, then distance, then item index.
        """
        ...

    def pairs(self, k: int) -> Triples:
        """Return ``(i, j, distance)`` for every pair of items with ``i < j`` within ``k``.

        Sorted by ``i``, then ``j``.
        """
        ...


def make_engine(values: np.ndarray | Iterable[int], kind: str = "auto") -> Engine:
    """Return a search engine over ``values``.

    ``kind`` is ``"auto"`` (brute force up to :data:`AUTO_BRUTE_MAX` items, multi-index
    hashing above), ``"brute"``, ``"bktree"`` or ``"mih"``.

    Raises:
        ValueError: ``kind`` is not one of those.
    """
    fingerprints = as_uint64(values)
    if kind == "auto":
        kind = "brute" if len(fingerprints) <= AUTO_BRUTE_MAX else "mih"
    engines: dict[str, Callable[[np.ndarray], Engine]] = {
        "brute": BruteForce,
        "bktree": BKTreeEngine,
        "mih": MultiIndexHash,
    }
    try:
        factory = engines[kind]
    except KeyError:
        choices = ", ".join(["auto", *engines])
        raise ValueError(f"unknown engine {kind!r}; choose from {choices}") from None
    return factory(fingerprints)


# --------------------------------------------------------------------------- helpers
