"""Issue 11, section 2: the sidecar cache of hash arrays is checked, not trusted.

The sidecar is whatever imgfind keeps beside the index whose name starts with the index's
name (today ``<db>-prints.npz``); these tests never rely on its exact name or format. A
sidecar belongs to one index: a leftover from a deleted database or a sidecar newer than a
restored backup is ignored and rebuilt; temporary files of killed writers do not pile up;
an index on a read-only file system is read with its committed WAL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from faults_support import cli_run, group_names, json_doc, ok, photo, status_count, sub_run, text
from helpers import mount_tmpfs, umount
from PIL import Image

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def _sidecars(db: Path) -> list[Path]:
    """Files beside *db* that start with its name and are not SQLite's own."""
    return [p for p in db.parent.iterdir()
            if p.name.startswith(db.name) and p.name not in {db.name + s for s in SQLITE_SUFFIXES}]


def _delete_database_only(db: Path) -> None:
    for s in SQLITE_SUFFIXES:
        try:
            os.unlink(str(db) + s)
        except FileNotFoundError:
            pass


def _distinct(folder: Path, n: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        photo(folder / f"p{i:02d}.jpg", seed=seed + i)


def _pairs(folder: Path, n_pairs: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_pairs):
        im = photo(folder / f"p{2 * i:02d}.jpg", seed=seed + i)
        im.resize((200, 150), Image.Resampling.LANCZOS).save(folder / f"p{2 * i + 1:02d}.jpg")


def test_leftover_sidecar_of_a_deleted_database_is_not_trusted(tmp_path):
    """Index A, dedupe (sidecar written), delete the database only, index B (same row count,
    same generation), dedupe: B's groups, not A's; query finds B's copies."""
    a, b = tmp_path / "A", tmp_path / "B"
    _distinct(a, 10, seed=100)  # 10 files, no groups
    _pairs(b, 5, seed=200)  # 10 files, 5 groups
    probe = tmp_path / "probe.png"
    Image.open(b / "p02.jpg").save(probe)
    db = tmp_path / "i.db"

    assert group_names(json_doc(cli_run("--db", str(db), "dedupe", str(a), "--format", "json"))) == []
    ok(cli_run("--db", str(db), "dedupe", "--format", "json"))  # the whole index: the sidecar
    assert _sidecars(db), "precondition: a dedupe leaves a sidecar beside the index"
    _delete_database_only(db)

    ok(cli_run("--db", str(db), "index", str(b)))
    for rule in ([], ["--threshold", "6"]):
        doc = json_doc(cli_run("--db", str(db), "dedupe", "--format", "json", *rule))
        assert len(group_names(doc)) == 5, (
            f"{rule}: groups of the deleted index's sidecar: {group_names(doc)}")
    q = json_doc(cli_run("--db", str(db), "query", str(probe), "--format", "json"))
    assert sorted(os.path.basename(m["path"]) for m in q["matches"]) == ["p02.jpg", "p03.jpg"], q["matches"]


def test_sidecar_newer_than_a_restored_backup_is_not_trusted(tmp_path):
    """A database restored from a backup, then updated to the same generation and row count
    as a sidecar written after the backup: the sidecar is not the restored index's."""
    folder = tmp_path / "photos"
    _distinct(folder, 10, seed=300)  # state 1: 10 distinct
    db = tmp_path / "i.db"
    backup = tmp_path / "backup.db"
    ok(cli_run("--db", str(db), "index", str(folder)))
    shutil.copy(db, backup)  # the connection is closed: the WAL is checkpointed

    stamp = 1_700_000_000_000_000_000
    for i in range(10):  # state 2: 10 other distinct pictures under the same names
        photo(folder / f"p{i:02d}.jpg", seed=400 + i)
        os.utime(folder / f"p{i:02d}.jpg", ns=(stamp, stamp))
    ok(cli_run("--db", str(db), "index", str(folder)))
    assert group_names(json_doc(cli_run("--db", str(db), "dedupe", "--format", "json"))) == []
    assert _sidecars(db), "precondition: a dedupe leaves a sidecar beside the index"

    _delete_database_only(db)
    shutil.copy(backup, db)  # restore
    for i in range(5):  # state 3: 5 pictures and their copies, under the same names
        im = photo(folder / f"p{2 * i:02d}.jpg", seed=500 + i)
        im.resize((200, 150), Image.Resampling.LANCZOS).save(folder / f"p{2 * i + 1:02d}.jpg")
    for p in folder.iterdir():
        os.utime(p, ns=(stamp + 10**9, stamp + 10**9))
    ok(cli_run("--db", str(db), "index", str(folder)))
    doc = json_doc(cli_run("--db", str(db), "dedupe", "--format", "json"))
    assert len(group_names(doc)) == 5, f"the index holds 5 pairs, got {group_names(doc)}"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_sidecar_files_of_killed_writers_are_cleaned(tmp_path):
    """kill -9 while the sidecar is rebuilt leaves a temporary file; the next writer of the
    sidecar removes the temporary files of writers that are gone (an hour old, dead pid)."""
    folder = tmp_path / "photos"
    _pairs(folder, 3, seed=600)
    db = tmp_path / "i.db"
    ok(cli_run("--db", str(db), "index", str(folder)))
    hour_ago = os.stat(folder).st_mtime_ns - 3600 * 10**9
    stale = []
    for pid in (_dead_pid(), _dead_pid()):
        leftover = tmp_path / f"{db.name}-prints.npz.{pid}.tmp"  # what a kill -9 leaves today
        leftover.write_bytes(os.urandom(4096))
        os.utime(leftover, ns=(hour_ago, hour_ago))
        stale.append(leftover)
    ok(cli_run("--db", str(db), "dedupe", "--format", "json"))
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(db.name) and p.name.endswith(".tmp")]
    assert left == [], f"temporary files of killed writers stay for good: {left}"


# The last writer ends without closing the index cleanly (as after kill -9): another
# connection is held open so that closing does not checkpoint, then the process exits at once.
_KILLED_WRITER = """
import os, sqlite3, sys
from imgfind.cli import cli
db, folder = sys.argv[1], sys.argv[2]
hold = sqlite3.connect(db)
hold.execute("SELECT count(*) FROM sqlite_master").fetchone()
try:
    cli.main(["--db", db, "-q", "index", "-j", "1", folder], prog_name="imgfind", standalone_mode=False)
finally:
    os._exit(0)
"""


def test_read_only_index_is_read_with_its_committed_wal(tmp_path):
    """On a read-only mount, an index whose last writer was killed (committed rows still in the
    -wal file) is read with them: status counts them, dedupe groups them."""
    first, second = tmp_path / "first", tmp_path / "second"
    _distinct(first, 1, seed=700)
    _pairs(second, 10, seed=800)  # 20 files, 10 groups
    work = tmp_path / "work"
    work.mkdir()
    db = work / "i.db"
    ok(cli_run("--db", str(db), "index", str(first)))
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(db), str(second)],
                          capture_output=True, timeout=120)
    assert done.returncode == 0, text(done.stderr)
    assert os.path.getsize(str(db) + "-wal") > 0, "precondition: committed rows in the WAL"

    point = mount_tmpfs("32m")
    if point is None:
        pytest.skip("mount refused: a read-only file system cannot be made here")
    try:
        for name in (db.name, db.name + "-wal"):
            shutil.copy(work / name, point / name)
        remount = subprocess.run(["mount", "-o", "remount,ro", str(point)], capture_output=True,
                                 timeout=10)
        assert remount.returncode == 0, remount.stderr
        ro_db = str(point / db.name)
        status = sub_run("--db", ro_db, "status")
        assert status.returncode == 0, text(status.stderr)
        assert status_count(text(status.stdout), "files") == 21, text(status.stdout)
        dd = sub_run("--db", ro_db, "dedupe", "--format", "paths")
        assert dd.returncode == 0, text(dd.stderr)
        groups = [g for g in text(dd.stdout).split("\n\n") if g.strip()]
        assert len(groups) == 10, f"committed groups lost on a read-only mount: {len(groups)}"
    finally:
        umount(point)
