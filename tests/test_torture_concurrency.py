"""Torture: several imgfind processes on one index at once.

Two `index` runs on the same database both finish (the second waits on SQLite's lock, no
'database is locked' traceback) and the index equals a serial run's; `query`, `dedupe` and
`status` keep working while an index run is writing.
"""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import time

import pytest
from torture_corpus import (cli_env, differences, imgfind_cmd, integrity, record, run_cli,
                            snapshot, summary, write_images)

pytestmark = pytest.mark.slow

IMAGES = 300


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conc") / "photos"
    write_images(folder, IMAGES, per_dir=100)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff broken")
    reference = folder.parent / "serial.db"
    done = run_cli(reference, "index", "-j", "1", str(folder))
    assert done.returncode == 0, done.stderr
    return folder, snapshot(reference)


def _both(db, folder, jobs=("1", "1"), fine=False) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(imgfind_cmd(db, "index", "-j", j, str(folder),
                                          commit_every=25 if fine else None),
                              env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for j in jobs]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_two_index_runs_at_once_equal_a_serial_run(photos, tmp_path):
    folder, expected = photos
    total = IMAGES + 1
    runs = 0
    empty = tmp_path / "empty"
    empty.mkdir()
    for trial, (jobs, fine) in enumerate([(("1", "1"), False), (("2", "1"), True),
                                          (("1", "2"), True), (("2", "2"), False),
                                          (("1", "1"), True)]):
        db = tmp_path / f"t{trial}.db"
        # An existing, empty index: a fresh one can hit the creation race (test below).
        assert run_cli(db, "index", str(empty)).returncode == 0
        results = _both(db, folder, jobs, fine)
        runs += 2
        for r in results:
            assert r.returncode == 0, r.stderr
            assert "Traceback" not in r.stderr and "locked" not in r.stderr, r.stderr
        counts = [summary(r.stderr) for r in results]
        # Each file is new to at least one run; a run that waited may find it done already.
        # Either way each is counted once, the unreadable one as unreadable.
        assert all(n + u + bad == total and bad == 1 for n, _, u, _, bad in counts), results
        assert integrity(db) == "ok"
        got = snapshot(db)
        assert got == expected, (f"trial {trial} (jobs {jobs}, small commits {fine}): differs"
                                 f" from the serial run:\n{differences(got, expected)}")
    record("concurrency", **{"index runs side by side on one index (pairs x 2)": runs,
                             "all equal to the serial run": "yes"})


def _open_store(path: str, start: float, queue) -> None:
    from imgfind.store import Store

    while time.time() < start:
        pass
    try:
        with Store(path) as store:
            with store.transaction():
                pass
        queue.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(f"{type(exc).__name__}: {exc}")


def test_fresh_index_created_by_three_processes_at_once(tmp_path):
    ctx = mp.get_context("fork")
    failures = []
    for trial in range(40):
        path = str(tmp_path / f"{trial}.db")
        queue = ctx.Queue()
        start = time.time() + 0.2
        procs = [ctx.Process(target=_open_store, args=(path, start, queue)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        failures += [r for r in (queue.get() for _ in procs) if r != "ok"]
    record("concurrency", **{"fresh index opened by 3 processes at once (40 trials)":
                             f"{len(failures)} failures"})
    assert not failures, failures[:3]


#: Index runs of 1500 new files one after the other, at most, until every kind of read has
#: run twice while one was writing: the reads are slower than a run on a loaded machine and
#: faster on an idle one; a machine where even 5 runs leave no time to read is a fault.
MAX_WRITERS = 5


def test_query_dedupe_status_while_indexing(photos, tmp_path):
    folder, _ = photos
    db = tmp_path / "busy.db"
    assert run_cli(db, "index", str(folder)).returncode == 0
    probe = next(folder.rglob("img000003.png"))
    from click.testing import CliRunner

    from imgfind.cli import cli

    reads = {"query": 0, "dedupe": 0, "status": 0}
    seen_counts = []
    runner = CliRunner()
    writers = 0
    while min(reads.values()) < 2:  # as many index runs as it takes, whatever the speed
        assert writers < MAX_WRITERS, f"{writers} index runs ended before 2 reads of each: {reads}"
        big = tmp_path / f"big{writers}"
        write_images(big, 1500, start=10_000 + 1500 * writers, per_dir=300)
        writer = subprocess.Popen(imgfind_cmd(db, "index", "-j", "1", str(big),
                                              commit_every=50),
                                  env=cli_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        writers += 1
        while writer.poll() is None:
            for name, args in (("query", ["query", "--format", "json", str(probe)]),
                               ("dedupe", ["dedupe", "--format", "json"]),
                               ("status", ["status"])):
                result = runner.invoke(cli, ["--db", str(db), *args])
                assert result.exit_code == 0, (name, result.output, result.exception)
                reads[name] += 1
                if name == "status":
                    seen_counts.append(int(result.stdout.split("files:")[1].split()[0]))
        out, err = writer.communicate()
        assert writer.returncode == 0, err
        assert summary(err)[0] == 1500
    assert seen_counts == sorted(seen_counts), "a reader saw the index shrink"
    assert integrity(db) == "ok"
    record("concurrency", **{"reads while an index run was writing": dict(reads),
                             "index runs read beside": writers,
                             "distinct row counts seen by readers": len(set(seen_counts))})
