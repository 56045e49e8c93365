"""The sidecar cache of an index's hash arrays: one .npy file numpy memory-maps, plus a tag.

Reading a million fingerprints through sqlite3 takes seconds, and a query reads a few hash
columns of them. So the arrays of the whole index are also kept beside it:

* ``INDEX-prints.npy``: one uint64 array of shape (N_HASHES + 6, n), written by ``np.save``
  and opened with ``np.load(mmap_mode="r")``. Rows 0..N_HASHES-1 are the hash columns (so a
  column range is one contiguous, memory-mapped slice), then ids (int64 bits), phash, dhash,
  flat (0/1) and the trimmed boxes (4 float32 per file, packed into two rows).
* ``INDEX-prints.json``: the tag. It names the index the arrays belong to (a random identity
  stored in the index's meta table at creation), the index's write token (a random value the
  store changes in every write transaction, so that a database restored from a backup does
  not match a sidecar written after the backup, as a counter would), its generation, the
  recipe, the row count and a CRC-32 of the arrays. A sidecar whose tag differs in anything,
  or whose arrays do not match the tag's checksum (a writer replaced one file between the
  reader's two opens), is ignored; the caller reads the database and writes a new one.

Writers write ``<name>.<pid>.tmp`` (``O_EXCL``) and rename it into place; temporary files
left by writers that were killed (pid not running, or older than an hour) are removed by the
next writer. A read-only or full disk never fails a command: it only costs the next reader
the time to read the database.

This module does not import sqlite3: the store passes in what the tag must match.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from .layout import N_HASHES

#: Bump when the file layout above changes: an older sidecar is then simply rebuilt.
CACHE_FORMAT = 1
#: A temporary file this old is a dead writer's even if its pid was reused since.
STALE_SECONDS = 3600
#: Rows of the hash columns read for the checksum: enough to catch a mixed or damaged file,
#: few enough that a query against a million files does not read all 344 MB of hashes.
CHECKSUM_HASH_ROWS = 4096

_IDS, _PHASH, _DHASH, _FLAT, _TRIMS = range(N_HASHES, N_HASHES + 5)
N_ROWS = N_HASHES + 6  # the trims take two rows


@dataclass(slots=True)
class Prints:
    """All fingerprints of the index as arrays, row i describing ``ids[i]``."""

    ids: np.ndarray  # int64, (n,)
    hashes: np.ndarray  # uint64, (n, N_HASHES); a transposed memory map when from the cache
    trims: np.ndarray  # float32, (n, 4): left, top, right, bottom as fractions
    flat: np.ndarray  # bool, (n,)
    phash: np.ndarray  # uint64, (n,): upright pHash of the whole picture
    dhash: np.ndarray  # uint64, (n,)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: np.ndarray) -> Prints:
        """The rows where the boolean mask *keep* is true (copies)."""
        return Prints(*(getattr(self, f)[keep] for f in Prints.__slots__))


@dataclass(frozen=True, slots=True)
class Owner:
    """What identifies the state of an index the arrays were read from (from its meta table)."""

    identity: str  # random, set once when the index is created (or upgraded to schema 2)
    write_token: str  # random, changed by every write transaction
    generation: int  # counts write transactions
    recipe: str  # recipe.recipe_id() of the rows


def paths(index_path: str) -> tuple[str, str]:
    """Return the (arrays, tag) file names of the sidecar of the index at *index_path*."""
    return index_path + "-prints.npy", index_path + "-prints.json"


def checksum(packed: np.ndarray) -> int:
    """CRC-32 of the per-file rows (ids, phash, dhash, flat, trims) and of up to
    CHECKSUM_HASH_ROWS files' hash columns spread over the index. *packed* is the
    (N_ROWS, n) array as stored."""
    n = packed.shape[1]
    crc = zlib.crc32(np.ascontiguousarray(packed[N_HASHES:]).data)
    step = max(1, n // CHECKSUM_HASH_ROWS)
    return zlib.crc32(np.ascontiguousarray(packed[:N_HASHES, ::step]).data, crc)


def pack(prints: Prints) -> np.ndarray:
    """Return the (N_ROWS, n) uint64 array the sidecar stores for *prints*."""
    n = len(prints)
    out = np.empty((N_ROWS, n), dtype=np.uint64)
    out[:N_HASHES] = prints.hashes.T
    out[_IDS] = prints.ids.astype(np.int64).view(np.uint64)
    out[_PHASH] = prints.phash
    out[_DHASH] = prints.dhash
    out[_FLAT] = prints.flat.astype(np.uint64)
    trims = np.ascontiguousarray(prints.trims.astype(np.float32).T)  # (4, n)
    out[_TRIMS:] = trims.reshape(-1).view(np.uint64).reshape(2, n)
    return out


def unpack(packed: np.ndarray) -> Prints:
    """Inverse of pack, without copying: hashes, ids, phash, dhash and trims are views of
    *packed* (a read-only memory map: a query reads only the rows it needs; copying the
    per-file rows of 10^6 files cost 0.3 s of a 0.8 s query); flat is computed (one pass)."""
    n = packed.shape[1]
    trims = packed[_TRIMS:].reshape(-1).view(np.float32).reshape(4, n)
    return Prints(ids=packed[_IDS].view(np.int64), hashes=packed[:N_HASHES].T,
                  trims=trims.T, flat=np.asarray(packed[_FLAT] != 0),
                  phash=packed[_PHASH], dhash=packed[_DHASH])


def load(index_path: str, owner: Owner) -> Prints | None:
    """Return the cached arrays when the sidecar belongs to *owner*'s state, else None.

    Never raises for a missing, foreign, stale, truncated or garbled sidecar.
    """
    arrays_path, tag_path = paths(index_path)
    try:
        with open(tag_path, encoding="utf-8") as f:
            tag = json.load(f)
        if not isinstance(tag, dict) or tag.get("format") != CACHE_FORMAT:
            return None
        if any(tag.get(k) != v for k, v in asdict(owner).items()):
            return None
        packed = np.load(arrays_path, mmap_mode="r", allow_pickle=False)
        if (packed.dtype != np.uint64 or packed.ndim != 2 or packed.shape[0] != N_ROWS
                or packed.shape[1] != tag.get("rows") or checksum(packed) != tag.get("checksum")):
            return None
        return unpack(packed)
    except (OSError, EOFError, ValueError, TypeError, AttributeError):
        return None


def save(index_path: str, prints: Prints, owner: Owner) -> None:
    """Write the sidecar for *prints*, read from the index in state *owner*.

    The arrays are renamed into place first and the tag last; a reader that pairs a tag with
    the other writer's arrays sees a checksum mismatch. Errors (read-only or full disk) are
    swallowed: the sidecar is only a cache.
    """
    arrays_path, tag_path = paths(index_path)
    remove_stale(index_path)
    packed = pack(prints)
    tag = {"format": CACHE_FORMAT, **asdict(owner), "rows": len(prints),
           "checksum": checksum(packed)}
    for final, write in ((arrays_path, lambda f: np.save(f, packed, allow_pickle=False)),
                         (tag_path, lambda f: f.write(json.dumps(tag).encode()))):
        if not _write_replace(final, write):
            return
    _unlink(index_path + "-prints.npz")  # the zip sidecar of imgfind before schema 2


def table_path(index_path: str, owner: Owner, column: int) -> str:
    """The file of one hash column's search tables (search.disk) for the index in state *owner*:
    its name carries the write token, so a table of another state is never read."""
    return f"{index_path}-mih-{owner.write_token[:16]}-{column}.npy"


def load_table(index_path: str, owner: Owner, column: int, rows: int) -> np.ndarray | None:
    """The memory-mapped tables of hash column *column*, or None (missing or not matching)."""
    from .search.disk import BUCKETS, CHUNKS

    try:
        table = np.load(table_path(index_path, owner, column), mmap_mode="r", allow_pickle=False)
    except (OSError, EOFError, ValueError):
        return None
    if table.dtype != np.uint32 or table.shape != (CHUNKS, rows + BUCKETS + 1):
        return None
    return np.asarray(table)  # a plain view: np.memmap's indexing costs ~0.3 ms a call


def save_table(index_path: str, owner: Owner, column: int, table: np.ndarray) -> None:
    """Write a column's tables (errors swallowed: only a cache), and remove the tables of
    earlier states of the index."""
    final = table_path(index_path, owner, column)
    folder = os.path.dirname(os.path.abspath(index_path))
    prefix = os.path.basename(index_path) + "-mih-"
    mine = os.path.basename(final)[len(prefix):].split("-")[0]
    try:
        for name in os.listdir(folder):
            if name.startswith(prefix) and name.endswith(".npy") and \
                    name[len(prefix):].split("-")[0] != mine:
                _unlink(os.path.join(folder, name))
    except OSError:
        pass
    _write_replace(final, lambda f: np.save(f, table, allow_pickle=False))


def _write_replace(final: str, write) -> bool:
    tmp = f"{final}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # our own leftover (same pid, an earlier interrupted write)
        _unlink(tmp)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError:
            return False
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, final)
        return True
    except OSError:
        _unlink(tmp)
        return False


def remove_stale(index_path: str) -> list[str]:
    """Remove the sidecar's temporary files (``<index>-prints*.<pid>.tmp``) whose writer is
    gone: its pid is not running, or the file is older than STALE_SECONDS. Returns their names."""
    folder = os.path.dirname(os.path.abspath(index_path))
    prefix = os.path.basename(index_path) + "-prints"
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text = name[:-len(".tmp")].rpartition(".")[2]
        if not pid_text.isdigit():
            continue
        full = os.path.join(folder, name)
        try:
            old = now - os.lstat(full).st_mtime > STALE_SECONDS
        except OSError:
            continue
        if old or not _alive(int(pid_text)):
            if _unlink(full):
                removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:
        return False
