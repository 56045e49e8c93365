"""Multi-index hashing (Norouzi, Punjani and Fleet, CVPR 2012), vectorised with numpy: exact
search that only looks at items near the query in some substring. The engine for large
collections; its cost model is in mih_cost.py."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from . import arrays
from ..bits import MASK64, as_uint64
from .arrays import (Duplicates, Matches, Triples, chunk_bounds, concat, empty_triples,
                     parallel_map, ranges)
from .brute import brute_find_many, brute_pairs
from .mih_cost import (MAX_BALL, NS_BRUTE_QUERY, NS_SETUP, Plan, ball_size, choose_plan, is_dense,
                       layout)


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
        self.dense = is_dense(width, n)
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
    """Like :func:`_verify_segments` with one position per segment, without expanding segments."""
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


def _verify_segments(
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
        hi = max(lo + 1, int(np.searchsorted(ends, base + arrays.BLOCK, side="right")))
        lens = seg_len[lo:hi]
        pos = ranges(seg_start[lo:hi], lens)
        x = np.repeat(seg_values[lo:hi], lens) ^ table.sorted_values[pos]
        d = np.bitwise_count(x)
        hit = np.flatnonzero(d <= k)
        hit = hit[_first_finder(x[hit], earlier)]
        seg = np.searchsorted(ends[lo:hi] - base, hit, side="right") + lo
        parts.append((seg_ids[seg], pos[hit], d[hit]))
        lo = hi
    return concat(parts)


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
    for lo, hi in chunk_bounds(found_count, arrays.BLOCK):
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
    return concat(parts)


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
        self._dups = Duplicates(as_uint64(values))
        self._tables: dict[tuple[int, int], _Table] = {}
        self._substrings = substrings
        self._workers = workers
        # Estimated time spent comparing queries with everything, for want of tables.
        self._brute_ns = 0.0

    def __len__(self) -> int:
        return self._dups.n_items

    @property
    def tables(self) -> Mapping[tuple[int, int], _Table]:
        """The substring tables built so far, by (first bit, width in bits); read-only.

        Tables are built by prepare() or by a large enough batch of queries; a table has
        ``dense`` (direct-address) and ``perm`` (None when it shares the sorted values).
        """
        return MappingProxyType(self._tables)

    def _plan(self, k: int, queries: int | None) -> Plan | None:
        if self._substrings is not None:
            plan = layout(self._substrings, k)
            balls = (ball_size(w, r) for w, r in zip(plan.widths, plan.radii))
            # A ball this large would take longer to enumerate than comparing everything.
            return plan if max(balls) <= MAX_BALL else None
        n = len(self._dups.unique)
        if queries is None:
            return choose_plan(n, k, None)
        # Ski rental: build query tables once brute force has cost about as much as
        # building them would, so a one-off query never pays for tables it will not reuse
        # and a stream of queries soon gets them.
        prepaid = self._brute_ns >= 3 * NS_SETUP * n
        plan = choose_plan(n, k, queries, frozenset(self._tables), prepaid)
        if plan is None:
            self._brute_ns += NS_BRUTE_QUERY * queries * n
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
            plan = choose_plan(len(self._dups.unique), k, queries, frozenset(), True)
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
        queries = as_uint64(queries)
        unique = self._dups.unique
        if k < 0 or len(unique) == 0 or len(queries) == 0:
            return empty_triples()
        plan = self._plan(k, len(queries))
        if plan is None:
            return self._dups.matches(*brute_find_many(unique, queries, k))
        probed = [j for j, r in enumerate(plan.radii) if r >= 0]
        tables = [self._table(plan.offsets[j], plan.widths[j]) for j in probed]
        balls = [self._ball(plan.widths[j], plan.radii[j]) for j in probed]
        earlier = [self._earlier(plan, j) for j in probed]
        step = max(1, arrays.BLOCK // max(len(b) for b in balls))

        def block(q0: int) -> Triples:
            chunk = queries[q0 : q0 + step]
            parts = [
                _find_in_table(table, chunk, ball, k, before)
                for table, ball, before in zip(tables, balls, earlier)
            ]
            qids, uids, dists = concat(parts)
            return qids + q0, uids, dists

        starts = range(0, len(queries), step)
        parts = parallel_map(block, starts, self._workers)
        return self._dups.matches(*concat(parts))

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def _ball(width: int, radius: int) -> np.ndarray:
        """Return every flip mask within ``radius``, 0 first."""
        return np.concatenate(([0], *_flip_masks(width, radius))).astype(np.int64)

    @staticmethod
    def _earlier(plan: Plan, j: int) -> list[tuple[int, int, int]]:
        return [
            (plan.offsets[i], (1 << plan.widths[i]) - 1, plan.radii[i])
            for i in range(j)
            if plan.radii[i] >= 0
        ]

    def pairs(self, k: int) -> Triples:
        unique = self._dups.unique
        if k < 0:
            return empty_triples()
        if len(unique) < 2:
            return self._dups.pairs(*empty_triples())
        plan = self._plan(k, None)
        if plan is None:
            return self._dups.pairs(*brute_pairs(unique, k))
        parts: list[Triples] = []
        for j, (offset, width, radius) in enumerate(zip(plan.offsets, plan.widths, plan.radii)):
            if radius < 0:
                continue
            # Built one at a time and not cached: a self-join needs no query-time tables,
            # and holding all of them at 10^7 values would double the peak memory.
            table = self._tables.get((offset, width)) or _Table(unique, offset, width)
            parts.extend(self._self_join(table, k, radius, self._earlier(plan, j)))
        ua, ub, d = concat(parts)
        return self._dups.pairs(np.minimum(ua, ub), np.maximum(ua, ub), d)

    def _self_join(
        self, table: _Table, k: int, radius: int, earlier: list[tuple[int, int, int]]
    ) -> list[Triples]:
        """Return the distinct-value pairs that ``table``'s substring is responsible for."""
        occupied, occupied_start, occupied_count = table.occupancy()
        tasks: list[Callable[[], Triples]] = []
        # Same key: each position with the later positions of its bucket.
        multi = np.flatnonzero(occupied_count > 1)
        pos = ranges(occupied_start[multi], occupied_count[multi])
        end = np.repeat(occupied_start[multi] + occupied_count[multi], occupied_count[multi])
        later = end - pos - 1
        bounds = chunk_bounds(later, arrays.BLOCK)
        for lo, hi in bounds:
            tasks.append(functools.partial(
                _verify_segments, pos[lo:hi], table.sorted_values[pos[lo:hi]], pos[lo:hi] + 1,
                later[lo:hi], table, k, earlier,
            ))
        # Keys differing by a flip mask with top bit t: probe from the keys with bit t clear.
        for top, masks in enumerate(_flip_masks(table.width, radius)):
            if len(masks) == 0:
                continue
            low = np.flatnonzero((occupied >> top) & 1 == 0)
            step = max(1, arrays.BLOCK // (4 * len(masks)))
            for lo in range(0, len(low), step):
                tasks.append(functools.partial(
                    self._probe_block, table, occupied, occupied_start, occupied_count,
                    low[lo : lo + step], masks, k, earlier,
                ))
        found = parallel_map(lambda task: task(), tasks, self._workers)
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
        rows = ranges(own_start, own_count)
        seg_start = np.repeat(start[many], own_count)
        seg_len = np.repeat(count[many], own_count)
        values = table.sorted_values[rows]
        parts.append(_verify_segments(rows, values, seg_start, seg_len, table, k, earlier))
        return concat(parts)
