#!/usr/bin/env bash
# Time `imgfind query IMG` from the shell with default options (partial matching is off by
# default above cli_common.PARTIAL_QUERY_MAX = 50,000 files; the first query after an index
# run also writes the query-table sidecar), and `imgfind --help` (interpreter start-up and
# imports alone) in the same run, alternating, for comparison (issue 15: query at 10^6).
# Usage: benchmarks/session6_query.sh VENV DB IMG RUNS
# One line per run: what ran, the 1-minute load average before it, then wall s, user s,
# sys s, peak RSS KB (/usr/bin/time, niced), and for a query the number of matches.
set -euo pipefail
V=$1; DB=$2; IMG=$3; N=$4
OUT=$(mktemp); TIMES=$(mktemp)
for i in $(seq "$N"); do
  L=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %U %S %M" -o "$TIMES" nice -n 5 "$V/bin/imgfind" --db "$DB" query "$IMG" --format json > "$OUT"
  M=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['matches']))" "$OUT")
  echo "query run $i load $L wall/user/sys/KB $(cat "$TIMES") matches $M"
  L=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %U %S %M" -o "$TIMES" nice -n 5 "$V/bin/imgfind" --help > /dev/null
  echo "help  run $i load $L wall/user/sys/KB $(cat "$TIMES")"
done
rm -f "$OUT" "$TIMES"
