"""Ctrl-C (issue 11, "output says what it means"; new-user trial): an interrupted index or
dedupe prints one line saying it was interrupted and that what was done is kept, exits 130
(128 + SIGINT, as a shell reports it), never Click's "Aborted!" with exit 1, never a
traceback; the files committed before the interrupt stay indexed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from helpers import make_image

from imgfind.cli_common import EXIT_INTERRUPTED, INTERRUPTED


def _indexed(db: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT count(*) FROM prints").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _sigint_default() -> None:
    """In the child: SIGINT as a terminal gives it. A shell without job control starts its
    background jobs with SIGINT ignored, and a child inherits that: pytest run that way saw
    imgfind ignore the Ctrl-C (as it should: an ignored SIGINT is the caller's choice)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(args: list[str], db: str, ready) -> subprocess.CompletedProcess:
    """Run imgfind in its own process group, send SIGINT to the whole group (as a terminal's
    Ctrl-C does: workers too) once ready() is true."""
    proc = subprocess.Popen([sys.executable, "-m", "imgfind", "--db", db, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_sigint_default)
    deadline = time.monotonic() + 120
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before the interrupt: make the library larger"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _check_interrupted(run: subprocess.CompletedProcess) -> None:
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode == EXIT_INTERRUPTED, (run.returncode, err)
    assert err.strip().splitlines()[-1] == INTERRUPTED, err
    assert "Aborted!" not in err and "Traceback" not in err, err


N = 1200  # about 12 s of -j 1 indexing on a quiet machine: the first commit (2 s) comes well before the end


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """N small photos: a -j 1 index of them takes several commits (Settings.commit_seconds)."""
    folder = tmp_path_factory.mktemp("interrupt") / "lib"
    folder.mkdir()
    for i in range(N):
        make_image(folder / f"p{i:03d}.jpg", seed=i, size=(320, 240))
    return folder


def test_ctrl_c_during_index_says_so_keeps_the_work_and_exits_130(tmp_path, lib):
    db = str(tmp_path / "i.db")
    run = _interrupt(["index", "-j", "1", str(lib)], db, lambda: _indexed(db) > 0)
    _check_interrupted(run)
    kept = _indexed(db)
    assert 0 < kept < N, kept
    again = subprocess.run([sys.executable, "-m", "imgfind", "--db", db, "index", str(lib)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{N - kept} new" in again.stderr and f"{kept} unchanged" in again.stderr, again.stderr


def test_ctrl_c_during_dedupe_says_so_and_exits_130(tmp_path, lib):
    db = str(tmp_path / "i.db")
    run = _interrupt(["dedupe", "-j", "1", str(lib)], db, lambda: _indexed(db) > 0)
    _check_interrupted(run)
    assert _indexed(db) > 0  # the files indexed before the interrupt are kept
