#!/usr/bin/env bash
# Session 12 (issue 15, branch s12-stages): stage_dedupe.py runs of a baseline and a branch
# snapshot, alternated, each on a fresh copy of an index, under /usr/bin/time -v:
#   benchmarks/session12_stage_pairs.sh PYTHON INDEX.db OUTDIR BASE_SNAPSHOT BRANCH_SNAPSHOT TAGS...
# A tag m* runs BASE_SNAPSHOT, b* BRANCH_SNAPSHOT (PYTHONPATH), e.g. m1 b1 m2 b2. Writes
# OUTDIR/run-TAG.log (start time, load, stage JSON, time -v) and OUTDIR/run-TAG.json (the
# dedupe's output: compare them byte for byte); benchmarks/stage_table.py tabulates the logs.
# Copy the base snapshot's compiled kernels (__pycache__/*.nbi, *.nbc, with the kernel
# sources' mtimes) into the branch snapshot first, or its first run compiles them.
set -u
PY=$1 DB=$2 OUT=$3 BASE=$4 BRANCH=$5
shift 5
STAGE=$(cd "$(dirname "$0")" && pwd)/stage_dedupe.py
mkdir -p "$OUT"
for tag in "$@"; do
  case $tag in m*) snap=$BASE;; b*) snap=$BRANCH;; *) echo "tag $tag: m* or b*" >&2; exit 2;; esac
  cp "$DB" "$OUT/run-$tag.db"
  { date -u +%FT%TZ; uptime; } > "$OUT/run-$tag.log"
  PYTHONPATH=$snap /usr/bin/time -v "$PY" "$STAGE" "$OUT/run-$tag.db" "$OUT/run-$tag.json" \
    2>> "$OUT/run-$tag.log"
  uptime >> "$OUT/run-$tag.log"
  rm -f "$OUT/run-$tag.db" "$OUT/run-$tag.db"-*
done
