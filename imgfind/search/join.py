"""Exact Hamming join compiled with numba: multi-index hashing whose probe loop runs as
machine code on every core.

The numpy engine (mih.py) spends most of a large join on temporaries: every probe key, every
bucket bound and every candidate goes through a full-length array before the next step, so a
join of 10^6 queries against 10^7 hashes moves gigabytes through memory. Here each query walks
its probes and candidates in registers, and the queries are shared among the cores
(``numba.prange``). The method is the same (Norouzi, Punjani and Fleet, "Fast Search in Hamming
Space with Multi-Index Hashing", CVPR 2012): the 64 bits are cut into ``m`` substrings, one
direct-address table per substring; a match within ``k`` bits is within ``r_j`` bits in some
substring ``j`` when ``sum(r_j + 1) >= k + 1``; a pair near in several substrings is reported by
the first only. Results are exact: tests compare them with brute force.

numba is optional: :func:`available` says whether it can be imported, and callers fall back to
the numpy engines without it. The first call in a process compiles the kernels or loads them
from numba's on-disk cache (``cache=True``, next to this module): about a second the very first
time, ~0.2 s after.
"""

from __future__ import annotations

import functools
import itertools
import math
import mmap

import numpy as np

from ..bits import as_uint64
from .arrays import Matches, Triples, ranges, sort_matches

#: Widest substring table (direct-address: 2**width + 1 int32 bucket bounds = 64 MB).
MAX_WIDTH = 24
#: Cost model, in nanoseconds: a probe (one or two cache misses for its bucket bounds) and a
#: candidate check (a sequential read, a popcount). Ours, rough: a probe into a 21-bit table
#: cost 12-45 ns on the 2-core bench machine (the sparser the queries, the dearer), so 25; at
#: 1.1M and 3.3M crop hashes and 10 bits the 16-bit layout was 2.4-3.3x cheaper than the 21-bit
#: one (benchmarks/RESULTS.md, "Search at scale, session 7").
NS_PROBE = 25.0
NS_CHECK = 1.5
#: A probe into a table wider than CACHED_WIDTH bits (its bucket bounds beyond 256 KB, out of
#: the core's cache: a miss for the bounds, another for the bucket) costs NS_PROBE_WIDE. Ours,
#: calibrated on the synthetic 10^6-file index (11M crop hashes, 20,000 rows of queries): a
#: probe into the 21-22-bit tables cost 45 ns at 8 bits and 133 ns at 10 bits (candidate checks
#: included), and the 16-bit layout was 1.3x (8 bits) and 2.7x (10 bits) cheaper than the
#: 21-22-bit one that NS_PROBE alone chose (benchmarks/RESULTS.md, "Dedupe at scale, session 9").
CACHED_WIDTH = 16
NS_PROBE_WIDE = 100.0
#: Queries per parallel block (a block writes its matches into its own slice of the output).
BLOCK_QUERIES = 4096  # as _kernels.BLOCK_QUERIES


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """True when numba can be imported (the compiled engine can run)."""
    try:
        import numba  # noqa: F401
    except Exception:  # ImportError, or a numba that does not load on this numpy
        return False
    return True


@functools.lru_cache(maxsize=1)
def _kernels():
    from . import _kernels as k

    return k.sweep, k.brute, k.nearest


def _ball(width: int, radius: int) -> np.ndarray:
    """Every mask of at most *radius* set bits among *width* bits, uint64, in increasing order
    (0 first): masks that differ in low bits only are probed one after the other, which reads
    nearby buckets (_kernels.SUB_QUERIES)."""
    out = [0]
    for r in range(1, radius + 1):
        out.extend(sum(1 << b for b in combo) for combo in itertools.combinations(range(width), r))
    return np.sort(np.array(out, np.uint64))


def plan(n_items: int, k: int) -> tuple[list[int], list[int], list[int]] | None:
    """Choose substrings for a join against *n_items* at threshold *k*: (offsets, widths,
    radii), or None when comparing every pair costs less (small sets, large k)."""
    best, best_cost = None, n_items * NS_CHECK
    for m in range(3, min(64, k + 1) + 1):
        base, extra = divmod(64, m)
        widths = [base + (1 if j < extra else 0) for j in range(m)]
        if max(widths) > MAX_WIDTH:
            continue
        r_base, r_extra = divmod(k + 1 - m, m)
        radii = [r_base + (1 if j < r_extra else 0) for j in range(m)]
        probes = [sum(math.comb(w, i) for i in range(r + 1)) for w, r in zip(widths, radii)]
        cost = sum(p * ((NS_PROBE if w <= CACHED_WIDTH else NS_PROBE_WIDE) + NS_CHECK * n_items / 2.0 ** w)
                   for p, w in zip(probes, widths))
        # tables: a pass over the items per substring, paid once per join
        if cost < best_cost:
            offsets = [sum(widths[:j]) for j in range(m)]
            best, best_cost = (offsets, widths, radii), cost
    return best


class CompiledJoin:
    """Exact search over a fixed array of 64-bit hashes, compiled (needs numba).

    Same answers as every engine of :mod:`imgfind.search` (``find``, ``find_many``,
    ``pairs``); tables are built per threshold on first use and kept. Memory: per substring
    table the items' values and positions (12 bytes an item) and 2**width + 1 bucket bounds.
    """

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.ascontiguousarray(as_uint64(values))
        self._tables: dict[tuple, tuple] = {}
        self._built: dict[tuple, tuple] = {}
        self.layout = None  # fixed (offsets, widths, radii) for benchmarks; None: plan()

    def __len__(self) -> int:
        return len(self.values)

    def _table(self, k: int):
        layout = self.layout if self.layout is not None else plan(len(self.values), k)
        if layout is None:
            return None
        key = tuple(map(tuple, layout))
        if key not in self._tables:
            offsets, widths, radii = layout
            # The tables depend on the substrings only: thresholds with the same substrings
            # (the crop views at k=10 and k=8) share them and differ in their probe masks.
            built = self._built.get((key[0], key[1]))
            if built is None:
                built = self._built[(key[0], key[1])] = self._build(offsets, widths)
            masks, mask_lo, mask_hi = [], [], []
            for w, r in zip(widths, radii):
                ball = _ball(w, r)
                mask_lo.append(sum(len(x) for x in masks))
                masks.append(ball)
                mask_hi.append(mask_lo[-1] + len(ball))
            self._tables[key] = (np.array(offsets, np.int64), np.array(widths, np.int64),
                                 np.array(radii, np.int64), *built,
                                 np.concatenate(masks), np.array(mask_lo, np.int64),
                                 np.array(mask_hi, np.int64))
        return self._tables[key]

    def _build(self, offsets, widths) -> tuple[np.ndarray, ...]:
        """One direct-address table per substring: (values, positions) sorted by substring
        key, and each key's bucket bounds (all tables' bounds one after the other, with each
        table's first bound)."""
        n = len(self.values)
        tab_values = np.empty((len(offsets), n), np.uint64)
        tab_order = np.empty((len(offsets), n), np.int32 if n < 2**31 else np.int64)
        starts, bases = [], []
        base = 0
        for j, (off, w) in enumerate(zip(offsets, widths)):
            keys = (self.values >> np.uint64(off)) & np.uint64((1 << w) - 1)
            packed = (keys << np.uint64(32)) | np.arange(n, dtype=np.uint64)
            packed.sort()
            order = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
            tab_order[j] = order
            tab_values[j] = self.values[order]
            counts = np.bincount((packed >> np.uint64(32)).astype(np.int64), minlength=1 << w)
            st = np.zeros((1 << w) + 1, np.int32 if n < 2**31 else np.int64)
            np.cumsum(counts, out=st[1:])
            starts.append(st)
            bases.append(base)
            base += len(st)
        return tab_values, tab_order, np.concatenate(starts), np.array(bases, np.int64)

    def join(self, queries: np.ndarray, k: int) -> Triples:
        """Return (query index, item index, distance) of every pair within *k* bits,
        unordered (int64, int64, uint8)."""
        queries = np.ascontiguousarray(as_uint64(queries))
        n_blocks = -(-len(queries) // BLOCK_QUERIES)
        if n_blocks == 0 or len(self.values) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.uint8)
        sweep, brute, _ = _kernels()
        table = self._table(k)
        slots = n_blocks * (1 if table is None else len(table[0]))
        if table is not None:
            # Each substring's probes go through the queries in the order of that substring
            # (the sweep kernel): nearby buckets one after the other.
            order = np.empty((len(table[0]), len(queries)), np.int64)
            for j, (off, width) in enumerate(zip(table[0].tolist(), table[1].tolist())):
                keys = (queries >> np.uint64(off)) & np.uint64((1 << width) - 1)
                order[j] = np.argsort(keys, kind="stable")
            sorted_values = queries[order]
        if table is None:
            cap = 4 * BLOCK_QUERIES
            while True:
                out_q, out_i, out_d = (_slots(slots * cap, t) for t in (np.int64, np.int64, np.uint8))
                counts = np.zeros(slots, np.int64)
                brute(queries, self.values, k, cap, out_q, out_i, out_d, counts)
                if counts.max() <= cap:
                    break
                cap = int(counts.max())  # a threshold that matches nearly everything (rare)
            keep = ranges(np.arange(slots, dtype=np.int64) * cap, counts)
            return out_q[keep], out_i[keep], out_d[keep]
        # Every task (substring, block of queries) writes into a slot of 4 matches per query;
        # the few that find more (a query near many items: a picture's own crop
        # views, a family of copies) run again alone, into slots as large as they need, not
        # the whole join again.
        tasks = np.arange(slots, dtype=np.int64)
        cap = 4 * BLOCK_QUERIES
        parts = []
        while len(tasks):
            out_q, out_i, out_d = (_slots(len(tasks) * cap, t)
                                   for t in (np.int64, np.int64, np.uint8))
            counts = np.zeros(len(tasks), np.int64)
            sweep(queries, order, sorted_values, k, *table[:3], *table[3:], n_blocks, tasks, cap,
                  out_q, out_i, out_d, counts)
            done = counts <= cap
            # The filled start of each slot, in slot order (an index as long as the matches,
            # not as the slots: those are ~25 bytes x 16,384 a task, 0.6 GB at 10^6 files).
            keep = ranges(np.arange(len(tasks), dtype=np.int64) * cap, np.where(done, counts, 0))
            parts.append((out_q[keep], out_i[keep], out_d[keep]))
            del out_q, out_i, out_d
            tasks, cap = tasks[~done], int(counts.max())
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate(x) for x in zip(*parts))

    def find_many(self, queries: np.ndarray, k: int) -> Triples:
        """Matches of every query, sorted by query, distance, item (as every engine)."""
        return sort_matches(*self.join(queries, k))

    def find(self, query: int, k: int) -> Matches:
        _, items, d = self.find_many(np.array([query], np.uint64), k)
        return items, d

    def pairs(self, k: int) -> Triples:
        """Every pair i < j within *k* bits, sorted by i, then j."""
        q, i, d = self.join(self.values, k)
        keep = q < i
        q, i, d = q[keep], i[keep], d[keep]
        order = np.lexsort((i, q))
        return q[order], i[order], d[order]


def _slots(n: int, dtype: type) -> np.ndarray:
    """An uninitialised array of *n* items for the kernels' per-task output slots, of which
    each task fills only the start: pages never written take no memory. numpy asks Linux for
    transparent huge pages on large arrays (madvise), and then one match written per 2 MB
    makes the whole 2 MB resident (measured: 1,368 slots of 16,384 int64, one item written in
    each, 179 MB resident, 5 MB with small pages); so the slots are an anonymous mapping that
    asks for small pages where the system allows it."""
    size = n * np.dtype(dtype).itemsize
    advise = getattr(mmap, "MADV_NOHUGEPAGE", None)
    if size < 1 << 22 or advise is None:
        return np.empty(n, dtype)
    buf = mmap.mmap(-1, size)
    try:
        buf.madvise(advise)
    except OSError:  # a kernel without transparent huge pages: small pages anyway
        pass
    return np.frombuffer(buf, dtype)


def nearest_columns(q: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every two rows a, b of (k, Q) *q* and (k, I) *i* (uint64 hash columns): the
    smallest Hamming distance between a column of q[a] and a column of i[b], and where
    (``x * I + y``, first of equals in row-major order, as numpy's argmin). Two (k, k)
    int64 arrays; compiled (needs numba), on every core."""
    k = len(q)
    dist = np.empty((k, k), np.int64)
    best = np.empty((k, k), np.int64)
    _kernels()[2](np.ascontiguousarray(as_uint64(q)), np.ascontiguousarray(as_uint64(i)), dist, best)
    return dist, best
