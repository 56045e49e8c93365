"""The indexing pipeline's edges: what to read (a pure diff) and who reads it (an executor).

``diff`` compares what the crawl found with what the store knows and says which files are
new, changed, unchanged or gone; it touches neither the disk nor the database, so every rule
of change detection is tested on plain records (tests/test_indexer.py).

An ``Executor`` runs the fingerprinting function over batches of files. ``ProcessExecutor``
(worker processes on this machine) is the default and ``InlineExecutor`` runs in the calling
process; a Dask client can be wrapped to the same one-method interface (``client.map`` over
the batches, then ``as_completed``), since the work unit (``analyse.analyse_batch``) is pure
and picklable and the results go back to the one process that writes the index.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .cores import usable_cores
from .model import FileStat, Known
from .recipe import recipe_id

T = TypeVar("T")
R = TypeVar("R")


# ----------------------------------------------------------------------------- the diff
@dataclass(frozen=True, slots=True)
class Plan:
    """What an index run has to do, from ``diff``.

    ``new`` and ``changed`` are read (fingerprinted); ``unchanged`` are not; ``refresh`` are
    unchanged files whose stored identity (device, inode, ctime) is missing (rows written
    before schema 2, merged rows) or from another filesystem (an index copied from another
    machine; a disk with a new device number): only their stat is rewritten;
    ``gone`` are the ids of stored files that the crawl did not find; ``aliases`` are files
    the crawl found that the index already holds under another name (a hard link, a folder
    reached by a symlink): they are neither read nor stored again.
    """

    new: tuple[FileStat, ...] = ()
    changed: tuple[FileStat, ...] = ()
    unchanged: tuple[FileStat, ...] = ()
    refresh: tuple[FileStat, ...] = ()
    gone: tuple[int, ...] = ()
    aliases: tuple[FileStat, ...] = ()

    @property
    def todo(self) -> list[FileStat]:
        """The files to read, in crawl order within new then changed."""
        return [*self.new, *self.changed]


def is_current(known: Known, stat: FileStat,
               retry: Callable[[str], bool] = lambda _error: False) -> bool:
    """True when *known* still describes the file *stat* and its fingerprint need not be
    made again.

    The change key is (size, mtime, inode, ctime): a file renamed over another with the same
    size and mtime has another inode; a rewrite whose mtime was restored, or a chmod that
    makes an unreadable file readable, changes the ctime. Inode and ctime only mean something
    on the filesystem that gave them: rows from before schema 2 and merged rows (merge.py
    stores no identity) have none, and a row whose device is not the file's device now (an
    index copied from another machine, a disk renumbered) holds another filesystem's; those
    are compared on size and mtime alone, and ``diff`` lists them in ``refresh`` so that
    they adopt this filesystem's identity, and the full key holds from then on. A readable file is also read again
    when the fingerprint recipe changed; an unreadable one only when the file changed or
    when ``retry(error)`` says its error may not hold now (a "no decoder" error for a format
    that an extra installed since reads: decoders.Registry.resolves).
    """
    if known.size != stat.size or known.mtime_ns != stat.mtime_ns:
        return False
    if known.ino is not None and stat.ino and known.dev == stat.dev \
            and (known.ino, known.ctime_ns) != (stat.ino, stat.ctime_ns):
        return False
    if known.error is not None:
        return not retry(known.error)
    return known.recipe == recipe_id()


def diff(stats: Iterable[FileStat], known: Mapping[bytes, Known], *,
         elsewhere: Mapping[tuple[int, int], Known] | None = None,
         kept: Callable[[bytes], bool] = lambda _path: False,
         retry: Callable[[str], bool] = lambda _error: False) -> Plan:
    """Compare a crawl with the store. Pure: no disk, no database.

    Args:
        stats: what the crawl found, each file once (the crawl skips a (device, inode) it has
            already yielded); a repeated path or identity is ignored here too.
        known: the stored files under the crawled roots, by path.
        elsewhere: stored files outside the crawled paths that still name the file with that
            (device, inode) on disk (the caller checked): a crawled file with that identity
            is an alias, not a new file.
        kept: paths for which a stored file that the crawl did not find is kept anyway (under
            a folder the crawl could not read).
        retry: told the error of an unreadable stored file that did not change; True reads
            it again (is_current).
    """
    elsewhere = elsewhere or {}
    new: list[FileStat] = []
    changed: list[FileStat] = []
    unchanged: list[FileStat] = []
    refresh: list[FileStat] = []
    aliases: list[FileStat] = []
    seen_paths: set[bytes] = set()
    seen_ids: set[tuple[int, int]] = set()
    for st in stats:
        if st.path in seen_paths or (st.ino and st.identity in seen_ids):
            continue
        seen_paths.add(st.path)
        if st.ino:
            seen_ids.add(st.identity)
        k = known.get(st.path)
        if k is None:
            (aliases if st.ino and st.identity in elsewhere else new).append(st)
        elif is_current(k, st, retry):
            unchanged.append(st)
            if st.ino and (k.dev, k.ino, k.ctime_ns) != (st.dev, st.ino, st.ctime_ns):
                refresh.append(st)
        else:
            changed.append(st)
    gone = tuple(k.id for path, k in known.items() if path not in seen_paths and not kept(path))
    return Plan(tuple(new), tuple(changed), tuple(unchanged), tuple(refresh), gone, tuple(aliases))


# ----------------------------------------------------------------------------- executors
class Executor(Protocol):
    """Runs a function over batches of work items somewhere (here, other processes, a cluster).

    ``map_batches(fn, batches)`` returns an iterator over ``fn(batch)`` for every batch. It
    may run batches in parallel and may yield results in any order (each result must say
    what it is about: ``analyse_batch`` returns records that carry their FileStat); it should
    keep a bounded number of batches in flight, so that a crawl of millions of files does
    not hold every result in memory. *fn* and the batches must be picklable. Closing the
    iterator early (an interrupted run) cancels what has not started.
    """

    def map_batches(self, fn: Callable[[Sequence[T]], R], batches: Iterable[Sequence[T]]
                    ) -> Iterator[R]: ...


class InlineExecutor:
    """Runs every batch in the calling process, in order (one job, or too little work)."""

    def map_batches(self, fn: Callable[[Sequence[T]], R], batches: Iterable[Sequence[T]]
                    ) -> Iterator[R]:
        for batch in batches:
            yield fn(batch)


class ProcessExecutor:
    """Worker processes on this machine (``concurrent.futures.ProcessPoolExecutor``).

    Results come back in the order of the batches; at most ``4 * jobs`` batches are in flight.
    *initializer* runs in every worker (``analyse.exit_with_parent``: workers end with a
    killed parent).
    """

    def __init__(self, jobs: int, initializer: Callable[[], None] | None = None):
        self.jobs = max(1, jobs)
        self.initializer = initializer

    def map_batches(self, fn: Callable[[Sequence[T]], R], batches: Iterable[Sequence[T]]
                    ) -> Iterator[R]:
        # Imported here: it loads multiprocessing, which a query never needs.
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

        pool = ProcessPoolExecutor(max_workers=self.jobs, initializer=self.initializer)
        pending: deque[Future[R]] = deque()
        done = False
        try:
            for batch in batches:  # a bounded window keeps memory flat on huge crawls
                pending.append(pool.submit(fn, batch))
                if len(pending) >= 4 * self.jobs:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
            done = True
        finally:
            # Every batch done: wait for the idle workers and the pool's manager thread, so
            # that nothing of the pool is left for the interpreter's exit (CPython's exit
            # hook could then write to the pool's closed wake-up pipe: "Exception ignored
            # ... OSError: [Errno 9] Bad file descriptor" on stderr, seen once in CI).
            # Interrupted or failed: cancel what is queued and do not wait.
            pool.shutdown(wait=done, cancel_futures=True)


def batches_for(todo: Sequence[T], jobs: int, batch_files: int) -> list[Sequence[T]]:
    """Cut *todo* into batches of at most *batch_files*; a small run gets smaller batches so
    that every worker has work (48 files in batches of 16 would be 3 tasks for 2 workers)."""
    size = max(1, min(batch_files, -(-len(todo) // (4 * max(1, jobs)))))
    return [todo[i:i + size] for i in range(0, len(todo), size)]


def default_executor(jobs: int | None, n_files: int) -> Executor:
    """Today's choice: worker processes when there is enough work for them, else inline."""
    from .analyse import exit_with_parent

    jobs = jobs or usable_cores()
    if jobs <= 1 or n_files < 2 * jobs:
        return InlineExecutor()
    return ProcessExecutor(jobs, exit_with_parent)
