"""Recall of the partial-match candidate search at scale (issue 12): does each hard copy of the
bench dev pool (crop_center_70, screenshot, collage, perspective, rot_5, rot_15) find its
original or one of its easy or medium copies (the group it would join in dedupe) among its
TOP_CANDIDATES candidates, with the dev pool alone and
inside a synthetic 10^5-file index (bench_partial.synthetic_index: the dev pool's index plus
unrelated pictures with a real library's descriptors)? The candidate stage only: what dedupe
then verifies.

Files of the index are named by their manifest line (the bench adapter's layout: 000123.jpg),
or are the pool's own files (``imgfind index POOL``: matched by their manifest path).

Usage::

    python benchmarks/partial_recall.py DEV.db S100K.db [--stop-max 250 5000] [--crowded 20000]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

KINDS = ("crop_center_70", "screenshot", "collage", "perspective", "rot_5", "rot_15")


def pairs_of(db: str, manifest: Path):
    import sqlite3

    rows = [json.loads(line) for line in open(manifest)]
    orig = {r["original"]: i for i, r in enumerate(rows) if r["tier"] == "original"}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    paths = dict(con.execute("SELECT id, path FROM files").fetchall())
    con.close()
    line_of = {}
    by_file = {r["file"]: i for i, r in enumerate(rows)}
    for fid, p in paths.items():
        name = os.fsdecode(p)
        stem = Path(name).stem
        if stem.isdigit() and not name.startswith("/nonexistent"):
            line_of[int(fid)] = int(stem)
        else:  # an index of the pool's own folder (imgfind index POOL): by its manifest path
            tail = "/".join(Path(name).parts[-3:]), "/".join(Path(name).parts[-2:])
            for t in tail:
                if t in by_file:
                    line_of[int(fid)] = by_file[t]
                    break
    by_line = {v: k for k, v in line_of.items()}
    family = collections.defaultdict(list)
    for i, r in enumerate(rows):
        if r["original"] is not None and r["tier"] != "hard" and i in by_line:
            family[r["original"]].append(by_line[i])
    out = []
    for i, r in enumerate(rows):
        if r["tier"] == "hard" and r["transform"] in KINDS and i in by_line \
                and orig.get(r["original"]) in by_line:
            out.append((r["transform"], by_line[i], family[r["original"]]))
    return out


def recall(db: str, pairs, stop_max: int, crowded: int) -> dict:
    from imgfind import Index, partial

    partial.STOP_MAX, partial.CROWDED = stop_max, crowded
    with Index.open(db, readonly=True) as ix:
        index, _ = ix.local_side()
        row = {int(i): r for r, i in enumerate(index.ids)}
        have = [(k, row[a], {row[f] for f in fam if f in row}) for k, a, fam in pairs
                if a in row]
        qs = [a for _, a, _ in have]
        t = time.process_time()
        found, _ = index.candidates_many(
            [np.asarray(index.desc[index.starts[r]:index.starts[r + 1]]) for r in qs], exclude=qs)
        cpu = time.process_time() - t
    hit = collections.defaultdict(list)
    for j, (k, a, fam) in enumerate(have):
        hit[k].append(bool(fam & {int(r) for r in found[j]}))
    return {"files": len(index), "stop_max": stop_max, "cap": partial.stop_cap(len(index)),
            "crowded": partial.crowded_cap(len(index)),
            "queries": len(qs), "cpu_s": round(cpu, 2),
            "per_kind": {k: round(100 * sum(v) / len(v), 1) for k, v in sorted(hit.items())},
            "all": round(100 * sum(sum(v) for v in hit.values())
                         / max(1, sum(len(v) for v in hit.values())), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dbs", nargs="+")
    ap.add_argument("--stop-max", type=int, nargs="+", default=[250])
    ap.add_argument("--crowded", type=int, nargs="+", default=[20_000],
                    help="partial.CROWDED values (a huge one: no such rule)")
    ap.add_argument("--manifest", type=Path, default=Path(os.path.expanduser(
        "~/.cache/imgfind-bench/datasets/dev/manifest.jsonl")))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    results = []
    pairs = pairs_of(args.dbs[0], args.manifest)
    for db in args.dbs:
        for sm in args.stop_max:
            for cr in args.crowded:
                results.append({"db": db, **recall(db, pairs, sm, cr)})
                print(json.dumps(results[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
