"""The SQLite index: schema, migrations, and every read and write imgfind makes.

This is the only module that imports sqlite3. Paths are stored as BLOBs (``os.fsencode``) so
that names which are not valid UTF-8 survive; 64-bit fingerprints are stored as SQLite's
signed 64-bit integers and converted back on read.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
import stat as statmod
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from . import decision_cache, prints_cache
from ._version import __version__
from .bits import to_signed, to_unsigned
from .errors import SchemaError, StoreError
from .fingerprint import stored_thumb
from .model import (FileRecord, FileStat, Fingerprinted, Known, LocalFeatures, PageRef,
                    StoredFile, display)
from .presence import kind_of
from .prints_cache import Owner, Prints
from .keypointcodec import pack as pack_keypoints
from .keypointcodec import unpack as unpack_keypoints
from .keypointcodec import unpack_many as unpack_keypoints_many
from .keypointcodec import unpack_descriptors_many as unpack_keypoint_descriptors_many
from .thumbcodec import is_packed
from .printcodec import pack_hashes, pack_trim, unpack_hashes, unpack_trim
from .thumbcodec import pack as pack_thumb
from .thumbcodec import unpack as unpack_thumb
from .thumbcodec import unpack_many as unpack_thumbs
from .recipe import THUMB_SIZE, recipe_id

__all__ = ["Known", "Prints", "Store", "SCHEMA_VERSION"]

#: Bump with a migration below whenever the schema changes.
#: 2: files.dev, files.ino, files.ctime_ns (identity and change key), the roots table, and
#:    meta identity / write_token (what the sidecar must match).
#: 3: the pages and page_images tables (which web page shows which image file; ``imgfind pages``;
#:    store._migrate_pages) and the keypoints table (local features, issue 12;
#:    store._migrate_partial). Each migration is idempotent.
#: 4: thumbnails may be packed (thumbcodec: lossless, about 60% of the raw size), and new
#:    indexes use PAGE_SIZE pages; rows written before stay raw and are read as they are.
#: 5: prints rows may be compact (printcodec: the trimmed view's hash columns left out when
#:    they repeat the whole picture's, an untrimmed box as no bytes); older rows read as they are.
#: 6: thumbnails may be packed with another predictor (thumbcodec formats 3 and 4, session 9);
#:    older rows (format 1) read as they are, and an older imgfind refuses the index
#:    ("written by a newer imgfind") instead of calling its thumbnails damaged.
#: 7: keypoints rows may be packed (keypointcodec: lossless, about 70% of the raw size; the
#:    whole blob in descs, an empty xy); older rows read as they are.
SCHEMA_VERSION = 7
#: SQLite page size of a new index. A row is kept whole on one page when it fits, so with
#: 4 KiB pages every 1.5-2.6 KB thumbnail row took a page of its own; 16 KiB pages hold
#: 6-10 of them (benchmarks/RESULTS.md, "Index size").
PAGE_SIZE = 16384
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
    metadata   TEXT,             -- JSON: creator, copyright, dates, camera
    dev        INTEGER,          -- st_dev, st_ino: which file (NULL: written before schema 2)
    ino        INTEGER,
    ctime_ns   INTEGER           -- with size, mtime and ino: the change key
);
CREATE INDEX IF NOT EXISTS files_identity ON files(ino, dev);
-- Files by upright size (covering the format): the same-pixels pass (same_pixels.py) finds
-- the sizes a JPEG and another format share, and a query the files of its size, from it.
CREATE INDEX IF NOT EXISTS files_size ON files(width, height, format);
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
    thumb   BLOB NOT NULL        -- THUMB_SIZE^2 greyscale bytes, row-major, + colour signature,
                                 -- since schema 4 packed (thumbcodec) when that is shorter
);
-- Local features (keypoints.py): at most recipe.KEYPOINTS ORB keypoints of the detail
-- picture, no row for a picture with too few (it is matched by its global fingerprint only).
CREATE TABLE IF NOT EXISTS keypoints (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    width   INTEGER NOT NULL,    -- detail picture's pixels (positions are fractions of them)
    height  INTEGER NOT NULL,
    xy      BLOB NOT NULL,       -- n x 2 uint16 little-endian fractions (x, y) * 65535
    descs   BLOB NOT NULL        -- n uint64 little-endian: ORB descriptor bits, since schema 7
                                 -- packed (keypointcodec, xy then empty) when that is shorter
);
-- The folders and files given to 'imgfind index': a file whose root is not there now (an
-- unplugged drive) is "unavailable", not "missing".
CREATE TABLE IF NOT EXISTS roots (
    path       BLOB PRIMARY KEY,
    dev        INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
-- Web pages of a local site copy (imgfind pages) and the image files they show. Images are
-- named by absolute path (BLOB, like files.path), not by files.id: pages may be read before
-- or after the images are indexed, and a re-indexed file keeps its path.
CREATE TABLE IF NOT EXISTS pages (
    id         INTEGER PRIMARY KEY,
    site       BLOB NOT NULL,      -- the source given to 'imgfind pages' (folder or WXR file)
    url        TEXT NOT NULL,
    title      TEXT NOT NULL,
    source     BLOB NOT NULL,      -- the local HTML or WXR file it was read from
    indexed_at REAL NOT NULL,
    UNIQUE (site, url)
);
CREATE TABLE IF NOT EXISTS page_images (
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    image   BLOB NOT NULL,         -- absolute path of the local file
    url     TEXT NOT NULL,         -- the URL the page uses
    how     TEXT NOT NULL,         -- img, srcset, css, link, meta, or "resized copy <url>"
    PRIMARY KEY (page_id, image, how)
);
CREATE INDEX IF NOT EXISTS page_images_image ON page_images(image);
"""

#: Schema 1 -> 2, run in one transaction by the first writer that opens an old index. Old
#: rows get no identity; the next index run fills it in without decoding them again.
MIGRATE_1_TO_2 = """
ALTER TABLE files ADD COLUMN dev INTEGER;
ALTER TABLE files ADD COLUMN ino INTEGER;
ALTER TABLE files ADD COLUMN ctime_ns INTEGER;
"""
#: Columns of schema 1 that nothing read; dropped where SQLite can (3.35+), else left empty.
DROPPED_IN_2 = ("mode", "frames")

#: The one statement that stores a files row (save, put_files); put_files adds a WHERE.
_UPSERT_FILE = (
    "INSERT INTO files(path, size, mtime_ns, indexed_at, recipe, error, format, width,"
    " height, metadata, dev, ino, ctime_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,"
    " indexed_at=excluded.indexed_at, recipe=excluded.recipe, error=excluded.error,"
    " format=excluded.format, width=excluded.width, height=excluded.height,"
    " metadata=excluded.metadata, dev=excluded.dev, ino=excluded.ino,"
    " ctime_ns=excluded.ctime_ns")

F = TypeVar("F", bound=Callable[..., Any])


def _guarded(fn: F) -> F:
    """Map any sqlite3 error raised by a Store method to one StoreError, once, here; and a
    ValueError, which a read method raises only when a stored value does not decode (a blob
    of the wrong length, metadata that is not JSON), to the damaged-index StoreError."""

    @functools.wraps(fn)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path, "read") from None
        except ValueError as exc:  # json.JSONDecodeError too
            raise damaged(self.path, f"a stored value does not decode: {exc}") from None

    return wrapper  # type: ignore[return-value]


#: The first 16 bytes of every SQLite database file (sqlite.org/fileformat.html, 1.3).
SQLITE_MAGIC = b"SQLite format 3\x00"


def _not_sqlite(path: str) -> bool:
    """True when *path* is a non-empty file that does not start as an SQLite database (a photo
    or a script given as --db by mistake); False when it does, or cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError:
        return False
    return bool(head) and head != SQLITE_MAGIC


def damaged(path: str, why: object) -> StoreError:
    """The one wording of a damaged index, whatever found it (SQLite's b-tree check, a stored
    row that does not unpack): what is wrong and how to rebuild. A file that is not an SQLite
    database at all is said to be no index, never to be deleted (it may be a photo)."""
    if _not_sqlite(path):
        return StoreError(
            f"{path} is not an imgfind index (not an SQLite database); give --db the path of an "
            f"index file, or a new path to create one")
    return StoreError(
        f"the index {path} is damaged ({why}); rebuild it: delete it (with its -wal and "
        f"-shm files) and run 'imgfind index DIR' again")


def _store_error(exc: sqlite3.Error, path: str, doing: str) -> StoreError:
    """The one wording of a SQLite failure: damaged index, full disk, or SQLite's reason."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text \
            or "not a database" in text:
        return damaged(path, text)
    # SQLite says "disk I/O error" when the disk fills while it creates its -wal or -shm
    # file: ask the file system.
    if name.startswith("SQLITE_FULL") or "disk is full" in text or (
            (name.startswith("SQLITE_IOERR") or "disk I/O error" in text) and _disk_full(path)):
        return StoreError(f"cannot {doing} index {path}: {text}; the disk holding it is full "
                          "(no space left): free some space and try again")
    if _read_only_fs(path):
        why = " (read-only file system)"
    elif _folder_unwritable(path):
        why = (f" (you cannot write its folder {os.path.dirname(os.path.abspath(path))}, where"
               " SQLite keeps its -wal and -shm files"
               + ("; status, query, and dedupe without paths, which only read it, still work)"
                  if os.path.exists(path) else ")"))
    else:
        why = ""
    return StoreError(f"cannot {doing} index {path}: {text}{why}")


def _disk_full(path: str) -> bool:
    """True when the file system holding *path* has no free block left."""
    try:
        return os.statvfs(os.path.dirname(os.path.abspath(path)) or ".").f_bavail == 0
    except (OSError, AttributeError, ValueError):  # AttributeError: no statvfs on Windows
        return False


class Store:
    """An open index database. Use as a context manager, or call ``close``.

    Every public method raises StoreError (never sqlite3.Error): "damaged" with a rebuild
    command for a corrupt file, "full" for a full disk, SQLite's reason otherwise.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False, timeout: float = 60.0):
        self.path = os.fspath(path)
        self.timeout = timeout
        self.readonly = readonly
        self.version = SCHEMA_VERSION
        self._copy_dir: str | None = None
        _check_db_path(self.path, create=not readonly)
        try:
            if readonly:
                self.db = self._connect_readonly()
            else:
                parent = os.path.dirname(os.path.abspath(self.path))
                os.makedirs(parent, exist_ok=True)
                self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._check_and_migrate(readonly)
        except sqlite3.Error as exc:
            self._close_quietly()
            raise _store_error(exc, self.path, "open") from None
        except OSError as exc:
            self._close_quietly()
            raise StoreError(f"cannot open index {self.path}: {exc.strerror or exc}") from None
        except StoreError:
            self._close_quietly()
            raise

    def _connect_readonly(self) -> sqlite3.Connection:
        uri = "file:" + _uri_path(self.path) + "?mode=ro"
        if not _read_only_fs(self.path) and not _folder_unwritable(self.path):
            return sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        wal = self.path + "-wal"
        if _size(wal) <= 0 and not os.path.exists(self.path + "-shm"):
            # A WAL index needs a -shm file that cannot be created here (a read-only file
            # system, or a folder this user cannot write: SQLite 3.40 then fails even with
            # mode=ro, measured); no committed change waits in a -wal and no connection
            # holds a -shm, so no one is writing: immutable reads the file as it is.
            return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=self.timeout,
                                   isolation_level=None)
        if os.path.exists(self.path + "-shm"):
            return sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        # Committed rows wait in the -wal (the last writer was killed) and SQLite cannot read
        # them without a -shm it could create: read a private copy of the index and its WAL.
        need = _size(self.path) + _size(wal)
        scratch = tempfile.gettempdir()
        if shutil.disk_usage(scratch).free < need + (16 << 20):
            raise StoreError(
                f"the index {self.path} is on a read-only file system and committed changes "
                f"wait in its -wal file; there is no room in {scratch} to read them from a copy")
        self._copy_dir = tempfile.mkdtemp(prefix="imgfind-ro-")
        copy = os.path.join(self._copy_dir, "index.db")
        shutil.copyfile(self.path, copy)
        shutil.copyfile(wal, copy + "-wal")
        db = sqlite3.connect(copy, timeout=self.timeout, isolation_level=None)
        db.execute("PRAGMA query_only = ON")
        return db

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self._close_quietly()

    def _close_quietly(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass
        if self._copy_dir is not None:
            shutil.rmtree(self._copy_dir, ignore_errors=True)
            self._copy_dir = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _header(self) -> tuple[int, int, int]:
        """user_version, application_id and table count, read from one snapshot."""
        with self.snapshot():
            return (self.db.execute("PRAGMA user_version").fetchone()[0],
                    self.db.execute("PRAGMA application_id").fetchone()[0],
                    self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])

    def _check_and_migrate(self, readonly: bool) -> None:
        version, app_id, tables = self._header()
        self._check_header(version, app_id, tables)
        self.version = version
        if version < SCHEMA_VERSION:
            if not readonly and version == 0 and tables == 0:
                # Only takes effect on an empty file, and not inside a transaction.
                self.db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            if readonly:
                if version >= 1:
                    return  # an older index is read as it is; the next index run upgrades it
                raise StoreError(f"{self.path} is not an imgfind index yet; "
                                 "run 'imgfind index DIR' first")
            with self.transaction():
                version, app_id, tables = self._header()  # another process may have made it
                self._check_header(version, app_id, tables)
                if version == 0:  # a new index
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self._set_meta({"created_at": str(time.time()), "created_by": __version__})
                if version == 1:
                    self._migrate_1_to_2()
                if version in (1, 2):
                    self._migrate_pages()
                if version in (1, 2, 3):
                    self._migrate_partial()
                    self._migrate_thumbs()
                if version in (1, 2, 3, 4):
                    self._migrate_prints()
                if 1 <= version <= 5:
                    self._migrate_thumb_formats()
                if 1 <= version <= 6:
                    self._migrate_keypoint_packing()
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                if "identity" not in self.meta():
                    self._set_meta({"identity": uuid.uuid4().hex})
                self._bump_generation()
            self.version = SCHEMA_VERSION
        if not readonly:
            self._use_wal()
            self._migrate_decisions()
            self._migrate_sizes()
            self._migrate_aliases()

    def _migrate_1_to_2(self) -> None:
        for statement in MIGRATE_1_TO_2.split(";"):
            if statement.strip():
                self.db.execute(statement)
        for column in DROPPED_IN_2:
            try:
                self.db.execute(f"ALTER TABLE files DROP COLUMN {column}")
            except sqlite3.OperationalError:  # SQLite before 3.35: the column stays, unused
                pass
        for statement in SCHEMA.split(";"):  # the new index and table
            if statement.strip():
                self.db.execute(statement)
        self._set_meta({"upgraded_to_2_by": __version__})

    def _migrate_partial(self) -> None:
        """Schema 2 -> 3 for local features: the keypoints table (idempotent). Existing rows
        get their keypoints when the next index run re-reads them (recipe 5)."""
        self.db.execute(_KEYPOINTS_TABLE)
        self._set_meta({"upgraded_to_3_by": __version__})
    def _migrate_pages(self) -> None:
        """Schema 2 -> 3 for the web pages: add the pages and page_images tables (idempotent:
        CREATE ... IF NOT EXISTS, nothing else changes)."""
        start = SCHEMA.index("CREATE TABLE IF NOT EXISTS pages")
        for statement in SCHEMA[start:].split(";"):
            if statement.strip():
                self.db.execute(statement)
        if "metadata_since" not in self.meta():
            # Files read before this lack the XMP, IPTC and GPS fields (provenance.py): the
            # next index run reads them from the files' headers (stale_metadata).
            self._set_meta({"metadata_since": repr(time.time())})

    def _migrate_decisions(self) -> None:
        """The remembered pair decisions (decision_cache.SCHEMA: a table and the triggers that
        drop a file's rows when it is fingerprinted again). Idempotent, and independent of
        the schema version: the table is a cache that older readers ignore and any writer's
        prints/thumbs changes keep valid."""
        if not decision_cache.complete(self.db):
            with self.transaction():
                decision_cache.migrate(self.db)

    def _migrate_aliases(self) -> None:
        """The aliases table (_ALIASES; idempotent, no version change: a table older readers
        ignore, and its rows go with their file's row by the foreign key)."""
        if not self._has_table("aliases"):
            try:
                with self.transaction():
                    self.db.execute(_ALIASES)
            except StoreError:  # locked by another writer, full disk: made at the next open
                pass

    def _migrate_sizes(self) -> None:
        """The files_size index (SCHEMA) on an index made before it (idempotent; no version
        change: readers without it scan the files table instead). About 0.3 s at 10^5 files,
        once."""
        if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'files_size'").fetchone():
            return
        try:
            with self.transaction():
                self.db.execute(_SIZE_INDEX)
        except StoreError:  # locked by another writer, full disk: made at the next open
            pass

    def _migrate_thumbs(self) -> None:
        """Schema 3 -> 4 for packed thumbnails (idempotent; no table changes): rows written
        from now on are packed, the raw rows already there stay and are read as they are
        (thumbcodec.unpack tells the layouts apart). Marks when the index was upgraded."""
        if "thumbs_packed_since" not in self.meta():
            self._set_meta({"thumbs_packed_since": repr(time.time())})

    def _migrate_prints(self) -> None:
        """Schema 4 -> 5 for compact prints rows (printcodec; idempotent, no table changes):
        rows written from now on leave out the hash columns that repeat the whole picture's
        and an untrimmed box; the rows already there stay and are read as they are (the
        blob's length tells the layouts apart). An older imgfind refuses a schema-5 index
        (_check_header) instead of misreading its short rows."""
        if "prints_compact_since" not in self.meta():
            self._set_meta({"prints_compact_since": repr(time.time())})

    def _migrate_thumb_formats(self) -> None:
        """Schema 5 -> 6 for thumbnails packed with the left or upper neighbour as predictor
        (thumbcodec formats 3 and 4; idempotent, no table changes): rows written from now on
        may use them, the rows already there stay and are read as they are (their first byte
        tells the format). An older imgfind refuses a schema-6 index (_check_header)."""
        if "thumb_predictors_since" not in self.meta():
            self._set_meta({"thumb_predictors_since": repr(time.time())})

    def _migrate_keypoint_packing(self) -> None:
        """Schema 6 -> 7 for packed keypoints rows (keypointcodec; idempotent, no table
        changes): rows written from now on hold the packed blob in descs and an empty xy, the
        rows already there stay raw and are read as they are (a raw row's xy is never empty:
        keypoints.MIN_KEYPOINTS). An older imgfind refuses a schema-7 index (_check_header)
        instead of calling its packed rows damaged."""
        if "keypoints_packed_since" not in self.meta():
            self._set_meta({"keypoints_packed_since": repr(time.time())})

    def _use_wal(self) -> None:
        """WAL lets query and dedupe read while an index run writes. Switching needs the
        file to itself, and SQLite does not wait for that: retry while others hold it, up to
        the timeout (SQLite may also answer with the old mode instead of "locked").

        Raises:
            StoreError: the journal mode is still not WAL at the deadline, or SQLite answers
                with a mode no retry changes (an in-memory or temporary database).
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                mode = str(self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                mode = "locked"
            if mode == "wal":
                return
            if mode == "memory" or time.monotonic() > deadline:
                raise StoreError(f"cannot open index {self.path}: its journal mode stays "
                                 f"{mode!r}, not 'wal' (needed so that reads and an index run "
                                 "can share it)")
            time.sleep(0.02)

    def _check_header(self, version: int, app_id: int, tables: int) -> None:
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.path} was written by a newer imgfind (schema {version}, this one reads "
                f"up to {SCHEMA_VERSION}); upgrade imgfind or use another --db")
        if tables and app_id != APPLICATION_ID:
            raise SchemaError(f"{self.path} is an SQLite database but not an imgfind index")

    def transaction(self) -> _Transaction:
        """BEGIN IMMEDIATE ... COMMIT as a context manager (see _Transaction)."""
        return _Transaction(self.db, self.path)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Make every read inside one snapshot of the index (a read transaction; WAL lets an
        index run write meanwhile). Nests: inside a transaction it does nothing."""
        own = not self.db.in_transaction
        if own:
            try:
                self.db.execute("BEGIN")
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path, "read") from None
        try:
            yield
        except BaseException:
            if own:
                self._end_quietly()
            raise
        if own and self.db.in_transaction:
            # SQLite may have ended the transaction itself (a full disk rolls back): then
            # there is nothing to end.
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._end_quietly()
                raise _store_error(exc, self.path, "read") from None

    def _end_quietly(self) -> None:
        """End a read transaction after an error; the first error is the one reported."""
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _set_meta(self, values: dict[str, str]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())

    @_guarded
    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    # ------------------------------------------------------------------ reads
    @_guarded
    def known_under(self, roots: Iterable[bytes]) -> dict[bytes, Known]:
        """Return what is stored for every file under the given roots (files or folders)."""
        out: dict[bytes, Known] = {}
        with self.snapshot():
            for root in roots:
                for row in self._rows_under(root, _KNOWN_COLUMNS):
                    out[row[0]] = _known(row[1:])
        return out

    @_guarded
    def known_by_identity(self, identities: Iterable[tuple[int, int]]) -> dict[tuple[int, int], list[Known]]:
        """Return the stored files with each (device, inode), whatever their path."""
        out: dict[tuple[int, int], list[Known]] = {}
        if self.version < 2:
            return out
        with self.snapshot():
            for dev, ino in identities:
                rows = self.db.execute(f"SELECT path, {_KNOWN_COLUMNS} FROM files "
                                       "WHERE ino = ? AND dev = ?", (ino, dev)).fetchall()
                if rows:
                    out[(dev, ino)] = [_known(r[1:]) for r in rows]
        return out

    def _rows_under(self, root: bytes, columns: str) -> Iterator[tuple]:
        prefix = root.rstrip(b"/") + b"/"
        upper = prefix[:-1] + b"0"  # b"/" + 1: every path that starts with prefix sorts below
        sql = f"SELECT path, {columns} FROM files WHERE path = ? OR (path >= ? AND path < ?)"
        return self.db.execute(sql, (root, prefix, upper))

    @_guarded
    def ids_under(self, roots: Iterable[bytes]) -> set[int]:
        ids: set[int] = set()
        with self.snapshot():
            for root in roots:
                ids.update(row[1] for row in self._rows_under(root, "id"))
        return ids

    @_guarded
    def roots(self) -> dict[bytes, int]:
        """The roots given to index runs, with the device each was on: {path: st_dev}."""
        if self.version < 2:
            return {}
        return {bytes(p): d for p, d in self.db.execute("SELECT path, dev FROM roots")}

    @_guarded
    def generation(self) -> int:
        """A counter bumped by every write: equal generations mean equal fingerprints."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def _bump_generation(self) -> None:
        """Count a write and draw a new write token (what a sidecar must match: a backup
        restored later has an older token that no sidecar written since carries)."""
        self.db.execute("INSERT INTO meta(key, value) VALUES ('generation', '1') ON CONFLICT(key)"
                        " DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        self._set_meta({"write_token": uuid.uuid4().hex})

    def _owner(self) -> Owner | None:
        meta = self.meta()
        if "identity" not in meta:  # an index from before schema 2, read-only: no sidecar
            return None
        return Owner(meta["identity"], meta.get("write_token", ""),
                     int(meta.get("generation", 0)), recipe_id())

    @property
    def prints_cache(self) -> str:
        """The sidecar's arrays file (see prints_cache)."""
        return prints_cache.paths(self.path)[0]

    @_guarded
    def load_prints(self, ids: set[int] | None = None) -> Prints:
        """Load every readable file's fingerprints (or only ``ids``) into numpy arrays.

        Reading a million rows through sqlite3 takes seconds, so the arrays are also kept in a
        sidecar (prints_cache) that names the index and its state; it is used only when it
        belongs to this index in this state, and rewritten otherwise.
        """
        with self.snapshot():  # one snapshot for the tag and the rows
            owner = self._owner()
            prints = prints_cache.load(self.path, owner) if owner else None
            if prints is None:
                prints = self._read_prints()
                if owner is not None:
                    prints_cache.save(self.path, prints, owner)
        self._tables_for = (owner, prints) if ids is None and owner is not None else None
        if ids is not None:
            prints = prints.subset(np.isin(prints.ids, np.fromiter(ids, dtype=np.int64, count=len(ids))))
        return prints

    @_guarded
    def descriptor_index(self):
        """The descriptor index of every file's local features (local_index.DescriptorIndex),
        from its memory-mapped sidecar when that belongs to this index in this state, else
        read from the index (and the sidecar written: a rebuild costs about 10 s at 10^5
        pictures, benchmarks/RESULTS.md)."""
        from .local_index import DescriptorIndex  # noqa: PLC0415

        with self.snapshot():
            owner = self._owner()
            found = DescriptorIndex.load(self.path, owner, self.local_features) if owner else None
            if found is None:
                rows = (self.db.execute(
                    "SELECT k.file_id, k.descs, length(k.xy) FROM keypoints k JOIN files f"
                    " ON f.id = k.file_id WHERE f.recipe = ? ORDER BY k.file_id",
                    (recipe_id(),)).fetchall() if self.version >= 3 else [])
                descs = _descriptors_many(rows, self.path)
                found = DescriptorIndex.build(np.array([r[0] for r in rows], np.int64),
                                              descs, self.local_features)
                if owner is not None:
                    found.save(self.path, owner)
        return found

    def hash_tables(self, prints: Prints, cols: np.ndarray, k: int):
        """A search engine over hash columns *cols* of *prints* (the whole index, as the last
        ``load_prints()`` returned it) answered from on-disk tables (search.disk), built and
        saved beside the index on first use; None when they cannot serve (another load, a
        distance too wide, an index read as it is from before schema 2)."""
        from .search import disk  # noqa: PLC0415

        held = getattr(self, "_tables_for", None)
        if held is None or held[1] is not prints or not disk.searchable(k) \
                or len(prints) < disk.MIN_ROWS:
            return None
        owner = held[0]
        by_column = prints.hashes.T
        if not os.access(os.path.dirname(os.path.abspath(self.path)), os.W_OK) and any(
                prints_cache.load_table(self.path, owner, int(c), len(prints)) is None for c in cols):
            return None  # tables that cannot be saved would be rebuilt by every query: scan
        tables = []
        for col in (int(c) for c in cols):
            table = prints_cache.load_table(self.path, owner, col, len(prints))
            if table is None:
                table = disk.build(by_column[col])
                prints_cache.save_table(self.path, owner, col, table)
            tables.append(table)
        return disk.DiskTables(tables, [np.asarray(by_column[int(c)]) for c in cols])

    def _read_prints(self) -> Prints:
        rows = self.db.execute(
            "SELECT p.file_id, p.hashes, p.trim, p.flat, p.phash, p.dhash FROM prints p "
            "JOIN files f ON f.id = p.file_id WHERE f.recipe = ? ORDER BY p.file_id",
            (recipe_id(),)).fetchall()
        n = len(rows)
        ids_col, hashes, trims, flat, phash, dhash = zip(*rows) if rows else ((),) * 6
        phash = np.array(phash, dtype=np.int64).view(np.uint64)
        dhash = np.array(dhash, dtype=np.int64).view(np.uint64)
        return Prints(
            ids=np.array(ids_col, dtype=np.int64),
            hashes=_hashes(list(hashes), phash, dhash, self.path),
            trims=np.frombuffer(b"".join(unpack_trim(t) for t in trims),
                                dtype="<f4").reshape(n, 4).astype(np.float32),
            flat=np.array(flat, dtype=bool),
            phash=phash,
            dhash=dhash,
        )

    @_guarded
    def sizes(self, ids: Iterable[int] | None = None) -> dict[int, tuple[int, int]]:
        """Every file's (width, height) in pixels, by id (0 when unknown); only the files
        *ids* (those that exist) when given."""
        if ids is None:
            return {i: (w or 0, h or 0)
                    for i, w, h in self.db.execute("SELECT id, width, height FROM files")}
        out: dict[int, tuple[int, int]] = {}
        want = [int(i) for i in ids]
        for lo in range(0, len(want), 500):
            chunk = want[lo:lo + 500]
            out.update((i, (w or 0, h or 0)) for i, w, h in self.db.execute(
                f"SELECT id, width, height FROM files WHERE id IN ({','.join('?' * len(chunk))})",
                chunk))
        return out

    @_guarded
    def shared_sizes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The files whose upright (width, height) a JPEG and a file of another format share
        (same_pixels.py's candidates): ids int64, width int64, height int64, is-JPEG bool,
        each (n,). Read from the files_size index (a scan of it, ~10 ms at 10^5 files;
        the files table when an older index lacks it); only the files of shared sizes come
        back to Python."""
        sizes = self.db.execute(
            "SELECT width, height FROM files WHERE width IS NOT NULL AND format IS NOT NULL"
            " GROUP BY width, height HAVING max(format = 'JPEG') = 1 AND min(format = 'JPEG') = 0"
        ).fetchall()
        return self.of_sizes(sizes)

    @_guarded
    def shared_heads(self) -> list[list[int]]:
        """The JPEGs that share their head digest (model.JPEG_HEAD) and upright size with
        another: lists of file ids (ascending), each of at least two, sorted. One pass over
        the files table in SQLite (json_extract; ~0.1 s at 10^5 files), only the shared
        ones come back to Python (damaged.py's candidates)."""
        rows = self.db.execute(
            "SELECT group_concat(id) FROM (SELECT id, width, height,"
            " json_extract(metadata, '$.jpeg_head') AS head FROM files"
            " WHERE format = 'JPEG' AND metadata LIKE '%jpeg_head%' ORDER BY id)"
            " WHERE head IS NOT NULL GROUP BY head, width, height HAVING count(*) > 1").fetchall()
        return sorted(sorted(int(i) for i in ids.split(",")) for (ids,) in rows)

    @_guarded
    def of_sizes(self, sizes: Iterable[tuple[int, int]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The readable files of the upright (width, height) *sizes*: ids int64 (ascending),
        width int64, height int64, is-JPEG bool, each (n,). One search of the files_size
        index per size (a scan of the files table per size on an index made before it)."""
        out: list[tuple] = []
        for width, height in sorted(set(sizes)):
            out += self.db.execute(
                "SELECT id, width, height, format = 'JPEG' FROM files WHERE width = ? AND"
                " height = ? AND format IS NOT NULL", (width, height)).fetchall()
        cols = list(zip(*sorted(out))) if out else [(), (), (), ()]
        return (np.array(cols[0], np.int64), np.array(cols[1], np.int64),
                np.array(cols[2], np.int64), np.array(cols[3], bool))

    @_guarded
    def local_features(self, ids: Iterable[int] | None = None) -> dict[int, LocalFeatures]:
        """Return the local features of the given files (all files with the current recipe
        when *ids* is None); files without any are left out."""
        out: dict[int, LocalFeatures] = {}
        if self.version < 3:
            return out
        sql = ("SELECT k.file_id, k.width, k.height, k.xy, k.descs FROM keypoints k "
               "JOIN files f ON f.id = k.file_id WHERE f.recipe = ?")
        if ids is None:
            rows = self.db.execute(sql + " ORDER BY k.file_id", (recipe_id(),)).fetchall()
            return dict(zip((r[0] for r in rows), _local_features_many(rows, self.path)))
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(sql + f" AND k.file_id IN ({marks})", (recipe_id(), *chunk)).fetchall()
            out.update(zip((r[0] for r in rows), _local_features_many(rows, self.path)))
        return out

    @_guarded
    def thumbs(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Return the stored thumbnails of the given files (ids no longer stored are left out):
        THUMB_SIZE columns, the grey rows then the colour signature's (fingerprint.thumb_parts
        splits them)."""
        out = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT file_id, thumb FROM thumbs WHERE file_id IN ({marks})", chunk).fetchall()
            try:
                raws = unpack_thumbs([blob for _, blob in rows])
            except ValueError as exc:
                raise damaged(self.path, exc) from None
            for (file_id, _), raw in zip(rows, raws):
                out[file_id] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, THUMB_SIZE)
        return out

    @_guarded
    def records(self, ids: Iterable[int]) -> dict[int, FileRecord]:
        """Return the stored records of the given files (ids no longer stored are left out)."""
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

    @_guarded
    def problems(self, roots: Iterable[bytes] | None = None) -> list[tuple[str, str]]:
        """Return (path, reason) for every file that could not be fingerprinted."""
        rows = self.db.execute("SELECT path, error FROM files WHERE error IS NOT NULL ORDER BY path")
        return [(display(p), e) for p, e in rows]

    @_guarded
    def counts(self) -> dict[str, int]:
        """Files, unreadable and fingerprinted counts, and of the fingerprinted files how many
        hold another recipe's fingerprints (``stale``: left out of searches, see stale_count)
        and how many this recipe's (``usable``). One pass over the files table."""
        total, bad, stale = self.db.execute(
            "SELECT count(*), count(error), count(CASE WHEN recipe IS NOT NULL AND recipe != ?"
            " THEN 1 END) FROM files", (recipe_id(),)).fetchone()
        return {"files": total, "unreadable": bad, "fingerprinted": total - bad,
                "usable": total - bad - stale, "stale": stale}

    @_guarded
    def stale_count(self) -> int:
        """How many files hold a fingerprint of another recipe (recipe.recipe_id(): an older or
        newer imgfind, or another Pillow). Searches leave them out (they load this recipe's
        fingerprints only) until the next index run of their folder makes them again. One pass
        over the files table (about 0.05 s at 10^6 files)."""
        return self.db.execute("SELECT count(*) FROM files WHERE recipe IS NOT NULL AND recipe != ?",
                               (recipe_id(),)).fetchone()[0]

    @_guarded
    def stale_folders(self) -> set[bytes]:
        """The folders (absolute, as stored) that hold files of another recipe (stale_count).
        One pass over the files table; only the stale rows' paths are read."""
        out: set[bytes] = set()
        for (path,) in self.db.execute("SELECT path FROM files WHERE recipe IS NOT NULL AND "
                                       "recipe != ?", (recipe_id(),)):
            out.add(os.path.dirname(bytes(path)))
        return out

    @_guarded
    def last_indexed(self) -> float | None:
        """When an index run last went through its folders (it records its roots, whether it
        found anything changed or not) or a file was last stored, seconds since the epoch;
        None when nothing was. A run that found nothing changed writes no file row: by the
        files alone, status's "last indexed" stood still after it (new-user trial)."""
        times = [self.db.execute("SELECT max(indexed_at) FROM files").fetchone()[0]]
        if self._has_table("roots"):
            times.append(self.db.execute("SELECT max(indexed_at) FROM roots").fetchone()[0])
        return max((t for t in times if t is not None), default=None)

    @_guarded
    def recipes(self) -> set[str]:
        """The fingerprint recipes of the stored fingerprints (recipe.recipe_id() values)."""
        return {r for (r,) in self.db.execute(
            "SELECT DISTINCT recipe FROM files WHERE recipe IS NOT NULL")}

    def stored_files(self, chunk: int = 2000) -> Iterator[StoredFile]:
        """Every stored file with its fingerprint, thumbnail and keypoints, in row order, read *chunk*
        rows at a time (memory stays flat at 10^6 files). One snapshot of the index."""
        identity = "f.dev, f.ino, f.ctime_ns" if self.version >= 2 else "NULL, NULL, NULL"
        has_keypoints = self._has_table("keypoints")
        keypoints = "k.width, k.height, k.xy, k.descs" if has_keypoints else "NULL, NULL, NULL, NULL"
        join_keypoints = " LEFT JOIN keypoints k ON k.file_id = f.id" if has_keypoints else ""
        sql = ("SELECT f.id, f.path, f.size, f.mtime_ns, f.indexed_at, f.recipe, f.error,"
               f" f.format, f.width, f.height, f.metadata, {identity}, p.phash, p.dhash,"
               f" p.hashes, p.trim, p.flat, t.thumb, {keypoints} FROM files f"
               " LEFT JOIN prints p ON p.file_id = f.id LEFT JOIN thumbs t ON t.file_id = f.id"
               f"{join_keypoints} WHERE f.id > ? ORDER BY f.id LIMIT ?")
        with self.snapshot():
            last = -1
            while True:
                try:
                    rows = self.db.execute(sql, (last, chunk)).fetchall()
                except sqlite3.Error as exc:
                    raise _store_error(exc, self.path, "read") from None
                for r in rows:
                    has = r[14] is not None
                    yield StoredFile(
                        bytes(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                        r[11], r[12], r[13], to_unsigned(r[14]) if has else None,
                        to_unsigned(r[15]) if has else None,
                        _hashes([r[16]], np.array([to_unsigned(r[14])], np.uint64),
                                np.array([to_unsigned(r[15])], np.uint64),
                                self.path)[0].astype("<u8").tobytes() if has else None,
                        unpack_trim(r[17]) if has else None,
                        bool(r[18]) if has else None,
                        _raw_thumb(r[19], self.path) if r[19] is not None else None,
                        _local_features((r[0], *r[20:24]), self.path)
                        if r[22] is not None else None)
                if len(rows) < chunk:
                    return
                last = rows[-1][0]

    @_guarded
    def root_rows(self) -> list[tuple[bytes, int, float]]:
        """The roots table: (path, st_dev, indexed_at)."""
        if self.version < 2:
            return []
        return [(bytes(p), d, t) for p, d, t in self.db.execute(
            "SELECT path, dev, indexed_at FROM roots")]

    def pages_showing(self, paths: Iterable[str]) -> dict[str, list[PageRef]]:
        """Return, per image path, the web pages that show it (url order); {} for an index
        without page tables (schema 2, read as it is)."""
        if not self._has_table("page_images"):
            return {}
        out: dict[str, list[PageRef]] = {}
        seen: set[tuple[bytes, str, str]] = set()
        wanted = list(dict.fromkeys(paths))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for image, url, title, how, image_url in self.db.execute(
                    "SELECT i.image, p.url, p.title, i.how, i.url FROM page_images i"
                    f" JOIN pages p ON p.id = i.page_id WHERE i.image IN ({marks})"
                    " ORDER BY p.url, i.how", [os.fsencode(p) for p in chunk]):
                if (image, url, how) not in seen:  # one per page and way
                    seen.add((image, url, how))
                    out.setdefault(display(image), []).append(PageRef(url, title, how, image_url))
        return out

    @_guarded
    def page_counts(self) -> dict[str, int]:
        """Pages and image references recorded ({} before schema 3)."""
        if not self._has_table("pages"):
            return {}
        return {"pages": self.db.execute("SELECT count(DISTINCT url) FROM pages").fetchone()[0],
                "page_images": self.db.execute(
                    "SELECT count(*) FROM (SELECT DISTINCT p.url, i.image FROM page_images i"
                    " JOIN pages p ON p.id = i.page_id)").fetchone()[0]}

    @_guarded
    def page_sources(self) -> list[tuple[str, int, int, float]]:
        """The sources read by ``imgfind pages``: (source path, pages, image references
        (distinct page and file), when last read (epoch seconds)), by path; [] before schema 3."""
        if not self._has_table("pages"):
            return []
        return [(display(site), n, refs, when) for site, n, refs, when in self.db.execute(
            "SELECT p.site, count(DISTINCT p.id), (SELECT count(*) FROM (SELECT DISTINCT"
            " q.url, i.image FROM pages q JOIN page_images i ON i.page_id = q.id"
            " WHERE q.site = p.site)), max(p.indexed_at) FROM pages p GROUP BY p.site"
            " ORDER BY p.site")]

    def forget_pages(self, site: bytes) -> int:
        """Drop the pages recorded for the source *site* (and the images they show); return
        how many; call inside a transaction."""
        if not self._has_table("pages"):
            return 0
        return self.db.execute("DELETE FROM pages WHERE site = ?", (site,)).rowcount

    @_guarded
    def indexed_at(self, path: bytes) -> tuple[float, str | None] | None:
        """When *path* was last fingerprinted and why it could not be (None: not indexed)."""
        row = self.db.execute("SELECT indexed_at, error FROM files WHERE path = ?", (path,)).fetchone()
        return None if row is None else (row[0], row[1])

    @_guarded
    def stale_metadata(self, roots: Iterable[bytes]) -> list[bytes]:
        """Readable files under *roots* whose metadata was recorded before the index was
        upgraded to schema 3 (no XMP, IPTC or GPS fields yet); [] for an index made at 3."""
        since = self.meta().get("metadata_since")
        if since is None:
            return []
        out: list[bytes] = []
        for root in roots:
            out.extend(bytes(path) for path, at, error in self._rows_under(root, "indexed_at, error")
                       if error is None and at < float(since))
        return out

    def set_metadata(self, items: Iterable[tuple[bytes, dict[str, str] | None]]) -> None:
        """Store re-read metadata (None: keep what is there) and mark the files as read now;
        call inside a transaction. Fingerprints are not touched."""
        now = time.time()
        for path, meta in items:
            if meta is None:
                self.db.execute("UPDATE files SET indexed_at = ? WHERE path = ?", (now, path))
            else:
                self.db.execute("UPDATE files SET metadata = ?, indexed_at = ? WHERE path = ?",
                                (json.dumps(meta, ensure_ascii=False) if meta else None, now, path))

    @_guarded
    def known_paths(self, paths: Iterable[bytes]) -> set[bytes]:
        """Which of *paths* are indexed files (fingerprinted or not)."""
        out: set[bytes] = set()
        wanted = list(paths)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            out.update(bytes(row[0]) for row in self.db.execute(
                f"SELECT path FROM files WHERE path IN ({','.join('?' * len(chunk))})", chunk))
        return out

    @_guarded
    def aliases(self, ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
        """The other names of the given files that index runs reached (a hard link, a
        symbolic link followed): {file id: [(path, how: "hard link" or "symbolic link")]},
        by path. Files without any are left out."""
        out: dict[int, list[tuple[str, str]]] = {}
        id_list = list(ids)
        if not self._has_table("aliases"):
            return out
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            for fid, path, how in self.db.execute(
                    f"SELECT file_id, path, how FROM aliases WHERE file_id IN "
                    f"({','.join('?' * len(chunk))}) ORDER BY path", chunk):
                out.setdefault(fid, []).append((display(path), how))
        return out

    def replace_aliases(self, roots: Iterable[bytes], names: Iterable[tuple[bytes, bytes, str]]
                        ) -> None:
        """Record the other names a crawl of *roots* found: (name, the indexed path of its
        file, how), in place of the names under *roots* recorded before. A name whose file
        is not indexed is left out."""
        if not self._has_table("aliases"):
            return
        with self.transaction():
            for root in roots:
                prefix = root.rstrip(b"/") + b"/"
                self.db.execute("DELETE FROM aliases WHERE path = ? OR (path >= ? AND path < ?)",
                                (root, prefix, prefix[:-1] + b"0"))
            self.db.executemany(
                "INSERT OR REPLACE INTO aliases(path, file_id, how) "
                "SELECT ?, id, ? FROM files WHERE path = ?",
                ((name, how, kept) for name, kept, how in names))

    def rename_files(self, renames: Iterable[tuple[bytes, bytes]]) -> None:
        """Store each file under another of its names: (stored path, new path), the row (id,
        fingerprints, decisions by id) kept. A new path already stored is left alone."""
        pairs = list(renames)
        if not pairs:
            return
        with self.transaction():
            self._bump_generation()
            for old, new in pairs:
                self.db.execute("UPDATE OR IGNORE files SET path = ? WHERE path = ?", (new, old))

    def _has_table(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (name,)).fetchone() is not None

    # ------------------------------------------------------------------ writes
    def put_files(self, files: Iterable[StoredFile]) -> tuple[int, int, int]:
        """Store rows from another index, the newer record winning for a path both hold:
        the one with the later mtime, then the later indexing time (on a tie, this index's
        stays). Call inside a transaction. Returns (added, replaced, kept)."""
        self._bump_generation()
        added = replaced = kept = 0
        for f in files:
            existed = self.db.execute("SELECT 1 FROM files WHERE path = ?", (f.path,)).fetchone()
            row = self.db.execute(
                _UPSERT_FILE + " WHERE (excluded.mtime_ns, excluded.indexed_at)"
                " > (files.mtime_ns, files.indexed_at) RETURNING id",
                (f.path, f.size, f.mtime_ns, f.indexed_at, f.recipe, f.error, f.format, f.width,
                 f.height, f.metadata, f.dev, f.ino, f.ctime_ns)).fetchone()
            if row is None:
                kept += 1
                continue
            if existed:
                replaced += 1
            else:
                added += 1
            if f.hashes is None or f.thumb is None:
                self._put_derived(row[0], None, None, None)
            else:
                self._put_derived(
                    row[0], (to_signed(f.phash or 0), to_signed(f.dhash or 0), f.hashes, f.trim,
                             int(bool(f.flat))),
                    f.thumb if is_packed(f.thumb) else pack_thumb(f.thumb), f.local)
        return added, replaced, kept

    def put_roots(self, roots: Iterable[tuple[bytes, int, float]]) -> None:
        """Record roots (path, st_dev, indexed_at) from another index, the later one winning;
        call inside a transaction."""
        self.db.executemany(
            "INSERT INTO roots(path, dev, indexed_at) VALUES (?,?,?) ON CONFLICT(path) DO UPDATE"
            " SET dev=excluded.dev, indexed_at=excluded.indexed_at"
            " WHERE excluded.indexed_at > roots.indexed_at", roots)

    def save_pages(self, site: bytes, pages: Iterable[tuple[str, str, bytes, Iterable[tuple[bytes, str, str]]]]
                   ) -> None:
        """Replace the pages recorded for *site* by *pages*: (url, title, source file,
        [(image path, image url, how)]); call inside a transaction. A page is recorded once:
        the same URL, or the same HTML file, recorded from another source (a folder and one
        of its files read alone) is replaced by this reading."""
        self.db.execute("DELETE FROM pages WHERE site = ?", (site,))
        now = time.time()
        for url, title, source, images in pages:
            self.db.execute("DELETE FROM pages WHERE site != ? AND (url = ? OR source = ?)",
                            (site, url, source))
            page_id = self.db.execute(
                "INSERT INTO pages(site, url, title, source, indexed_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT(site, url) DO UPDATE SET title=excluded.title RETURNING id",
                (site, url, title, source, now)).fetchone()[0]
            self.db.executemany(
                "INSERT OR IGNORE INTO page_images(page_id, image, url, how) VALUES (?,?,?,?)",
                ((page_id, image, image_url, how) for image, image_url, how in images))

    def save(self, results: Iterable[Fingerprinted]) -> None:
        """Insert or replace the given results; call inside a transaction."""
        self._bump_generation()
        now = time.time()
        for r in results:
            st, info, fp = r.stat, r.info, r.fingerprint
            meta = (json.dumps(info.stored_metadata, ensure_ascii=False)
                    if info and info.stored_metadata else None)
            file_id = self.db.execute(
                _UPSERT_FILE + " RETURNING id",
                (st.path, st.size, st.mtime_ns, now, recipe_id() if fp else None, r.error,
                 info.format if info else None, info.width if info else None,
                 info.height if info else None, meta, *_identity(st))).fetchone()[0]
            if fp is None:
                self._put_derived(file_id, None, None, None)
            else:
                self._put_derived(
                    file_id, (to_signed(fp.phash), to_signed(fp.dhash),
                              fp.hashes.astype("<u8").tobytes(),
                              np.array(fp.trim, dtype="<f4").tobytes(), int(fp.flat)),
                    pack_thumb(stored_thumb(fp)), r.local)

    def _put_derived(self, file_id: int, prints: tuple | None, thumb: bytes | None,
                     local: LocalFeatures | None) -> None:
        """Write (or, given None, delete) a file's prints row (phash, dhash, hashes, trim,
        flat), its packed thumbnail and its keypoints: the one writer of the rows derived
        from a picture (save, put_files). Without prints, the others go too."""
        if prints is None:
            thumb = local = None
            self.db.execute("DELETE FROM prints WHERE file_id = ?", (file_id,))
            self.db.execute("DELETE FROM thumbs WHERE file_id = ?", (file_id,))
        else:
            phash, dhash, hashes, trim, flat = prints
            row = np.frombuffer(hashes, dtype="<u8") if isinstance(hashes, bytes) else hashes
            self.db.execute("INSERT OR REPLACE INTO prints(file_id, phash, dhash, hashes, trim,"
                            " flat) VALUES (?,?,?,?,?,?)",
                            (file_id, phash, dhash, pack_hashes(row, to_unsigned(phash), to_unsigned(dhash)),
                             pack_trim(trim), flat))
            self.db.execute("INSERT OR REPLACE INTO thumbs(file_id, thumb) VALUES (?, ?)",
                            (file_id, thumb))
        if local is None:
            self.db.execute("DELETE FROM keypoints WHERE file_id = ?", (file_id,))
        else:
            self.db.execute("INSERT OR REPLACE INTO keypoints(file_id, width, height, xy, descs)"
                            " VALUES (?,?,?,?,?)", (file_id, local.width, local.height,
                                                    *_keypoints_row(local)))

    def refresh(self, stats: Iterable[FileStat]) -> None:
        """Record the identity and ctime of unchanged files (rows from before schema 2);
        call inside a transaction. Their fingerprints stay."""
        self._bump_generation()
        self.db.executemany("UPDATE files SET dev = ?, ino = ?, ctime_ns = ? WHERE path = ?",
                            ((*_identity(st), st.path) for st in stats))

    def remember_roots(self, roots: Iterable[tuple[bytes, int]]) -> None:
        """Record indexed roots as (path, st_dev); call inside a transaction."""
        now = time.time()
        self.db.executemany("INSERT OR REPLACE INTO roots(path, dev, indexed_at) VALUES (?,?,?)",
                            ((p, d, now) for p, d in roots))

    def delete(self, ids: Iterable[int]) -> int:
        id_list = list(ids)
        if id_list:
            self._bump_generation()
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            self.db.execute(f"DELETE FROM files WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return len(id_list)


_SIZE_INDEX = SCHEMA[SCHEMA.index("CREATE INDEX IF NOT EXISTS files_size"):].split(";")[0]
#: Other names of an indexed file that an index run reached: a hard link, or a symbolic
#: link it followed (crawl.walk's ``same``). Shown beside the file, never as a copy.
_ALIASES = """CREATE TABLE IF NOT EXISTS aliases (
    path    BLOB PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    how     TEXT NOT NULL            -- "hard link" or "symbolic link"
)"""
_KEYPOINTS_TABLE = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS keypoints"):].split(";")[0]

_KNOWN_COLUMNS = "id, path, size, mtime_ns, recipe, error, dev, ino, ctime_ns"


def _known(row: tuple) -> Known:
    return Known(row[0], bytes(row[1]), *row[2:])


def _raw_thumb(blob: bytes, path: str) -> bytes:
    """The raw layout of a stored thumbnail (StoredFile.thumb); StoreError when damaged."""
    try:
        return unpack_thumb(blob)
    except ValueError as exc:
        raise damaged(path, exc) from None


def _keypoints_row(local: LocalFeatures) -> tuple[bytes, bytes]:
    """The stored (xy, descs) of local features: (b"", the packed blob) when packing
    (keypointcodec) makes them shorter, else the raw fields as they are."""
    if local.n and local.width > 0 and local.height > 0:
        blob = pack_keypoints(local.width, local.height, local.xy, local.desc)
        if len(blob) < len(local.xy) + len(local.desc):
            return b"", blob
    return local.xy, local.desc


def _local_features(row: tuple, path: str) -> LocalFeatures:
    """LocalFeatures of a keypoints row (file_id, width, height, xy, descs), raw or packed
    (an empty xy); a row whose positions and descriptors do not agree in number, or a packed
    blob that does not unpack, is a damaged index (StoreError)."""
    xy, desc = bytes(row[3]), bytes(row[4])
    if not row[1] or not row[2]:
        raise damaged(path, f"a stored keypoints row of a {row[1]} x {row[2]} picture")
    if not xy and desc:
        try:
            xy, desc = unpack_keypoints(row[1], row[2], desc)
        except ValueError as exc:
            raise damaged(path, exc) from None
    if len(desc) % 8 or len(xy) != len(desc) // 2:
        raise damaged(path, f"a stored keypoints row of {len(xy)} + {len(desc)} bytes")
    return LocalFeatures(row[1], row[2], xy, desc)


def _local_features_many(rows: list[tuple], path: str) -> list[LocalFeatures]:
    """_local_features of each row, the packed ones unpacked together (keypointcodec.unpack_many)."""
    packed = [i for i, r in enumerate(rows) if not r[3] and r[4] and r[1] and r[2]]
    try:
        fields = unpack_keypoints_many([(rows[i][1], rows[i][2], bytes(rows[i][4])) for i in packed])
    except ValueError as exc:
        raise damaged(path, exc) from None
    out = [None if not r[3] and r[4] and r[1] and r[2] else _local_features(r, path) for r in rows]
    for i, (xy, desc) in zip(packed, fields):
        out[i] = LocalFeatures(rows[i][1], rows[i][2], xy, desc)
    return out  # type: ignore[return-value]


def _descriptors_many(rows: list[tuple], path: str) -> list[bytes]:
    """The raw descriptors (n uint64 LE) of keypoints rows (file_id, descs, length of xy), raw
    or packed (an empty xy), the packed ones unpacked together; StoreError when damaged."""
    out = [bytes(r[1]) for r in rows]
    packed = [i for i, r in enumerate(rows) if not r[2] and r[1]]
    try:
        for i, desc in zip(packed, unpack_keypoint_descriptors_many([out[i] for i in packed])):
            out[i] = desc
    except ValueError as exc:
        raise damaged(path, exc) from None
    if any(r[2] and (len(r[1]) % 8 or r[2] != len(r[1]) // 2) for r in rows):
        raise damaged(path, "a stored keypoint descriptor row is not whole")
    return out


def _identity(st: FileStat) -> tuple[int | None, int | None, int | None]:
    if not st.ino:
        return (None, None, None)
    return (st.dev, st.ino, st.ctime_ns)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (Ctrl-C included).

    SQLite errors inside (disk full, read-only file system, a lock held too long) become one
    StoreError with the first error's reason (SQLite rolls back a transaction by itself on a
    full disk; the COMMIT that would then fail is not attempted, so it cannot hide the
    cause); the index keeps everything committed before it.
    """

    def __init__(self, db: sqlite3.Connection, path: str):
        self.db, self.path = db, path

    def __enter__(self) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path, "write") from None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        if exc_type is None:
            try:
                if self.db.in_transaction:
                    self.db.execute("COMMIT")
                return False
            except sqlite3.Error as err:
                self._rollback()
                raise _store_error(err, self.path, "write") from None
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise _store_error(exc, self.path, "write") from None
        return False

    def _rollback(self) -> None:
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _hashes(blobs: list[bytes], phash: np.ndarray, dhash: np.ndarray, path: str) -> np.ndarray:
    """printcodec.unpack_hashes of stored rows; a damaged row is a StoreError."""
    try:
        return unpack_hashes([bytes(b) for b in blobs], phash, dhash)
    except ValueError as exc:
        raise damaged(path, exc) from None


def _content(trim: bytes | None) -> float:
    if not trim:
        return 1.0
    left, top, right, bottom = (float(x) for x in np.frombuffer(trim, dtype="<f4"))
    return max(0.0, right - left) * max(0.0, bottom - top)


def _uri_path(path: str) -> str:
    """The path part of a file: URI, from the path's bytes (a name that is not UTF-8 too)."""
    from urllib.parse import quote

    return quote(os.fsencode(os.path.abspath(path)))


def _read_only_fs(path: str) -> bool:
    try:
        return bool(os.statvfs(os.path.dirname(os.path.abspath(path))).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _folder_unwritable(path: str) -> bool:
    """True when this user cannot create files beside *path* (its -wal and -shm)."""
    folder = os.path.dirname(os.path.abspath(path))
    return os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK, effective_ids=True)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def _check_db_path(path: str, *, create: bool) -> None:
    """Refuse, before SQLite opens anything (a FIFO would block; nothing may be created
    beside a device), a path that cannot be an index file.

    Raises:
        StoreError: the path is a folder, a FIFO, a device or a socket, or a file stands where
            a folder of the path should be.
    """
    if path in ("", ":memory:") or path.startswith("file::memory:"):
        # SQLite opens a private temporary or in-memory database for these names: nothing
        # would be kept, and no other command could read it.
        what = f"--db {path}" if path else "--db is empty: it"
        raise StoreError(f"{what} names no index file (SQLite would keep that database in "
                         "memory only, and lose it); give a file path, e.g. --db ./photos.db")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        st = None
    except OSError as exc:
        raise StoreError(f"cannot open index {path}: {exc.strerror or exc}") from None
    if st is not None:
        if not statmod.S_ISREG(st.st_mode):  # a folder, a FIFO, a device ...
            raise StoreError(f"--db {path} is {kind_of(st.st_mode)}; it must name an index file")
        return
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.lexists(parent):
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise StoreError(f"--db {path}: {parent} is a file, not a folder")
    if not create:
        raise StoreError(f"no index at {path}; run 'imgfind index DIR' first")
