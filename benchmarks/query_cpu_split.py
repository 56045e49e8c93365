"""Where a warm one-shot ``imgfind query`` spends its CPU: imports against the query itself.

Each run is a fresh interpreter with PYTHONPATH=SRC (a checkout or ``git archive`` tree):
it imports what a query imports (numpy, Pillow, the index, the sources, the JSON report, the
command line), then runs ``imgfind -q --db DB query IMG --format json`` through its entry
point, with process CPU clocks around: the imports, the command, the disk-table searches
(``search.disk.find_many``), the sidecar load (``prints_cache.load``) and the files-table count
(``Store.counts``, if called). Interpreter start-up before the first import is not counted
(``python -c pass``: about 0.02 s).

Usage: python3 benchmarks/query_cpu_split.py SRC DB IMG [RUNS]
Prints one line per run and the medians.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
clock = time.process_time
t0 = clock()
import numpy, numpy.ma, numpy.random, PIL.Image, PIL.JpegImagePlugin
import imgfind.index, imgfind.sources, imgfind.report.json, imgfind.cli
t1 = clock()
spent = {"find_many": 0.0, "prints_load": 0.0, "counts": 0.0}

def timed(owner, name, key):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        start = clock()
        try:
            return original(*args, **kwargs)
        finally:
            spent[key] += clock() - start
    setattr(owner, name, wrapper)

import imgfind.search.disk, imgfind.prints_cache, imgfind.store
timed(imgfind.search.disk, "find_many", "find_many")
timed(imgfind.prints_cache, "load", "prints_load")
timed(imgfind.store.Store, "counts", "counts")
db, img = sys.argv[1:3]
out = open("/dev/null", "w")
sys.stdout = out
try:
    imgfind.cli.main(["-q", "--db", db, "query", img, "--format", "json"])
except SystemExit:
    pass
t2 = clock()
sys.stdout = sys.__stdout__
print(json.dumps({"imports": t1 - t0, "query": t2 - t1, **spent}))
"""


def main() -> None:
    src, db, img = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    rows = []
    for _ in range(runs):
        load = os.getloadavg()[0]
        done = subprocess.run([sys.executable, "-c", CHILD, db, img], env=env, capture_output=True,
                              text=True, check=True, cwd="/")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"load {load:.1f} " + " ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print("median " + " ".join(f"{k} {statistics.median(r[k] for r in rows):.3f}" for k in rows[0]))


if __name__ == "__main__":
    main()
