"""Warm dedupe: ``imgfind dedupe --format json`` from the shell, run again and again on an index
where nothing changed (decision_cache.py), against other imgfind installs on copies of the
same index, and the JSON compared byte for byte.

The index is built once (``imgfind index POOL`` with the first binary) and copied for each
binary, so each keeps its own remembered decisions. Runs alternate between binaries (same
load); the machine's load average is recorded with every run.

Usage::

    python3 benchmarks/bench_warm.py --pool ~/.cache/imgfind-bench/datasets/dev \\
        --bin warm=/work/venv-warm/bin/imgfind --bin main=/work/venv-main/bin/imgfind \\
        --runs 4 --out benchmarks/results/warm-dev.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def run(binary: str, db: Path) -> tuple[float, bytes]:
    t = time.perf_counter()
    out = subprocess.run([binary, "--db", str(db), "dedupe", "--format", "json"],
                         check=True, capture_output=True).stdout
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=Path, required=True, help="folder of images to index")
    ap.add_argument("--bin", action="append", required=True,
                    help="NAME=PATH of an imgfind binary (the first one builds the index)")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    bins = dict(b.split("=", 1) for b in args.bin)
    first = next(iter(bins.values()))
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        base = Path(tmp) / "base.db"
        t = time.perf_counter()
        subprocess.run([first, "--db", str(base), "index", str(args.pool)], check=True,
                       capture_output=True)
        index_s = time.perf_counter() - t
        dbs = {}
        for name in bins:
            dbs[name] = Path(tmp) / f"{name}.db"
            shutil.copyfile(base, dbs[name])
        times: dict[str, list[dict]] = {name: [] for name in bins}
        outputs: dict[str, set[bytes]] = {name: set() for name in bins}
        for i in range(args.runs):
            for name, binary in bins.items():
                load = os.getloadavg()[0]
                s, out = run(binary, dbs[name])
                times[name].append({"run": i + 1, "s": round(s, 2), "load": round(load, 1)})
                outputs[name].add(out)
                print(f"{name} run {i + 1}: {s:.2f} s (load {load:.1f})", flush=True)
        every = set().union(*outputs.values())
    result = {"pool": str(args.pool), "index_s": round(index_s, 1), "runs": times,
              "identical_json": len(every) == 1, "json_bytes": len(next(iter(every)))}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
