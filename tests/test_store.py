"""store: schema 2 and its migration from schema 1, errors mapped at the boundary, --db checks."""

from __future__ import annotations

import os
import sqlite3

import pytest
from conftest import make_image

from imgfind import Index, Settings
from imgfind.errors import StoreError
from imgfind.store import SCHEMA_VERSION, Store

# The schema of imgfind before schema 2 (commit 105595a), as an old index on disk has it.
V1_SCHEMA = """
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
    recipe     INTEGER,          -- fingerprint recipe version, NULL when unreadable
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


def _v1_index(path, folder) -> None:
    """An index as imgfind with schema 1 left it: one fingerprinted file, no identity columns."""
    with Index.open(path.parent / "donor.db", Settings(jobs=1)) as idx:
        idx.update([folder])
    donor = sqlite3.connect(path.parent / "donor.db")
    con = sqlite3.connect(path)
    con.executescript(V1_SCHEMA)
    con.execute("PRAGMA application_id = 1768777574")
    con.execute("PRAGMA user_version = 1")
    cols = "id, path, size, mtime_ns, indexed_at, recipe, error, format, width, height, metadata"
    con.executemany(f"INSERT INTO files({cols}, mode, frames) VALUES ({','.join('?' * 13)})",
                    donor.execute(f"SELECT {cols}, 'RGB', 1 FROM files"))  # schema 1 filled both
    con.executemany("INSERT INTO prints VALUES (?,?,?,?,?,?)", donor.execute("SELECT * FROM prints"))
    con.executemany("INSERT INTO thumbs VALUES (?,?)", donor.execute("SELECT * FROM thumbs"))
    con.execute("INSERT INTO meta VALUES ('generation', '4')")
    con.commit()
    con.close()
    donor.close()


@pytest.fixture
def lib(tmp_path):
    d = tmp_path / "lib"
    d.mkdir()
    make_image(d / "a.jpg", seed=1)
    make_image(d / "a-copy.png", seed=1)
    make_image(d / "b.jpg", seed=2)
    return d


def test_a_schema_1_index_is_read_as_is_and_upgraded_by_the_next_writer(tmp_path, lib):
    db = tmp_path / "old.db"
    _v1_index(db, lib)
    with Index.open(db, readonly=True) as idx:  # status, dedupe and query on an old index
        assert idx.store.version == 1
        assert idx.store.counts()["files"] == 3
        assert [len(g.members) for g in idx.groups()] == [2]
    with Index.open(db, Settings(jobs=1)) as idx:
        assert idx.store.version == SCHEMA_VERSION
        assert len(idx.store.meta()["identity"]) == 32
        stats = idx.update([lib])
        # upgraded rows are not decoded again; their identity is filled in
        assert (stats.new, stats.changed, stats.unchanged) == (0, 0, 3)
        assert [len(g.members) for g in idx.groups()] == [2]
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    rows = con.execute("SELECT path, dev, ino, ctime_ns FROM files").fetchall()
    roots = con.execute("SELECT path FROM roots").fetchall()
    columns = {row[1] for row in con.execute("PRAGMA table_info(files)")}
    con.close()
    if sqlite3.sqlite_version_info >= (3, 35):  # DROP COLUMN: schema 1's unread columns go
        assert not columns & {"mode", "frames"}, columns
    for path, dev, ino, ctime in rows:
        st = os.stat(path)
        assert (dev, ino, ctime) == (st.st_dev, st.st_ino, st.st_ctime_ns)
    assert roots == [(os.fsencode(lib),)]


def test_identity_is_random_per_index_and_write_token_changes_on_every_write(tmp_path, lib):
    with Store(tmp_path / "one.db") as one, Store(tmp_path / "two.db") as two:
        assert one.meta()["identity"] != two.meta()["identity"]
        before = one.meta()["write_token"]
        with one.transaction():
            one.delete([])
            one.save([])
        assert one.meta()["write_token"] != before


def test_a_file_under_a_file_a_folder_and_a_fifo_are_refused_before_sqlite(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    os.mkfifo(tmp_path / "pipe.db")
    (tmp_path / "dir.db").mkdir()
    for path, words in ((tmp_path / "notes.txt" / "i.db", "is a file, not a folder"),
                        (tmp_path / "pipe.db", "FIFO"), (tmp_path / "dir.db", "is a folder")):
        before = sorted(os.listdir(tmp_path))
        for readonly in (False, True):
            with pytest.raises(StoreError, match=words):
                Store(path, readonly=readonly)
        assert sorted(os.listdir(tmp_path)) == before


def test_a_damaged_table_is_one_store_error_with_a_rebuild_hint(tmp_path, lib):
    db = tmp_path / "i.db"
    with Index.open(db, Settings(jobs=1)) as idx:
        idx.update([lib])
    con = sqlite3.connect(db)
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'files'").fetchone()[0]
    size = con.execute("PRAGMA page_size").fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\x5a" * size)
    with Store(db, readonly=True) as store:
        with pytest.raises(StoreError, match=r"damaged.*imgfind index DIR"):
            store.counts()
        with pytest.raises(StoreError, match="damaged"):
            store.known_under([os.fsencode(lib)])


def test_records_and_thumbs_leave_out_ids_that_are_gone(tmp_path, lib):
    with Index.open(tmp_path / "i.db", Settings(jobs=1)) as idx:
        idx.update([lib])
        ids = sorted(idx.store.ids_under([os.fsencode(lib)]))
        with idx.store.transaction():
            idx.store.delete(ids[:1])
        assert sorted(idx.store.records(ids)) == ids[1:]
        assert sorted(idx.store.thumbs(ids)) == ids[1:]


def test_non_utf8_db_name_opens_read_only(tmp_path, lib):
    db = os.fsdecode(os.fsencode(tmp_path) + b"/index-\xff.db")
    with Index.open(db, Settings(jobs=1)) as idx:
        idx.update([lib])
    with Store(db, readonly=True) as store:
        assert store.counts()["files"] == 3


def test_the_wal_switch_gives_up_at_the_deadline_when_sqlite_never_switches(tmp_path):
    """SQLite answers ``PRAGMA journal_mode = WAL`` with the old mode, without an error, for a
    temporary database: the retry loop must still end at the store's timeout, as a StoreError."""
    import threading

    store = Store.__new__(Store)
    store.path, store.timeout = "(temporary)", 0.3
    raised: list[BaseException] = []

    def switch() -> None:  # in a thread: an endless loop fails the test instead of hanging it
        store.db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        try:
            store._use_wal()
        except StoreError as exc:
            raised.append(exc)

    worker = threading.Thread(target=switch, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the WAL retry loop never ends"
    assert raised and "journal mode" in str(raised[0])
