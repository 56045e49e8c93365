"""Exact Hamming-distance search over 64-bit fingerprints: one interface, three engines.

Every engine answers the same three questions over a fixed array of items (numpy
``uint64``; callers turn SQLite's signed integers into it with ``.view(np.uint64)``):

* ``find(query, k)``: the items within ``k`` bits of one fingerprint;
* ``find_many(queries, k)``: the same for a batch;
* ``pairs(k)``: every pair of items within ``k`` bits of each other.

Results are exact and deterministic. Indices are ``int64`` positions in the input array,
distances ``uint8``. Duplicate values are allowed; each input position is its own item.

* :class:`BruteForce` compares against every item. It is the reference, and the fastest
  choice for a few thousand items.
* :class:`BKTreeEngine` wraps :class:`imgfind.bktree.BKTree`; it is here to be compared with.
* :class:`MultiIndexHash` is multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search
  in Hamming Space with Multi-Index Hashing", CVPR 2012), vectorised with numpy. It is the
  one to use for large collections; :func:`make_engine` picks it above a size threshold.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from imgfind.bktree import MASK64, BKTree

Matches = tuple[np.ndarray, np.ndarray]
Triples = tuple[np.ndarray, np.ndarray, np.ndarray]

#: Below this many items ``make_engine("auto")`` uses brute force: building MIH tables
#: costs more than it saves (measured crossover for pairs(k<=10) and find; see
#: benchmarks/bench_search.py).
AUTO_BRUTE_MAX = 2_000

# Work per numpy call. Large enough that the per-call overhead (microseconds) vanishes,
# small enough that a few temporaries of this many uint64 stay around 100 MB per thread.
_BLOCK = 1 << 21

_T = TypeVar("_T")
_R = TypeVar("_R")


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


def as_fingerprints(values: np.ndarray | Iterable[int]) -> np.ndarray:
    """Return ``values`` as a contiguous ``uint64`` array.

    Signed 64-bit arrays are reinterpreted (two's complement, as SQLite stores them), and
    Python ints are masked to 64 bits, so a value and its signed twin are the same item.
    """
    if isinstance(values, np.ndarray):
        if values.dtype == np.uint64:
            return np.ascontiguousarray(values)
        if values.dtype == np.int64:
            return np.ascontiguousarray(values).view(np.uint64)
        if values.dtype.kind in "iu":
            return values.astype(np.int64).view(np.uint64)
        raise TypeError(f"fingerprints must be an integer array, not {values.dtype}")
    return np.fromiter((int(v) & MASK64 for v in values), dtype=np.uint64)


def make_engine(values: np.ndarray | Iterable[int], kind: str = "auto") -> Engine:
    """Return a search engine over ``values``.

    ``kind`` is ``"auto"`` (brute force up to :data:`AUTO_BRUTE_MAX` items, multi-index
    hashing above), ``"brute"``, ``"bktree"`` or ``"mih"``.

    Raises:
        ValueError: ``kind`` is not one of those.
    """
    fingerprints = as_fingerprints(values)
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


def _empty_matches() -> Matches:
    return np.empty(0, np.int64), np.empty(0, np.uint8)


def _empty_triples() -> Triples:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.uint8)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return the concatenation of ``arange(s, s + n)`` for each start ``s`` and length ``n``."""
    lengths = lengths.astype(np.int64, copy=False)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(ends - lengths - starts, lengths)
    return np.arange(total, dtype=np.int64) - shift


def _sort_matches(qids: np.ndarray, items: np.ndarray, dists: np.ndarray) -> Triples:
    order = np.lexsort((items, dists, qids))
    return qids[order], items[order], dists[order]


def _parallel_map(fn: Callable[[_T], _R], tasks: Sequence[_T], workers: int = 1) -> list[_R]:
    """Map ``fn`` over ``tasks``, on ``workers`` threads when more than one.

    The tasks are long numpy calls, many of which release the GIL, so threads can use
    several cores without copying the tables into other processes.
    """
    if workers <= 1 or len(tasks) < 2:
        return [fn(task) for task in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, tasks))


def _concat(parts: list[Triples]) -> Triples:
    if not parts:
        return _empty_triples()
    return (
        np.concatenate([p[0] for p in parts]).astype(np.int64, copy=False),
        np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False),
        np.concatenate([p[2] for p in parts]).astype(np.uint8, copy=False),
    )


def _brute_find_many(values: np.ndarray, queries: np.ndarray, k: int) -> Triples:
    """Compare every query with every value, a block of queries at a time."""
    n = len(values)
    if n == 0 or len(queries) == 0 or k < 0:
        return _empty_triples()
    step = max(1, _BLOCK // n)

    def block(q0: int) -> Triples:
        d = np.bitwise_count(queries[q0 : q0 + step, None] ^ values[None, :]).ravel()
        # flatnonzero + divmod: 2-D nonzero is several times slower than 1-D.
        hit = np.flatnonzero(d <= k)
        qi, ii = np.divmod(hit, n)
        return qi + q0, ii, d[hit]

    qids, items, dists = _concat(_parallel_map(block, range(0, len(queries), step)))
    return _sort_matches(qids, items, dists)


def _brute_pairs(values: np.ndarray, k: int) -> Triples:
    """Compare every value with every later one, a block of rows at a time."""
    n = len(values)
    if n < 2 or k < 0:
        return _empty_triples()
    step = max(1, _BLOCK // n)

    def block(i0: int) -> Triples:
        i1 = min(n, i0 + step)
        d = np.bitwise_count(values[i0:i1, None] ^ values[None, i0:]).ravel()
        hit = np.flatnonzero(d <= k)
        rows, cols = np.divmod(hit, n - i0)
        keep = cols > rows  # the block's columns start at i0, so j > i means col > row
        return rows[keep] + i0, cols[keep] + i0, d[hit[keep]]

    return _concat(_parallel_map(block, range(0, n, step)))


class _Duplicates:
    """The distinct values among the items, and the way back from values to items.

    Engines search the distinct values only, then expand: real libraries hold many exact
    copies, and a copy should cost one output row, not another search.
    """

    def __init__(self, values: np.ndarray) -> None:
        self.unique, inverse = np.unique(values, return_inverse=True)
        self.n_items = len(values)
        # Items grouped by value; within a group in ascending item index (stable sort).
        self.order = np.argsort(inverse, kind="stable").astype(np.int64)
        self.count = np.bincount(inverse, minlength=len(self.unique)).astype(np.int64)
        self.start = np.concatenate(([0], np.cumsum(self.count)[:-1])).astype(np.int64)

    def matches(self, qids: np.ndarray, uids: np.ndarray, dists: np.ndarray) -> Triples:
        """Turn ``(query, distinct value, distance)`` rows into sorted per-item rows."""
        n = self.count[uids]
        items = self.order[_ranges(self.start[uids], n)]
        return _sort_matches(np.repeat(qids, n), items, np.repeat(dists, n))

    def pairs(self, ua: np.ndarray, ub: np.ndarray, dists: np.ndarray) -> Triples:
        """Turn pairs of distinct values into sorted item pairs, adding the exact copies."""
        # Every item of value a with every item of value b: one row per item of a.
        rows = _ranges(self.start[ua], self.count[ua])
        seg_start = np.repeat(self.start[ub], self.count[ua])
        seg_len = np.repeat(self.count[ub], self.count[ua])
        left = np.repeat(rows, seg_len)
        right = _ranges(seg_start, seg_len)
        d = np.repeat(np.repeat(dists, self.count[ua]), seg_len)
        # Copies of one value: each position with the later positions of its group.
        multi = np.flatnonzero(self.count > 1)
        pos = _ranges(self.start[multi], self.count[multi])
        group_end = np.repeat(self.start[multi] + self.count[multi], self.count[multi])
        later = group_end - pos - 1
        left = np.concatenate((left, np.repeat(pos, later)))
        right = np.concatenate((right, _ranges(pos + 1, later)))
        d = np.concatenate((d, np.zeros(int(later.sum()), np.uint8))).astype(np.uint8)
        a, b = self.order[left], self.order[right]
        i, j = np.minimum(a, b), np.maximum(a, b)
        order = np.argsort(i * self.n_items + j)
        return i[order], j[order], d[order]


# --------------------------------------------------------------------------- engines


class BruteForce:
    """Compare the query with every item: O(N) per query, O(N^2) for pairs, tiny constants."""

    def __init__(self, values: np.ndarray | Iterable[int]) -> None:
        self._values = as_fingerprints(values)

    def __len__(self) -> int:
        return len(self._values)

    def find(self, query: int, k: int) -> Matches:
        if k < 0 or len(self._values) == 0:
            return _empty_matches()
        d = np.bitwise_count(self._values ^ np.uint64(int(query) & MASK64))
        items = np.flatnonzero(d <= k)
        dists = d[items]
        order = np.argsort(dists, kind="stable")  # items are ascending already
        return items[order].astype(np.int64), dists[order]

    def find_many(self, queries: np.ndarray, k: int) -> Triples:
        return _brute_find_many(self._values, as_fingerprints(queries), k)

    def pairs(self, k: int) -> Triples:
        return _brute_pairs(self._values, k)


class BKTreeEngine:
    """A BK-tree over the distinct values; one Python-level tree walk per query."""

    def __init__(self, values: np.ndarray | Iterable[int]) -> None:
        self._dups = _Duplicates(as_fingerprints(values))
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
        for qi, query in enumerate(as_fingerprints(queries).tolist()):
            for d, uid in self._tree.find(query, k):
                qids.append(qi)
                uids.append(uid)
                dists.append(d)
        return self._dups.matches(
            np.array(qids, np.int64), np.array(uids, np.int64), np.array(dists, np.uint8)
        )

    def pairs(self, k: int) -> Triples:
        if k < 0:
            return _empty_triples()
        found = np.array(self._tree.pairs(k), np.int64).reshape(-1, 3)
        return self._dups.pairs(found[:, 0], found[:, 1], found[:, 2].astype(np.uint8))


# --------------------------------------------------------------------------- multi-index hashing


def _ball_size(bits: int, radius: int) -> int:
    """Return how many ``bits``-bit keys lie within ``radius`` of a given key."""
    return sum(math.comb(bits, i) for i in range(min(radius, bits) + 1))


@functools.lru_cache(maxsize=64)
def _flip_masks(bits: int, radius: int) -> tuple[np.ndarray, ...]:
    """Return the nonzero masks of at most ``radius`` set bits, grouped by their top bit.

    Entry ``t`` holds the masks whose highest set bit is ``t``. A pair of keys ``u < v``
    that differ by such a mask has bit ``t`` clear in ``u``, which lets a self-join probe
    from half of the keys and still see each pair exactly once.
    """
    groups = []
    for top in range(bits):
        masks = [1 << top]
        for extra in range(1, min(radius, top + 1)):
            for combo in itertools.combinations(range(top), extra):
                masks.append((1 << top) | sum(1 << b for b in combo))
        # Keys are int64 (a 64-bit substring wraps), so masks wrap the same way.
        groups.append(np.array(masks if radius > 0 else [], np.uint64).view(np.int64))
    return tuple(groups)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Substring layout and search radii for one threshold: bits [offset, offset + width)."""

    offsets: tuple[int, ...]
    widths: tuple[int, ...]
    radii: tuple[int, ...]


def _layouts(k: int) -> Iterable[_Plan]:
    """Yield every pigeonhole-valid plan with 1..k+1 near-equal substrings.

    If two values are within ``k`` and the substrings' radii satisfy
    ``sum(r_j + 1) >= k + 1``, some substring differs by at most its radius (else the
    distance would be at least ``k + 1``), so probing each substring's ball finds them.
    The spare radius goes to the widest substrings, whose balls are sparsest.
    """
    for m in range(1, min(k + 1, 16) + 1):
        yield _layout(m, k)


def _layout(m: int, k: int) -> _Plan:
    """Return the plan with ``m`` near-equal substrings for threshold ``k``.

    With more substrings than ``k + 1``, only the first ``k + 1`` are probed (radius 0);
    the others get radius -1, meaning "not probed".
    """
    widths = [64 // m + (1 if j < 64 % m else 0) for j in range(m)]
    spare = k + 1 - m
    if spare >= 0:
        radii = [spare // m + (1 if j < spare % m else 0) for j in range(m)]
    else:
        radii = [0] * (k + 1) + [-1] * (m - k - 1)
    offsets = [sum(widths[:j]) for j in range(m)]
    return _Plan(tuple(offsets), tuple(widths), tuple(radii))


# Nanoseconds per unit of work, fitted to timings on the 2-vCPU benchmark machine
# (benchmarks/bench_search.py; 10^5 and 10^6 clustered values, m = 2..6): a probe of a
# dense table or of a sorted key array, a verified candidate, the per-value setup of one
# substring (sorting, tables, expanding results), the fixed cost of probing one substring
# for one batch of queries, and a brute-force comparison in pairs and in queries. Only
# their ratios matter: they choose m, and whether to compare everything instead.
_NS_PROBE_DENSE = 11.0
_NS_PROBE_SPARSE = 19.0
_NS_CANDIDATE = 3.8
_NS_SETUP = 155.0
_NS_CALL = 40_000.0
_NS_BRUTE_PAIR = 2.3
_NS_BRUTE_QUERY = 0.55
_MAX_BALL = 1 << 16  # never enumerate more flip masks per substring than this
_DENSE_MAX_BITS = 22


def _is_dense(width: int, n: int) -> bool:
    """Use a direct-address table when it is small, in absolute terms and next to ``n``."""
    return width <= _DENSE_MAX_BITS and (1 << width) <= max(16 * n, 1 << 16)


def _plan_cost(
    plan: _Plan,
    n: int,
    queries: int | None,
    built: frozenset[tuple[int, int]] = frozenset(),
    prepaid: bool = False,
) -> float:
    """Estimate a plan's nanoseconds; ``queries=None`` means the self-join ``pairs``.

    Values are taken as uniformly random, so a ball of ``b`` keys around a ``w``-bit key
    holds ``n * b / 2**w`` values. Clustered data costs a little more; the fit above is
    on clustered data. Queries pay for building a table unless it is in ``built``
    (``(offset, width)`` pairs) or ``prepaid``, so a batch does not build a layout to save
    less than the building costs, and memory does not fill with layouts.
    """
    balls = [_ball_size(w, r) for w, r in zip(plan.widths, plan.radii) if r >= 0]
    if max(balls) > _MAX_BALL:
        return math.inf
    batches = 1 if queries is None else math.ceil(queries * max(balls) / _BLOCK)
    cost = 0.0
    for offset, width, radius in zip(plan.offsets, plan.widths, plan.radii):
        if radius < 0:
            continue
        ball = _ball_size(width, radius)
        space = 2.0**width
        probe = _NS_PROBE_DENSE if _is_dense(width, n) else _NS_PROBE_SPARSE
        if queries is None:
            occupied = space * -math.expm1(-n / space)
            cost += _NS_SETUP * n + probe * occupied / 2 * (ball - 1)
            cost += _NS_CANDIDATE * n * n / 2 * ball / space
        else:
            cost += _NS_CALL * batches
            if (offset, width) not in built and not prepaid:
                cost += _NS_SETUP * n
            cost += queries * (probe * ball + _NS_CANDIDATE * n * ball / space)
    return cost


@functools.lru_cache(maxsize=256)
def _choose_plan(
    n: int,
    k: int,
    queries: int | None,
    built: frozenset[tuple[int, int]] = frozenset(),
    prepaid: bool = False,
) -> _Plan | None:
    """Return the cheapest plan, or ``None`` when comparing everything is cheaper.

    ``built`` and ``prepaid`` are passed on to :func:`_plan_cost`.
    """
    if queries is None:
        brute = _NS_BRUTE_PAIR * n * n / 2
    else:
        brute = _NS_BRUTE_QUERY * queries * n
    best, best_cost = None, brute
    for plan in _layouts(k):
        cost = _plan_cost(plan, n, queries, built, prepaid)
        if cost < best_cost:
            best, best_cost = plan, cost
    return best


class _Table:
    """The distinct values sorted by one substring, and where each substring key starts."""

    def __init__(self, values: np.ndarray, offset: int, width: int) -> None:
        self.offset = offset
        self.width = width
        self.mask = (1 << width) - 1
        # Dense tables index with int32 keys: half the memory traffic of int64 when probing.
        self.dense = _is_dense(width, len(values))
        self.key_dtype = np.int32 if self.dense else np.int64
        keys = self.keys_of(values)
        self.perm = np.argsort(keys, kind="stable")
        self.sorted_values = values[self.perm]
        sorted_keys = keys[self.perm]
        self.occupied: np.ndarray  # the distinct keys, ascending
        if self.dense:
            counts = np.bincount(sorted_keys, minlength=1 << width)
            # A bool per key answers "is anyone there" from a table 8x smaller than the
            # starts, so most probes, which miss, touch few cache lines.
            self.present = counts > 0
            self.starts = np.zeros((1 << width) + 1, np.int64)
            np.cumsum(counts, out=self.starts[1:])
            self.occupied = np.flatnonzero(self.present).astype(np.int32)
            self.occupied_start = self.starts[self.occupied]
            self.occupied_count = counts[self.occupied].astype(np.int64)
        else:
            first = np.flatnonzero(np.diff(sorted_keys, prepend=sorted_keys[:1] - 1))
            self.occupied = sorted_keys[first]
            self.occupied_start = first.astype(np.int64)
            self.occupied_count = np.diff(first, append=len(values)).astype(np.int64)

    def keys_of(self, values: np.ndarray) -> np.ndarray:
        keys = (values >> np.uint64(self.offset)) & np.uint64(self.mask)
        return keys.astype(self.key_dtype)

    def probe(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(which keys are present, their bucket starts, their bucket sizes)``."""
        if self.dense:
            hit = np.flatnonzero(self.present[keys])
            found = keys[hit]
            start = self.starts[found]
            return hit, start, self.starts[found + 1] - start
        at = np.searchsorted(self.occupied, keys)
        at[at == len(self.occupied)] = 0
        hit = np.flatnonzero(self.occupied[at] == keys)
        at = at[hit]
        return hit, self.occupied_start[at], self.occupied_count[at]


def _verify_one(
    ids: np.ndarray,
    values: np.ndarray,
    positions: np.ndarray,
    table: _Table,
    k: int,
    earlier: Sequence[tuple[int, int, int]],
) -> Triples:
    """Like :func:`_verify` with one position per segment, without expanding segments."""
    x = values ^ table.sorted_values[positions]
    d = np.bitwise_count(x)
    hit = np.flatnonzero(d <= k)
    hit = hit[_first_finder(x[hit], earlier)]
    return ids[hit], positions[hit], d[hit]


def _first_finder(x: np.ndarray, earlier: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """Return which XORs no earlier substring (offset, mask, radius) was near enough on."""
    keep = np.ones(len(x), bool)
    for offset, mask, radius in earlier:
        keep &= np.bitwise_count((x >> np.uint64(offset)) & np.uint64(mask)) > radius
    return keep


def _verify(
    seg_ids: np.ndarray,
    seg_values: np.ndarray,
    seg_start: np.ndarray,
    seg_len: np.ndarray,
    table: _Table,
    k: int,
    earlier: Sequence[tuple[int, int, int]],
) -> Triples:
    """Check each segment's value against positions ``start .. start + len`` of ``table``.

    Return ``(segment id, position, distance)`` of the matches within ``k`` that no earlier
    substring would also have found (``earlier`` holds their offset, mask and radius): a
    pair near in several substrings is reported once, by the first, without a global
    de-duplication pass.
    """
    parts: list[Triples] = []
    ends = np.cumsum(seg_len)
    lo = 0
    while lo < len(seg_len):
        base = int(ends[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(ends, base + _BLOCK, side="right")))
        lens = seg_len[lo:hi]
        pos = _ranges(seg_start[lo:hi], lens)
        x = np.repeat(seg_values[lo:hi], lens) ^ table.sorted_values[pos]
        d = np.bitwise_count(x)
        hit = np.flatnonzero(d <= k)
        hit = hit[_first_finder(x[hit], earlier)]
        seg = np.searchsorted(ends[lo:hi] - base, hit, side="right") + lo
        parts.append((seg_ids[seg], pos[hit], d[hit]))
        lo = hi
    return _concat(parts)


class MultiIndexHash:
    """Multi-index hashing: exact search that only looks at items near in some substring.

    The 64 bits are cut into ``m`` substrings, each with a table of the distinct values
    sorted by that substring. Within threshold ``k``, a match must be within ``r_j`` of the
    query in some substring ``j`` when ``sum(r_j + 1) >= k + 1``, so each substring's
    table is probed with every key within ``r_j``, and the candidates found are verified
    with a full popcount. ``m`` and the radii are chosen per call from a cost model of
    ``N``, ``k`` and the number of queries; when it predicts that comparing everything is
    cheaper (large ``k``), that is what is done, so every ``k`` in 0..64 stays exact.

    ``pairs`` is a self-join: for each substring and each flip mask it probes only the keys
    with the mask's top bit clear, so every pair of keys is visited once.
    """

    def __init__(
        self,
        values: np.ndarray | Iterable[int],
        *,
        substrings: int | None = None,
        workers: int = 1,
    ) -> None:
        """Index ``values``.

        ``substrings`` fixes ``m`` for every call and turns the brute-force fallback off;
        it exists so tests and benchmarks can exercise one layout at any size.

        ``workers`` threads share the probing of ``pairs`` and large ``find_many`` batches.
        It defaults to 1 because on the 2-vCPU benchmark machine a second thread gained
        nothing (its two vCPUs give about one core's throughput) and doubled the scratch
        memory; try more on a machine with real cores.

        Raises:
            ValueError: ``substrings`` is not in 1..64, or ``workers`` is below 1.
        """
        if substrings is not None and not 1 <= substrings <= 64:
            raise ValueError(f"substrings must be in 1..64, not {substrings}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self._dups = _Duplicates(as_fingerprints(values))
        self._tables: dict[tuple[int, int], _Table] = {}
        self._substrings = substrings
        self._workers = workers
        # Estimated time spent comparing queries with everything, for want of tables.
        self._brute_ns = 0.0

    def __len__(self) -> int:
        return self._dups.n_items

    def _plan(self, k: int, queries: int | None) -> _Plan | None:
        if self._substrings is not None:
            plan = _layout(self._substrings, k)
            balls = (_ball_size(w, r) for w, r in zip(plan.widths, plan.radii))
            # A ball this large would take longer to enumerate than comparing everything.
            return plan if max(balls) <= _MAX_BALL else None
        n = len(self._dups.unique)
        if queries is None:
            return _choose_plan(n, k, None)
        # Ski rental: build query tables once brute force has cost about as much as
        # building them would, so a one-off query never pays for tables it will not reuse
        # and a stream of queries soon gets them.
        prepaid = self._brute_ns >= 3 * _NS_SETUP * n
        plan = _choose_plan(n, k, queries, frozenset(self._tables), prepaid)
        if plan is None:
            self._brute_ns += _NS_BRUTE_QUERY * queries * n
        return plan

    def _table(self, offset: int, width: int) -> _Table:
        key = (offset, width)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = _Table(self._dups.unique, offset, width)
        return table

    def find(self, query: int, k: int) -> Matches:
        _, items, dists = self.find_many(np.array([int(query) & MASK64], np.uint64), k)
        return items, dists

    def find_many(self, queries: np.ndarray, k: int) -> Triples:
        queries = as_fingerprints(queries)
        unique = self._dups.unique
        if k < 0 or len(unique) == 0 or len(queries) == 0:
            return _empty_triples()
        plan = self._plan(k, len(queries))
        if plan is None:
            return self._dups.matches(*_brute_find_many(unique, queries, k))
        probed = [j for j, r in enumerate(plan.radii) if r >= 0]
        tables = [self._table(plan.offsets[j], plan.widths[j]) for j in probed]
        balls = [self._ball(plan.widths[j], plan.radii[j]) for j in probed]
        step = max(1, _BLOCK // max(len(b) for b in balls))

        def block(q0: int) -> Triples:
            chunk = queries[q0 : q0 + step]
            parts = []
            for j, table, ball in zip(probed, tables, balls):
                probes = table.keys_of(chunk)[:, None] ^ ball.astype(table.key_dtype)[None, :]
                hit, start, count = table.probe(probes.ravel())
                qids = hit // len(ball)
                earlier = self._earlier(plan, j)
                one = count == 1
                for found in (
                    _verify_one(qids[one], chunk[qids[one]], start[one], table, k, earlier),
                    _verify(qids[~one], chunk[qids[~one]], start[~one], count[~one], table, k,
                            earlier),
                ):
                    parts.append((found[0] + q0, table.perm[found[1]], found[2]))
            return _concat(parts)

        starts = range(0, len(queries), step)
        parts = _parallel_map(block, starts, self._workers)
        return self._dups.matches(*_concat(parts))

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def _ball(width: int, radius: int) -> np.ndarray:
        """Return every flip mask within ``radius``, 0 first."""
        return np.concatenate(([0], *_flip_masks(width, radius))).astype(np.int64)

    @staticmethod
    def _earlier(plan: _Plan, j: int) -> list[tuple[int, int, int]]:
        return [
            (plan.offsets[i], (1 << plan.widths[i]) - 1, plan.radii[i])
            for i in range(j)
            if plan.radii[i] >= 0
        ]

    def pairs(self, k: int) -> Triples:
        unique = self._dups.unique
        if k < 0:
            return _empty_triples()
        if len(unique) < 2:
            return self._dups.pairs(*_empty_triples())
        plan = self._plan(k, None)
        if plan is None:
            return self._dups.pairs(*_brute_pairs(unique, k))
        parts: list[Triples] = []
        for j, (offset, width, radius) in enumerate(zip(plan.offsets, plan.widths, plan.radii)):
            if radius < 0:
                continue
            # Built one at a time and not cached: a self-join needs no query-time tables,
            # and holding all of them at 10^7 values would double the peak memory.
            table = self._tables.get((offset, width)) or _Table(unique, offset, width)
            parts.extend(self._self_join(table, k, radius, self._earlier(plan, j)))
        ua, ub, d = _concat(parts)
        return self._dups.pairs(np.minimum(ua, ub), np.maximum(ua, ub), d)

    def _self_join(
        self, table: _Table, k: int, radius: int, earlier: list[tuple[int, int, int]]
    ) -> list[Triples]:
        """Return the distinct-value pairs that ``table``'s substring is responsible for."""
        tasks: list[Callable[[], Triples]] = []
        # Same key: each position with the later positions of its bucket.
        multi = np.flatnonzero(table.occupied_count > 1)
        pos = _ranges(table.occupied_start[multi], table.occupied_count[multi])
        end = np.repeat(table.occupied_start[multi] + table.occupied_count[multi],
                        table.occupied_count[multi])
        later = end - pos - 1
        bounds = _chunk_bounds(later, _BLOCK)
        for lo, hi in bounds:
            tasks.append(functools.partial(
                _verify, pos[lo:hi], table.sorted_values[pos[lo:hi]], pos[lo:hi] + 1,
                later[lo:hi], table, k, earlier,
            ))
        # Keys differing by a flip mask with top bit t: probe from the keys with bit t clear.
        for top, masks in enumerate(_flip_masks(table.width, radius)):
            if len(masks) == 0:
                continue
            low = np.flatnonzero((table.occupied >> top) & 1 == 0)
            step = max(1, _BLOCK // (4 * len(masks)))
            for lo in range(0, len(low), step):
                tasks.append(functools.partial(
                    self._probe_block, table, low[lo : lo + step], masks, k, earlier
                ))
        found = _parallel_map(lambda task: task(), tasks, self._workers)
        return [(table.perm[a], table.perm[b], d) for a, b, d in found]

    @staticmethod
    def _probe_block(
        table: _Table,
        keys_at: np.ndarray,
        masks: np.ndarray,
        k: int,
        earlier: list[tuple[int, int, int]],
    ) -> Triples:
        """Verify the buckets of ``table.occupied[keys_at]`` against their neighbours."""
        # Mask-major: for one mask the probes sweep the table in key order, which keeps
        # the random reads of the table close together.
        keys = table.occupied[keys_at]
        probes = masks.astype(table.key_dtype)[:, None] ^ keys[None, :]
        hit, start, count = table.probe(probes.ravel())
        own = keys_at[hit % len(keys_at)]
        own_start = table.occupied_start[own]
        own_count = table.occupied_count[own]
        # Most buckets hold one value; pair those directly and expand only the rest.
        single = (own_count == 1) & (count == 1)
        one = np.flatnonzero(single)
        a, b = own_start[one], start[one]
        parts = [_verify_one(a, table.sorted_values[a], b, table, k, earlier)]
        many = np.flatnonzero(~single)
        own_start, own_count = own_start[many], own_count[many]
        # One segment per item of the probing bucket: that item against the whole bucket found.
        rows = _ranges(own_start, own_count)
        seg_start = np.repeat(start[many], own_count)
        seg_len = np.repeat(count[many], own_count)
        values = table.sorted_values[rows]
        parts.append(_verify(rows, values, seg_start, seg_len, table, k, earlier))
        return _concat(parts)


def _chunk_bounds(lengths: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Split segments into consecutive runs whose total length is about ``budget``."""
    if len(lengths) == 0:
        return []
    ends = np.cumsum(lengths)
    cuts = np.searchsorted(ends, np.arange(budget, int(ends[-1]), budget), side="left")
    edges = np.unique(np.concatenate(([0], cuts + 1, [len(lengths)])))
    edges = edges[edges <= len(lengths)]
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
