"""A second process that verifies pairs for a large dedupe, so verification uses two cores.

Verification (decide.verify_alignments: cut, align and compare thumbnails) is Python and small
numpy arrays: it holds the GIL, so a thread would not run beside it. The helper is a process
started once (``spawn``: no copy of a parent running the search's threads) when a dedupe
first has enough pairs to share; each job carries what its pairs need (their rows' hashes,
trims and thumbnails: a small Side of those rows, decide.py's tasks with their rows renumbered)
and its answers come back part by part, in order, while the caller verifies its own share.
An answer depends on its pair alone, so the caller gets what it would have computed itself.

Where no process can be started, :func:`get` returns None and the caller verifies alone.
The helper ignores SIGINT (Ctrl-C is the caller's to handle) and exits when the caller does
(end of its pipe).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence

import numpy as np

from .cores import usable_cores
from .model import PairMatch, Rule
from .side import Side

#: Tasks verified per part of a job: answers come back part by part (the caller waits for
#: the first part only).
PART_TASKS = 128
#: ``IMGFIND_HELPER=0`` turns the helper off (verification on one core, as before).
ENV = "IMGFIND_HELPER"

_lock = threading.Lock()
_helper: Helper | None = None
_failed = False


def enabled() -> bool:
    """Whether a helper may be used: two usable cores or more (cores.usable_cores), and not
    turned off by IMGFIND_HELPER=0."""
    return os.environ.get(ENV, "1") != "0" and usable_cores() >= 2


def get() -> Helper | None:
    """The process-wide helper, started on first use; None where it is turned off or cannot
    be started (then the caller verifies alone)."""
    global _helper, _failed
    if not enabled() or _failed:
        return None
    with _lock:
        if _helper is None or not _helper.alive():
            try:
                _helper = Helper()
            except (OSError, ValueError, RuntimeError):
                _failed = True
                return None
        return _helper


class Job:
    """A submitted job: its answers (PairMatch or None per task, in order) as they come."""

    def __init__(self, helper: Helper, side: Side, rule: Rule, tasks: Sequence[tuple[int, int, list]]):
        self._helper = helper
        self._job = (side, rule, tasks)
        self.answers: list[PairMatch | None] = []
        self.n = len(tasks)

    def answer(self, t: int) -> PairMatch | None:
        """Task *t*'s answer, waiting for its part if it has not come yet. Should the helper
        fail (killed, out of memory), the rest of the job is verified here, and no job is
        sent to a helper again in this process."""
        global _failed
        while len(self.answers) <= t:
            try:
                self.answers.extend(self._helper._receive())
            except RuntimeError:
                from .decide import verify_alignments

                _failed = True
                side, rule, tasks = self._job
                rest = tasks[len(self.answers):]
                passed = {(m.a, m.b): m for m in verify_alignments(side, side, rule, rest)}
                self.answers.extend(passed.get((a, b)) for a, b, _ in rest)
        return self.answers[t]

    def all(self) -> list[PairMatch | None]:
        """Every answer, in task order."""
        if self.n:
            self.answer(self.n - 1)
        return self.answers


class Helper:
    """One helper process and its pipe. Jobs are answered in the order submitted; a job's
    answers must all be read (:meth:`Job.all`) before the next job is submitted."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="imgfind-verify")
        # The child starts with SIGINT ignored (inherited across exec): a Ctrl-C is the
        # caller's to report; the helper ends when the caller's end of the pipe closes.
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self._proc.start()
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        child.close()
        self._gone = False
        atexit.register(self.close)

    def alive(self) -> bool:
        return not self._gone and self._proc.is_alive()

    def submit(self, side: Side, rule: Rule, tasks: Sequence[tuple[int, int, list]]) -> Job:
        """Send pairs (a, b, alignments: decide.Alignment, rows of *side*, thumbnails
        prefetched) to be verified with decide.verify_alignments under *rule*."""
        from .decide import Alignment

        rows = np.unique(np.array([r for _, _, al in tasks for x in al for r in (x.row_q, x.row_i)],
                                  np.int64))
        local = {int(r): j for j, r in enumerate(rows.tolist())}
        ids = side.ids[rows]
        thumbs = {int(i): side._thumbs[int(i)] for i in ids.tolist()}
        sub = (ids, np.asarray(side.hashes[rows]), np.asarray(side.trims[rows]),
               np.asarray(side.flat[rows]), thumbs)
        renamed = [(a, b, [Alignment(local[x.row_q], x.view_q, x.orient, local[x.row_i],
                                     x.view_i, x.orient_ab) for x in al]) for a, b, al in tasks]
        job = Job(self, side, rule, tasks)
        try:
            self._conn.send((sub, rule, renamed))
        except (OSError, ValueError):  # the helper is gone: the job is verified here
            self._gone = True
        return job

    def _receive(self) -> list[PairMatch | None]:
        if self._gone:
            raise RuntimeError("the verification helper process ended")
        try:
            ok, part = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise RuntimeError("the verification helper process ended") from exc
        if not ok:
            raise RuntimeError(f"the verification helper failed: {part}")
        return part

    def close(self) -> None:
        try:
            self._conn.close()
        except OSError:
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()


def _serve(conn) -> None:
    """The helper's loop: a job in, its answers out part by part, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .decide import verify_alignments

    while True:
        try:
            (ids, hashes, trims, flat, thumbs), rule, tasks = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        side = Side(ids, hashes, trims, flat, lambda want: {})
        side._thumbs.update(thumbs)
        try:
            for p0 in range(0, len(tasks), PART_TASKS):
                part = tasks[p0:p0 + PART_TASKS]
                passed = {(m.a, m.b): m for m in verify_alignments(side, side, rule, part)}
                conn.send((True, [passed.get((a, b)) for a, b, _ in part]))
        except (EOFError, OSError, BrokenPipeError):
            return
        except Exception as exc:  # reported to the caller, which raises it
            try:
                conn.send((False, f"{type(exc).__name__}: {exc}"))
            except OSError:
                return
