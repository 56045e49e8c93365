"""Torture: kill -9 an `imgfind index` run at random moments, again and again.

After every kill: PRAGMA integrity_check is ok, committed rows never go away, no orphaned
worker keeps running; the next uninterrupted run completes, decodes only what was not
committed (its 'new' count is exactly the remainder), and the final index equals the index of
an uninterrupted run (paths, sizes, mtimes, errors, every hash and thumbnail).

Half the rounds run the plain CLI (default batches: one commit per 512 results or 2 s, so a
kill mostly tests atomicity); the other half run the same CLI with 25-file commits (a test-only
override, see torture_corpus.imgfind_cmd) so that kills land between and inside many commits.
Kill delays are seeded; where in the work each lands depends on the machine's speed, so
nothing asserted depends on it: a chain goes on round after round until its share of kills has
landed, and a whole run (on a fresh index) that finishes before its kill narrows the later
delays to below its own length (on a fast or an idle machine kills still land). The round cap
(MAX_ROUNDS) is reached only when kills keep failing to land at all, which is a fault (say a
run that ends at once).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest
from torture_corpus import (cli_env, count_rows, differences, imgfind_cmd, integrity, kill_all,
                            processes_mentioning, record, run_cli, snapshot, summary,
                            write_images)

pytestmark = pytest.mark.slow

IMAGES = 900
BAD = 4
KILLS = 54  # at least this many, over as many rounds as it takes
KILLS_PER_ROUND = 9
#: Rounds a chain may take for its share of kills: one kill a round on average. A round lands
#: about KILLS_PER_ROUND / 2 kills on any machine, loaded or idle (the delays adapt), so only a
#: run that cannot be killed (it ends before any delay) reaches this.
MAX_ROUNDS = (KILLS + 1) // 2
#: Most of a finished run's length a later kill delay may take (kills land inside the work).
EARLY_FRACTION = 0.8


def _start(db, folder, jobs: int, fine: bool) -> subprocess.Popen:
    cmd = imgfind_cmd(db, "index", "-j", str(jobs), str(folder),
                      commit_every=25 if fine else None)
    return subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)


def _orphans(db) -> list[int]:
    """Worker processes of a killed run still alive after a grace period."""
    deadline = time.monotonic() + 2.0
    while True:
        alive = processes_mentioning(str(db))
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


@dataclass
class Chain:
    """Counters of one kill chain (two chains run side by side on separate indexes)."""

    kills: int = 0
    early: int = 0  # runs that finished before their kill
    orphans: int = 0
    progress_kills: int = 0  # kills after which more rows were committed than before
    committed_by_killed: int = 0
    rounds: int = 0
    in_startup: int = 0  # kills before the interpreter could have opened the index


def _chain(cid: int, tmp_path, folder, total: int, expected: dict, full: float, startup: float,
           kills_wanted: int) -> Chain:
    rng = np.random.default_rng(1234 + cid)
    c = Chain()
    window = startup + 1.3  # kill delays fall below this; narrowed by runs that finish first
    while c.kills < kills_wanted:
        assert c.rounds < MAX_ROUNDS, (
            f"chain {cid}: only {c.kills} of {kills_wanted} kills landed in {c.rounds} rounds"
            f" ({c.early} runs finished before their kill, the shortest in {window:.2f} s)")
        rnd = c.rounds
        c.rounds += 1
        db = tmp_path / f"chain{cid}-round{rnd}.db"
        fine = (rnd + cid) % 2 == 1
        jobs = 1 + (rnd // 2) % 2
        committed = 0
        for _ in range(KILLS_PER_ROUND):
            # One kill in five lands during start-up, the rest in the first ~1.3 s of work;
            # the folder is big enough that a run is rarely done by then (and when one is, the
            # window shrinks below its length).
            start_end = min(startup, window / 2)
            if rng.random() < 0.2:
                delay = float(rng.uniform(min(0.02, start_end), start_end))
            else:
                delay = float(rng.uniform(start_end, window))
            proc = _start(db, folder, jobs, fine)
            started = time.monotonic()
            while proc.poll() is None and time.monotonic() - started < delay:
                time.sleep(0.01)  # polled, so a run that ends first gives its own length
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)  # the main process only, as `kill -9 PID`
                proc.wait()
                c.kills += 1
                c.in_startup += delay < start_end
                stray = _orphans(db)
                c.orphans += len(stray)
                kill_all(stray)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # our own session, nothing else
                except ProcessLookupError:
                    pass
            else:  # finished before the kill: it must say what it did
                if committed == 0:  # a whole run (one that only did a remainder says less)
                    window = min(window, EARLY_FRACTION * (time.monotonic() - started))
                _, err = proc.communicate()
                assert proc.returncode == 0, err
                new, _, _, _, bad = summary(err)
                # The unreadable files are counted apart, whichever run recorded them.
                assert new <= total - committed <= new + bad and bad == BAD
                c.early += 1
            check = integrity(db) if os.path.exists(db) else "ok"
            assert check == "ok", f"chain {cid} round {rnd}, kill {c.kills}: {check}"
            now = count_rows(db)
            assert now >= committed, "committed rows disappeared"
            if now > committed and proc.returncode != 0:
                c.progress_kills += 1
                c.committed_by_killed += now - committed
            committed = now
            if committed == total or c.kills >= kills_wanted:
                break
        # The next run completes and only does what was not committed.
        final = run_cli(db, "index", "-j", str(jobs), str(folder))
        assert final.returncode == 0, final.stderr
        new, changed, unchanged, removed, bad = summary(final.stderr)
        assert (changed, removed, bad) == (0, 0, BAD)
        assert new <= total - committed <= new + bad  # what was not committed, read now
        assert new + unchanged + bad == total
        assert integrity(db) == "ok"
        got = snapshot(db)
        assert got == expected, (f"chain {cid} round {rnd}: differs from uninterrupted:\n"
                                 f"{differences(got, expected)}")
    return c


def test_kill_9_at_random_moments(tmp_path):
    folder = tmp_path / "photos"
    write_images(folder, IMAGES, per_dir=150)
    for i in range(BAD):
        (folder / f"bad{i}.jpg").write_bytes(b"truncated \xff\xd8" * i)
    total = IMAGES + BAD
    t0 = time.monotonic()
    version = subprocess.run([*imgfind_cmd(tmp_path / "unused.db", "--version")], env=cli_env(),
                             capture_output=True)
    startup = time.monotonic() - t0
    assert version.returncode == 0
    reference = tmp_path / "reference.db"
    t0 = time.monotonic()
    ref_run = run_cli(reference, "index", str(folder))
    full = time.monotonic() - t0
    assert ref_run.returncode == 0, ref_run.stderr
    assert summary(ref_run.stderr) == (IMAGES, 0, 0, 0, BAD)
    expected = snapshot(reference)
    assert len(expected) == total

    t0 = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(_chain, cid, tmp_path, folder, total, expected, full, startup,
                               (KILLS + 1 - cid) // 2) for cid in range(2)]
        chains = [f.result() for f in futures]
    elapsed = time.monotonic() - t0
    total_of = lambda name: sum(getattr(c, name) for c in chains)  # noqa: E731
    kills, rounds = total_of("kills"), total_of("rounds")
    record("crash safety (kill -9)", **{
        "kills survived": kills,
        "... of which during interpreter start-up": total_of("in_startup"),
        "kills after which committed work had grown": total_of("progress_kills"),
        "rows committed by runs that were then killed": total_of("committed_by_killed"),
        "runs that finished before their kill": total_of("early"),
        "integrity checks": kills + total_of("early") + rounds,
        "rounds (fresh index each), final index equal to the uninterrupted run": rounds,
        "files per run": f"{IMAGES} images + {BAD} unreadable",
        "uninterrupted run / interpreter start-up": f"{full:.2f} s / {startup:.2f} s",
        "kill chains side by side / wall time": f"2 / {elapsed:.0f} s",
        "orphaned workers alive 2 s after a kill (then killed by the test)": total_of("orphans"),
        "committed rows lost": 0})
    assert kills >= KILLS  # each chain went on until its share landed (or failed at its cap)


def test_no_worker_outlives_a_killed_index_run(tmp_path):
    folder = tmp_path / "photos"
    write_images(folder, 200)
    rng = np.random.default_rng(99)
    outlived = 0
    for i in range(6):
        db = tmp_path / f"{i}.db"
        proc = _start(db, folder, 2, False)
        deadline = time.monotonic() + 10
        while len(processes_mentioning(str(db))) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # the pool's workers exist
        time.sleep(float(rng.uniform(0.0, 0.3)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stray = _orphans(db)
        outlived += len(stray)
        kill_all(stray)
    assert outlived == 0, f"{outlived} workers outlived their killed parent"
