"""The SQLite index: schema, migrations, and every read and write imgfind makes.

This is the only module that imports sqlite3. Paths are stored as BLOBs (``os.fsencode``) so
that names which are not valid UTF-8 survive; 64-bit fingerprints are stored as SQLite's
signed 64-bit integers and converted back on read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zipfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO
from dataclasses import dataclass

import numpy as np

from ._version import __version__
from .bits import to_signed
from .errors import SchemaError, StoreError
from .layout import N_HASHES
from .model import FileRecord, FileStat, Fingerprinted, display
from .recipe import THUMB_SIZE, recipe_id

#: Bump with a migration below whenever the schema changes.
SCHEMA_VERSION = 1
APPLICATION_ID = 0x696D6766  # "imgf": marks the file as an imgfind index

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id         INTEGER PRIMARY KEY,
    path       BLOB NOT NULL UNIQUE,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    indexed_at REAL NOT NULL,
    recipe     INTEGER,          -- recipe.recipe_id() (text, e.g. "3 pillow=13.0.0"), NULL when unreadable
    error      TEXT,             -- why the file could not be fingerprinted
    format     TEXT,
    width      INTEGER,
    height     INTEGER,
    mode       TEXT,
    frames     INTEGER,
    metadata   TEXT              -- JSON: creator, copyright, dates, camera
);
CREATE TABLE IF NOT EXISTS prints (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    phash   INTEGER NOT NULL,    -- upright pHash of the whole picture (signed 64-bit)
    dhash   INTEGER NOT NULL,    -- upright dHash of the whole picture (signed 64-bit)
    hashes  BLOB NOT NULL,       -- uint64 little-endian, fingerprint.HASH_LAYOUT
    trim    BLOB NOT NULL,       -- trimmed box: 4 float32 fractions (left, top, right, bottom)
    flat    INTEGER NOT NULL
);
-- Thumbnails apart from the hashes: loading every fingerprint then reads a few hundred
-- bytes per file, not kilobytes. Thumbnails are read only for candidate pairs.
CREATE TABLE IF NOT EXISTS thumbs (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    thumb   BLOB NOT NULL        -- THUMB_SIZE^2 greyscale bytes, row-major
);
"""


@dataclass(frozen=True, slots=True)
class Known:
    """What the store remembers of a file, enough to decide whether to look at it again."""

    id: int
    size: int
    mtime_ns: int
    recipe: int | str | None  # recipe.recipe_id() (an int from indexes before it)
    error: str | None

    def is_current(self, stat: FileStat) -> bool:
        """True when the file need not be decoded again."""
        if self.size != stat.size or self.mtime_ns != stat.mtime_ns:
            return False
        # An unreadable file is retried only when it changes; a readable one also when the
        # fingerprint recipe changed.
        return self.error is not None or self.recipe == recipe_id()


@dataclass(slots=True)
class Prints:
    """All fingerprints of the index as arrays, row i describing ``ids[i]``."""

    ids: np.ndarray  # int64
    hashes: np.ndarray  # uint64, (n, N_HASHES)
    trims: np.ndarray  # float32, (n, 4)
    flat: np.ndarray  # bool
    phash: np.ndarray  # uint64: upright pHash of the whole picture
    dhash: np.ndarray  # uint64

    def __len__(self) -> int:
        return len(self.ids)


class Store:
    """An open index database. Use as a context manager, or call ``close``."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False, timeout: float = 60.0):
        self.path = os.fspath(path)
        self.timeout = timeout
        try:
            if readonly:
                uri = "file:" + _uri_path(self.path) + "?mode=ro"
                if _read_only_fs(self.path):
                    # A WAL index needs a -shm file that cannot be created here; nothing can
                    # write the file either, so reading it as immutable is safe.
                    uri += "&immutable=1"
                self.db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
            else:
                parent = os.path.dirname(os.path.abspath(self.path))
                os.makedirs(parent, exist_ok=True)
                self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._check_and_migrate(readonly)
        except sqlite3.DatabaseError as exc:
            why = " (read-only file system)" if _read_only_fs(self.path) else ""
            raise StoreError(f"cannot open index {self.path}: {exc}{why}") from None
        except OSError as exc:
            raise StoreError(f"cannot open index {self.path}: {exc.strerror or exc}") from None

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _header(self) -> tuple[int, int, int]:
        """user_version, application_id and table count, read from one snapshot."""
        own = not self.db.in_transaction
        if own:
            self.db.execute("BEGIN")
        try:
            return (self.db.execute("PRAGMA user_version").fetchone()[0],
                    self.db.execute("PRAGMA application_id").fetchone()[0],
                    self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        finally:
            if own:
                self.db.execute("COMMIT")

    def _check_and_migrate(self, readonly: bool) -> None:
        version, app_id, tables = self._header()
        self._check_header(version, app_id, tables)
        if version < SCHEMA_VERSION:
            if readonly:
                raise StoreError(f"{self.path} is not an imgfind index yet; "
                                 "run 'imgfind index DIR' first")
            with self.transaction():
                version, app_id, tables = self._header()  # another process may have made it
                self._check_header(version, app_id, tables)
                if version < SCHEMA_VERSION:
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    self._set_meta({"created_at": str(time.time()), "created_by": __version__})
        if not readonly:
            self._use_wal()

    def _use_wal(self) -> None:
        """WAL lets query and dedupe read while an index run writes. Switching needs the
        file to itself, and SQLite does not wait for that: retry while others hold it."""
        deadline = time.monotonic() + self.timeout
        while self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _check_header(self, version: int, app_id: int, tables: int) -> None:
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.path} was written by a newer imgfind (schema {version}, this one reads "
                f"up to {SCHEMA_VERSION}); upgrade imgfind or use another --db")
        if tables and app_id != APPLICATION_ID:
            raise SchemaError(f"{self.path} is an SQLite database but not an imgfind index")

    def transaction(self) -> _Transaction:
        return _Transaction(self.db, self.path)

    def _set_meta(self, values: dict[str, str]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    # ------------------------------------------------------------------ reads
    def known_under(self, roots: Iterable[bytes]) -> dict[bytes, Known]:
        """Return what is stored for every file under the given roots (files or folders)."""
        out: dict[bytes, Known] = {}
        for root in roots:
            for row in self._rows_under(root, "id, size, mtime_ns, recipe, error"):
                out[row[0]] = Known(*row[1:])
        return out

    def _rows_under(self, root: bytes, columns: str) -> Iterator[tuple]:
        prefix = root.rstrip(b"/") + b"/"
        upper = prefix[:-1] + b"0"  # b"/" + 1: every path that starts with prefix sorts below
        sql = f"SELECT path, {columns} FROM files WHERE path = ? OR (path >= ? AND path < ?)"
        return self.db.execute(sql, (root, prefix, upper))

    def ids_under(self, roots: Iterable[bytes]) -> set[int]:
        ids: set[int] = set()
        for root in roots:
            ids.update(row[1] for row in self._rows_under(root, "id"))
        return ids

    def generation(self) -> int:
        """A counter bumped by every write: equal generations mean equal fingerprints."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def _bump_generation(self) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES ('generation', '1') ON CONFLICT(key)"
                        " DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    @property
    def prints_cache(self) -> str:
        return self.path + "-prints.npz"

    def load_prints(self, ids: set[int] | None = None) -> Prints:
        """Load every readable file's fingerprints (or only ``ids``) into numpy arrays.

        Reading a million rows through sqlite3 takes seconds, so the arrays are also kept in a
        sidecar file (``INDEX-prints.npz``) tagged with the store's generation; it is used only
        while the generation and the recipe still match, and rewritten otherwise.
        """
        self.db.execute("BEGIN")  # one snapshot for the generation and the rows
        try:
            generation = self.generation()
            prints = self._cached_prints(generation)
            if prints is None:
                prints = self._read_prints()
                self._write_cache(prints, generation)
        finally:
            self.db.execute("COMMIT")
        if ids is not None:
            keep = np.isin(prints.ids, np.fromiter(ids, dtype=np.int64, count=len(ids)))
            prints = Prints(*(getattr(prints, f)[keep] for f in Prints.__slots__))
        return prints

    def _cached_prints(self, generation: int) -> Prints | None:
        try:
            # One open file for the tag, the small arrays and the mapping: a writer replacing
            # the sidecar meanwhile cannot mix two generations.
            with open(self.prints_cache, "rb") as f, np.load(f) as z:
                if (int(z["generation"]) != generation or str(z["recipe"]) != recipe_id()
                        or z.zip.getinfo("hashes_by_column.npy").compress_type != zipfile.ZIP_STORED):
                    return None
                small = {k: z[k] for k in Prints.__slots__ if k != "hashes"}
                by_column = _map_member(f, z.zip.getinfo("hashes_by_column.npy"))
            if by_column.shape != (N_HASHES, len(small["ids"])):
                return None
            return Prints(hashes=by_column.T, **small)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None

    def _write_cache(self, prints: Prints, generation: int) -> None:
        tmp = f"{self.prints_cache}.{os.getpid()}.tmp"
        small = {k: getattr(prints, k) for k in Prints.__slots__ if k != "hashes"}
        try:
            with open(tmp, "wb") as f:
                # Hashes column by column: a search reads a few columns of a million rows,
                # and a column range is one contiguous, memory-mapped slice (_map_member).
                np.savez(f, generation=generation, recipe=recipe_id(),
                         hashes_by_column=np.ascontiguousarray(prints.hashes.T), **small)
            os.replace(tmp, self.prints_cache)
        except OSError:  # a read-only or full disk only costs the next reader some time
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _read_prints(self) -> Prints:
        rows = self.db.execute(
            "SELECT p.file_id, p.hashes, p.trim, p.flat, p.phash, p.dhash FROM prints p "
            "JOIN files f ON f.id = p.file_id WHERE f.recipe = ? ORDER BY p.file_id",
            (recipe_id(),)).fetchall()
        n = len(rows)
        ids_col, hashes, trims, flat, phash, dhash = zip(*rows) if rows else ((),) * 6
        return Prints(
            ids=np.array(ids_col, dtype=np.int64),
            hashes=np.frombuffer(b"".join(hashes), dtype="<u8").reshape(n, N_HASHES).astype(np.uint64),
            trims=np.frombuffer(b"".join(trims), dtype="<f4").reshape(n, 4).astype(np.float32),
            flat=np.array(flat, dtype=bool),
            phash=np.array(phash, dtype=np.int64).view(np.uint64),
            dhash=np.array(dhash, dtype=np.int64).view(np.uint64),
        )

    def thumbs(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Return the stored thumbnails of the given files."""
        out = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for file_id, blob in self.db.execute(
                    f"SELECT file_id, thumb FROM thumbs WHERE file_id IN ({marks})", chunk):
                out[file_id] = np.frombuffer(blob, dtype=np.uint8).reshape(THUMB_SIZE, THUMB_SIZE)
        return out

    def records(self, ids: Iterable[int]) -> dict[int, FileRecord]:
        out = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                    "SELECT f.id, f.path, f.size, f.mtime_ns, f.width, f.height, f.format,"
                    " f.metadata, p.trim FROM files f LEFT JOIN prints p ON p.file_id = f.id "
                    f"WHERE f.id IN ({marks})", chunk):
                out[row[0]] = FileRecord(row[0], display(row[1]), row[2], row[3], row[4] or 0,
                                         row[5] or 0, row[6] or "", json.loads(row[7] or "{}"),
                                         _content(row[8]))
        return out

    def problems(self, roots: Iterable[bytes] | None = None) -> list[tuple[str, str]]:
        """Return (path, reason) for every file that could not be fingerprinted."""
        rows = self.db.execute("SELECT path, error FROM files WHERE error IS NOT NULL ORDER BY path")
        return [(display(p), e) for p, e in rows]

    def counts(self) -> dict[str, int]:
        total, bad = self.db.execute(
            "SELECT count(*), count(error) FROM files").fetchone()
        return {"files": total, "unreadable": bad, "fingerprinted": total - bad}

    # ------------------------------------------------------------------ writes
    def save(self, results: Iterable[Fingerprinted]) -> None:
        """Insert or replace the given results; call inside a transaction."""
        self._bump_generation()
        now = time.time()
        for r in results:
            st, info, fp = r.stat, r.info, r.fingerprint
            meta = json.dumps(info.metadata, ensure_ascii=False) if info and info.metadata else None
            file_id = self.db.execute(
                "INSERT INTO files(path, size, mtime_ns, indexed_at, recipe, error, format, width,"
                " height, mode, frames, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,"
                " indexed_at=excluded.indexed_at, recipe=excluded.recipe, error=excluded.error,"
                " format=excluded.format, width=excluded.width, height=excluded.height,"
                " mode=excluded.mode, frames=excluded.frames, metadata=excluded.metadata "
                "RETURNING id",
                (st.path, st.size, st.mtime_ns, now, recipe_id() if fp else None, r.error,
                 info.format if info else None, info.width if info else None,
                 info.height if info else None, info.mode if info else None,
                 info.frames if info else None, meta)).fetchone()[0]
            if fp is None:
                self.db.execute("DELETE FROM prints WHERE file_id = ?", (file_id,))
                self.db.execute("DELETE FROM thumbs WHERE file_id = ?", (file_id,))
                continue
            self.db.execute(
                "INSERT OR REPLACE INTO prints(file_id, phash, dhash, hashes, trim, flat)"
                " VALUES (?,?,?,?,?,?)",
                (file_id, to_signed(fp.phash), to_signed(fp.dhash),
                 fp.hashes.astype("<u8").tobytes(), np.array(fp.trim, dtype="<f4").tobytes(),
                 int(fp.flat)))
            self.db.execute("INSERT OR REPLACE INTO thumbs(file_id, thumb) VALUES (?, ?)",
                            (file_id, fp.thumb))

    def delete(self, ids: Iterable[int]) -> int:
        id_list = list(ids)
        if id_list:
            self._bump_generation()
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            self.db.execute(f"DELETE FROM files WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return len(id_list)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (Ctrl-C included).

    SQLite errors inside (disk full, read-only file system, a lock held too long) become a
    StoreError with SQLite's own reason; the transaction is rolled back, so the index keeps
    everything committed before it.
    """

    def __init__(self, db: sqlite3.Connection, path: str):
        self.db, self.path = db, path

    def __enter__(self) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write index {self.path}: {exc}") from None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return False
            except sqlite3.Error as err:
                self._rollback()
                raise StoreError(f"cannot write index {self.path}: {err}") from None
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"cannot write index {self.path}: {exc}") from None
        return False

    def _rollback(self) -> None:
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _content(trim: bytes | None) -> float:
    if not trim:
        return 1.0
    left, top, right, bottom = (float(x) for x in np.frombuffer(trim, dtype="<f4"))
    return max(0.0, right - left) * max(0.0, bottom - top)


def _uri_path(path: str) -> str:
    from urllib.parse import quote

    return quote(os.path.abspath(path))


def _read_only_fs(path: str) -> bool:
    try:
        return bool(os.statvfs(os.path.dirname(os.path.abspath(path))).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _map_member(f: BinaryIO, info: zipfile.ZipInfo) -> np.ndarray:
    """Memory-map an array stored uncompressed in an open .npz file (np.load would copy it).

    A query against a million files reads a fraction of the hashes; mapping the page cache
    instead of copying 344 MB into fresh memory is most of what keeps it near a second.
    """
    f.seek(info.header_offset)
    local = f.read(30)  # the member's local header; its name and extra field lengths vary
    f.seek(info.header_offset + 30 + int.from_bytes(local[26:28], "little")
           + int.from_bytes(local[28:30], "little"))
    major, _ = np.lib.format.read_magic(f)
    read_header = (np.lib.format.read_array_header_1_0 if major == 1
                   else np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = read_header(f)
    return np.memmap(f, dtype=dtype, mode="r", shape=shape, offset=f.tell(),
                     order="F" if fortran else "C")
