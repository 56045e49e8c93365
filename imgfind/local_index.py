"""The descriptor index of a whole imgfind index, kept beside it as a memory-mapped sidecar.

partial.py finds the candidates of a partial match by looking up every descriptor of a
picture among every descriptor of the library. Building that lookup in memory costs every
process that searches (107 s at 10^5 pictures, 12 million descriptors), so it is kept on disk:

* ``INDEX-local-ids.npy``: int64 (2n + 1,): the n pictures' file ids (rows in file-id order),
  then where each picture's descriptors start in ``desc`` (n + 1 offsets).
* ``INDEX-local-desc.npy``: uint64 (D,): every descriptor, picture after picture.
* ``INDEX-local-tables.npy``: uint32 (4, D + 65,537): for each 16-bit chunk of the
  descriptors, the descriptor positions sorted by that chunk, then the bucket offsets
  (search/disk.py's layout). A descriptor within 4 bits of a query agrees with it within 1 bit
  on the first chunk or exactly on one of the other three (pigeonhole, as in multi-index
  hashing: Norouzi, Punjani and Fleet, CVPR 2012), so a lookup reads 20 buckets.
* ``INDEX-local-near.npy``: uint32 (4, D): beside each chunk's table, in its order, 32 other
  bits of each descriptor (the next two 16-bit chunks, ``near_bits``). A descriptor within 4
  bits of a query is within 4 on these 32 too, so the numpy lookup reads the buckets
  as contiguous runs of this array and checks the full descriptor only where these agree
  (a few percent of the entries), instead of reading ``desc`` at random (a cache miss an
  entry): 16 bytes a descriptor more on disk.
* ``INDEX-local-far.npy``: uint16 (4, D): beside each chunk's table, the last 16 bits of each
  descriptor (``far_bits``: the chunk after the two of ``near``). With the bucket's own 16
  bits (its key) and ``near``'s 32, they make up the whole descriptor, so the compiled
  lookup tells the distance of every entry without reading ``desc`` at random: where
  descriptors crowd (ORB's bits are far from uniform), 15% of the entries pass ``near``'s
  test and each cost a cache miss (benchmarks/RESULTS.md, session 10). 8 bytes a descriptor
  more on disk.
* ``INDEX-local.json``: the tag: the index's identity, write token, generation and recipe
  (prints_cache.Owner), the row and descriptor counts, and CRC-32s of the ids and of samples
  of the other arrays. A sidecar whose tag differs in anything, or whose arrays do not match
  it (a damaged or half-replaced file), is ignored and rebuilt by the next search; a
  read-only or full disk only costs the next search the rebuild (in memory).

Candidates (``DescriptorIndex.candidates``, ``candidates_many``) are the same as
partial.LocalIndex's over the same pictures (tests check it): each query descriptor votes for
every picture with a descriptor within CANDIDATE_BITS, weighted log(N / df); one found in more
than partial.stop_cap of the pictures (5%, at least 32, at most 250) is a stop word and votes
for none. With numba (the ``fast`` extra) the lookup runs compiled, and a stop word stops
looking once it has found that many pictures; numpy does the same, reading the buckets in
growing slices, and answers a one-shot query whose lookup is small enough (NUMPY_BOUND,
NUMPY_ENTRIES) so that it does not load numba. Both give the same candidates and scores.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import zlib
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from . import partial
from .model import LocalFeatures
from .prints_cache import Owner, _unlink, _write_replace
from .search import disk
from .search.arrays import ranges

#: Bump when the files' layout changes: an older sidecar is then simply rebuilt.
LOCAL_FORMAT = 3
#: Elements of the big arrays read for the checksum (strided over the array).
CHECKSUM_SAMPLES = 1 << 16
#: Query pictures per compiled block (each block holds scratch arrays of the index's size).
BLOCKS_PER_THREAD = 4

_NAMES = ("ids", "desc", "tables", "near", "far")


def paths(index_path: str) -> dict[str, str]:
    """The sidecar's files for the index at *index_path*: its arrays by name, and "tag"."""
    out = {name: f"{index_path}-local-{name}.npy" for name in _NAMES}
    out["tag"] = index_path + "-local.json"
    return out


def _sample_crc(arr: np.ndarray, crc: int = 0) -> int:
    flat = arr.reshape(-1)
    step = max(1, len(flat) // CHECKSUM_SAMPLES)
    return zlib.crc32(np.ascontiguousarray(flat[::step]).data, crc)


def checksum(ids: np.ndarray, desc: np.ndarray, tables: np.ndarray,
             near: np.ndarray | None = None, far: np.ndarray | None = None) -> int:
    """CRC-32 of all of *ids* (ids and offsets) and of strided samples of the descriptors, of
    each chunk's table and bucket offsets and (when given) of each chunk's near and far bits."""
    crc = zlib.crc32(np.ascontiguousarray(ids).data)
    crc = _sample_crc(desc, crc)
    for c in range(tables.shape[0]):
        crc = _sample_crc(tables[c], crc)
    if near is not None:
        for c in range(near.shape[0]):
            crc = _sample_crc(near[c], crc)
    if far is not None:
        for c in range(far.shape[0]):
            crc = _sample_crc(far[c], crc)
    return crc


def near_bits(values: np.ndarray, chunk: int) -> np.ndarray:
    """The 32 bits of descriptors *values* (uint64) kept beside chunk *chunk*'s table: its
    next two 16-bit chunks (cyclically), as uint32 (the first in the low half)."""
    v = np.asarray(values, np.uint64)
    lo = (v >> np.uint64(16 * ((chunk + 1) % disk.CHUNKS))) & np.uint64(0xFFFF)
    hi = (v >> np.uint64(16 * ((chunk + 2) % disk.CHUNKS))) & np.uint64(0xFFFF)
    return (lo | (hi << np.uint64(16))).astype(np.uint32)


def far_bits(values: np.ndarray, chunk: int) -> np.ndarray:
    """The 16 bits of descriptors *values* (uint64) that neither chunk *chunk* nor its
    near_bits hold: the chunk three after it (cyclically), as uint16."""
    v = np.asarray(values, np.uint64)
    return ((v >> np.uint64(16 * ((chunk + 3) % disk.CHUNKS))) & np.uint64(0xFFFF)).astype(np.uint16)


def _in_table_order(desc: np.ndarray, tables: np.ndarray, bits, dtype) -> np.ndarray:
    """(4, D) of *dtype*: for each chunk c, bits(descriptors in c's table order, c)."""
    d_items = len(desc)
    out = np.empty((disk.CHUNKS, d_items), dtype)
    for c in range(disk.CHUNKS):
        out[c] = bits(np.asarray(desc)[np.asarray(tables[c, :d_items])], c)
    return out


def build_far(desc: np.ndarray, tables: np.ndarray) -> np.ndarray:
    """uint16 (4, D): for each chunk, far_bits of the descriptors in that chunk's table order."""
    return _in_table_order(desc, tables, far_bits, np.uint16)


def build_near(desc: np.ndarray, tables: np.ndarray) -> np.ndarray:
    """uint32 (4, D): for each chunk, near_bits of the descriptors in that chunk's table order."""
    return _in_table_order(desc, tables, near_bits, np.uint32)


class Features(Mapping[int, LocalFeatures]):
    """The full local features (positions too) of the index's pictures by row, read from the
    index only for the rows asked for (verification needs a few), and kept."""

    def __init__(self, ids: np.ndarray, read: Callable[[list[int]], dict[int, LocalFeatures]]):
        self._ids, self._read, self._got = ids, read, {}

    def prefetch(self, rows: Iterable[int]) -> None:
        want = sorted({int(r) for r in rows} - self._got.keys())
        if want:
            found = self._read([int(self._ids[r]) for r in want])
            for r in want:
                self._got[r] = found.get(int(self._ids[r]))

    def __getitem__(self, row: int) -> LocalFeatures:
        if row not in self._got:
            self.prefetch([row])
        f = self._got[row]
        if f is None:
            raise KeyError(row)
        return f

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self):
        return iter(range(len(self._ids)))


class DescriptorIndex:
    """The descriptors of many pictures, searchable: a drop-in for partial.LocalIndex whose
    arrays may be memory maps of the sidecar.

    ``ids`` int64 (n,), ``starts`` int64 (n + 1,), ``desc`` uint64 (D,), ``tables`` uint32
    (4, D + 65,537) (search.disk.build of desc), ``near`` uint32 (4, D) and ``far`` uint16
    (4, D) (build_near, build_far; made here when not given), ``features`` the rows' full LocalFeatures (read on demand through
    *read*: file ids -> {id: LocalFeatures}).
    """

    def __init__(self, ids: np.ndarray, starts: np.ndarray, desc: np.ndarray, tables: np.ndarray,
                 read: Callable[[list[int]], dict[int, LocalFeatures]],
                 near: np.ndarray | None = None, far: np.ndarray | None = None):
        self.ids, self.starts, self.desc, self.tables = ids, starts, desc, tables
        self.near = build_near(desc, tables) if near is None else near
        self.far = build_far(desc, tables) if far is None else far
        self._owner: np.ndarray | None = None
        self.features = Features(ids, read)

    @property
    def owner(self) -> np.ndarray:
        """The row of every descriptor, int32 (D,) (made when first asked: the numpy path
        does without it)."""
        if self._owner is None:
            self._owner = np.repeat(np.arange(len(self.ids), dtype=np.int32),
                                    np.diff(self.starts))
        return self._owner

    @classmethod
    def build(cls, ids: np.ndarray, desc_blobs: Iterable[bytes],
              read: Callable[[list[int]], dict[int, LocalFeatures]]) -> DescriptorIndex:
        """From the pictures' file ids (ascending) and their descriptor blobs, in that order."""
        blobs = list(desc_blobs)
        counts = np.fromiter((len(b) // 8 for b in blobs), dtype=np.int64, count=len(blobs))
        starts = np.zeros(len(blobs) + 1, np.int64)
        np.cumsum(counts, out=starts[1:])
        desc = (np.frombuffer(b"".join(blobs), dtype="<u8").astype(np.uint64) if blobs
                else np.zeros(0, np.uint64))
        return cls(np.asarray(ids, np.int64), starts, desc, disk.build(desc), read)

    def __len__(self) -> int:
        return len(self.ids)

    # ------------------------------------------------------------------ sidecar
    def save(self, index_path: str, owner: Owner) -> bool:
        """Write the sidecar (arrays first, tag last); False when it could not be written."""
        p = paths(index_path)
        head = np.concatenate([self.ids, self.starts]).astype(np.int64)
        tag = {"format": LOCAL_FORMAT, "identity": owner.identity,
               "write_token": owner.write_token, "generation": owner.generation,
               "recipe": owner.recipe, "rows": len(self.ids), "descriptors": len(self.desc),
               "checksum": checksum(head, self.desc, self.tables, self.near, self.far)}
        for name, arr in (("ids", head), ("desc", self.desc), ("tables", self.tables),
                          ("near", self.near), ("far", self.far)):
            if not _write_replace(p[name], lambda f, a=arr: np.save(f, a, allow_pickle=False)):
                return False
        return _write_replace(p["tag"], lambda f: f.write(json.dumps(tag).encode()))

    @classmethod
    def load(cls, index_path: str, owner: Owner,
             read: Callable[[list[int]], dict[int, LocalFeatures]]) -> DescriptorIndex | None:
        """The sidecar of the index at *index_path* when it belongs to *owner*'s state, else
        None. Never raises for a missing, foreign, stale, truncated or garbled sidecar."""
        p = paths(index_path)
        try:
            with open(p["tag"], encoding="utf-8") as f:
                tag = json.load(f)
            if not isinstance(tag, dict) or tag.get("format") != LOCAL_FORMAT:
                return None
            want = {"identity": owner.identity, "write_token": owner.write_token,
                    "generation": owner.generation, "recipe": owner.recipe}
            if any(tag.get(k) != v for k, v in want.items()):
                return None
            rows, count = tag.get("rows"), tag.get("descriptors")
            head = np.load(p["ids"], mmap_mode="r", allow_pickle=False)
            desc = np.load(p["desc"], mmap_mode="r", allow_pickle=False)
            tables = np.load(p["tables"], mmap_mode="r", allow_pickle=False)
            near = np.load(p["near"], mmap_mode="r", allow_pickle=False)
            far = np.load(p["far"], mmap_mode="r", allow_pickle=False)
            if (not isinstance(rows, int) or not isinstance(count, int)
                    or head.dtype != np.int64 or head.shape != (2 * rows + 1,)
                    or desc.dtype != np.uint64 or desc.shape != (count,)
                    or tables.dtype != np.uint32
                    or tables.shape != (disk.CHUNKS, count + disk.BUCKETS + 1)
                    or near.dtype != np.uint32 or near.shape != (disk.CHUNKS, count)
                    or far.dtype != np.uint16 or far.shape != (disk.CHUNKS, count)):
                return None
            head = np.array(head)
            if checksum(head, desc, tables, near, far) != tag.get("checksum"):
                return None
            ids, starts = head[:rows], head[rows:]
            if rows and (starts[0] != 0 or starts[-1] != count or np.any(np.diff(starts) < 0)):
                return None
            return cls(ids, starts, np.asarray(desc), np.asarray(tables), read,
                       np.asarray(near), np.asarray(far))
        except (OSError, EOFError, ValueError, TypeError, AttributeError, KeyError):
            return None

    @staticmethod
    def remove(index_path: str) -> None:
        for name in paths(index_path).values():
            _unlink(name)

    # ------------------------------------------------------------------ search
    def candidates(self, query: LocalFeatures, *, top: int = partial.TOP_CANDIDATES,
                   exclude: int | None = None) -> list[tuple[int, float]]:
        """As partial.LocalIndex.candidates: (row, score) of the best pictures for *query*
        (whose lookups may read more: partial.CROWDED_QUERY)."""
        rows, scores = self.candidates_many([np.frombuffer(query.desc, "<u8")], top=top,
                                            exclude=[-1 if exclude is None else exclude],
                                            crowded=partial.crowded_cap(len(self), query=True))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def candidates_many(self, queries: list[np.ndarray], *, top: int = partial.TOP_CANDIDATES,
                        exclude: list[int] | None = None, crowded: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """The candidates of many query pictures at once (their descriptors, uint64 arrays):
        rows int64 (q, top) and scores float64 (q, top), best first, -1 and 0 past the last.
        *exclude*: a row per query never returned (-1: none). *crowded*: see
        partial.crowded_cap (default: the library's, for dedupe)."""
        q = len(queries)
        exclude_arr = np.full(q, -1, np.int64) if exclude is None else np.asarray(exclude, np.int64)
        out_rows = np.full((q, top), -1, np.int64)
        out_scores = np.zeros((q, top), np.float64)
        n = len(self.ids)
        if q == 0 or n == 0 or not len(self.desc):
            return out_rows, out_scores
        cap = partial.stop_cap(n)
        crowded = partial.crowded_cap(n) if crowded is None else int(crowded)
        weights = partial.idf(n, np.arange(int(cap) + 1))
        qstart = np.zeros(q + 1, np.int64)
        np.cumsum([len(x) for x in queries], out=qstart[1:])
        qdesc = (np.concatenate([np.asarray(x, np.uint64) for x in queries]) if qstart[-1]
                 else np.zeros(0, np.uint64))
        plans = None
        kernel = None
        if q <= NUMPY_QUERIES and "imgfind.search._local_kernels" not in sys.modules:
            plans = [self._probes(qdesc[qstart[i]:qstart[i + 1]]) for i in range(q)]
            # numpy reads at most these many bucket entries (stop words stop early)
            bound = sum(int(_reads(length, crowded).sum()) for _, _, length in plans)
            if bound > NUMPY_BOUND:
                kernel = _kernel()
        else:
            kernel = _kernel()
        if kernel is None and plans is not None and _kernel_possible():
            found = [self._one(qdesc[qstart[i]:qstart[i + 1]], int(exclude_arr[i]), int(cap),
                               crowded, weights, top, plans[i], NUMPY_ENTRIES) for i in range(q)]
            if all(f is not None for f in found):
                for i, (rows, scores) in enumerate(found):
                    out_rows[i, :len(rows)], out_scores[i, :len(rows)] = rows, scores
                return out_rows, out_scores
            kernel = _kernel()  # numpy would have read too much: the kernel answers
        if kernel is not None:
            import numba  # noqa: PLC0415

            blocks = max(1, min(q, numba.get_num_threads() * BLOCKS_PER_THREAD))
            stats = np.zeros((q, 2), np.int64)
            kernel(qdesc, qstart, exclude_arr, self.desc, self.starts, self.owner, self.tables,
                   self.near, self.far, n, partial.CANDIDATE_BITS, int(cap), crowded, weights, partial.MIN_VOTES, blocks,
                   out_rows, out_scores, stats)
            return out_rows, out_scores
        for i in range(q):
            rows, scores = self._one(qdesc[qstart[i]:qstart[i + 1]], int(exclude_arr[i]),
                                     int(cap), crowded, weights, top,
                                     None if plans is None else plans[i])
            out_rows[i, :len(rows)], out_scores[i, :len(rows)] = rows, scores
        return out_rows, out_scores

    # ------------------------------------------------------------ numpy path
    def _probes(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The kernel's 20 bucket probes of each query descriptor (_local_kernels.bucket_plan):
        radius 1 in the chunk that makes them hold fewest entries (the lowest on ties: its
        bucket, then its 16 one-bit neighbours), then the other three chunks' buckets. Table
        chunk, bucket start and length in the table, each (m, 20) int64."""
        d_items = len(self.desc)
        q = np.asarray(q, np.uint64)
        m = len(q)
        chunk_keys = np.stack([((q >> np.uint64(16 * c)) & np.uint64(0xFFFF)).astype(np.int64)
                               for c in range(disk.CHUNKS)], axis=1)  # (m, 4)
        flips = chunk_keys[:, :, None] ^ _FLIPS[None, None, :]  # (m, 4, 17): key, then 16 flips
        cidx = np.arange(disk.CHUNKS)[None, :, None]
        size = (self.tables[cidx, d_items + flips + 1].astype(np.int64)
                - self.tables[cidx, d_items + flips].astype(np.int64))
        exact = size[:, :, 0]
        cost = size.sum(axis=2) + exact.sum(axis=1, keepdims=True) - exact
        best = np.argmin(cost, axis=1)  # the first of equal costs, as the kernel
        others = np.array([[c for c in range(disk.CHUNKS) if c != b] for b in range(disk.CHUNKS)])
        chunk = np.concatenate([np.repeat(best[:, None], 17, axis=1), others[best]], axis=1)
        keys = np.concatenate([flips[np.arange(m), best], chunk_keys[np.arange(m)[:, None],
                                                                      others[best]]], axis=1)
        start = self.tables[chunk, d_items + keys].astype(np.int64)
        length = self.tables[chunk, d_items + keys + 1].astype(np.int64) - start
        return chunk, start, length

    def _scan(self, q: np.ndarray, exclude: int, cap: int, crowded: int = -1,
              plan: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
              budget: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Every (descriptor, row) hit of the query descriptors *q* (uint64 (m,)) that is not a
        stop word (finds more than *cap* rows other than *exclude*, or has buckets holding more
        than *crowded* entries when crowded >= 0), sorted by descriptor then row, and the stop
        words' positions in *q*; None once it has read more than *budget* bucket entries
        (when given).

        Descriptor by descriptor, its 20 buckets are read as contiguous runs of ``near`` (32
        of the 64 bits, in bucket order): only entries within CANDIDATE_BITS on those bits
        are looked up in ``desc`` and checked in full. A bucket is read in slices (SCAN_FIRST
        entries, then twice as many each time) and a descriptor stops as soon as it has found
        more than *cap* rows: its cost, like the kernel's, does not grow past that. The same
        answer as reading everything (whether a descriptor is a stop word does not depend on
        the order its hits are found in)."""
        m, n = len(q), len(self.ids)
        k = partial.CANDIDATE_BITS
        q = np.asarray(q, np.uint64)
        chunk, start, length = self._probes(q) if plan is None else plan
        total = length.sum(axis=1)
        crowd = _reads(length, crowded) < total
        qnear = [near_bits(q, c) for c in range(disk.CHUNKS)]
        near, tables, desc, starts = self.near, self.tables, self.desc, self.starts
        chunk_l, start_l, length_l = chunk.tolist(), start.tolist(), length.tolist()
        found: list[np.ndarray] = []
        stops: list[int] = []
        read = 0
        for j in range(m):
            if crowd[j]:
                stops.append(j)
                continue
            v = q[j]
            got: list[np.ndarray] = []
            raw = 0
            stop = False
            step = SCAN_FIRST
            for c, s, size in zip(chunk_l[j], start_l[j], length_l[j]):
                end = s + size
                key = qnear[c][j]
                while s < end:
                    hi = min(end, s + step)
                    read += hi - s
                    if budget is not None and read > budget:
                        return None
                    near_hit = np.flatnonzero(np.bitwise_count(near[c, s:hi] ^ key) <= k)
                    if len(near_hit):
                        items = tables[c, s + near_hit].astype(np.int64)
                        items = items[np.bitwise_count(desc[items] ^ v) <= k]
                        if len(items):
                            rows = np.searchsorted(starts, items, side="right") - 1
                            rows = rows[rows != exclude]
                            if len(rows):
                                got.append(rows)
                                raw += len(rows)
                                if raw > cap:
                                    got = [np.unique(np.concatenate(got))]
                                    raw = len(got[0])
                                    if raw > cap:
                                        stop = True
                                        break
                    s = hi
                    step *= 2
                if stop:
                    break
            if stop:
                stops.append(j)
            elif got:
                found.append(j * n + np.unique(np.concatenate(got)))
        keys = np.concatenate(found) if found else np.zeros(0, np.int64)
        return keys // n, keys % n, np.array(stops, np.int64)

    def _one(self, q: np.ndarray, exclude: int, cap: int, crowded: int, weights: np.ndarray,
             top: int, plan: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
             budget: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """The kernel's answer for one query picture (descriptors *q*), in numpy: rows and
        scores, best first, at most *top*; None when it would read more than *budget*."""
        scanned = self._scan(q, exclude, cap, crowded, plan, budget)
        if scanned is None:
            return None
        qi, rows, stops = scanned
        if not len(qi):
            return np.zeros(0, np.int64), np.zeros(0)
        df = np.bincount(qi, minlength=len(q))
        touched, inv = np.unique(rows, return_inverse=True)
        votes = np.bincount(inv, minlength=len(touched))
        # summed in descriptor order, as the kernel adds them: the same float64 scores
        score = np.bincount(inv, weights=weights[df[qi]], minlength=len(touched))
        positive = score > 0.0
        ok = positive & (votes >= partial.MIN_VOTES)
        pend = np.nonzero(positive & ~ok)[0] if len(stops) else np.zeros(0, np.int64)
        best = ok.nonzero()[0]
        best = best[np.lexsort((touched[best], -score[best]))][:top]
        if len(pend):
            # a row short of MIN_VOTES may reach it counting the stop words it has (they
            # weigh nothing): checked for those that could still make the list, best first
            pend = pend[np.lexsort((touched[pend], -score[pend]))]
            stop_desc = np.asarray(q, np.uint64)[stops]
            k = partial.CANDIDATE_BITS
            for lo in range(0, len(pend), PENDING_BLOCK):
                if len(best) == top and score[pend[lo]] < score[best[-1]]:
                    break
                block = pend[lo:lo + PENDING_BLOCK]
                r = touched[block]
                n_desc = self.starts[r + 1] - self.starts[r]
                own = self.desc[ranges(self.starts[r], n_desc)]
                near = np.bitwise_count(own[:, None] ^ stop_desc[None, :]) <= k
                first = np.zeros(len(block), np.int64)  # every touched row has descriptors
                np.cumsum(n_desc[:-1], out=first[1:])
                extra = np.logical_or.reduceat(near, first, axis=0).sum(axis=1)
                good = block[votes[block] + extra >= partial.MIN_VOTES]
                if len(good):
                    best = np.concatenate([best, good])
                    best = best[np.lexsort((touched[best], -score[best]))][:top]
        return touched[best], score[best]


#: Set to False to use numpy even when numba is installed (tests compare the two).
USE_NUMBA = True
#: Up to this many query pictures, numpy answers (the same candidates) unless their buckets
#: hold more than NUMPY_BOUND entries or it reads more than NUMPY_ENTRIES of them (then the
#: kernel answers): a one-shot query then does not import numba and load the kernel (0.4-0.6 s
#: of CPU in a fresh process). Reading ``near`` in contiguous runs, numpy costs about 6 ns an
#: entry read, the kernel 13 ns for its (about 0.6x as many) reads before it read ``near``
#: too: at 10^5 pictures a 512-descriptor crop query reads 59-71 M entries in numpy in
#: 0.36-0.45 s of CPU, the kernel 0.53-0.62 s plus its load (benchmarks/RESULTS.md, session
#: 7). So numpy answers one-shot queries at every size measured; the bounds only keep a
#: pathological query (every bucket crowded) off the slower-per-round path.
NUMPY_QUERIES = 4
NUMPY_BOUND = 4_000_000_000
NUMPY_ENTRIES = 1_000_000_000
#: The numpy path reads a descriptor's buckets this many entries at first, then twice as many
#: each round, until it is a stop word or has read them all.
SCAN_FIRST = 2048
#: Rows short of MIN_VOTES checked against the stop words at a time (numpy path).
PENDING_BLOCK = 256
_PROBES = 17 + disk.CHUNKS - 1
_FLIPS = np.array([0] + [1 << b for b in range(16)], np.int64)


def _reads(length: np.ndarray, crowded: int) -> np.ndarray:
    """Bucket entries each descriptor's lookup may read (its probes' lengths, (m, 20)): all of
    them, or none for a crowded one."""
    total = length.sum(axis=1)
    return np.where(total > crowded, 0, total) if crowded >= 0 else total


def _kernel_possible() -> bool:
    """Whether _kernel may answer, without importing numba (0.25 s)."""
    return USE_NUMBA and importlib.util.find_spec("numba") is not None


def _kernel():
    if not USE_NUMBA:
        return None
    from .search import join  # noqa: PLC0415

    if not join.available():
        return None
    from .search._local_kernels import vote  # noqa: PLC0415

    return vote
