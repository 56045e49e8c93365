"""Benchmark the cost of finding damaged copies (damaged.py, issue 11) on intact JPEGs.

* **indexing CPU per picture**: ``analyse.analyse`` (decode, fingerprint, keypoints) over
  generated 12 MP (4000x3000) and 2 MP (1632x1224) q90 JPEGs, process CPU time per picture,
  for this checkout and for ``--baseline`` (another checkout, e.g. main), each in its own
  subprocess, alternated ``--repeat`` times (same run, same files): the index now keeps a
  digest of each JPEG's first 4 KB (decoders.pillow.jpeg_head).
* **the digest alone** (``jpeg_head`` on an opened 12 MP JPEG), microseconds.
* **the dedupe-time check** (``damaged.check``: a strict reduced-scale libjpeg decode), ms
  per picture: paid once per index state by each JPEG that shares its head with another.

Usage::

    python benchmarks/bench_damaged.py --baseline /work/main --files 6 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench_partial import LOOP  # the child's timing loop ("on": keypoints, as indexing does)

ROOT = Path(__file__).resolve().parent.parent

def make_jpegs(folder: Path, size: tuple[int, int], n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        p = folder / f"{size[0]}x{size[1]}-{i}.jpg"
        if not p.exists():
            small = rng.integers(0, 256, (size[1] // 50, size[0] // 50, 3), dtype=np.uint8)
            im = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
            noise = rng.normal(0, 6, (size[1], size[0], 3))
            im = Image.fromarray(np.clip(np.asarray(im, np.float32) + noise, 0, 255).astype(np.uint8))
            im.save(p, quality=90)
        out.append(str(p))
    return out


def per_picture(code: Path, files: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(code)}
    run = subprocess.run([sys.executable, "-c", LOOP, "on", *files], env=env, check=True,
                         capture_output=True, text=True)
    return float(run.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", type=Path, required=True, help="checkout to compare with")
    ap.add_argument("--files", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "imgfind-bench-damaged")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from imgfind import damaged
    from imgfind.decoders.pillow import jpeg_head

    print(f"load average at start: {os.getloadavg()}")
    for size in ((4000, 3000), (1632, 1224)):
        files = make_jpegs(args.work, size, args.files)
        mine, base = [], []
        for _ in range(args.repeat):
            mine.append(per_picture(ROOT, files))
            base.append(per_picture(args.baseline, files))
        m, b = statistics.median(mine), statistics.median(base)
        print(f"{size[0]}x{size[1]} analyse: this {m:.1f} ms, baseline {b:.1f} ms, "
              f"ratio {m / b:.3f} (median of {args.repeat}; this {sorted(round(x, 1) for x in mine)},"
              f" baseline {sorted(round(x, 1) for x in base)})")
        with Image.open(files[0]) as im:
            t = time.perf_counter()
            for _ in range(1000):
                jpeg_head(im)
            head_us = (time.perf_counter() - t) * 1000
        t = time.process_time()
        for f in files:
            damaged.check(f)
        check_ms = (time.process_time() - t) / len(files) * 1000
        print(f"{size[0]}x{size[1]} jpeg_head {head_us:.1f} us, damaged.check {check_ms:.1f} ms")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
