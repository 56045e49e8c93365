#!/usr/bin/env bash
# `imgfind query IMG --format json` and `imgfind --help` from the shell, this checkout against
# a baseline source tree in the same run, alternating (issue 15: query at 10^6 under 0.5 s end
# to end, most of it interpreter start-up).
# Usage: benchmarks/query_startup.sh VENV BASE_SRC DB IMG RUNS
#   VENV      a venv with imgfind's dependencies (this checkout installed, or on PYTHONPATH)
#   BASE_SRC  the baseline's source tree (git archive BASE | tar -x -C BASE_SRC); it runs
#             with PYTHONPATH=BASE_SRC in the same venv, this checkout with PYTHONPATH=here
#   DB IMG    the index (e.g. built by bench_query.py) and the query image
# Both trees are byte-compiled first (python -m compileall), as an installed package is: with
# PYTHONDONTWRITEBYTECODE set (this machine's environment) every start would otherwise compile
# imgfind's modules from source again. COMPILE=0 instead removes both trees' imgfind
# __pycache__ folders, to measure that case (an editable install under PYTHONDONTWRITEBYTECODE).
# Before the timed runs, each version runs the query once untimed (it may write its sidecars:
# the tables are shared, named by the index's state). Every run's JSON is compared with the
# baseline's first answer (byte-identical or "DIFFERS").
# One line per run: what ran, the 1-minute load average before it, then wall s, user s, sys s
# and peak RSS KB (/usr/bin/time, niced), and for a query whether its output is identical.
set -euo pipefail
V=$1; BASE=$(cd "$2" && pwd); DB=$3; IMG=$4; N=$5
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp); REF=$(mktemp); TIMES=$(mktemp)
trap 'rm -f "$OUT" "$REF" "$TIMES"' EXIT
echo "# $(date -u +%FT%TZ) compile=${COMPILE:-1} this=$(git -C "$HERE" rev-parse --short HEAD)$(git -C "$HERE" diff --quiet || echo +dirty) base=$BASE db=$DB img=$IMG"
if [ "${COMPILE:-1}" = 0 ]; then
  find "$BASE/imgfind" "$HERE/imgfind" -name __pycache__ -type d -prune -exec rm -rf {} +
  [ -n "${PYTHONDONTWRITEBYTECODE:-}" ] || echo "# warning: PYTHONDONTWRITEBYTECODE unset: the first runs write bytecode"
else
  "$V/bin/python" -m compileall -q "$BASE/imgfind" "$HERE/imgfind" > /dev/null
fi
PYTHONPATH=$BASE "$V/bin/imgfind" -q --db "$DB" query "$IMG" --format json > "$REF"
PYTHONPATH=$HERE "$V/bin/imgfind" -q --db "$DB" query "$IMG" --format json > "$OUT"
run() {  # label src args...
  local label=$1 src=$2; shift 2
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  PYTHONPATH=$src /usr/bin/time -f "%e %U %S %M" -o "$TIMES" nice -n 5 "$V/bin/imgfind" "$@" > "$OUT" 2>/dev/null
  local same=""
  if [ "$1" != "--help" ]; then cmp -s "$OUT" "$REF" && same=" identical" || same=" DIFFERS"; fi
  echo "$label load $load wall/user/sys/KB $(cat "$TIMES")$same"
}
for i in $(seq "$N"); do
  run "base query " "$BASE" -q --db "$DB" query "$IMG" --format json
  run "this query " "$HERE" -q --db "$DB" query "$IMG" --format json
  run "base help  " "$BASE" --help
  run "this help  " "$HERE" --help
done
