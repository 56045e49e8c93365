"""The programs the benchmarks run in a fresh process, as functions of a real module.

``python benchmarks/children.py NAME ARGS...`` runs one and prints one JSON line (its
measurements). A fresh process per measurement keeps imports, caches and peak memory of one
run out of the next. Imports of imgfind and the baselines happen inside each function, so
their cost is measured where a child reports ``import_s``.

The imagededup baseline runs under another interpreter (its own virtualenv, without imgfind)
and lives in imagededup_child.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout: the imgfind beside it
    sys.path.insert(0, str(ROOT))


def _files(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder))


# ----------------------------------------------------------------------------- indexing
def inproc_update(folder: str, db: str) -> dict:
    """Index *folder* into *db* through the Python API: import and work times, files indexed."""
    t0 = time.perf_counter()
    from imgfind.index import Index
    t1 = time.perf_counter()
    with Index.open(db) as idx:
        stats = idx.update([folder])
    t2 = time.perf_counter()
    return {"import_s": t1 - t0, "work_s": t2 - t1, "n": stats.new}


def plain_loop(folder: str) -> dict:
    """The loop a user would write first: imagehash.phash of every file, one process."""
    t0 = time.perf_counter()
    import imagehash
    from PIL import Image
    t1 = time.perf_counter()
    hashes = [str(imagehash.phash(Image.open(p))) for p in _files(folder)]
    t2 = time.perf_counter()
    return {"import_s": t1 - t0, "work_s": t2 - t1, "n": len(hashes)}


def _draft_decode(path: str) -> tuple[int, int]:
    from PIL import Image

    im = Image.open(path)
    im.draft("L", (256, 256))
    im.load()
    return im.size


def floor(folder: str, jobs: str) -> dict:
    """The decoding floor: draft-decode every file in a pool of *jobs* processes, nothing else."""
    from multiprocessing import Pool

    files = _files(folder)
    t0 = time.perf_counter()
    with Pool(int(jobs)) as pool:
        sizes = pool.map(_draft_decode, files, chunksize=1)
    t1 = time.perf_counter()
    return {"import_s": 0.0, "work_s": t1 - t0, "n": len(sizes)}


# ----------------------------------------------------------------------------- queries
def inproc_query(db: str, *rest: str) -> dict:
    """Queries inside one process: first query, warm(), repeated queries (search apart from
    fingerprinting the query photo), query_many; ARGS are IMAGES... then PROFILE (0/1)."""
    import cProfile
    import io
    import pstats
    import resource
    import statistics

    import imgfind.index as index_module
    from imgfind.analyse import analyse
    from imgfind.index import Index, default_rule, query_side
    from imgfind.match import find_pairs
    from imgfind.model import FileStat

    images, profile = list(rest[:-1]), rest[-1] == "1"

    def stat(im: str) -> FileStat:
        st = os.stat(im)
        return FileStat(os.fsencode(im), st.st_size, st.st_mtime_ns)

    out: dict = {}
    t0 = time.perf_counter()
    idx = Index.open(db, readonly=True)
    out["open_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    first = idx.query(images[0])
    out["first_query_s"] = time.perf_counter() - t0
    out["first_matches"] = len(first.matches)
    t0 = time.perf_counter()
    idx.warm()
    out["warm_s"] = time.perf_counter() - t0
    # Time the query photo's decoding and fingerprinting inside each query (a wrapper around
    # the analyse() that Index.query calls), to tell it from the search.
    spent: list[float] = []
    original = index_module.analyse

    def timed_analyse(st: FileStat):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return original(st)
        finally:
            spent.append(time.perf_counter() - t)

    index_module.analyse = timed_analyse
    times, rest_s = [], []
    try:
        for _ in range(3):
            for im in images[1:] + images[:1]:
                spent.clear()
                t0 = time.perf_counter()
                idx.query(im)
                times.append(time.perf_counter() - t0)
                rest_s.append(times[-1] - sum(spent))
    finally:
        index_module.analyse = original
    out["query_s"] = times
    out["query_rest_ms_median"] = statistics.median(rest_s) * 1000
    # The part of a query that is not search: decoding and fingerprinting the query photo.
    fp_times = []
    for im in images * 3:
        st = stat(im)
        t0 = time.perf_counter()
        analyse(st)
        fp_times.append(time.perf_counter() - t0)
    out["fingerprint_query_ms_median"] = statistics.median(fp_times) * 1000
    # The search proper: candidates from every channel, verification, for a fingerprinted query.
    _, whole = idx.search_side()
    sides = [query_side([analyse(stat(im)).fingerprint]) for im in images]
    search_times = []
    for side in sides * 4:
        t0 = time.perf_counter()
        find_pairs(side, whole, default_rule(), same=False)
        search_times.append(time.perf_counter() - t0)
    out["find_pairs_ms_median"] = statistics.median(search_times) * 1000
    t0 = time.perf_counter()
    many = idx.query_many(images)
    out["query_many_s"] = time.perf_counter() - t0
    out["query_many_n"] = len(many)
    out["matches"] = [len(r.matches) for r in many]
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        idx.query(images[0])
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(25)
        out["profile"] = s.getvalue()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def inproc_groups(db: str, profile: str) -> dict:
    """Index.groups() of the whole index in one process (profiled when PROFILE is 1)."""
    import cProfile
    import io
    import pstats
    import resource

    from imgfind.index import Index

    out: dict = {}
    idx = Index.open(db, readonly=True)
    # As `imgfind dedupe` decides (cli_common.partial_on): partial matching only for an
    # index of at most PARTIAL_AUTO_MAX files (its descriptor index and part views are rebuilt
    # per run: 311 of 321 s at 10^4 synthetic files, which have no local features).
    from imgfind.cli_common import PARTIAL_AUTO_MAX
    partial = idx.store.counts()["fingerprinted"] <= PARTIAL_AUTO_MAX
    out["partial"] = partial
    prof = cProfile.Profile() if profile == "1" else None
    if prof:
        prof.enable()
    t0 = time.perf_counter()
    groups = idx.groups(partial=partial)
    out["groups_s"] = time.perf_counter() - t0
    if prof:
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(25)
        out["profile"] = s.getvalue()
    out["groups"] = len(groups)
    out["files_in_groups"] = sum(len(g.members) for g in groups)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def profile_load(db: str) -> dict:
    """Loading the prints, then per search channel: building its engine and a query's search."""
    import statistics

    from imgfind.index import Index, default_rule
    from imgfind.match import channels
    from imgfind.search import make_engine

    idx = Index.open(db, readonly=True)
    out: dict = {}
    t0 = time.perf_counter()
    prints = idx.store.load_prints()
    out["load_prints_s"] = time.perf_counter() - t0
    for n, ch in enumerate(channels(default_rule(), same=False)):
        q_cols, i_cols, k = ch.query_cols, ch.library_cols, ch.radius
        name = f"channel{n}_{len(q_cols)}x{len(i_cols)}_k{k}"
        q = prints.hashes[-1:, q_cols].reshape(-1)
        t0 = time.perf_counter()
        eng = make_engine(prints.hashes[:, i_cols].reshape(-1))
        eng.prepare(k, 16)
        out[f"{name}_build_s"] = time.perf_counter() - t0
        runs = []
        for _ in range(20):
            t0 = time.perf_counter()
            eng.find_many(q, k)
            runs.append(time.perf_counter() - t0)
        out[f"{name}_find_s"] = statistics.median(runs)
        del eng
    return out


CHILDREN = {"inproc_update": inproc_update, "plain_loop": plain_loop, "floor": floor,
            "inproc_query": inproc_query, "inproc_groups": inproc_groups,
            "profile_load": profile_load}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in CHILDREN:
        sys.exit(f"usage: children.py {{{','.join(CHILDREN)}}} ARGS...")
    print(json.dumps(CHILDREN[argv[0]](*argv[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
