"""Benchmark dedupe of large families of near-identical pictures (issue 15): time and peak
memory of ``imgfind dedupe`` when thousands of files are copies of one another.

Cases (generated with Pillow from one real photo of the dev pool, seeded, cached under
``--cache``):

* ``copies``: N noisy copies of one 400x300 photo (Gaussian noise, sigma 6, JPEG q90);
* ``frames``: N dark noisy frames of one scene (the photo at 15% brightness, sigma 4 noise);
* ``crops``: overlapping crops of one wallpaper (the photo upscaled to 3200x2400, 400x300
  windows on a grid with 80% overlap between neighbours; ``--crops`` windows).

Each case is indexed once (``imgfind index``, not timed as part of the target), then
``imgfind dedupe --format json`` runs in its own process: wall time from the shell and the
child's peak RSS. Targets: copies and frames (2,000 files) under 10 s and 500 MB; crops
(22,000 files) under 60 s and 1 GB.

Usage::

    python3 benchmarks/bench_families.py --out benchmarks/results/families.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import bench_query
from bench_query import BENCH_CACHE, ROOT, run_child
from machine import versions

TARGETS = {"copies": (10.0, 500.0), "frames": (10.0, 500.0), "crops": (60.0, 1000.0)}


def source_photo() -> Image.Image:
    dev = sorted((BENCH_CACHE / "datasets" / "dev" / "originals").glob("*.jpg"))
    return Image.open(dev[0]).convert("RGB")


def build(case: str, n: int, root: Path) -> Path:
    folder = root / f"{case}-{n}"
    if folder.exists():
        return folder
    tmp = root / f"{case}-{n}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    photo = source_photo()
    if case in ("copies", "frames"):
        base = np.asarray(photo.resize((400, 300), Image.Resampling.LANCZOS), np.float32)
        if case == "frames":
            base = base * 0.15
        sigma = 6.0 if case == "copies" else 4.0
        for i in range(n):
            noisy = np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(tmp / f"{case}-{i:05d}.jpg", quality=90)
    elif case == "crops":
        wall = photo.resize((3200, 2400), Image.Resampling.BICUBIC)
        # neighbours overlap by 80%: steps of 80 x 60 px; as many rows as needed for n
        cols = (3200 - 400) // 80 + 1
        made = 0
        for y in range(0, 2400 - 300 + 1, 60):
            for x in range(0, 3200 - 400 + 1, 80):
                if made >= n:
                    break
                wall.crop((x, y, x + 400, y + 300)).save(tmp / f"crop-{y:04d}-{x:04d}.jpg", quality=90)
                made += 1
        # more windows than the grid holds: a second grid offset by half a step
        y_off = 0
        while made < n:
            for y in range(30 + y_off, 2400 - 300 + 1, 60):
                for x in range(40, 3200 - 400 + 1, 80):
                    if made >= n:
                        break
                    wall.crop((x, y, x + 400, y + 300)).save(
                        tmp / f"crop2-{y_off}-{y:04d}-{x:04d}.jpg", quality=90)
                    made += 1
            y_off += 7
        del cols
    tmp.rename(folder)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="copies,frames,crops")
    ap.add_argument("--n", type=int, default=2000, help="files in the copies and frames cases")
    ap.add_argument("--crops", type=int, default=22000, help="files in the crops case")
    ap.add_argument("--cache", type=Path, default=BENCH_CACHE / "families")
    ap.add_argument("--python", default=sys.executable, help="interpreter running imgfind")
    ap.add_argument("--repo", type=Path, default=ROOT, help="imgfind checkout to measure")
    ap.add_argument("--timeout", type=float, default=1200.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "families.json")
    ap.add_argument("--dedupe-arg", action="append", default=[],
                    help="extra argument for 'imgfind dedupe' (repeat; e.g. --dedupe-arg=--no-partial)")
    ap.add_argument("--keep-index", action="store_true",
                    help="reuse this checkout's index of a case when it exists (not re-indexed)")
    args = ap.parse_args()
    bench_query.ROOT = args.repo.resolve()  # children import imgfind from this checkout
    args.cache.mkdir(parents=True, exist_ok=True)
    result: dict = {"meta": {**versions(), "command": "python3 " + " ".join(
        [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]), "repo": str(args.repo),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, "cases": {}}
    for case in args.cases.split(","):
        n = args.crops if case == "crops" else args.n
        folder = build(case, n, args.cache)
        db = args.cache / f"{case}-{n}-{args.repo.name}.db"
        cli = [args.python, "-m", "imgfind", "--db", str(db)]
        if args.keep_index and db.exists():
            index_s = None
        else:
            for suffix in ("", "-wal", "-shm", "-prints.npy", "-prints.json"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            index_s, _, _ = run_child(cli + ["-q", "index", str(folder)], args.timeout)
        load = os.getloadavg()
        try:
            before = os.times()
            wall, out, rss = run_child(cli + ["dedupe", "--format", "json", *args.dedupe_arg],
                                       args.timeout)
            after = os.times()  # the waited-for child's user + system CPU seconds
            cpu = (after.children_user - before.children_user
                   + after.children_system - before.children_system)
            groups = json.loads(out)["groups"]
            row = {"files": n, "index_s": index_s, "dedupe_s": wall, "dedupe_cpu_s": round(cpu, 2),
                   "peak_rss_mb": rss,
                   "groups": len(groups), "largest_group": max((len(g["files"]) for g in groups), default=0),
                   "files_in_groups": sum(len(g["files"]) for g in groups)}
        except Exception as exc:  # a timeout is a result too
            row = {"files": n, "index_s": index_s, "dedupe_s": None, "error": str(exc)[:300]}
        row["loadavg_before"] = [round(x, 2) for x in load]
        row["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        t_s, t_mb = TARGETS[case]
        row["target"] = f"< {t_s:.0f} s and < {t_mb:.0f} MB"
        result["cases"][case] = row
        print(case, json.dumps(row), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
