#!/usr/bin/env bash
# Time `imgfind query --partial IMG` from the shell (issue 12: under 2 s at 10^5 files).
# Usage: benchmarks/query_cli_time.sh VENV DB IMG RUNS
# Prints one line per run: the 1-minute load average before it, then wall s, user s, sys s,
# peak RSS KB (/usr/bin/time), and the number of matches in the JSON.
set -euo pipefail
V=$1; DB=$2; IMG=$3; N=$4
OUT=$(mktemp); TIMES=$(mktemp)
for i in $(seq "$N"); do
  L=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %U %S %M" -o "$TIMES" nice -n 5 "$V/bin/imgfind" --db "$DB" query --partial "$IMG" --format json > "$OUT"
  M=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['matches']))" "$OUT")
  echo "load $L wall/user/sys/KB $(cat "$TIMES") matches $M"
done
rm -f "$OUT" "$TIMES"
