"""Multi-index hashing tables kept on disk beside the index, for one-shot queries.

A query from the shell searches a few dozen hashes against up to 14 hash columns of the
whole index; a brute-force scan of 10^6 files reads every hash of those columns (6 s at
10^6 files on the 2-core bench machine, benchmarks/RESULTS.md). These tables make that
search touch only the buckets that can hold a match, read through memory maps.

Per hash column, the 64-bit hashes are cut into CHUNKS substrings of 16 bits; for each
substring, the rows are counting-sorted by its value: ``order`` (uint32, rows in bucket
order) and ``starts`` (uint32, 65,537 bucket offsets), stored as one (CHUNKS, n + 65,537)
uint32 array (``np.save``, 16 bytes per file and column). A hash within ``k`` bits of a query
agrees with it within ``k // CHUNKS`` bits on at least one substring (pigeonhole; Norouzi,
Punjani and Fleet, "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012), and
more sharply (``radii``): writing ``k = r * CHUNKS + a``, within ``r`` bits on one of the first
``a + 1`` substrings or within ``r - 1`` on one of the others. The buckets of every substring
value within its radius are read, and each candidate's full distance is checked on the column
itself. Exact: the same matches as BruteForce.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .arrays import Triples, empty_triples, ranges, sort_matches

CHUNKS = 4
BITS = 16
BUCKETS = 1 << BITS
#: Indexes with fewer files are scanned (tables cost 1 MB of bucket offsets per column, and a
#: scan of 5x10^4 files takes about 0.1 s).
MIN_ROWS = 50_000
#: Largest substring radius probed (137 probes of 16 bits at 2); wider searches (k >= 12) scan.
MAX_SUB_RADIUS = 2


def _masks(radius: int) -> np.ndarray:
    out = [0]
    for r in range(1, radius + 1):
        out += [sum(1 << b for b in bits) for bits in combinations(range(BITS), r)]
    return np.array(out, dtype=np.uint64)


_MASKS = {r: _masks(r) for r in range(MAX_SUB_RADIUS + 1)}


def build(column: np.ndarray) -> np.ndarray:
    """The (CHUNKS, n + BUCKETS + 1) uint32 table of one hash column (uint64, (n,)).

    Raises:
        ValueError: more than 2^32 - 1 rows.
    """
    values = np.asarray(column, dtype=np.uint64)
    n = len(values)
    if n >= 1 << 32:
        raise ValueError("too many rows for uint32 tables")
    out = np.empty((CHUNKS, n + BUCKETS + 1), dtype=np.uint32)
    for c in range(CHUNKS):
        sub = ((values >> np.uint64(c * BITS)) & np.uint64(BUCKETS - 1)).astype(np.uint16)
        out[c, :n] = np.argsort(sub, kind="stable")
        counts = np.bincount(sub, minlength=BUCKETS)
        out[c, n] = 0
        np.cumsum(counts, out=out[c, n + 1:])
    return out


def radii(k: int) -> list[int]:
    """The substring radius probed for each of the CHUNKS substrings at distance *k* (-1: that
    substring is not probed).

    With ``k = r * CHUNKS + a`` (0 <= a < CHUNKS), a hash within k bits is within r bits on one
    of the first a + 1 substrings or within r - 1 bits on one of the others: were the first
    a + 1 each r + 1 or more bits away and the others r or more, the hash would be
    (a + 1)(r + 1) + (CHUNKS - a - 1) r = k + 1 bits away or more. At k = 8 this probes
    137 + 3 x 17 substring values instead of 4 x 137 (the threshold of the strict preset and
    of the crop views), at k = 10 3 x 137 + 17.
    """
    r, a = divmod(k, CHUNKS)
    return [r if c <= a else r - 1 for c in range(CHUNKS)]


def searchable(k: int) -> bool:
    """True when the tables can answer a search at distance *k* (else scan)."""
    return 0 <= k // CHUNKS <= MAX_SUB_RADIUS


def find_many(tables: list[np.ndarray], columns: list[np.ndarray], queries: np.ndarray, k: int
              ) -> Triples:
    """Every (query, item, distance) within *k* bits, as BruteForce over the columns laid
    one after the other (item = column position x n + row), sorted the same way.

    *tables* are the columns' tables (``build``), *columns* their uint64 hashes, (n,) each
    (memory maps: only candidate rows are read).

    Raises:
        ValueError: *k* too wide for the tables (``searchable``).
    """
    if not searchable(k):
        raise ValueError(f"distance {k} is too wide for the tables")
    queries = np.asarray(queries, dtype=np.uint64)
    n = len(columns[0]) if len(columns) else 0
    if n == 0 or len(queries) == 0 or k < 0:
        return empty_triples()
    radius = radii(k)
    q_out, i_out, d_out = [], [], []
    qidx = np.arange(len(queries), dtype=np.int64)
    for pos, table in enumerate(tables):
        col = columns[pos]
        cand_q, cand_r = [], []
        for c in range(CHUNKS):
            if radius[c] < 0:
                continue
            masks = _MASKS[radius[c]]
            sub = (queries >> np.uint64(c * BITS)) & np.uint64(BUCKETS - 1)
            probes = (sub[:, None] ^ masks[None, :]).astype(np.int64)  # (q, probes)
            starts = table[c, n + probes].astype(np.int64)
            lengths = table[c, n + probes + 1].astype(np.int64) - starts
            flat = ranges(starts.ravel(), lengths.ravel())
            cand_r.append(table[c, flat].astype(np.int64))
            cand_q.append(np.repeat(np.repeat(qidx, probes.shape[1]), lengths.ravel()))
        qs = np.concatenate(cand_q)
        rs = np.concatenate(cand_r)
        if len(qs) == 0:
            continue
        d = np.bitwise_count(queries[qs] ^ np.asarray(col[rs]))
        hit = np.flatnonzero(d <= k)
        # a row found through several substrings counts once
        key, first = np.unique(qs[hit] * n + rs[hit], return_index=True)
        qs, rs = np.divmod(key, n)
        q_out.append(qs)
        i_out.append(rs + pos * n)
        d_out.append(d[hit[first]].astype(np.uint8))
    if not q_out:
        return empty_triples()
    return sort_matches(np.concatenate(q_out), np.concatenate(i_out), np.concatenate(d_out))


class DiskTables:
    """An Engine (find_many) over some hash columns, answered from their on-disk tables."""

    def __init__(self, tables: list[np.ndarray], columns: list[np.ndarray]):
        self.tables, self.columns = tables, columns

    def __len__(self) -> int:
        return sum(len(c) for c in self.columns)

    def find_many(self, queries: np.ndarray, k: int) -> Triples:
        return find_many(self.tables, self.columns, queries, k)

    def find(self, query: int, k: int):
        _, items, dists = self.find_many(np.array([query], dtype=np.uint64), k)
        return items, dists
