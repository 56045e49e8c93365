"""The index path and stdout, as a new user meets them: an explicit --db (or IMGFIND_DB) in a
folder that does not exist is refused with one Error line and no folder made (the default
index's per-user folder is still created on first use); a closed stdout pipe (``CMD | head``)
ends every command quietly with the same status, 0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from faults_support import cli_run, ok, one_error_line, photo


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, Path]:
    """A folder with near-duplicate pairs and its index."""
    folder = tmp_path_factory.mktemp("pipes") / "pics"
    folder.mkdir()
    for i in range(6):
        im = photo(folder / f"p{i}.jpg", seed=100 + i)
        im.save(folder / f"p{i}.png")
    db = folder.parent / "i.db"
    ok(cli_run("--db", str(db), "index", str(folder)))
    return folder, db


@pytest.mark.parametrize("command", ["index", "dedupe DIR", "ignore", "pages", "env"])
def test_explicit_db_in_a_missing_folder_is_refused(tmp_path, library, command):
    folder, _ = library
    missing = tmp_path / "no" / "such"
    db = str(missing / "x.db")
    args = {"index": ["--db", db, "index", str(folder)],
            "dedupe DIR": ["--db", db, "dedupe", str(folder)],
            "ignore": ["--db", db, "ignore", str(folder / "p0.jpg"), str(folder / "p1.jpg")],
            "pages": ["--db", db, "pages", str(folder)],
            "env": ["index", str(folder)]}[command]
    result = cli_run(*args, env={"IMGFIND_DB": db} if command == "env" else None)
    line = one_error_line(result.exit_code, result.stderr)
    assert str(missing) in line and "does not exist" in line, line
    assert not (tmp_path / "no").exists(), "a folder was created for --db"


def test_default_index_folder_is_created_on_first_use(tmp_path, library):
    folder, _ = library
    xdg = tmp_path / "xdg-data"
    ok(cli_run("index", str(folder), env={"XDG_DATA_HOME": str(xdg), "IMGFIND_DB": None}))
    assert (xdg / "imgfind" / "index.db").is_file()


@pytest.mark.parametrize("command", [["dedupe"], ["dedupe", "--format", "paths"],
                                     ["dedupe", "--format", "json"], ["dedupe", "--keep", "resolution"],
                                     ["query", "{folder}/p0.jpg"], ["status"], ["info", "{folder}/p1.png"],
                                     ["dedupe", "--format", "html"]],
                         ids=lambda c: " ".join(c))
def test_closed_stdout_pipe_ends_quietly_with_status_0(library, command):
    folder, db = library
    args = [a.format(folder=folder) for a in command]
    proc = subprocess.Popen([sys.executable, "-m", "imgfind", "--db", str(db), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written (as `| head -0`)
    _, err = proc.communicate(timeout=120)
    err = err.decode("utf-8", "replace")
    assert proc.returncode == 0, f"exit {proc.returncode}: {err}"
    assert "Traceback" not in err and "Exception ignored" not in err and "Broken pipe" not in err, err
