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

from imgfind.bits import MASK64, as_uint64
from imgfind.bktree import BKTree

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


as_fingerprints = as_uint64


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
        items = self.order[_ranges(self.start[uids], n)].astype(np.int64)
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
        a, b = self.order[left].astype(np.int64), self.order[right].astype(np.int64)
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
    """The distinct values sorted by one substring, and where each substring key starts.

    Memory is what limits a long-lived index, so a table keeps only what queries read:
    positions (``perm``, ``starts``) are ``int32`` below 2**31 values, the table of the top
    substring shares the sorted distinct values instead of copying them, and the per-key
    arrays that only ``pairs`` reads are derived when it runs. At 1.1 * 10^7 values the
    three tables of the threshold-10 layout take 0.3 GB instead of 0.75 GB.
    """

    def __init__(self, values: np.ndarray, offset: int, width: int) -> None:
        self.offset = offset
        self.width = width
        self.mask = (1 << width) - 1
        n = len(values)
        # Dense tables index with int32 keys: half the memory traffic of int64 when probing.
        self.dense = _is_dense(width, n)
        self.key_dtype = np.int32 if self.dense else np.int64
        self.pos_dtype = np.int32 if n < 2**31 else np.int64
        keys = self.keys_of(values)
        self.perm: np.ndarray | None  # table position -> distinct-value index; None: same
        if bool(np.all(keys[1:] >= keys[:-1])):
            # The distinct values are sorted, so the table of the top substring is
            # already in order: share their array instead of copying it.
            self.perm, self.sorted_values, sorted_keys = None, values, keys
        else:
            self.perm = _argsort_keys(keys, width).astype(self.pos_dtype, copy=False)
            self.sorted_values = values[self.perm]
            sorted_keys = keys[self.perm]
        if self.dense:
            counts = np.bincount(sorted_keys, minlength=1 << width)
            # A bool per key answers "is anyone there" from a table 8x smaller than the
            # starts, so most probes of pairs(), which miss, touch few cache lines.
            self.present = counts > 0
            self.starts = np.zeros((1 << width) + 1, self.pos_dtype)
            np.cumsum(counts, out=self.starts[1:])
        else:
            first = np.flatnonzero(np.diff(sorted_keys, prepend=sorted_keys[:1] - 1))
            self._occupied = sorted_keys[first]
            self._occupied_start = first.astype(self.pos_dtype)
            self._occupied_count = np.diff(first, append=n).astype(self.pos_dtype)

    def keys_of(self, values: np.ndarray) -> np.ndarray:
        keys = (values >> np.uint64(self.offset)) & np.uint64(self.mask)
        return keys.astype(self.key_dtype)

    def items(self, positions: np.ndarray) -> np.ndarray:
        """Return the distinct-value indices at table ``positions``."""
        return positions if self.perm is None else self.perm[positions]

    def occupancy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the distinct keys (ascending), where each one's bucket starts, and its size.

        Only ``pairs`` needs these; for direct-address tables they are derived from
        ``starts`` on demand rather than kept next to it (at 22 bits and 10^7 values they
        are 80 MB a table).
        """
        if not self.dense:
            return self._occupied, self._occupied_start, self._occupied_count
        occupied = np.flatnonzero(self.present).astype(np.int32)
        start = self.starts[occupied]
        return occupied, start, self.starts[occupied + 1] - start

    def probe(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(which keys are present, their bucket starts, their bucket sizes)``."""
        if self.dense:
            hit = np.flatnonzero(self.present[keys])
            found = keys[hit]
            start = self.starts[found]
            return hit, start, self.starts[found + 1] - start
        at = np.searchsorted(self._occupied, keys)
        at[at == len(self._occupied)] = 0
        hit = np.flatnonzero(self._occupied[at] == keys)
        at = at[hit]
        return hit, self._occupied_start[at], self._occupied_count[at]

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like :meth:`probe`, for the scattered probes of queries.

        A direct-address table reads the bucket bounds of every key, present or not,
        without the presence test first: each query probe is a cache miss either way,
        and the test would cost another pass over the probes.
        """
        if not self.dense:
            return self.probe(keys)
        start = np.take(self.starts, keys)
        count = np.take(self.starts, keys + 1) - start
        hit = np.flatnonzero(count)
        return hit, start[hit], count[hit]


def _argsort_keys(keys: np.ndarray, width: int) -> np.ndarray:
    """Return the stable argsort of ``width``-bit non-negative ``keys``.

    Keys and positions both fit in 32 bits for every dense table, so one ``np.sort`` of
    ``key << 32 | position`` does it, several times faster than a stable ``argsort``.
    """
    if width <= 32 and len(keys) < 2**32:
        packed = (keys.astype(np.uint64) << np.uint64(32)) | np.arange(len(keys), dtype=np.uint64)
        packed.sort()
        return (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
    return np.argsort(keys, kind="stable")


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


def _find_in_table(
    table: _Table,
    queries: np.ndarray,
    ball: np.ndarray,
    k: int,
    earlier: Sequence[tuple[int, int, int]],
) -> Triples:
    """Return ``(query index, distinct-value index, distance)`` of the matches ``table`` finds.

    Every query's key is flipped by every mask of ``ball`` and the buckets found are
    verified; matches an earlier substring also finds are left to it. At 10^7 values
    nearly every probe is two cache misses (its bucket bounds, then the bucket), which
    is most of the time a query takes, so the rest is kept to a few sequential passes
    over the candidates.
    """
    keys = table.keys_of(queries).astype(np.intp)
    width = len(ball)
    found, found_start, found_count = table.lookup((keys[:, None] ^ ball[None, :]).ravel())
    parts: list[Triples] = []
    for lo, hi in _chunk_bounds(found_count, _BLOCK):
        probe, begin = found[lo:hi], found_start[lo:hi]
        size = found_count[lo:hi].astype(np.intp)
        ends = np.cumsum(size)
        total = int(ends[-1])
        # Table positions of the candidates: runs begin..begin+size, built as a cumsum of
        # steps (1 inside a run, a jump at each run's start).
        steps = np.ones(total, np.intp)
        steps[0] = begin[0]
        steps[ends[:-1]] = begin[1:] - (begin[:-1] + size[:-1] - 1)
        pos = np.cumsum(steps)
        # Probes are query-major, so each query's candidates are one run too.
        qid = probe // width
        first, last = int(qid[0]), int(qid[-1])
        q_edges = np.searchsorted(qid, np.arange(first, last + 2))
        c_edges = np.concatenate(([0], ends))[q_edges]
        x = np.take(table.sorted_values, pos)
        x ^= np.repeat(queries[first : last + 1], np.diff(c_edges))
        d = np.bitwise_count(x)
        hit = np.flatnonzero(d <= k)
        hit = hit[_first_finder(x[hit], earlier)]
        at = np.searchsorted(c_edges, hit, side="right") - 1 + first
        parts.append((at, table.items(pos[hit]), d[hit]))
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
    Query tables are built when queries have paid for them, or at once by :meth:`prepare`.

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

    def prepare(self, k: int, queries: int = 16) -> None:
        """Build now the tables that batches of about ``queries`` queries at ``k`` use.

        Without this, tables are built lazily on a ski-rental rule: only once comparing
        every item has cost about three times what building would, so a one-shot CLI
        query never pays seconds of building (about 1 s at 10^7 values) to save
        milliseconds. A long-lived index wants the opposite: every query fast from the
        first, a few milliseconds for 16 queries at 10^7 values instead of about 0.2 s by
        brute force. It calls this once after loading.

        The layout built is the one cheapest for a batch of ``queries`` when building
        costs nothing (none, when comparing everything is cheaper even so); ``find_many``
        then uses it for small batches at ``k``, and at any threshold it also suits, since
        tables already built count as free. Results are exact either way. Calling again
        with another ``k`` may add tables (about 0.3 GB for three at 10^7 values); none is
        built twice.
        """
        if k < 0 or len(self._dups.unique) == 0 or queries < 1:
            return
        if self._substrings is not None:
            plan = self._plan(k, queries)
        else:
            plan = _choose_plan(len(self._dups.unique), k, queries, frozenset(), True)
        if plan is None:  # comparing everything is cheaper even with free tables
            return
        for offset, width, radius in zip(plan.offsets, plan.widths, plan.radii):
            if radius >= 0:
                self._table(offset, width)

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
        earlier = [self._earlier(plan, j) for j in probed]
        step = max(1, _BLOCK // max(len(b) for b in balls))

        def block(q0: int) -> Triples:
            chunk = queries[q0 : q0 + step]
            parts = [
                _find_in_table(table, chunk, ball, k, before)
                for table, ball, before in zip(tables, balls, earlier)
            ]
            qids, uids, dists = _concat(parts)
            return qids + q0, uids, dists

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
        occupied, occupied_start, occupied_count = table.occupancy()
        tasks: list[Callable[[], Triples]] = []
        # Same key: each position with the later positions of its bucket.
        multi = np.flatnonzero(occupied_count > 1)
        pos = _ranges(occupied_start[multi], occupied_count[multi])
        end = np.repeat(occupied_start[multi] + occupied_count[multi], occupied_count[multi])
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
            low = np.flatnonzero((occupied >> top) & 1 == 0)
            step = max(1, _BLOCK // (4 * len(masks)))
            for lo in range(0, len(low), step):
                tasks.append(functools.partial(
                    self._probe_block, table, occupied, occupied_start, occupied_count,
                    low[lo : lo + step], masks, k, earlier,
                ))
        found = _parallel_map(lambda task: task(), tasks, self._workers)
        return [(table.items(a), table.items(b), d) for a, b, d in found]

    @staticmethod
    def _probe_block(
        table: _Table,
        occupied: np.ndarray,
        occupied_start: np.ndarray,
        occupied_count: np.ndarray,
        keys_at: np.ndarray,
        masks: np.ndarray,
        k: int,
        earlier: list[tuple[int, int, int]],
    ) -> Triples:
        """Verify the buckets of ``occupied[keys_at]`` against their neighbours."""
        # Mask-major: for one mask the probes sweep the table in key order, which keeps
        # the random reads of the table close together.
        keys = occupied[keys_at]
        probes = masks.astype(table.key_dtype)[:, None] ^ keys[None, :]
        hit, start, count = table.probe(probes.ravel())
        own = keys_at[hit % len(keys_at)]
        own_start = occupied_start[own]
        own_count = occupied_count[own]
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
