"""The Index API: incremental updates, serial == parallel, resuming after an interruption."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest
from helpers import make_image

from imgfind import Index, Settings
from imgfind.index import default_rule
from imgfind.errors import ImgfindError
from imgfind.store import Store


def prints_of(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT f.path, f.size, p.phash, p.dhash, p.hashes, t.thumb FROM files f "
                       "JOIN prints p ON p.file_id = f.id JOIN thumbs t ON t.file_id = f.id "
                       "ORDER BY f.path").fetchall()
    con.close()
    return rows


@pytest.fixture
def many(tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(60):
        make_image(d / f"img{i:03d}.jpg", seed=100 + i, size=(200, 150))
    return d


def test_serial_and_parallel_runs_store_identical_fingerprints(tmp_path, many):
    serial, parallel = str(tmp_path / "s.db"), str(tmp_path / "p.db")
    with Index.open(serial, Settings(jobs=1)) as idx:
        idx.update([many])
    with Index.open(parallel, Settings(jobs=2, batch_files=4)) as idx:
        stats = idx.update([many])
    assert stats.new == 60
    assert prints_of(serial) == prints_of(parallel)


def test_update_reports_progress_and_totals(tmp_path, many):
    seen = []
    with Index.open(str(tmp_path / "i.db")) as idx:
        idx.update([many], on_total=seen.append, on_progress=seen.append)
    assert seen[0] == 60 and sum(seen[1:]) == 60


def test_missing_root_raises_before_any_work(tmp_path):
    with Index.open(str(tmp_path / "i.db")) as idx, pytest.raises(ImgfindError):
        idx.update([tmp_path / "nope"])


def test_recipe_change_refingerprints(tmp_path, many):
    db = str(tmp_path / "i.db")
    with Index.open(db) as idx:
        idx.update([many])
    con = sqlite3.connect(db)
    con.execute("UPDATE files SET recipe = 0")
    con.commit()
    con.close()
    with Index.open(db) as idx:
        stats = idx.update([many])
    assert stats.changed == 60 and stats.unchanged == 0


@pytest.mark.slow  # about 37 s on a shared 2-core machine: 400 pictures indexed twice
def test_interrupted_index_resumes_without_redoing_committed_work(tmp_path):
    d = tmp_path / "big"
    d.mkdir()
    for i in range(400):
        make_image(d / f"{i:04d}.png", seed=i, size=(400, 300))
    db = str(tmp_path / "i.db")
    # Small commits, so that the kill lands between batches whatever the machine's speed.
    script = ("import sys; from imgfind import Index, Settings; "
              "Index.open(sys.argv[1], Settings(jobs=1, commit_every=5)).update([sys.argv[2]])")
    proc = subprocess.Popen([sys.executable, "-c", script, db, str(d)])
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until at least one batch is committed
        time.sleep(0.05)
        if os.path.exists(db):
            try:
                with Store(db, readonly=True) as s:
                    if s.counts()["files"] > 0:
                        break
            except Exception:
                pass
    proc.kill()
    proc.wait()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    done = con.execute("SELECT count(*) FROM files").fetchone()[0]
    con.close()
    assert 0 < done < 400
    out = subprocess.run([sys.executable, "-m", "imgfind", "--db", db, "index", str(d)],
                         capture_output=True, text=True, check=True).stderr
    assert f"{400 - done} new, 0 changed, {done} unchanged" in out
    reference = str(tmp_path / "ref.db")
    with Index.open(reference) as idx:
        idx.update([d])
    assert prints_of(db) == prints_of(reference)


def test_groups_under_a_folder_only(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    make_image(a / "x.jpg", seed=1)
    make_image(a / "y.png", seed=1)
    make_image(b / "z.png", seed=1)
    with Index.open(str(tmp_path / "i.db")) as idx:
        idx.update([a, b])
        assert len(idx.groups()[0].members) == 3
        assert [len(g.members) for g in idx.groups(under=[b])] == []
        assert [len(g.members) for g in idx.groups(under=[a])] == [2]


def test_prints_cache_follows_every_change(tmp_path):
    d = tmp_path / "lib"
    d.mkdir()
    make_image(d / "a.jpg", seed=1)
    db = str(tmp_path / "i.db")
    with Index.open(db) as idx:
        idx.update([d])
        assert idx.groups() == []
        assert os.path.exists(db + "-prints.npy")
        make_image(d / "b.png", seed=1)  # a copy arrives: the cached arrays must not hide it
        idx.update([d])
        assert len(idx.groups()) == 1
    (d / "b.png").unlink()
    with Index.open(db) as idx:  # a new process-like open sees the removal too
        idx.update([d])
        assert idx.groups() == []
        assert len(idx.store.load_prints()) == 1


def test_warm_builds_every_query_engine_and_changes_no_answer(tmp_path):
    from helpers import EXAMPLES

    from imgfind.match import channels
    from imgfind.search import MultiIndexHash

    db = str(tmp_path / "i.db")
    with Index.open(db) as idx:
        idx.update([EXAMPLES])
    query = EXAMPLES / "nuthatch-small.jpg"
    with Index.open(db) as cold:
        expected = [(m.file.path, m.distance, m.similarity) for m in cold.query(query).matches]
    with Index.open(db) as idx:
        idx.warm()
        _, side = idx.search_side()
        wanted = {ch.library_cols.tobytes() for ch in channels(default_rule(), same=False)}
        assert set(side.engines) == wanted
        # Few hashes: scanning beats tables, and warm() must not force them.
        assert not any(isinstance(e, MultiIndexHash) for e in side.engines.values())
        got = [(m.file.path, m.distance, m.similarity) for m in idx.query(query).matches]
    assert got == expected and len(got) >= 2


def test_groups_reports_progress_of_both_stages(tmp_path):
    from helpers import EXAMPLES

    with Index.open(str(tmp_path / "i.db")) as idx:
        idx.update([EXAMPLES])
        calls = []
        groups = idx.groups(on_progress=lambda *call: calls.append(call))
    stages = {stage: (done, total) for stage, done, total in calls}
    assert stages["searching"] == (20, 20)
    done, total = stages["verifying"]
    assert done == total > 0 and groups
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)  # searching, then verifying


def test_prints_come_back_memory_mapped_and_equal(tmp_path):
    import numpy as np
    from helpers import EXAMPLES

    db = str(tmp_path / "i.db")
    with Index.open(db) as idx:
        idx.update([EXAMPLES])
    with Store(db) as store:
        fresh = store.load_prints()  # read through SQLite, then written to the sidecar
        mapped = store.load_prints()
    assert isinstance(mapped.hashes.base, np.memmap)
    for field in ("ids", "hashes", "trims", "flat", "phash", "dhash"):
        assert np.array_equal(getattr(fresh, field), getattr(mapped, field)), field
