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


def search_at_scale(db: str, scale: int, queries: int, model: str = "clone") -> dict:
    """The candidate search and verification at *scale* pictures (synthetic_descriptors),
    through local_index.DescriptorIndex (what the sidecar holds): its build time and the
    time per query (median and max over real pictures of the index, 128 descriptors each)."""
    from imgfind import partial
    from imgfind.local_index import DescriptorIndex
    from imgfind.store import Store

    with Store(db, readonly=True) as st:
        feats = list(st.local_features().values())
    blobs = synthetic_descriptors(feats, scale, model)
    t = time.perf_counter()
    index = DescriptorIndex.build(np.arange(scale), blobs, lambda want: {})
    build = time.perf_counter() - t
    index.candidates(feats[0])  # numba loads its compiled kernel once per process
    times, cpu = [], []
    for q in feats[:queries]:
        t, c = time.perf_counter(), time.process_time()
        for row, _ in index.candidates(q):
            partial.verify(q, feats[row % len(feats)])
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"pictures": scale, "model": model, "descriptors": int(len(index.desc)),
            "build_s": build, "query_s_median": statistics.median(times),
            "query_s_max": max(times), "query_cpu_s_median": statistics.median(cpu)}


def cli_run(argv: list[str]) -> dict:
    """Run imgfind (this venv's) with *argv*: wall and CPU (user + sys) seconds, exit code."""
    before = os.times()
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "imgfind", *argv], capture_output=True)
    wall = time.perf_counter() - t
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"argv": argv, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rc": done.returncode}


def synthetic_descriptors(feats: list, scale: int, model: str, seed: int = 0) -> list[bytes]:
    """Descriptor blobs of *scale* pictures: the real pictures' (*feats*) first, then
    synthetic ones with 3 random bits of every descriptor flipped. *model* "clone": picture i
    takes real picture i mod n's descriptors (a noisy copy of it: every query then verifies
    its clones, the worst case for verification); "mixed": each descriptor is drawn from the
    whole real pool (unrelated pictures with a real library's descriptor distribution)."""
    rng = np.random.default_rng(seed)
    pool = np.frombuffer(b"".join(f.desc for f in feats), "<u8")
    blobs = [f.desc for f in feats]
    for i in range(len(feats), scale):
        f = feats[i % len(feats)]
        d = (np.frombuffer(f.desc, "<u8").copy() if model == "clone"
             else pool[rng.integers(0, len(pool), f.n)].copy())
        for _ in range(3):
            d ^= np.left_shift(np.uint64(1), rng.integers(0, 64, len(d)).astype(np.uint64))
        blobs.append(d.astype("<u8").tobytes())
    return blobs


def synthetic_index(src: str, out: str, scale: int, model: str, seed: int = 0) -> dict:
    """Copy the index *src* to *out* and add synthetic files up to *scale* files with local
    features: rows copied from the real ones (size, thumbnail, keypoint positions) with
    uniformly random global hashes (so that no two are copies: every file is alone and asks
    for partial matches in dedupe, the worst case) and descriptors from
    synthetic_descriptors. Paths are under /nonexistent-imgfind-synth (files "missing")."""
    import uuid

    from imgfind.layout import N_HASHES

    if os.path.exists(out):
        os.unlink(out)
    t = time.perf_counter()
    a = sqlite3.connect(src)
    b = sqlite3.connect(out)
    a.backup(b)
    a.close()
    real = b.execute(
        "SELECT f.id, f.size, f.mtime_ns, f.recipe, f.format, f.width, f.height, p.trim, t.thumb,"
        " k.width, k.height, k.xy, k.descs FROM files f JOIN prints p ON p.file_id = f.id"
        " JOIN thumbs t ON t.file_id = f.id JOIN keypoints k ON k.file_id = f.id"
        " ORDER BY f.id").fetchall()
    from imgfind.model import LocalFeatures

    feats = [LocalFeatures(r[9], r[10], bytes(r[11]), bytes(r[12])) for r in real]
    have = b.execute("SELECT count(*) FROM files").fetchone()[0]
    blobs = synthetic_descriptors(feats, scale - have + len(real), model, seed)[len(real):]
    rng = np.random.default_rng(seed + 1)
    top = b.execute("SELECT max(id) FROM files").fetchone()[0]
    b.execute("BEGIN")
    for start in range(0, len(blobs), 5000):
        rows_f, rows_p, rows_t, rows_k = [], [], [], []
        for i in range(start, min(len(blobs), start + 5000)):
            r = real[i % len(real)]
            fid = top + 1 + i
            rows_f.append((fid, f"/nonexistent-imgfind-synth/{i:07d}.jpg".encode(), r[1], r[2],
                           time.time(), r[3], r[4], r[5], r[6]))
            h = rng.integers(0, 2**63, N_HASHES + 2, dtype=np.int64)
            rows_p.append((fid, int(h[0]), int(h[1]), h[2:].astype("<i8").tobytes(), r[7]))
            rows_t.append((fid, r[8]))
            rows_k.append((fid, r[9], r[10], r[11], blobs[i]))
        b.executemany("INSERT INTO files(id, path, size, mtime_ns, indexed_at, recipe, format,"
                      " width, height) VALUES (?,?,?,?,?,?,?,?,?)", rows_f)
        b.executemany("INSERT INTO prints(file_id, phash, dhash, hashes, trim, flat)"
                      " VALUES (?,?,?,?,?,0)", rows_p)
        b.executemany("INSERT INTO thumbs(file_id, thumb) VALUES (?,?)", rows_t)
        b.executemany("INSERT INTO keypoints(file_id, width, height, xy, descs)"
                      " VALUES (?,?,?,?,?)", rows_k)
    b.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    b.execute("UPDATE meta SET value = ? WHERE key = 'write_token'", (uuid.uuid4().hex,))
    b.execute("COMMIT")
    n = b.execute("SELECT count(*) FROM files").fetchone()[0]
    b.close()
    return {"files": n, "model": model, "build_s": time.perf_counter() - t}


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
    ap.add_argument("--model", choices=("clone", "mixed"), default="clone")
    ap.add_argument("--e2e", type=int, default=0, metavar="N",
                    help="also build a synthetic N-file index and time 'imgfind query' and "
                         "'dedupe' on it from the shell (--query-image)")
    ap.add_argument("--query-image", default=None)
    ap.add_argument("--skip-cpu", action="store_true", help="skip the indexing CPU part")
    args = ap.parse_args()
    out: dict = {"cpu_ms_per_picture": {}}
    for name, size in () if args.skip_cpu else (("12MP", (4000, 3000)), ("2MP", (1632, 1224))):
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
        out["search"] = search_at_scale(args.db, args.scale, args.queries, args.model)
        print(out["search"], flush=True)
    if args.e2e:
        big = str(args.work / f"synth-{args.e2e}-{args.model}.db")
        out["e2e"] = {"index": synthetic_index(args.db, big, args.e2e, args.model), "runs": []}
        for argv in (["query", "--partial", args.query_image, "--format", "json"],) * 3 + (
                ["query", "--no-partial", args.query_image, "--format", "json"],
                ["dedupe", "--partial", "--format", "json"]):
            out["e2e"]["runs"].append(cli_run(["--db", big, *argv]))
            print(out["e2e"]["runs"][-1], flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
