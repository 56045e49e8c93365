"""Turn one file into a Fingerprinted record: the pure, picklable unit of indexing work.

The function here runs in worker processes; it never touches the index and never raises for
a bad file, so any executor (a process pool today, a Dask cluster tomorrow) can map it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import replace

from . import fingerprint, keypoints
from .decode import Decoded, open_for_hash
from .errors import DecodeError
from .model import FileStat, Fingerprint, Fingerprinted, ImageInfo
from .recipe import MIN_SIDE


#: Test-only: ``PATH`` or ``PATH:MARKER``. A worker that reaches PATH exits at once (as a
#: decoder crash on a hostile file would kill it); with MARKER, only when MARKER does not
#: exist yet, and it is created first (one worker dies, the retry succeeds).
CRASH_ENV = "IMGFIND_TEST_CRASH"


def _crash_hook(path: bytes) -> None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    target, _, marker = spec.partition(":")
    if os.fsencode(target) != path:
        return
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    os._exit(70)


def crashed_batch(stats: Sequence[FileStat], reason: str) -> list[Fingerprinted]:
    """The records of files that could not be analysed because reading them killed the
    process (the Dask executor's *on_poison*): unreadable, with *reason*."""
    return [Fingerprinted(s, None, None, reason) for s in stats]


def analyse(stat: FileStat, keypoints_n: int = keypoints.KEYPOINTS,
            spread: bool = False) -> Fingerprinted:
    """Decode and fingerprint one file; a file that cannot be read gets its reason instead.
    *keypoints_n*: how many keypoints its local features keep (more for a query); 0 for none
    (a query without partial matching does not use them: this spares it OpenCV's import and
    the ORB search). *spread*: keypoints spread over the picture kept too (a query's,
    Fingerprinted.spread: keypoints.extract)."""
    _crash_hook(stat.path)
    try:
        decoded = open_for_hash(stat.path)
    except DecodeError as exc:
        return Fingerprinted(stat, None, None, str(exc))
    if decoded.size >= 0 and (decoded.size, decoded.mtime_ns) != (stat.size, stat.mtime_ns):
        # Replaced or rewritten since the crawl: record the stat of what was actually read, so
        # the stored size/mtime always describe the stored fingerprint. Its inode and ctime
        # are not known from the decode: stored as unknown, filled in by the next run.
        stat = replace(stat, size=decoded.size, mtime_ns=decoded.mtime_ns, dev=0, ino=0,
                       ctime_ns=0)
    info = ImageInfo(decoded.format, decoded.width, decoded.height, decoded.mode,
                     decoded.frames, decoded.orientation, decoded.metadata, decoded.warning)
    if min(decoded.gray.shape) < 1:
        return Fingerprinted(stat, info, None, "image has no pixels")
    fp = fingerprint_decoded(decoded)
    # Local features in the same pass (keypoints.py); a flat picture has none worth keeping.
    local = None if fp.flat or keypoints_n == 0 else keypoints.extract(decoded.detail, keypoints_n)
    wide = keypoints.extract(decoded.detail, keypoints_n, spread=True) \
        if spread and local is not None else None
    return Fingerprinted(stat, info, fp, None, local, wide)


def fingerprint_decoded(decoded: Decoded) -> Fingerprint:
    """The one way from a decoded file to its fingerprint (index, query, info and the API).

    A picture smaller than MIN_SIDE on either side is marked flat: too few pixels to tell it
    apart from other small pictures.
    """
    fp = fingerprint.compute(decoded.gray, decoded.chroma)
    if min(decoded.width, decoded.height) < MIN_SIDE and not fp.flat:
        fp = Fingerprint(fp.phash, fp.dhash, fp.hashes, fp.trim, fp.thumb, True, fp.colour)
    return fp


def analyse_batch(stats: Sequence[FileStat]) -> list[Fingerprinted]:
    """Analyse a batch of files in order (one task per batch keeps pickling overhead low)."""
    exit_with_parent()
    return [analyse(s) for s in stats]


_watching = False


def exit_with_parent() -> None:
    """In a worker process, end it as soon as the process that started it is gone.

    Meant as the pool's ``initializer`` (it is also called, idempotently, by analyse_batch);
    in the main process it does nothing. Without this, a ``kill -9`` of ``imgfind index``
    leaves its pool workers behind for good: one blocks writing a result nobody reads, the
    others wait on the queue's lock.
    """
    global _watching
    import multiprocessing  # noqa: PLC0415 - only workers need it; a query does not load it

    parent = multiprocessing.parent_process()
    if _watching or parent is None:
        return
    _watching = True

    def watch() -> None:
        parent.join()  # returns when the parent's sentinel pipe closes: it has exited
        os._exit(1)

    threading.Thread(target=watch, name="imgfind-exit-with-parent", daemon=True).start()


def fingerprint_file(path: str | bytes) -> Fingerprint:
    """Fingerprint one image file (nothing is stored).

    Raises:
        DecodeError: the file cannot be read as an image.
    """
    return fingerprint_decoded(open_for_hash(path))
