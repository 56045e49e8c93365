"""Calibration of partial.HOMOGRAPHY_SLACK (consensus.py): every findHomography call of a
dedupe, replayed against the 4-point consensus bound.

Runs ``imgfind --db COPY dedupe --format json`` in this process on a copy of DB (a dedupe
writes decisions) with consensus.homography_may_reach switched off (so findHomography sees
every call the old code made), keeps each call's matches and the inlier count OpenCV reported,
then for each slack (the bound's radius in multiples of partial.RANSAC_PIXELS) says how many
calls the bound would skip at the smallest need (partial.GUIDE_FROM) and in how many calls the
bound is below what findHomography reported (it must never be, where that count could matter).

Usage::

    python benchmarks/bench_consensus.py DEV.db [--slack 1 1.5 2 3] [--out calls.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def record(db: str) -> list[tuple[np.ndarray, np.ndarray, int]]:
    import cv2

    from imgfind import partial
    from imgfind.cli import main

    calls = []
    real = cv2.findHomography

    def kept(pa, pb, *args, **kwargs):  # type: ignore[no-untyped-def]
        hom, inl = real(pa, pb, *args, **kwargs)
        calls.append((np.array(pa), np.array(pb), 0 if hom is None else int(inl.sum())))
        return hom, inl

    cv2.findHomography = kept
    partial.homography_may_reach = lambda *args: True
    with tempfile.TemporaryDirectory() as tmp:
        copy = str(Path(tmp) / "copy.db")
        shutil.copy(db, copy)
        out, sys.stdout = sys.stdout, open(os.devnull, "w")
        try:
            main(["--db", copy, "dedupe", "--format", "json"])
        except SystemExit:
            pass
        finally:
            sys.stdout.close()
            sys.stdout = out
    cv2.findHomography = real
    return calls


def replay(calls: list, slacks: list[float]) -> list[dict]:
    from imgfind import consensus, partial

    rows = []
    for slack in slacks:
        radius = slack * partial.RANSAC_PIXELS
        skipped = below = 0
        t = time.process_time()
        for pa, pb, found in calls:
            if not consensus.homography_may_reach(pa, pb, partial.GUIDE_FROM, radius):
                skipped += 1
            if found >= 5 and not consensus.homography_may_reach(pa, pb, found, radius):
                below += 1
        rows.append({"slack": slack, "calls": len(calls), "skipped_at_need_10": skipped,
                     "bound_below_findhomography": below,
                     "bound_cpu_s": round(time.process_time() - t, 2)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db")
    ap.add_argument("--slack", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    calls = record(args.db)
    sizes = np.array([len(c[0]) for c in calls])
    print(json.dumps({"db": args.db, "findhomography_calls": len(calls),
                      "matches_p10_p50_p90": np.percentile(sizes, [10, 50, 90]).tolist(),
                      "load": os.getloadavg()}))
    rows = replay(calls, args.slack)
    for row in rows:
        print(json.dumps(row))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
