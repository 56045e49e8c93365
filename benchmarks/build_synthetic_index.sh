#!/bin/sh
# Build one synthetic index the way bench_query.py does (build_db: 20% copies, seed 0, the
# stored query photos' fingerprints), with a given source tree's code, without timing anything
# else: benchmarks/build_synthetic_index.sh SRC N OUTDIR   (PY=python of a venv with imgfind's
# dependencies; default python3). Writes OUTDIR/index-N-0.2-0-10.db, the name bench_query.py
# --cache OUTDIR looks for. /usr/bin/time -v reports its CPU and memory.
set -eu
SRC=$(cd "$1" && pwd); N=$2; OUT=$(cd "$3" && pwd)
cd "$SRC/benchmarks" && PYTHONPATH="$SRC" /usr/bin/time -v "${PY:-python3}" -c "
import sys; sys.argv = ['x']; sys.path.insert(0, '.')
from pathlib import Path
import bench_query as b
stored = b.query_images(b.STORED_QUERIES)
db = Path('$OUT') / f'index-$N-0.2-0-{len(stored)}.db'
print('built', db, round(b.build_db(db, $N, 0.2, 0, stored), 1), 's')
"
