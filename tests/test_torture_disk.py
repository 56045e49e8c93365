"""Torture: the index on a full disk and on a read-only file system.

Real file systems where the machine allows it: a size-limited tmpfs mounted for the test
(root, as here and in CI). Where mounting is refused, disk-full is simulated at the SQLite
layer with PRAGMA max_page_count, which makes SQLite fail with the same SQLITE_FULL
("database or disk is full") a full disk gives; the report says which was used. The
read-only tests need the mount and are skipped without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import mount_tmpfs, umount
from torture_corpus import (count_rows, differences, integrity, record, run_cli, snapshot, summary,
                            write_images)

from imgfind.errors import StoreError
from imgfind.index import Index, Settings
from imgfind.store import PAGE_SIZE

pytestmark = pytest.mark.slow

IMAGES = 240


def _remount(point: Path, options: str) -> None:
    done = subprocess.run(["mount", "-o", f"remount,{options}", str(point)], capture_output=True,
                          timeout=10)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("disk") / "photos"
    write_images(folder, IMAGES, per_dir=120)
    reference = folder.parent / "reference.db"
    assert run_cli(reference, "index", str(folder)).returncode == 0
    return folder, snapshot(reference)


@pytest.fixture
def small_fs():
    # Room for the empty schema (one 16 KiB page per table and index, store.PAGE_SIZE) and a
    # few commits, not for all IMAGES.
    point = mount_tmpfs("1m")
    if point is None:
        yield None
        return
    try:
        yield point
    finally:
        umount(point)


def test_disk_full_mid_run_is_a_clear_error_and_keeps_committed_work(
        photos, small_fs, tmp_path, monkeypatch):
    folder, expected = photos
    if small_fs is not None:
        how = "real: tmpfs of 400 KiB"
        db = small_fs / "index.db"
    else:  # honest simulation: SQLite's own SQLITE_FULL through a page limit
        how = "simulated: PRAGMA max_page_count (mount refused)"
        db = tmp_path / "index.db"
        real_connect = sqlite3.connect

        def limited(*args, **kwargs):
            con = real_connect(*args, **kwargs)
            # a few pages past the empty schema (about 17 of them): 100 pages of 4 KiB before
            # schema 4, now 128 KiB at store.PAGE_SIZE
            con.execute(f"PRAGMA max_page_count = {128 * 1024 // PAGE_SIZE + 17}")
            return con

        monkeypatch.setattr("imgfind.store.sqlite3.connect", limited)
    with pytest.raises(StoreError) as err:
        with Index.open(db, Settings(jobs=1, commit_every=20)) as idx:
            idx.update([folder])
    message = str(err.value)
    assert "database or disk is full" in message and "\n" not in message, message
    assert integrity(db) == "ok"
    committed = count_rows(db)
    assert 0 < committed < IMAGES, committed
    # The CLI says the same in one line, with exit code 1 and no traceback.
    if small_fs is not None:
        done = run_cli(db, "index", str(folder))
        assert done.returncode == 1
        assert done.stderr.strip().splitlines()[-1].startswith("Error: cannot write index")
        assert "Traceback" not in done.stderr and "disk is full" in done.stderr
        assert integrity(db) == "ok" and count_rows(db) >= committed
        committed = count_rows(db)
        _remount(small_fs, "size=16m")  # space freed: the next run finishes the job
    else:
        monkeypatch.undo()
    again = run_cli(db, "index", str(folder))
    assert again.returncode == 0, again.stderr
    assert summary(again.stderr)[:3] == (IMAGES - committed, 0, committed)
    got = snapshot(db)
    assert got == expected, differences(got, expected)
    record("disk full and read-only", **{"disk full": how,
                                         "rows committed before the disk filled": committed,
                                         "integrity after ENOSPC": "ok",
                                         "after space was freed": "completed, equal to reference"})


def test_disk_full_when_creating_the_index(photos):
    folder, _ = photos
    point = mount_tmpfs("8k")
    if point is None:
        pytest.skip("mount refused: creation on a full disk needs a real file system")
    try:
        done = run_cli(point / "index.db", "index", str(folder))
        assert done.returncode == 1
        assert "Traceback" not in done.stderr
        last = done.stderr.strip().splitlines()[-1]
        # SQLite says "database or disk is full", or "disk I/O error" when it is the -shm
        # file that cannot grow: clear enough to act on, though not naming the cause.
        assert last.startswith("Error: cannot ") and ("full" in last or "I/O" in last), last
        if (point / "index.db").exists():  # whatever was written is sound (read as is)
            con = sqlite3.connect(f"file:{point / 'index.db'}?immutable=1", uri=True)
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            con.close()
        record("disk full and read-only", **{"creating an index on a full disk": last})
    finally:
        umount(point)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@contextlib.contextmanager
def _read_only_index(folder: Path) -> Iterator[Path]:
    """An index of *folder* on a small file system that is then remounted read-only."""
    point = mount_tmpfs("16m")
    if point is None:
        pytest.skip("mount refused: a read-only file system cannot be made here")
    try:
        db = point / "index.db"
        assert run_cli(db, "index", str(folder)).returncode == 0
        _remount(point, "ro")
        yield db
    finally:
        umount(point)


def test_read_only_file_system(photos, tmp_path):
    folder, expected = photos
    extra = tmp_path / "extra"
    write_images(extra, 3, start=5000)
    with _read_only_index(folder) as db:
        before = _digest(db.parent)
        # Writing is refused in one clear line, exit 1, nothing touched.
        done = run_cli(db, "index", str(extra))
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: cannot ") and "index" in last, last
        assert _digest(db.parent) == before
        record("disk full and read-only", **{"index on a read-only file system": last})


def test_query_on_a_read_only_file_system(photos):
    folder, _ = photos
    with _read_only_index(folder) as db:
        probe = next(folder.rglob("img000004.jpg"))
        done = run_cli(db, "query", str(probe))
        record("disk full and read-only", **{"query on a read-only file system":
                                             done.stderr.strip() or "works"})
        assert done.returncode == 0, done.stderr
        assert os.path.basename(probe) in done.stdout
