"""Benchmark search against a large index: ``imgfind query`` end to end, queries inside one
process, and ``Index.groups()`` (dedupe), on a synthetic 10^6-file index; and ``imgfind dedupe``
of a 1,000-picture library of real photos (part ``small``).

The index is built through ``imgfind.store.Store.save`` (the code path ``imgfind index`` uses)
from synthetic records with the real hash layout (``imgfind.layout.N_HASHES``):

* ``--dup-fraction`` of the files (default 20%) are copies, in clusters of 2 to 5 files; each
  hash of a copy is its cluster centre's with 1 to 3 random bits flipped, so copies are within
  6 bits of each other (inside the default rule's threshold of 8). The others are singletons
  with uniformly random hashes.
* As ``fingerprint.compute`` does for pictures without borders, the trimmed view's hashes
  equal the whole picture's; crop views are the whole picture's upright pHash with 2 to 8 bits
  flipped, the way a 5-16% crop moves a pHash.
* Every thumbnail is one constant, textured 48x48 picture (a real photo's), so verification
  accepts every candidate pair: a worst case for the work after the search. The query images
  (real photos from the dev set) are also stored, three times each, with their real fingerprints.

The database (~2.6 GB at 10^6 files) is cached under ``--cache`` and rebuilt only when its
parameters change. Each measurement runs in its own process, so its peak RSS is its own.
If per-query time misses its target, the query is profiled (cProfile) and the top functions
are written to the JSON and printed.

Usage::

    python3 benchmarks/bench_query.py --out benchmarks/results/query.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import versions

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imgfind.layout import N_HASHES, N_ORIENT, N_PHASH  # noqa: E402
from imgfind.model import Fingerprint  # noqa: E402
from imgfind.model import FileStat, Fingerprinted, ImageInfo  # noqa: E402

BENCH_CACHE = Path(os.path.expanduser("~/.cache/imgfind-bench"))
E2E_TARGET_S = 1.5
QUERY_TARGET_MS = 5.0
SMALL_TARGET_S = 1.0
STORED_QUERIES = 10  # real photos stored (3 copies each) in the index; queries use the first few


# ----------------------------------------------------------------------------- data
def query_images(count: int) -> list[Path]:
    dev = sorted((BENCH_CACHE / "datasets" / "dev" / "originals").glob("*.jpg"))
    return dev[:count]


def _flip(values: np.ndarray, rng: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    """Flip between lo and hi (inclusive) random bits of every value (bits may repeat)."""
    n = rng.integers(lo, hi + 1, values.shape)
    out = values.copy()
    for t in range(hi):
        bit = np.uint64(1) << rng.integers(0, 64, values.shape).astype(np.uint64)
        out ^= np.where(n > t, bit, np.uint64(0))
    return out


def synthetic_hashes(n: int, dup_fraction: float, seed: int) -> np.ndarray:
    """Return (n, N_HASHES) uint64 rows: clustered copies and singletons, shuffled."""
    rng = np.random.default_rng(seed)
    n_dup = int(n * dup_fraction)
    sizes, total = [], 0
    while total < n_dup:  # a running total: sum(sizes) here made 10^7 quadratic
        sizes.append(int(rng.integers(2, 6)))
        total += sizes[-1]
    sizes[-1] -= sum(sizes) - n_dup
    if sizes and sizes[-1] < 2:
        sizes.pop()
    n_dup = sum(sizes)
    n_centres = len(sizes) + (n - n_dup)  # singletons are their own centre
    centres = rng.integers(0, 2**64, size=(n_centres, N_HASHES), dtype=np.uint64)
    whole = slice(0, N_ORIENT)
    trimmed = slice(N_ORIENT, 2 * N_ORIENT)
    crops = slice(2 * N_ORIENT, N_PHASH)
    n_crops = N_PHASH - 2 * N_ORIENT
    centres[:, crops] = _flip(np.repeat(centres[:, :1], n_crops, axis=1), rng, 2, 8)
    which = np.concatenate([np.repeat(np.arange(len(sizes)), sizes),
                            np.arange(len(sizes), n_centres)])
    rows = centres[which]
    rows[:n_dup] = _flip(rows[:n_dup], rng, 1, 3)
    rows[:, trimmed] = rows[:, whole]
    d0 = N_PHASH
    rows[:, d0 + N_ORIENT:d0 + 2 * N_ORIENT] = rows[:, d0:d0 + N_ORIENT]
    return rows[rng.permutation(n)]


def build_db(db: Path, n: int, dup_fraction: float, seed: int, queries: list[Path]) -> float:
    from imgfind.analyse import analyse
    from imgfind.store import Store

    started = time.perf_counter()
    real = [analyse(FileStat(os.fsencode(str(q)), q.stat().st_size, q.stat().st_mtime_ns))
            for q in queries]
    thumb = real[0].fingerprint.thumb  # constant, textured
    hashes = synthetic_hashes(n - 3 * len(real), dup_fraction, seed)
    info = ImageInfo("JPEG", 4000, 3000, "RGB", 1, 1, {})
    trim = (0.0, 0.0, 1.0, 1.0)
    tmp = Path(str(db) + ".tmp")
    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    chunk = 50_000
    with Store(tmp) as store:
        for start in range(0, len(hashes), chunk):
            block = hashes[start:start + chunk]
            records = []
            for i, row in enumerate(block, start):
                fp = Fingerprint(int(row[0]), int(row[N_PHASH]), row, trim, thumb, False)
                st = FileStat(b"/library/%04d/IMG_%07d.jpg" % (i // 1000, i), 3_500_000 + i % 997,
                              1_600_000_000_000_000_000 + i)
                records.append(Fingerprinted(st, info, fp, None))
            with store.transaction():
                store.save(records)
            print(f"  {start + len(block):,} rows", file=sys.stderr, end="\r")
        records = []
        for k, r in enumerate(real):
            for c in range(3):
                st = FileStat(b"/library/copies/%02d-%d-%s" % (k, c, os.path.basename(r.stat.path)),
                              r.stat.size + c, r.stat.mtime_ns + c)
                records.append(Fingerprinted(st, r.info, r.fingerprint, None))
        with store.transaction():
            store.save(records)
            # The files are not on disk: as a library on an unplugged drive, its root is
            # recorded (on no device), so results keep them, marked "unavailable".
            store.remember_roots([(b"/library", -1)])
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tmp.rename(db)
    return time.perf_counter() - started


def small_library(root: Path, n: int = 1000, seed: int = 1) -> Path:
    """A library of *n* real pictures: the dev pool's distractors, originals and natural
    copies, topped up with a seeded sample of its edited copies (hard links, no copying)."""
    dev = BENCH_CACHE / "datasets" / "dev"
    lib = root / f"library-{n}-{seed}"
    if lib.exists():
        return lib
    files = sorted(p for d in ("distractors", "originals", "natural") for p in (dev / d).rglob("*")
                   if p.is_file())
    variants = sorted(p for p in (dev / "variants").rglob("*") if p.is_file())
    rng = np.random.default_rng(seed)
    files += [variants[i] for i in sorted(rng.choice(len(variants), n - len(files), replace=False))]
    tmp = root / (lib.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(files):
        os.link(f, tmp / f"{i:04d}-{f.name}")
    tmp.rename(lib)
    return lib


# ----------------------------------------------------------------------------- runners
def env_with_repo() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class Timeout(Exception):
    pass


def run_child(argv: list[str], timeout: float | None = None) -> tuple[float, str, float]:
    """Run a process; return (wall seconds, stdout, the child's own peak RSS in MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env_with_repo(), cwd=str(ROOT))
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - started > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise Timeout(f"{argv[:3]} still running after {timeout:.0f} s: killed")
            time.sleep(0.005)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[:5]} failed ({proc.returncode}):\n{err.read().decode()[-3000:]}")
        return wall, out.read().decode(), usage.ru_maxrss / 1024


CHILDREN = str(Path(__file__).resolve().parent / "children.py")  # the in-process programs


def _status(value: float, target: float) -> str:
    return "met" if value < target else f"MISSED ({value / target:.1f}x over)"


def render(r: dict) -> str:
    m = r["meta"]
    lines = [f"Index: {m['files']:,} files, {m['dup_fraction']:.0%} of them copies in clusters of 2-5, "
             f"DB {m['db_mb']:,.0f} MB, default rule ({m['rule']})", "",
             "| measurement | value | target | status |", "|---|---:|---|---|"]
    e = r.get("e2e")
    if e:
        lines += [f"| `imgfind query` 1 image, end to end (median of {len(e['runs_s'])}) | "
                  f"{e['median_s']:.2f} s | < {E2E_TARGET_S} s | {_status(e['median_s'], E2E_TARGET_S)} |",
                  f"| `imgfind query` peak RSS | {e['peak_rss_mb']:,.0f} MB | | |"]
    q = r.get("inprocess")
    if q:
        med = q["query_ms_median"]
        per = q["query_many_ms_per_image"]
        search = q["query_rest_ms_median"]
        lines += [f"| `Index.open` (readonly) | {q['open_s'] * 1000:.1f} ms | | |",
                  f"| first `Index.query` in a process (scans, builds nothing) | {q['first_query_s']:.2f} s | | |",
                  f"| `Index.warm()` (loads the index, builds the search tables) | {q['warm_s']:.2f} s | | |",
                  f"| later `Index.query` (median of {len(q['query_s'])}) | {med:,.1f} ms | | |",
                  f"| ... of which decoding and fingerprinting the query photo | {med - search:,.1f} ms | | |",
                  f"| ... the rest: search, verification, records (median) | {search:,.1f} ms | < {QUERY_TARGET_MS:.0f} ms | {_status(search, QUERY_TARGET_MS)} |",
                  f"| decoding and fingerprinting the same photos alone (median) | {q['fingerprint_query_ms_median']:,.1f} ms | | |",
                  f"| search and verification alone (`match.find_pairs`, median of {4 * q['query_many_n']}) | {q['find_pairs_ms_median']:,.1f} ms | < {QUERY_TARGET_MS:.0f} ms | {_status(q['find_pairs_ms_median'], QUERY_TARGET_MS)} |",
                  f"| `Index.query_many` of {q['query_many_n']} images, per image | {per:,.1f} ms | | |",
                  f"| in-process query peak RSS | {q['peak_rss_mb']:,.0f} MB | | |"]
    g = r.get("groups")
    if g:
        if g.get("groups_s") is None:
            lines.append(f"| `Index.groups()` (dedupe, default rule) | not finished after {g['timeout_s']:.0f} s | | |")
        else:
            lines += [f"| `Index.groups()` (dedupe, default rule) | {g['groups_s']:,.1f} s | | "
                      f"{g['groups']:,} groups, {g['files_in_groups']:,} files |",
                      f"| `Index.groups()` peak RSS | {g['peak_rss_mb']:,.0f} MB | | |"]
    sm = r.get("small")
    if sm:
        lines += [f"| `imgfind dedupe` of a {sm['files']:,}-picture library (real photos, after "
                  f"indexing; median of {len(sm['dedupe_runs_s'])}, from the shell) | "
                  f"{sm['dedupe_median_s']:.2f} s | < {SMALL_TARGET_S} s | "
                  f"{_status(sm['dedupe_median_s'], SMALL_TARGET_S)} |",
                  f"| ... its groups | {sm['groups']} groups, {sm['files_in_groups']} files | | |",
                  f"| `imgfind query` against it (median, from the shell) | {sm['query_median_s']:.2f} s | | |"]
    b = r.get("breakdown")
    if b:
        lines += ["", "Where a query's time goes (same index, separate process):", "",
                  "| step (channel: query hashes x indexed hash columns, threshold) | s |", "|---|---:|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in b.items()]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--dup-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--queries", type=int, default=5, help="distinct query images")
    ap.add_argument("--repeat", type=int, default=5, help="end-to-end CLI runs (median)")
    ap.add_argument("--cache", type=Path, default=BENCH_CACHE / "query")
    ap.add_argument("--parts", default="e2e,inprocess,groups,small",
                    help="comma-separated subset of e2e,inprocess,groups,small")
    ap.add_argument("--groups-timeout", type=float, default=1800.0,
                    help="seconds before the dedupe run is stopped and reported as unfinished")
    ap.add_argument("--merge", type=Path, default=None,
                    help="earlier JSON whose parts not run now are kept (e.g. groups)")
    ap.add_argument("--partial", choices=("on", "off", "cli"), default="on",
                    help="groups part: Index.groups(partial=...): on (the library's default), off, "
                         "or cli (as `imgfind dedupe` decides: off above 5,000 files)")
    ap.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                    help="cProfile a query (and dedupe) when a target is missed")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "query.json")
    args = ap.parse_args()

    from imgfind.model import DEFAULT_PRESET, PRESETS

    args.cache.mkdir(parents=True, exist_ok=True)
    stored = query_images(STORED_QUERIES)
    images = stored[:args.queries]
    db = args.cache / f"index-{args.files}-{args.dup_fraction}-{args.seed}-{len(stored)}.db"
    build_s = None
    if not db.exists():
        print(f"building {db} ...", file=sys.stderr)
        build_s = build_db(db, args.files, args.dup_fraction, args.seed, stored)
        print(f"built in {build_s:.0f} s", file=sys.stderr)
    rule = PRESETS[DEFAULT_PRESET]
    result: dict = {"meta": {**versions(), "command": "python3 " + " ".join(
        [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": args.files,
        "dup_fraction": args.dup_fraction, "seed": args.seed, "db": str(db),
        "db_mb": db.stat().st_size / 2**20, "build_s": build_s,
        "rule": f"{DEFAULT_PRESET}: threshold {rule.threshold}, min_similarity {rule.min_similarity}"}}
    # warm the page cache the way a second query would find it
    with open(db, "rb") as f:
        while f.read(1 << 24):
            pass
    parts = set(args.parts.split(","))
    if args.merge and args.merge.exists():
        old = json.loads(args.merge.read_text())
        for key in ("e2e", "inprocess", "breakdown", "groups", "small"):
            if key in old and key.split("_")[0] not in parts and not (key == "breakdown" and "inprocess" in parts):
                result[key] = old[key]
                result["meta"].setdefault("merged_from", {})[key] = old["meta"].get("command")
    if "e2e" in parts:
        runs, rss, out = [], 0.0, ""
        for i in range(args.repeat):
            wall, out, peak = run_child([sys.executable, "-m", "imgfind", "--db", str(db), "query",
                                         str(images[i % len(images)])])
            runs.append(wall)
            rss = max(rss, peak)
        result["e2e"] = {"median_s": statistics.median(runs), "runs_s": [round(x, 3) for x in runs],
                         "peak_rss_mb": rss, "last_output": out[-1500:]}
        print(f"e2e: {result['e2e']['median_s']:.2f} s", file=sys.stderr)

    def inproc(profile: bool) -> dict:
        _, out, _ = run_child([sys.executable, CHILDREN, "inproc_query", str(db), *map(str, images),
                               "1" if profile else "0"])
        return json.loads(out.strip().splitlines()[-1])

    if "inprocess" in parts:
        q = inproc(args.profile != "never")  # profiles one extra query at the end
        q["query_ms_median"] = statistics.median(q["query_s"]) * 1000
        q["query_many_ms_per_image"] = q["query_many_s"] / q["query_many_n"] * 1000
        missed = q["query_rest_ms_median"] >= QUERY_TARGET_MS or result.get("e2e", {}).get("median_s", 0) >= E2E_TARGET_S
        if not missed and args.profile == "auto":
            q.pop("profile", None)
        if "profile" in q or args.profile == "always":
            _, out, _ = run_child([sys.executable, CHILDREN, "profile_load", str(db)])
            result["breakdown"] = json.loads(out.strip().splitlines()[-1])
        result["inprocess"] = q
        print(f"in-process: {q['query_ms_median']:.1f} ms", file=sys.stderr)
    if "groups" in parts:
        try:
            from imgfind.cli_common import PARTIAL_AUTO_MAX
            partial = args.partial == "on" or (args.partial == "cli" and args.files <= PARTIAL_AUTO_MAX)
            _, out, _ = run_child([sys.executable, CHILDREN, "inproc_groups", str(db),
                                   "1" if args.profile == "always" else "0", "1" if partial else "0"],
                                  args.groups_timeout)
            result["groups"] = json.loads(out.strip().splitlines()[-1])
        except Timeout as exc:
            print(exc, file=sys.stderr)
            result["groups"] = {"groups_s": None, "timeout_s": args.groups_timeout, "groups": None,
                                "files_in_groups": None, "peak_rss_mb": None}
    if "small" in parts:
        lib = small_library(args.cache)
        small_db = args.cache / f"{lib.name}.db"
        for suffix in ("", "-wal", "-shm", "-prints.npy", "-prints.json"):
            Path(str(small_db) + suffix).unlink(missing_ok=True)
        cli = [sys.executable, "-m", "imgfind", "--db", str(small_db)]
        index_s, _, _ = run_child(cli + ["-q", "index", str(lib)])
        runs, out = [], ""
        for _ in range(args.repeat):
            wall, out, _ = run_child(cli + ["dedupe", "--format", "json"])
            runs.append(wall)
        groups = json.loads(out)["groups"]
        q_runs = [run_child(cli + ["query", str(next(lib.glob("*")))])[0] for _ in range(args.repeat)]
        result["small"] = {"files": len(list(lib.iterdir())), "index_s": index_s,
                           "dedupe_runs_s": [round(x, 3) for x in runs],
                           "dedupe_median_s": statistics.median(runs), "groups": len(groups),
                           "files_in_groups": sum(len(g["files"]) for g in groups),
                           "query_median_s": statistics.median(q_runs)}
        print(f"small: dedupe {result['small']['dedupe_median_s']:.2f} s", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))
    for label in ("inprocess", "groups"):
        if result.get(label, {}).get("profile"):
            print(f"\n### cProfile of one {label} call (top 25, cumulative)\n\n```\n{result[label]['profile']}\n```")


if __name__ == "__main__":
    main()
