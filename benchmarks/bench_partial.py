"""Benchmark the cost of partial matching (issue 12): indexing CPU, bytes, search at scale.

Three measurements, each printed and written to ``--out`` (JSON):

* **indexing CPU per picture** with and without local features: ``analyse.analyse`` (decode,
  global fingerprint, and, with features, the ORB keypoints of the detail picture) over
  generated 12 MP (4000x3000) and 2 MP (1632x1224) JPEGs (q90), in this process, process CPU
  time, median of ``--repeat``; "without" calls the same decode and fingerprint and skips
  ``keypoints.extract`` (the detail picture is still decoded: compare with the release
  before it through ``--baseline-python``, which runs the same loop in another venv).
* **bytes per picture** the keypoints table adds: the index at ``--db`` copied with VACUUM,
  with and without the table, file size difference / pictures.
* **candidate search at scale**: a LocalIndex of ``--scale`` synthetic pictures, whose
  descriptors are the real ones of ``--db`` with 3 random bits flipped each (so the
  descriptor distribution is a real library's), build time and time per query (median over
  real pictures of the index).

Usage::

    python benchmarks/bench_partial.py --db INDEX.db --out benchmarks/results/partial-cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

LOOP = r"""
import sys, time, os, statistics
from imgfind.analyse import analyse
from imgfind.crawl import file_stat
files = sys.argv[2:]
if sys.argv[1] == "off":
    import imgfind.keypoints as kp
    kp.extract = lambda *a, **k: None
analyse(file_stat(os.fsencode(files[0]), os.stat(files[0])))
t = time.process_time()
for f in files:
    analyse(file_stat(os.fsencode(f), os.stat(f)))
print((time.process_time() - t) / len(files) * 1000)
"""


def make_jpegs(folder: Path, size: tuple[int, int], n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    rng = np.random.default_rng(0)
    for i in range(n):
        p = folder / f"{i:03d}.jpg"
        if not p.exists():
            w, h = size
            small = rng.integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8)
            im = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
            noise = rng.integers(-12, 12, (h, w, 3))
            im = Image.fromarray(np.clip(np.asarray(im, np.int16) + noise, 0, 255).astype(np.uint8))
            im.save(p, quality=90)
        out.append(str(p))
    return out


def cpu_ms(python: str, mode: str, files: list[str], repeat: int) -> float:
    runs = [float(subprocess.run([python, "-c", LOOP, mode, *files], check=True,
                                 capture_output=True, text=True).stdout) for _ in range(repeat)]
    return statistics.median(runs)


def bytes_per_picture(db: str) -> dict:
    tmp = tempfile.mkdtemp()
    try:
        full, bare = os.path.join(tmp, "full.db"), os.path.join(tmp, "bare.db")
        con = sqlite3.connect(db)
        con.execute(f"VACUUM INTO '{full}'")
        n = con.execute("SELECT count(*) FROM prints").fetchone()[0]
        k, blobs = con.execute("SELECT count(*), sum(length(xy) + length(descs)) FROM keypoints").fetchone()
        con.close()
        shutil.copy(full, bare)
        con = sqlite3.connect(bare)
        con.execute("DROP TABLE keypoints")
        con.commit()
        con.execute("VACUUM")
        con.close()
        added = os.path.getsize(full) - os.path.getsize(bare)
        return {"pictures": n, "with_keypoints": k, "blob_bytes_per_picture": blobs / max(k, 1),
                "file_bytes_per_picture": added / max(n, 1),
                "index_bytes_per_picture": os.path.getsize(full) / max(n, 1)}
    finally:
        shutil.rmtree(tmp)


def search_at_scale(db: str, scale: int, queries: int) -> dict:
    from imgfind import partial
    from imgfind.store import Store

    with Store(db, readonly=True) as st:
        feats = list(st.local_features().values())
    rng = np.random.default_rng(0)
    synth = {}
    for i in range(scale):
        f = feats[i % len(feats)]
        d = np.frombuffer(f.desc, "<u8").copy()
        if i >= len(feats):
            for _ in range(3):
                d ^= np.left_shift(np.uint64(1), rng.integers(0, 64, len(d)).astype(np.uint64))
        synth[i] = type(f)(f.width, f.height, f.xy, d.astype("<u8").tobytes())
    t = time.perf_counter()
    index = partial.LocalIndex.build(synth)
    index.engine.prepare(partial.CANDIDATE_BITS) if hasattr(index.engine, "prepare") else None
    build = time.perf_counter() - t
    times = []
    for q in feats[:queries]:
        t = time.perf_counter()
        for row, _ in index.candidates(q):
            partial.verify(q, index.features[row])
        times.append(time.perf_counter() - t)
    return {"pictures": scale, "descriptors": int(len(index.desc)), "build_s": build,
            "query_s_median": statistics.median(times), "query_s_max": max(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="an index made by this imgfind")
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--baseline-python", default=None, help="python of the release before")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "imgfind-bench-partial")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out: dict = {"cpu_ms_per_picture": {}}
    for name, size in (("12MP", (4000, 3000)), ("2MP", (1632, 1224))):
        files = make_jpegs(args.work / name, size, args.files)
        row = {"with_local": cpu_ms(sys.executable, "on", files, args.repeat),
               "without_local": cpu_ms(sys.executable, "off", files, args.repeat)}
        if args.baseline_python:
            row["baseline_release"] = cpu_ms(args.baseline_python, "base", files, args.repeat)
        out["cpu_ms_per_picture"][name] = row
        print(name, row, flush=True)
    out["bytes"] = bytes_per_picture(args.db)
    print(out["bytes"], flush=True)
    if args.scale:
        out["search"] = search_at_scale(args.db, args.scale, args.queries)
        print(out["search"], flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
