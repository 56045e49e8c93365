"""Files imgfind writes for the user (export --parquet, report -o, dedupe --plan) never replace
a special file: an existing FIFO, socket or directory at the name is refused with one Error
line and exit 1; a symbolic link is written through (the link stays, the file it points to is
replaced), as a shell's ``>`` does; an existing regular file is replaced and keeps its mode.

(A new-user trial: ``export --parquet /dev/full`` as root replaced the device node with a plain
file, and a FIFO or symlink at the name was swapped for a plain file too.) Tests use FIFOs,
sockets and symlinks in tmp dirs only, never /dev nodes.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest
from faults_support import cli_run, ok, one_error_line, photo

WRITERS = {
    "export": lambda db, out: ["--db", db, "export", "--parquet", out],
    "report": lambda db, out: ["--db", db, "report", "-o", out],
    "plan": lambda db, out: ["--db", db, "dedupe", "--plan", out],
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> str:
    """An index of two copies of one picture and one other picture."""
    folder = tmp_path_factory.mktemp("writers")
    im = photo(folder / "a.jpg", seed=1, quality=95)
    im.save(folder / "a-copy.png")
    photo(folder / "b.jpg", seed=2)
    db = str(folder / "i.db")
    ok(cli_run("--db", db, "index", str(folder)))
    return db


def _special(kind: str, where: Path) -> Path:
    if kind == "fifo":
        path = where / "out.x"
        os.mkfifo(path)
    elif kind == "device":  # a character device node made in the tmp dir (as /dev/full), root only
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        path = where / "out.x"
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    elif kind == "directory":
        path = where / "out.x"
        path.mkdir()
    else:  # a Unix socket: its path must be short (about 100 bytes)
        path = Path(tempfile.mkdtemp(prefix="ifw-", dir="/tmp")) / "s"
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    return path


def _mode(path: Path) -> int:
    return os.lstat(path).st_mode


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("kind", ["fifo", "socket", "device", "directory"])
def test_writer_refuses_existing_special_file(tmp_path, indexed, writer, kind):
    path = _special(kind, tmp_path)
    try:
        before = _mode(path)
        result = cli_run(*WRITERS[writer](indexed, str(path)))
        line = one_error_line(result.exit_code, result.stderr)
        word = {"fifo": "FIFO", "socket": "socket", "device": "character device",
                "directory": "folder"}[kind]
        assert word in line and str(path) in line, line
        assert _mode(path) == before, f"{writer} replaced the {kind}"
        leftovers = [p for p in path.parent.iterdir() if p != path]
        assert not leftovers, f"{writer} left {leftovers}"
    finally:
        if kind == "socket":
            shutil.rmtree(path.parent, ignore_errors=True)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_writer_writes_through_symlink(tmp_path, indexed, writer):
    real = tmp_path / "real.txt"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.out"
    link.symlink_to("real.txt")
    ok(cli_run(*WRITERS[writer](indexed, str(link))))
    assert link.is_symlink() and os.readlink(link) == "real.txt", "the link itself was replaced"
    assert real.read_bytes() != b"old" and real.stat().st_size > 100
    assert stat.S_IMODE(real.stat().st_mode) == 0o640, "the target's mode was not kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.out", "real.txt"]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_writer_creates_target_of_dangling_symlink(tmp_path, indexed, writer):
    link = tmp_path / "link.out"
    link.symlink_to("made.txt")
    ok(cli_run(*WRITERS[writer](indexed, str(link))))
    assert link.is_symlink() and (tmp_path / "made.txt").stat().st_size > 100


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_writer_refuses_symlink_to_fifo(tmp_path, indexed, writer):
    os.mkfifo(tmp_path / "pipe")
    link = tmp_path / "link.out"
    link.symlink_to("pipe")
    result = cli_run(*WRITERS[writer](indexed, str(link)))
    line = one_error_line(result.exit_code, result.stderr)
    assert "FIFO" in line
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(link).st_mode)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_writer_replaces_regular_file(tmp_path, indexed, writer):
    out = tmp_path / "out.x"
    out.write_text("old")
    ok(cli_run(*WRITERS[writer](indexed, str(out))))
    assert out.is_file() and out.stat().st_size > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.x"]
