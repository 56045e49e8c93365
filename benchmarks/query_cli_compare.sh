#!/usr/bin/env bash
# Time `imgfind query --partial IMG` from the shell for two codes in the same run, alternating
# (issue 12: under 2 s at 10^5 files). Each code runs from its own snapshot (PYTHONPATH) on its
# own copy of the index (the descriptor-index sidecar's format may differ between the codes),
# whose sidecars were built beforehand by one query.
# Usage: benchmarks/query_cli_compare.sh VENV RUNS IMG NAME_A SNAP_A DB_A NAME_B SNAP_B DB_B
# Prints one line per run: code, 1-minute load average before it, wall s, user s, sys s, peak
# RSS KB (/usr/bin/time), matches in the JSON.
set -euo pipefail
V=$1; N=$2; IMG=$3; shift 3
OUT=$(mktemp); TIMES=$(mktemp)
for i in $(seq "$N"); do
  set -- "$@"
  for k in 0 3; do
    args=("$@"); NAME=${args[$k]}; SNAP=${args[$((k + 1))]}; DB=${args[$((k + 2))]}
    L=$(cut -d' ' -f1 /proc/loadavg)
    PYTHONPATH=$SNAP /usr/bin/time -f "%e %U %S %M" -o "$TIMES" nice -n 5 "$V/bin/python" -m imgfind \
      --db "$DB" query --partial "$IMG" --format json > "$OUT"
    M=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['matches']))" "$OUT")
    echo "$NAME load $L wall/user/sys/KB $(cat "$TIMES") matches $M"
  done
done
rm -f "$OUT" "$TIMES"
