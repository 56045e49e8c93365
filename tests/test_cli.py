"""End-to-end tests of the command line through Click's runner (and a real subprocess)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from helpers import group_names, invoke, invoke_json, make_image

from imgfind.cli import cli

A_FAMILY = ["a-border.png", "a-exif.jpg", "a-mirror.jpg", "a-q40.jpg", "a-small.jpg", "a.jpg"]


def test_index_summary_and_incremental(runner, db, photo_dir):
    first = invoke(runner, db, "index", str(photo_dir))
    # Each of the 9 files counted once: the unreadable one is not "new" too (new-user trial)
    assert "8 new, 0 changed, 0 unchanged, 0 removed, 1 unreadable" in first.stderr
    assert first.stdout == ""
    second = invoke(runner, db, "index", str(photo_dir))
    # ... and still unreadable when nothing changed: not "0 unreadable" beside 1 recorded
    assert "0 new, 0 changed, 8 unchanged, 0 removed, 1 unreadable (-v to list)" in second.stderr
    assert "broken.jpg" in invoke(runner, db, "-v", "index", str(photo_dir)).stderr


def test_changed_and_removed_files_are_noticed(runner, db, photo_dir):
    invoke(runner, db, "index", str(photo_dir))
    make_image(photo_dir / "c.jpg", seed=30)
    os.utime(photo_dir / "c.jpg", ns=(1, 1_000_000_000))
    (photo_dir / "b.png").unlink()
    out = invoke(runner, db, "index", str(photo_dir)).stderr
    assert "0 new, 1 changed, 6 unchanged, 1 removed, 1 unreadable" in out


def test_unreadable_file_listed_with_verbose_and_retried_only_when_changed(runner, db, photo_dir):
    out = invoke(runner, db, "-v", "index", str(photo_dir)).stderr
    assert "broken.jpg: not an image" in out
    read_at = _indexed_at(db, photo_dir / "broken.jpg")
    out = invoke(runner, db, "index", str(photo_dir)).stderr
    assert "1 unreadable" in out and "8 unchanged" in out
    assert _indexed_at(db, photo_dir / "broken.jpg") == read_at  # not read again
    make_image(photo_dir / "broken.jpg", seed=9)
    os.utime(photo_dir / "broken.jpg", ns=(1, 2_000_000_000))
    out = invoke(runner, db, "index", str(photo_dir)).stderr
    assert "1 changed" in out and "0 unreadable" in out


def _indexed_at(db: str, path) -> float:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT indexed_at FROM files WHERE path = ?",
                           (os.fsencode(str(path)),)).fetchone()[0]
    finally:
        con.close()


def test_dedupe_json_groups_the_copies(runner, db, photo_dir):
    doc = invoke_json(runner, db, "dedupe", str(photo_dir))
    assert doc["format"] == "imgfind-dedupe/1"
    assert group_names(doc) == [A_FAMILY]
    files = doc["groups"][0]["files"]
    assert files[0]["original"] is True and files[0]["distance"] == 0
    assert all(os.path.isabs(f["path"]) for f in files)
    relations = {os.path.basename(f["path"]): f["relation"] for f in files}
    assert relations["a-mirror.jpg"] == "mirrored"
    assert doc["groups"][0]["max_distance"] >= max(f["distance"] for f in files)


def test_dedupe_json_has_one_group_per_line(runner, db, photo_dir):
    """Line tools see one item per line: each group of dedupe's JSON (and each match of
    query's) is one line, and the document still parses as one JSON value."""
    out = invoke(runner, db, "dedupe", str(photo_dir), "--format", "json").stdout
    lines = out.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    (group_line,) = [ln for ln in lines if '"files": [' in ln]
    assert json.loads(group_line.strip().rstrip(","))["files"][0]["original"] is True
    assert json.loads(out)["groups"] == [json.loads(group_line.strip().rstrip(","))]
    q = invoke(runner, db, "query", str(photo_dir / "a.jpg"), "--format", "json").stdout
    matches = [json.loads(ln.strip().rstrip(",")) for ln in q.splitlines() if '"query": ' in ln]
    assert len(matches) == len(json.loads(q)["matches"]) > 1


def test_dedupe_without_paths_uses_whole_index(runner, db, photo_dir, tmp_path):
    invoke(runner, db, "index", str(photo_dir))
    assert group_names(invoke_json(runner, db, "dedupe")) == [A_FAMILY]


def test_dedupe_with_path_groups_only_under_it(runner, db, photo_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    make_image(other / "x.jpg", seed=1, quality=95)  # a copy of a.jpg, elsewhere
    invoke(runner, db, "index", str(photo_dir))
    doc = invoke_json(runner, db, "dedupe", str(other))
    assert doc["groups"] == []
    doc = invoke_json(runner, db, "dedupe")
    assert ["x.jpg"] in [[n for n in g if n == "x.jpg"] for g in group_names(doc)]


def test_threshold_is_plain_phash_distance(runner, db, photo_dir):
    invoke(runner, db, "index", str(photo_dir))
    strict = invoke_json(runner, db, "dedupe", "--threshold", "0")
    assert strict["threshold"] == 0 and strict["min_similarity"] is None
    for names in group_names(strict):  # only exact-hash copies of a.jpg: a subset of its family
        assert set(names) <= set(A_FAMILY)
    loose = invoke_json(runner, db, "dedupe", "--threshold", "64")
    assert len(loose["groups"]) == 1 and len(loose["groups"][0]["files"]) == 8


def test_paths_and_csv_formats(runner, db, photo_dir):
    invoke(runner, db, "index", str(photo_dir))
    paths = invoke(runner, db, "dedupe", "--format", "paths").stdout.splitlines()
    assert sorted(os.path.basename(p) for p in paths if p) == A_FAMILY
    rows = list(csv.DictReader(io.StringIO(invoke(runner, db, "dedupe", "--format", "csv").stdout)))
    assert len(rows) == len(A_FAMILY) and {r["group"] for r in rows} == {"1"}


def test_query_finds_every_copy_nearest_first(runner, db, photo_dir, tmp_path):
    invoke(runner, db, "index", str(photo_dir))
    probe = tmp_path / "probe.jpg"
    make_image(probe, seed=1, quality=70)
    doc = invoke_json(runner, db, "query", str(probe))
    assert doc["format"] == "imgfind-query/1"
    names = [os.path.basename(m["path"]) for m in doc["matches"]]
    assert sorted(names) == A_FAMILY
    dists = [m["distance"] for m in doc["matches"]]
    assert dists == sorted(dists)
    limited = invoke_json(runner, db, "query", str(probe), "--limit", "2")
    assert len(limited["matches"]) == 2
    text = invoke(runner, db, "query", str(probe)).stdout
    assert "mirrored" in text and "a-border.png" in text


def test_query_of_unrelated_image_finds_nothing(runner, db, photo_dir, tmp_path):
    invoke(runner, db, "index", str(photo_dir))
    probe = tmp_path / "other.png"
    make_image(probe, seed=77)
    assert invoke_json(runner, db, "query", str(probe))["matches"] == []


def test_info_shows_format_and_hashes(runner, db, photo_dir):
    out = invoke(runner, db, "info", str(photo_dir / "a-exif.jpg")).stdout
    assert "JPEG" in out and re.search(r"^orientation +6$", out, re.M) and "phash" in out
    doc = json.loads(invoke(runner, db, "info", str(photo_dir / "b.png"), "--format", "json").stdout)
    assert doc["format"] == "PNG" and len(doc["phash"]) == 16


def test_errors_are_one_line_with_exit_1(runner, db, photo_dir, tmp_path):
    missing = invoke(runner, db, "index", str(tmp_path / "nope"), ok=False)
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: no such file or folder")
    assert "Traceback" not in missing.stderr
    no_index = invoke(runner, str(tmp_path / "none.db"), "dedupe", ok=False)
    assert no_index.exit_code == 1 and "imgfind index" in no_index.stderr
    invoke(runner, db, "index", str(photo_dir))
    bad = invoke(runner, db, "query", str(photo_dir / "broken.jpg"), ok=False)
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1
    assert invoke(runner, db, "info", str(photo_dir / "broken.jpg"), ok=False).exit_code == 1


def test_usage_errors_exit_2(runner, db):
    assert invoke(runner, db, "dedupe", "--threshold", "99", ok=False).exit_code == 2
    assert invoke(runner, db, "query", ok=False).exit_code == 2
    assert invoke(runner, db, "frobnicate", ok=False).exit_code == 2


def test_newer_schema_is_refused(runner, db, photo_dir):
    invoke(runner, db, "index", str(photo_dir))
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 999")
    con.close()
    result = invoke(runner, db, "dedupe", ok=False)
    assert result.exit_code == 1 and "newer imgfind" in result.stderr


def test_not_an_index_is_refused(runner, tmp_path, photo_dir):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE x(y)")
    con.close()
    result = invoke(runner, str(other), "index", str(photo_dir), ok=False)
    assert result.exit_code == 1 and "not an imgfind index" in result.stderr


def test_db_from_environment(runner, tmp_path, photo_dir):
    db = str(tmp_path / "env.db")
    result = runner.invoke(cli, ["index", str(photo_dir)], env={"IMGFIND_DB": db})
    assert result.exit_code == 0 and os.path.exists(db)


def test_default_db_in_user_data_dir(tmp_path, photo_dir):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    env.pop("IMGFIND_DB", None)
    subprocess.run([sys.executable, "-m", "imgfind", "-q", "index", str(photo_dir)], env=env, check=True)
    assert (tmp_path / "xdg" / "imgfind" / "index.db").exists()


def test_broken_pipe_ends_quietly(tmp_path, photo_dir):
    db = str(tmp_path / "p.db")
    subprocess.run([sys.executable, "-m", "imgfind", "--db", db, "-q", "index", str(photo_dir)], check=True)
    proc = subprocess.run(
        f"{sys.executable} -m imgfind --db {db} dedupe --threshold 64 --format csv | head -c 1",
        shell=True, capture_output=True, text=True)
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr


def test_version_and_help(runner, db):
    assert "imgfind, version" in invoke(runner, db, "--version").stdout
    for command in ("index", "query", "dedupe", "info", "status"):
        assert "Example:" in invoke(runner, db, command, "--help").stdout


def test_status(runner, db, photo_dir):
    invoke(runner, db, "index", str(photo_dir))
    out = invoke(runner, db, "-v", "status").stdout
    assert "files:         9" in out and "broken.jpg" in out
    assert re.search(r"last indexed:  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", out), out


def test_status_last_indexed_moves_after_a_run_that_found_nothing_changed(runner, db, photo_dir):
    # New-user trial: "last indexed" was the newest file row's time, so it stood still after
    # a run that changed nothing. Every row is dated 2001 here; the run dates the index now.
    invoke(runner, db, "index", str(photo_dir))
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE files SET indexed_at = 1e9")
        con.execute("UPDATE roots SET indexed_at = 1e9")
    con.close()
    assert "last indexed:  2001-" in invoke(runner, db, "status").stdout
    assert "0 new, 0 changed" in invoke(runner, db, "index", str(photo_dir)).stderr
    assert "last indexed:  2001-" not in invoke(runner, db, "status").stdout


def test_non_utf8_name_survives(runner, db, tmp_path):
    d = tmp_path / "odd"
    d.mkdir()
    name = os.fsencode(str(d)) + b"/caf\xe9-\xff.jpg"
    img = make_image(None, seed=4)
    with open(name, "wb") as f:
        img.save(f, format="JPEG")
    img.save(d / "copy.png")
    proc = subprocess.run([sys.executable, "-m", "imgfind", "--db", db, "dedupe", str(d),
                           "--format", "paths"], capture_output=True, check=True)
    assert name in proc.stdout.splitlines()
    doc = json.loads(subprocess.run([sys.executable, "-m", "imgfind", "--db", db, "dedupe",
                                     "--format", "json"], capture_output=True, check=True).stdout)
    paths = {os.fsencode(f["path"]) for f in doc["groups"][0]["files"]}
    assert name in paths


def test_python_m_imgfind(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "imgfind", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "dedupe" in proc.stdout


def test_examples_readme_job(runner, db):
    """The README's first command: the bundled photos group into their families."""
    doc = invoke_json(runner, db, "dedupe", str(Path(__file__).parent.parent / "examples" / "photos"))
    groups = group_names(doc)
    stems = [{n.split("-")[0].split(".")[0] for n in g} for g in groups]
    assert all(len(s) == 1 for s in stems), groups
    assert len(groups) == 4
