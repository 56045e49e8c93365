"""Issue 11, section 3: no traceback, ever.

Whatever the pictures, the index file, the --db path or the disk, a command ends with its
result or with one ``Error: ...`` line on stderr and exit 1: no traceback, no hang, no stray
file beside a path that is not an index.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from faults_support import cli_run, ok, one_error_line, photo, sub_run, text
from helpers import mount_tmpfs, umount


# (Blank pictures with the plain --threshold rule: tests/test_faults_plain_rule.py.)


# ----------------------------------------------------------------------------- a damaged index
def _damage_table_pages(db: Path) -> None:
    """Overwrite the root page of every table with garbage (sqlite_master, page 1, stays)."""
    con = sqlite3.connect(db)
    roots = [r for (r,) in con.execute("SELECT rootpage FROM sqlite_master WHERE type = 'table'")
             if r and r > 1]
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    assert roots
    with open(db, "r+b") as f:
        for page in roots:
            f.seek((page - 1) * page_size)
            f.write(bytes([0x5A]) * page_size)


@pytest.mark.parametrize("command", ["status", "status -v", "dedupe", "dedupe DIR", "query",
                                     "index DIR"])
def test_damaged_index_is_one_error_line_with_a_rebuild_hint(tmp_path, command):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(12):
        photo(folder / f"p{i}.jpg", seed=i)
    probe = tmp_path / "probe.png"
    photo(probe, seed=3)
    db = tmp_path / "i.db"
    ok(cli_run("--db", str(db), "index", str(folder)))
    for p in tmp_path.iterdir():  # no sidecar: the damaged pages are what is read
        if p.name.startswith(db.name) and p != db:
            p.unlink()
    _damage_table_pages(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()

    args = {"status": ["status"], "status -v": ["status", "-v"], "dedupe": ["dedupe"],
            "dedupe DIR": ["dedupe", str(folder)], "query": ["query", str(probe)],
            "index DIR": ["index", str(folder)]}[command]
    if command == "status -v":  # -v before the command: works today, the point is the error
        args = ["-v", "status"]
    done = sub_run("--db", str(db), *args)
    line = one_error_line(done.returncode, text(done.stderr))
    assert re.search(r"damaged|corrupt", line, re.I), f"does not say the index is damaged: {line}"
    assert re.search(r"rebuild|imgfind index|delete|remove", line, re.I), (
        f"does not say what to do: {line}")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before, "the damaged index was changed"


@pytest.mark.parametrize("damage", [
    "UPDATE thumbs SET thumb = substr(thumb, 1, 5)",
    "UPDATE thumbs SET thumb = randomblob(length(thumb) + 3)",
    "UPDATE prints SET trim = randomblob(7)",
    "UPDATE files SET metadata = '{bad json'",
    "UPDATE keypoints SET xy = randomblob(5)",  # positions that do not fit the descriptors
    "UPDATE keypoints SET descs = randomblob(length(descs) + 3)",
])
def test_a_damaged_row_is_the_same_damaged_index_line_as_a_damaged_page(tmp_path, damage):
    """A stored value that does not decode (a thumbnail, a trim box, metadata, keypoints) is
    a damaged index, said in the one wording a damaged b-tree page gets: what to delete (the
    index with its -wal and -shm files) and the rebuild command; never a traceback."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        photo(folder / f"p{i}.jpg", seed=i)
    photo(folder / "p1-copy.png", seed=1)  # a group: its members' records are read
    db = tmp_path / "i.db"
    ok(cli_run("--db", str(db), "index", str(folder)))
    for p in tmp_path.iterdir():  # no sidecar: the damaged rows are what is read
        if p.name.startswith(db.name) and p != db and p.is_file():
            p.unlink()
    con = sqlite3.connect(db)
    assert con.execute(damage).rowcount > 0
    con.commit()
    con.close()
    want = (rf"^Error: the index {re.escape(str(db))} is damaged \(.+\); rebuild it: delete it "
            r"\(with its -wal and -shm files\) and run 'imgfind index DIR' again$")
    for args in (["dedupe"], ["dedupe", "-f", "json"], ["query", str(folder / "p1.jpg")]):
        done = sub_run("--db", str(db), *args, timeout=120)
        if done.returncode == 0 and "keypoints" in damage and args[0] == "dedupe":
            continue  # dedupe reads keypoints only for candidates it needs them for
        line = one_error_line(done.returncode, text(done.stderr))
        assert re.match(want, line), (args, line)


# ----------------------------------------------------------------------------- --db paths
def test_db_name_that_is_not_utf8_works_for_every_command(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    im = photo(folder / "a.jpg", seed=1)
    im.save(folder / "a.png")
    db = os.fsencode(tmp_path) + b"/index-\xff\xfe.db"
    for args in (["index", str(folder)], ["status"], ["-v", "status"], ["dedupe"],
                 ["dedupe", str(folder)], ["query", str(folder / "a.png")]):
        done = sub_run("--db", db, *args)
        assert done.returncode == 0 and b"Traceback" not in done.stderr, (args, text(done.stderr))
    assert os.path.exists(db)


def _tree(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(dp, n), root)
            for dp, dns, fns in os.walk(root) for n in dns + fns}


COMMANDS = {
    "index": lambda f, p: ["index", str(f)],
    "status": lambda f, p: ["status"],
    "dedupe": lambda f, p: ["dedupe"],
    "dedupe DIR": lambda f, p: ["dedupe", str(f)],
    "query": lambda f, p: ["query", str(p)],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", ["fifo", "directory", "under-a-file", "char-device"])
def test_db_that_cannot_be_an_index_is_one_error_line(tmp_path, kind, command):
    """--db naming a FIFO, a folder, a path under a regular file or a device: one Error line,
    exit 1, never a hang (on a FIFO: faults_support.HANG_SECONDS), no file made beside it or in it."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a.jpg", seed=1)
    probe = folder / "a.jpg"
    place = tmp_path / "place"
    place.mkdir()
    if kind == "fifo":
        db = place / "i.db"
        os.mkfifo(db)
    elif kind == "directory":
        db = place / "i.db"
        db.mkdir()
    elif kind == "under-a-file":
        (place / "notes.txt").write_text("a file, not a folder\n")
        db = place / "notes.txt" / "i.db"
    else:
        db = place / "i.db"
        try:
            os.mknod(db, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # like /dev/null
        except (PermissionError, OSError):
            pytest.skip("mknod refused: a character device needs root")
    before = _tree(tmp_path)
    try:
        done = sub_run("--db", str(db), *COMMANDS[command](folder, probe))
    except subprocess.TimeoutExpired:
        pytest.fail(f"--db {kind}: '{command}' hangs")
    line = one_error_line(done.returncode, text(done.stderr))
    assert "disk I/O error" not in line and "File exists" not in line, (
        f"the message hides the cause: {line}")
    assert _tree(tmp_path) == before, f"stray files: {sorted(_tree(tmp_path) - before)}"


@pytest.mark.parametrize("command", ["index", "status", "dedupe", "query"])
@pytest.mark.parametrize("name", ["", ":memory:"])
def test_db_name_sqlite_keeps_in_memory_is_one_error_line(tmp_path, name, command):
    """--db "" and --db :memory: name SQLite's temporary and in-memory databases, not a file:
    one Error line, exit 1, at once (index used to loop forever waiting for WAL)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a.jpg", seed=1)
    args = {"index": ["index", str(folder)], "status": ["status"], "dedupe": ["dedupe", str(folder)],
            "query": ["query", str(folder / "a.jpg")]}[command]
    try:
        done = sub_run("--db", name, *args, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"--db {name!r}: '{command}' hangs")
    line = one_error_line(done.returncode, text(done.stderr))
    assert "--db" in line and "file" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"], "a file was made"


def test_empty_imgfind_db_variable_still_means_the_default_index(tmp_path):
    """IMGFIND_DB= (set but empty) is the default index, as unset; only --db "" is refused."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a.jpg", seed=1)
    env = {"IMGFIND_DB": "", "XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    done = sub_run("index", str(folder), env=env)
    assert done.returncode == 0, text(done.stderr)
    assert (tmp_path / "xdg" / "imgfind" / "index.db").exists()


def test_db_under_a_file_is_no_index_for_every_reading_command(tmp_path):
    """--db afile/sub.db (afile a regular file): every reading command says the same clear
    thing, "no index at ...", never an error about a side file of the index (dedupe read
    <index>.act/ignore.json first and printed "[Errno 20] Not a directory")."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a.jpg", seed=1)
    (tmp_path / "afile").write_text("a file, not a folder\n")
    db = str(tmp_path / "afile" / "sub.db")
    for args in (["status"], ["dedupe"], ["dedupe", "-f", "json"], ["dedupe", "--keep", "newest"],
                 ["query", str(folder / "a.jpg")]):
        result = cli_run("--db", db, *args)
        line = one_error_line(result.exit_code, result.stderr)
        assert line == f"Error: no index at {db}; run 'imgfind index DIR' first", (args, line)


# ----------------------------------------------------------------------------- a full disk
def test_full_disk_says_the_disk_is_full(tmp_path):
    """Every command on an index whose disk is full names the cause (no space), never SQLite's
    'cannot commit - no transaction is active'."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(160):
        photo(folder / f"p{i:03d}.png", seed=i, size=(64, 48))
    point = mount_tmpfs("400k")
    if point is None:
        pytest.skip("mount refused: a full disk needs a real small file system")
    try:
        db = str(point / "i.db")
        sub_run("--db", db, "-q", "index", "-j", "1", str(folder), timeout=300)
        filler = point / "filler"  # whatever room is left, take it
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        more = tmp_path / "more"
        more.mkdir()
        for i in range(5):
            photo(more / f"m{i}.png", seed=1000 + i, size=(64, 48))
        for args in (["index", str(more)], ["status"], ["dedupe"], ["dedupe", str(more)],
                     ["query", str(more / "m1.png")]):
            done = sub_run("--db", db, *args, timeout=120)
            err = text(done.stderr)
            assert "Traceback" not in err, (args, err)
            assert "no transaction is active" not in err, (args, err)
            if done.returncode != 0:
                line = one_error_line(done.returncode, err)
                assert re.search(r"full|no space", line, re.I), (args, line)
    finally:
        umount(point)


# ----------------------------------------------------------------------------- races
@pytest.mark.slow
def test_dedupe_while_an_index_run_removes_files(tmp_path):
    """A whole-index dedupe while `index` removes files from the same database: never a
    KeyError traceback (24 of 60 runs today); each dedupe ends with exit 0."""
    folder = tmp_path / "photos"
    away = tmp_path / "away"
    folder.mkdir()
    away.mkdir()
    for i in range(150):
        im = photo(folder / f"p{i:03d}.jpg", seed=i, size=(96, 72))
        im.save(folder / f"p{i:03d}-copy.png")
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "-q", "index", str(folder)))
    stop = threading.Event()
    failures: list[str] = []
    runs = 0

    def writer() -> None:
        # At least 8 remove/restore cycles, and on until 6 dedupes overlapped them (a slow,
        # loaded machine runs fewer dedupes per cycle); bounded so a hang still ends.
        try:
            cycle = 0
            while cycle < 8 or (runs < 6 and cycle < 60):
                cycle += 1
                for p in sorted(folder.glob("*-copy.png")):
                    os.replace(p, away / p.name)
                sub_run("--db", db, "-q", "index", str(folder), timeout=300)
                for p in sorted(away.iterdir()):
                    os.replace(p, folder / p.name)
                sub_run("--db", db, "-q", "index", str(folder), timeout=300)
        finally:
            stop.set()

    t = threading.Thread(target=writer)
    t.start()
    try:
        while not stop.is_set():
            done = sub_run("--db", db, "dedupe", "--format", "json", timeout=300)
            runs += 1
            if done.returncode != 0 or b"Traceback" in done.stderr:
                failures.append(text(done.stderr)[-400:])
    finally:
        t.join()
    assert runs >= 5, f"only {runs} dedupe runs overlapped the writer"
    assert not failures, f"{len(failures)} of {runs} dedupes failed; first: {failures[0]}"


@pytest.mark.parametrize("command", [["status"], ["dedupe"], ["index", "FOLDER"], ["query", "PHOTO"]])
def test_db_that_is_a_photo_is_no_index_and_never_to_be_deleted(tmp_path, command):
    """--db naming a photo by mistake (new-user trial, session 8): the message said the index
    was damaged and to delete it; it must say the file is no index, and leave it as it was."""
    from helpers import make_image

    photo = tmp_path / "photo.jpg"
    make_image(photo, seed=3)
    before = photo.read_bytes()
    folder = tmp_path / "lib"
    folder.mkdir()
    make_image(folder / "a.jpg", seed=4)
    args = [str(folder) if a == "FOLDER" else str(photo) if a == "PHOTO" else a for a in command]
    run = subprocess.run([sys.executable, "-m", "imgfind", "--db", str(photo), *args],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "not an imgfind index" in run.stderr and "delete" not in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert photo.read_bytes() == before
