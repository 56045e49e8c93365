"""imgfind merge, as a new user meets it: merged records are re-used by the next index run
when the files were copied with their size and mtime (``cp -p``, rsync -t); a file that is not
an index is named so (never "delete it"); a bad --map is a usage error; a refused merge
leaves no new index file behind.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from faults_support import cli_run, ok, one_error_line, photo


def _indexed_elsewhere(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Pictures indexed at other/photos into a.db, copied with cp -p to here/photos."""
    src = tmp_path / "other" / "photos"
    src.mkdir(parents=True)
    for i in range(4):
        photo(src / f"p{i}.jpg", seed=10 + i)
    (src / "bad.jpg").write_bytes(b"not a picture")
    ok(cli_run("--db", str(tmp_path / "a.db"), "index", str(src)))
    dst = tmp_path / "here" / "photos"
    shutil.copytree(src, dst, copy_function=shutil.copy2)  # cp -p: same size, same ns mtime
    return src, dst, tmp_path / "a.db"


def test_merged_records_are_reused_and_adopt_the_local_identity(tmp_path):
    src, dst, other = _indexed_elsewhere(tmp_path)
    db = str(tmp_path / "m.db")
    ok(cli_run("--db", db, "merge", str(other), "--map", f"{src}={dst}"))
    result = cli_run("--db", db, "index", str(dst))
    ok(result)
    assert "indexed: 0 new, 0 changed, 4 unchanged, 0 removed, 1 unreadable" in result.stderr, result.stderr
    # the local inode and ctime are recorded now: a replacement of the same size and mtime
    # (issue 11: mv over the file) is seen again
    victim = dst / "p1.jpg"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    fresh = dst / "fresh.tmp"
    fresh.write_bytes(bytes(data))
    st = victim.stat()
    os.utime(fresh, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(fresh, victim)
    result = cli_run("--db", db, "index", str(dst))
    ok(result)
    assert "indexed: 0 new, 1 changed, 3 unchanged, 0 removed, 1 unreadable" in result.stderr, result.stderr


@pytest.mark.parametrize("what", ["photo", "empty", "text", "fifo", "other-sqlite"])
def test_merging_a_file_that_is_not_an_index_says_so(tmp_path, what):
    other = tmp_path / "other.x"
    if what == "photo":
        photo(other, seed=1, fmt="JPEG")
    elif what == "empty":
        other.write_bytes(b"")
    elif what == "text":
        other.write_text("garbage garbage\n" * 10)
    elif what == "fifo":
        os.mkfifo(other)
    else:
        import sqlite3
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
    before = os.lstat(other)
    db = tmp_path / "new.db"
    result = cli_run("--db", str(db), "merge", str(other))
    line = one_error_line(result.exit_code, result.stderr)
    assert "not an imgfind index" in line and str(other) in line, line
    assert "delete" not in line and "rebuild" not in line, line
    assert not line.startswith("Error: --db"), "blames --db for the file to merge"
    assert os.lstat(other).st_mtime_ns == before.st_mtime_ns and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.x"], "a new index was left behind"


def test_refused_merge_leaves_no_new_index(tmp_path):
    _, _, other = _indexed_elsewhere(tmp_path)
    import sqlite3
    con = sqlite3.connect(other)
    con.execute("UPDATE files SET recipe = '3 pillow=9.0.0' WHERE recipe IS NOT NULL")
    con.commit()
    con.close()
    db = tmp_path / "new.db"
    result = cli_run("--db", str(db), "merge", str(other))
    assert "recipe" in one_error_line(result.exit_code, result.stderr)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("new.db")]


@pytest.mark.parametrize("spec", ["nomap", "relative=/x", "/x=relative"])
def test_bad_map_is_a_usage_error(tmp_path, spec):
    _, _, other = _indexed_elsewhere(tmp_path)
    result = cli_run("--db", str(tmp_path / "new.db"), "merge", str(other), "--map", spec)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert "--map" in result.stderr and "FROM=TO" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "new.db").exists()
