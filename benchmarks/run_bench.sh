#!/usr/bin/env bash
# One imgfind-default row of ../shared/bench on one pool, fingerprints always recomputed:
#   benchmarks/run_bench.sh VENV POOL OUTDIR
# VENV holds ../shared/bench/requirements.txt and an install of imgfind; put a checkout's
# code first with PYTHONPATH=DIR to measure it with the same venv. Builds the pool first if
# the bench cache ($BENCH_CACHE or ~/.cache/imgfind-bench) lacks it. Writes OUTDIR/POOL-DATE.md
# and .json (evaluate.py's tables).
set -euo pipefail
VENV=$1 POOL=$2 OUT=$3
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
CACHE=${BENCH_CACHE:-$HOME/.cache/imgfind-bench}
export BENCH_CACHE=$CACHE IMGFIND_BIN=$VENV/bin/imgfind SKIP_FINDIMAGEDUPES=1
if [ ! -f "$CACHE/datasets/$POOL/manifest.jsonl" ]; then
  bash "$SHARED/bench/fetch_images.sh"
  "$VENV/bin/python" "$SHARED/bench/make_dataset.py" --pool "$POOL"
fi
mkdir -p "$OUT"
"$VENV/bin/python" "$SHARED/bench/evaluate.py" --pool "$POOL" --tools imgfind-default \
  --refresh --no-crosscheck --out "$OUT"
