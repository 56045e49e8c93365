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
* ``INDEX-local.json``: the tag: the index's identity, write token, generation and recipe
  (prints_cache.Owner), the row and descriptor counts, and CRC-32s of the ids and of samples
  of the other arrays. A sidecar whose tag differs in anything, or whose arrays do not match
  it (a damaged or half-replaced file), is ignored and rebuilt by the next search; a
  read-only or full disk only costs the next search the rebuild (in memory).

Candidates (``DescriptorIndex.candidates``, ``candidates_many``) are the same as
partial.LocalIndex's over the same pictures (tests check it): each query descriptor votes for
every picture with a descriptor within CANDIDATE_BITS, weighted log(N / df); one found in more
than COMMON of the pictures is a stop word and votes for none. With numba (the ``fast``
extra) the lookup runs compiled, and a stop word stops looking once it has found that many
pictures, so its cost does not grow with the library; without, numpy does the same, slower.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from . import partial
from .model import LocalFeatures
from .prints_cache import Owner, _unlink, _write_replace
from .search import disk

#: Bump when the files' layout changes: an older sidecar is then simply rebuilt.
LOCAL_FORMAT = 1
#: Elements of the big arrays read for the checksum (strided over the array).
CHECKSUM_SAMPLES = 1 << 16
#: Query pictures per compiled block (each block holds scratch arrays of the index's size).
BLOCKS_PER_THREAD = 4

_NAMES = ("ids", "desc", "tables")


def paths(index_path: str) -> dict[str, str]:
    """The sidecar's files for the index at *index_path*: its arrays by name, and "tag"."""
    out = {name: f"{index_path}-local-{name}.npy" for name in _NAMES}
    out["tag"] = index_path + "-local.json"
    return out


def _sample_crc(arr: np.ndarray, crc: int = 0) -> int:
    flat = arr.reshape(-1)
    step = max(1, len(flat) // CHECKSUM_SAMPLES)
    return zlib.crc32(np.ascontiguousarray(flat[::step]).data, crc)


def checksum(ids: np.ndarray, desc: np.ndarray, tables: np.ndarray) -> int:
    """CRC-32 of all of *ids* (ids and offsets) and of strided samples of the descriptors and
    of each chunk's table and bucket offsets."""
    crc = zlib.crc32(np.ascontiguousarray(ids).data)
    crc = _sample_crc(desc, crc)
    for c in range(tables.shape[0]):
        crc = _sample_crc(tables[c], crc)
    return crc


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
    (4, D + 65,537) (search.disk.build of desc), ``features`` the rows' full LocalFeatures
    (read on demand through *read*: file ids -> {id: LocalFeatures}).
    """

    def __init__(self, ids: np.ndarray, starts: np.ndarray, desc: np.ndarray, tables: np.ndarray,
                 read: Callable[[list[int]], dict[int, LocalFeatures]]):
        self.ids, self.starts, self.desc, self.tables = ids, starts, desc, tables
        self.owner = np.repeat(np.arange(len(ids), dtype=np.int32), np.diff(starts))
        self.features = Features(ids, read)

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
               "checksum": checksum(head, self.desc, self.tables)}
        for name, arr in (("ids", head), ("desc", self.desc), ("tables", self.tables)):
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
            if (not isinstance(rows, int) or not isinstance(count, int)
                    or head.dtype != np.int64 or head.shape != (2 * rows + 1,)
                    or desc.dtype != np.uint64 or desc.shape != (count,)
                    or tables.dtype != np.uint32
                    or tables.shape != (disk.CHUNKS, count + disk.BUCKETS + 1)):
                return None
            head = np.array(head)
            if checksum(head, desc, tables) != tag.get("checksum"):
                return None
            ids, starts = head[:rows], head[rows:]
            if rows and (starts[0] != 0 or starts[-1] != count or np.any(np.diff(starts) < 0)):
                return None
            return cls(ids, starts, np.asarray(desc), np.asarray(tables), read)
        except (OSError, EOFError, ValueError, TypeError, AttributeError, KeyError):
            return None

    @staticmethod
    def remove(index_path: str) -> None:
        for name in paths(index_path).values():
            _unlink(name)

    # ------------------------------------------------------------------ search
    def candidates(self, query: LocalFeatures, *, top: int = partial.TOP_CANDIDATES,
                   exclude: int | None = None) -> list[tuple[int, float]]:
        """As partial.LocalIndex.candidates: (row, score) of the best pictures for *query*."""
        rows, scores = self.candidates_many([np.frombuffer(query.desc, "<u8")], top=top,
                                            exclude=[-1 if exclude is None else exclude])
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def candidates_many(self, queries: list[np.ndarray], *, top: int = partial.TOP_CANDIDATES,
                        exclude: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The candidates of many query pictures at once (their descriptors, uint64 arrays):
        rows int64 (q, top) and scores float64 (q, top), best first, -1 and 0 past the last.
        *exclude*: a row per query never returned (-1: none)."""
        q = len(queries)
        exclude_arr = np.full(q, -1, np.int64) if exclude is None else np.asarray(exclude, np.int64)
        out_rows = np.full((q, top), -1, np.int64)
        out_scores = np.zeros((q, top), np.float64)
        n = len(self.ids)
        if q == 0 or n == 0 or not len(self.desc):
            return out_rows, out_scores
        cap = partial.stop_cap(n)
        weights = partial.idf(n, np.arange(int(cap) + 1))
        qstart = np.zeros(q + 1, np.int64)
        np.cumsum([len(x) for x in queries], out=qstart[1:])
        qdesc = (np.concatenate([np.asarray(x, np.uint64) for x in queries]) if qstart[-1]
                 else np.zeros(0, np.uint64))
        kernel = _kernel()
        if kernel is not None:
            import numba  # noqa: PLC0415

            blocks = max(1, min(q, numba.get_num_threads() * BLOCKS_PER_THREAD))
            stats = np.zeros((q, 2), np.int64)
            kernel(qdesc, qstart, exclude_arr, self.desc, self.starts, self.owner, self.tables, n,
                   partial.CANDIDATE_BITS, int(cap), weights, partial.MIN_VOTES, blocks,
                   out_rows, out_scores, stats)
            return out_rows, out_scores
        engine = disk.DiskTables([self.tables], [self.desc])
        for i in range(q):
            qi, items, _ = engine.find_many(qdesc[qstart[i]:qstart[i + 1]], partial.CANDIDATE_BITS)
            found = partial.vote(qi, self.owner[items], int(qstart[i + 1] - qstart[i]), n,
                                 top=top, exclude=None if exclude_arr[i] < 0 else int(exclude_arr[i]))
            for t, (r, s) in enumerate(found):
                out_rows[i, t], out_scores[i, t] = r, s
        return out_rows, out_scores


#: Set to False to use numpy even when numba is installed (tests compare the two).
USE_NUMBA = True


def _kernel():
    if not USE_NUMBA:
        return None
    from .search import join  # noqa: PLC0415

    if not join.available():
        return None
    from .search._local_kernels import vote  # noqa: PLC0415

    return vote
