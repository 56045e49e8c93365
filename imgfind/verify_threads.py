"""Verification of many candidate pairs at once, on worker threads (dedupe's partial stage).

Dedupe verifies each lone picture's partial-match candidates (partial.verify, both ways), one
pair after the other: independent work, most of it in code that releases the GIL (OpenCV's
RANSAC fits, the consensus bound's numba kernel, numpy's distance matrices), so threads run
it on every core without copying the index into other processes. Each pair's answer is the
same as verifying it alone (OpenCV seeds each RANSAC call afresh; nothing is shared between
pairs), and the answers come back in the order of the pairs.

The pairs are read (features, thumbnails: SQLite) by the caller's thread, as the caller
yields them; only partial.verify runs on the workers.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from . import partial
from .cores import usable_cores
from .model import LocalFeatures, Partial

#: Pairs handed to a worker at once, and batches in flight per worker: enough to keep the
#: workers busy while the caller's thread reads the next pairs, few enough that a Ctrl-C
#: waits for little.
BATCH = 32
IN_FLIGHT = 3
#: Worker threads at most (the partial stage of a dedupe; more than the cores only adds
#: contention). Environment variable IMGFIND_VERIFY_THREADS overrides the default (the
#: cores this process may run on); 1 verifies on the caller's thread.
MAX_THREADS = 8
THREADS_ENV = "IMGFIND_VERIFY_THREADS"

#: A pair to verify: features of a and b, their files' full (width, height) (or None), and
#: their grey thumbnails (or None); None for a pair with nothing to verify.
Job = tuple[LocalFeatures, LocalFeatures, "tuple[int, int] | None", "tuple[int, int] | None",
            "tuple[np.ndarray, np.ndarray] | None"]


def default_threads() -> int:
    """IMGFIND_VERIFY_THREADS when set (at least 1), else the cores this process may run on
    (at most MAX_THREADS)."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass  # a malformed value: the default, as an unset one
    return max(1, min(MAX_THREADS, usable_cores()))


def both_ways(a: LocalFeatures, b: LocalFeatures, a_size: tuple[int, int] | None,
              b_size: tuple[int, int] | None,
              thumbs: tuple[np.ndarray, np.ndarray] | None) -> Partial | None:
    """partial.verify of a against b, and when that fails of b against a (its ratio test is
    one-sided), swapped back so that a is always the first picture. None when neither
    verifies."""
    p = partial.verify(a, b, a_size, b_size, thumbs)
    if p is None:
        q = partial.verify(b, a, b_size, a_size, None if thumbs is None else thumbs[::-1])
        p = None if q is None else q.swapped()
    return p


def _run(batch: list[Job | None]) -> list[Partial | None]:
    return [None if job is None else both_ways(*job) for job in batch]


def verify_many(jobs: Iterable[Job | None], threads: int | None = None) -> Iterator[Partial | None]:
    """both_ways of each pair of *jobs* (None: a pair with nothing to verify, answered None),
    in order, on *threads* worker threads (default_threads() when None; 1: on this thread).
    *jobs* is consumed on this thread, a few batches ahead of the answers. The answers are
    those of verifying each pair alone, whatever the number of threads."""
    threads = default_threads() if threads is None else max(1, threads)
    it = iter(jobs)
    if threads == 1:
        for job in it:
            yield None if job is None else both_ways(*job)
        return
    pool = ThreadPoolExecutor(threads, thread_name_prefix="imgfind-verify")
    window: deque[Future[list[Partial | None]]] = deque()
    try:
        while True:
            batch = [job for _, job in zip(range(BATCH), it)]
            if batch:
                window.append(pool.submit(_run, batch))
            if window and (not batch or len(window) >= IN_FLIGHT * threads):
                yield from window.popleft().result()
            elif not batch:
                break
    finally:  # an interrupted caller waits only for the batches already running
        pool.shutdown(wait=True, cancel_futures=True)
