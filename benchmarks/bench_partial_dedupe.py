"""Cost of dedupe with partial matching at scale (issue 12: a 10^5-file index under 10 min).

Two measurements on synthetic indexes (bench_partial.synthetic_index, model ``mixed``: every
file alone, so every file asks for partial matches, the worst case):

* ``e2e``: ``imgfind --db COPY dedupe --partial --format json`` from the shell on a fresh copy
  of the index whose sidecars were built beforehand (by a query), wall and CPU (user + sys)
  from ``/usr/bin/time``, peak RSS, groups printed, load average before and after.
* ``sample``: in this process, the partial stage's work for ``--sample`` lone pictures drawn
  at random: the candidate search (DescriptorIndex.candidates_many, as Index._place_partial),
  the verification of every candidate pair (both ways when the first fails, as dedupe) and the
  part views (Index._view_pairs); CPU per picture, projected to every file of the index.

Usage::

    python benchmarks/bench_partial_dedupe.py e2e S10K.db S30K.db
    python benchmarks/bench_partial_dedupe.py sample S100K.db --sample 1000 [--search-only] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def e2e(db: str, work: Path, query: str) -> dict:
    copy = str(work / ("copy-" + Path(db).name))
    for f in Path(work).glob("copy-*"):
        f.unlink()
    shutil.copy(db, copy)
    imgfind = str(Path(sys.executable).parent / "imgfind")
    t = time.perf_counter()
    subprocess.run([imgfind, "--db", copy, "query", query, "--format", "json"], check=True,
                   capture_output=True)  # builds the sidecars (prints, tables, descriptors)
    warm = time.perf_counter() - t
    before = load()
    done = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M", imgfind, "--db", copy,
                           "dedupe", "--partial", "--format", "json"], capture_output=True,
                          text=True)
    m = re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", done.stderr)
    groups = json.loads(done.stdout)["groups"] if done.returncode == 0 else []
    return {"db": db, "rc": done.returncode, "sidecars_s": round(warm, 1),
            "wall_s": float(m.group(1)), "cpu_s": round(float(m.group(2)) + float(m.group(3)), 1),
            "peak_rss_mb": round(int(m.group(4)) / 1024), "groups": len(groups),
            "partial_members": sum(1 for g in groups for f in g["files"] if f.get("partial")),
            "load_before": before, "load_after": load()}


def sample(db: str, count: int, seed: int, search_only: bool = False,
           threads: int | None = 0) -> dict:
    import numpy as np

    import imgfind
    from imgfind import Index, partial
    from imgfind.fingerprint import thumb_parts
    from imgfind.index import default_rule

    with Index.open(db, readonly=True) as ix:
        prints, side = ix.search_side()
        index, _ = ix.local_side()
        sizes = ix.store.sizes()
        rng = np.random.default_rng(seed)
        rows = sorted(rng.choice(len(prints), min(count, len(prints)), replace=False).tolist())
        local_row = {int(i): r for r, i in enumerate(index.ids)}
        lrow = {r: local_row.get(int(prints.ids[r]), -1) for r in rows}
        asking = [r for r in rows if lrow[r] >= 0]
        index.candidates_many([np.asarray(index.desc[:8])] * 8)  # numba loads its kernel
        t = time.process_time()
        found, _ = index.candidates_many(
            [np.asarray(index.desc[index.starts[lrow[a]]:index.starts[lrow[a] + 1]])
             for a in asking], exclude=[lrow[a] for a in asking])
        search = time.process_time() - t
        pairs = [(a, int(b)) for a, rs in zip(asking, found) for b in rs if b >= 0]
        if search_only:
            return {"db": db, "imgfind": os.path.dirname(imgfind.__file__), "files": len(prints),
                    "sample": len(rows), "candidates_per_picture": round(len(pairs) / max(1, len(asking)), 2),
                    "cpu_ms_per_picture": {"search": round(1000 * search / len(rows), 2)},
                    "load": load()}
        index.features.prefetch({lrow[a] for a in asking} | {b for _, b in pairs})
        thumbs = {}

        def jobs():
            for a, lb in pairs:
                fa, fb = index.features[lrow[a]], index.features[lb]
                ida, idb = int(prints.ids[a]), int(index.ids[lb])
                for i in (ida, idb):
                    if i not in thumbs:
                        blob = ix.store.thumbs([i]).get(i)
                        thumbs[i] = None if blob is None else thumb_parts(blob)[0]
                both = (thumbs[ida], thumbs[idb]) if thumbs[ida] is not None and thumbs[idb] is not None else None
                yield fa, fb, sizes.get(ida), sizes.get(idb), both

        def serial(todo):  # the code before verify_threads (a is asked with thumbnails only)
            for fa, fb, sa, sb, both in todo:
                p = partial.verify(fa, fb, sa, sb, both)
                yield p if p is not None else partial.verify(fb, fa, sb, sa, None)

        try:
            from imgfind.verify_threads import verify_many
        except ImportError:
            verify_many = None
        t, w = time.process_time(), time.perf_counter()
        answers = (serial(jobs()) if verify_many is None or threads == 0
                   else verify_many(jobs(), None if threads < 0 else threads))
        verified = sum(p is not None for p in answers)
        verify, verify_wall = time.process_time() - t, time.perf_counter() - w
        t = time.process_time()
        views = ix._view_pairs(rows, prints, side, default_rule(),
                               lambda r: sizes.get(int(prints.ids[r])))
        view_cpu = time.process_time() - t
    n = len(prints)
    per = (search + verify + view_cpu) / len(rows)
    return {"db": db, "imgfind": os.path.dirname(imgfind.__file__), "files": n,
            "sample": len(rows), "with_features": len(asking),
            "candidates_per_picture": round(len(pairs) / max(1, len(asking)), 2),
            "verified_pairs": verified, "view_pairs": len(views),
            "verify_threads": "serial" if verify_many is None or threads == 0 else (threads if threads > 0 else "default"),
            "verify_wall_ms_per_picture": round(1000 * verify_wall / len(rows), 2),
            "cpu_ms_per_picture": {"search": round(1000 * search / len(rows), 2),
                                   "verify": round(1000 * verify / len(rows), 2),
                                   "views": round(1000 * view_cpu / len(rows), 2)},
            "projected_partial_stage_cpu_s": round(per * n, 1), "load": load()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("e2e", "sample"))
    ap.add_argument("dbs", nargs="+")
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--search-only", action="store_true", help="sample: the candidate search only")
    ap.add_argument("--threads", type=int, default=0,
                    help="sample: verify through imgfind.verify_threads on this many threads "
                         "(-1: its default; 0, or a code without it: serial, as before)")
    ap.add_argument("--query", default=os.path.expanduser(
        "~/.cache/imgfind-bench/datasets/dev/variants/d000-elephants/crop_center_70.jpg"))
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "imgfind-bench-pdedupe")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    out = []
    for db in args.dbs:
        out.append(e2e(db, args.work, args.query) if args.mode == "e2e"
                   else sample(db, args.sample, args.seed, args.search_only, args.threads))
        print(json.dumps(out[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
