"""``imgfind --db DB dedupe --format json`` in this process, with the wall and CPU seconds of
each stage (session 10, issue 15): where a large dedupe's time goes, and how many cores each
stage used (CPU / wall), without cProfile's overhead.

Stages (inclusive; nested ones say so): loading (``Index.search_side``: prints, tables),
search (every ``next()`` of ``candidates.iter_candidates``), verification of the search's
candidates (``match.decide`` inside ``find_pairs``), frame checks after the search
(``Index._not_frames``), same pixels / damaged copies, records and presence, star checks
(``group.star_components``, of which ``verify_pairs``), and the rest of the command.

The imgfind package is whichever the interpreter imports (``PYTHONPATH=<snapshot>``). Run it
on a copy of the index (a dedupe writes its decisions)::

    python benchmarks/stage_dedupe.py COPY.db out.json

Prints JSON to stderr: per stage {wall_s, cpu_s, calls, raised_peak_mb: how far one call of
it raised the process's peak resident memory}, the total, peak RSS (MB). CPU seconds are the
process's (every thread: the compiled search's threads included).
"""
from __future__ import annotations

import functools
import json
import resource
import sys
import time

STAGES: dict[str, list[float]] = {}


def _hwm_mb() -> float:
    """Peak resident memory of this process so far (VmHWM), MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _add(name: str, wall: float, cpu: float, hwm0: float) -> None:
    s = STAGES.setdefault(name, [0.0, 0.0, 0, 0.0])
    s[0] += wall
    s[1] += cpu
    s[2] += 1
    s[3] = max(s[3], _hwm_mb() - hwm0)  # how far this stage raised the peak


def _timed(name: str, fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        w, c, h = time.perf_counter(), time.process_time(), _hwm_mb()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(name, time.perf_counter() - w, time.process_time() - c, h)
    return run


def _timed_iter(name: str, fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        it = fn(*args, **kwargs)
        while True:
            w, c, h = time.perf_counter(), time.process_time(), _hwm_mb()
            try:
                item = next(it)
            except StopIteration:
                _add(name, time.perf_counter() - w, time.process_time() - c, h)
                return
            _add(name, time.perf_counter() - w, time.process_time() - c, h)
            yield item
    return run


def main() -> None:
    db, out = sys.argv[1], sys.argv[2]
    from imgfind import damaged, index, match, same_pixels, side
    from imgfind.cli import main as cli

    index.Index.search_side = _timed("loading (search_side)", index.Index.search_side)
    side.Side.engine = _timed("  search: engines and tables (Side.engine)", side.Side.engine)
    side.Side.canonical_join = _timed("  search: canonical join (Side.canonical_join)",
                                      side.Side.canonical_join)
    match.iter_candidates = _timed_iter("search (iter_candidates)", match.iter_candidates)
    match.decide = _timed("verification of candidates (match.decide)", match.decide)
    index.Index._not_frames = _timed("frame checks (_not_frames, also in star checks)",
                                     index.Index._not_frames)
    same_pixels.library_pairs = _timed("same pixels", same_pixels.library_pairs)
    damaged.library_pairs = _timed("damaged copies", damaged.library_pairs)
    index.look = _timed("presence (look)", index.look)
    index.star_components = _timed("star checks (star_components)", index.star_components)
    index.verify_pairs = _timed("  of which verify_pairs", index.verify_pairs)
    index.Index.groups = _timed("groups() total", index.Index.groups)
    w, c, h = time.perf_counter(), time.process_time(), _hwm_mb()
    stdout, sys.stdout = sys.stdout, open(out, "w")
    try:
        cli(["--db", db, "dedupe", "--format", "json"])
    except SystemExit:
        pass
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    _add("command total", time.perf_counter() - w, time.process_time() - c, h)
    print(json.dumps({
        "stages": {k: {"wall_s": round(v[0], 1), "cpu_s": round(v[1], 1), "calls": v[2],
                       "raised_peak_mb": round(v[3])}
                   for k, v in STAGES.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)},
        indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
