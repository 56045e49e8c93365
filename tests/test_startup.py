"""Fixed costs of a one-shot command (issue 15: a query against 10^6 files in under 0.5 s,
most of it interpreter start-up): what a command imports, checked in a fresh interpreter
(the modules a test process already holds say nothing about a new one), and what a query
reads besides its search.

`imgfind --help` and `imgfind CMD --help` import none of the libraries that do the work
(cli_common.py's import rule); a query without partial matching does not import OpenCV; the
default for partial matching is decided without reading every row of the files table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import make_image

import imgfind
from imgfind.cli import cli

#: Libraries the help texts must not load: each costs from 10 ms (tqdm) to 0.2 s (OpenCV)
#: of a start-up that is 60 ms without them.
HEAVY = ("numpy", "PIL", "cv2", "numba", "tqdm", "simplejpeg", "bs4", "urllib3", "distributed",
         "imgfind.index", "imgfind.store", "imgfind.match", "imgfind.search")

#: Runs imgfind's entry point on argv in this interpreter, then prints the modules it holds.
_PROBE = """
import json, sys
from imgfind.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stdout.flush()
print("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported_by(*args: str) -> tuple[int, set[str], str]:
    """Run ``imgfind ARGS`` in a fresh interpreter: its exit code, the modules it had imported
    when it ended, and its output before that. It imports the imgfind this test imported."""
    here = str(Path(imgfind.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True,
                          timeout=120, cwd=tempfile.gettempdir(), env=env)
    out, _, tail = done.stdout.rpartition("\nMODULES ")
    assert tail, done.stderr
    got = json.loads(tail)
    return got["code"], set(got["modules"]), out


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


def test_top_level_help_imports_no_heavy_library() -> None:
    code, modules, out = imported_by("--help")
    assert code == 0 and "Reverse image search" in out
    assert heavy_in(modules) == []


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_command_help_imports_no_heavy_library(command: str) -> None:
    code, modules, out = imported_by(command, "--help")
    assert code == 0 and f"Usage: imgfind {command}" in out
    assert heavy_in(modules) == []


def test_public_api_names_still_import(tmp_path: Path) -> None:
    """The package exports its API lazily; every name in __all__ still resolves."""
    import imgfind

    for name in imgfind.__all__:
        assert getattr(imgfind, name) is not None
    assert set(imgfind.__all__) <= set(dir(imgfind))
    with pytest.raises(AttributeError):
        imgfind.no_such_name  # noqa: B018


def test_query_without_partial_matching_does_not_load_opencv(tmp_path: Path) -> None:
    """Local features of a query are computed only to search them (--partial): without, the
    query neither imports OpenCV nor runs ORB, and answers as before."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(3):
        make_image(photos / f"p{seed}.jpg", seed=seed)
    make_image(seed=1).resize((160, 120)).save(photos / "p1-small.png")
    db = str(tmp_path / "index.db")
    assert imported_by("--db", db, "-q", "index", str(photos))[0] == 0
    query = str(photos / "p1.jpg")
    answers = {}
    for flag in ("--no-partial", "--partial"):
        code, modules, out = imported_by("--db", db, "query", flag, query, "--format", "json")
        assert code == 0
        assert ("cv2" in modules) == (flag == "--partial")
        answers[flag] = json.loads(out)
    for doc in answers.values():
        assert [m["path"] for m in doc["matches"]] == [str(photos / "p1-small.png")]
    assert answers["--no-partial"]["queries"] == answers["--partial"]["queries"]


def test_partial_default_counts_the_searched_fingerprints_not_the_files_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the size limit a query says partial matching is off, naming the number of files
    searched, taken from the fingerprint arrays it loads anyway: Store.counts (a scan of the
    files table, 0.05 s at 10^6 files) is not called. An unreadable file is not counted."""
    from click.testing import CliRunner

    from imgfind import cli_common
    from imgfind.store import Store

    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(4):
        make_image(photos / f"p{seed}.jpg", seed=seed)
    (photos / "broken.jpg").write_bytes(b"not an image")
    db = str(tmp_path / "index.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "-q", "index", str(photos)]).exit_code == 0

    def no_scan(self: Store) -> dict[str, int]:
        raise AssertionError("the query counted the files table")

    monkeypatch.setattr(Store, "counts", no_scan)
    monkeypatch.setattr(cli_common, "PARTIAL_QUERY_MAX", 3)
    got = runner.invoke(cli, ["--db", db, "query", str(photos / "p0.jpg"), "--format", "json"],
                        catch_exceptions=False)
    assert got.exit_code == 0
    assert "partial matching (crops, screenshots, collages) is off for an index of 4 files" in got.stderr
    monkeypatch.setattr(cli_common, "PARTIAL_QUERY_MAX", 4)
    got = runner.invoke(cli, ["--db", db, "query", str(photos / "p0.jpg"), "--format", "json"],
                        catch_exceptions=False)
    assert got.exit_code == 0 and "partial matching" not in got.stderr
