#!/usr/bin/env bash
# Issue 10's "dedupe of a 10^5-file synthetic index no slower than today": Index.groups() on the
# synthetic 10^5 index of benchmarks/bench_query.py (--files 100000 --parts groups), main against
# bc296fe ("today"), alternating, ROUNDS rounds (the first version of a round alternates too).
#
# Each version runs its own bench_query.py from its own checkout, with its own venv, on an index
# built by its own code (bc296fe reads schema 1 only; main would migrate such an index), made
# once with `bench_query.py --files 100000 --parts none --cache DIR/VERSION-pristine` plus its
# prints sidecar (Store.load_prints), and copied afresh before every run: main's dedupe
# remembers its decisions in the index, so a reused copy would answer warm.
#
# Usage: ROUNDS=2 DIR=/tmp/measure OUT=benchmarks/results/session4 issue10-dedupe.sh
set -euo pipefail
ROUNDS=${ROUNDS:-2}
DIR=${DIR:-/tmp/measure}
OUT=$(cd "${OUT:-$(dirname "$0")}" && pwd)
declare -A SRC=([base]=/work/baseline [main]=/work/wt-measure)
declare -A PY=([base]=$HOME/.venvs/imgfind-baseline/bin/python [main]=/work/venv-measure/bin/python)
LOG=$OUT/issue10-dedupe.log
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="base main"; else order="main base"; fi
    for who in $order; do
        run=$DIR/run-$who
        rm -rf "$run" && mkdir -p "$run"
        cp -a "$DIR/$who-pristine/." "$run/"
        echo "$(date -u +%FT%TZ) round $r $who start  load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
        (cd "${SRC[$who]}" && nice -n 5 "${PY[$who]}" benchmarks/bench_query.py --files 100000 \
            --parts groups --profile never --cache "$run" --out "$OUT/issue10-$who-r$r.json" \
            > "$DIR/logs/issue10-$who-r$r.log" 2>&1)
        echo "$(date -u +%FT%TZ) round $r $who end    load $(cut -d' ' -f1-3 /proc/loadavg) $(python3 -c "
import json,sys; g=json.load(open(sys.argv[1]))['groups']; print(f\"{g['groups_s']:.1f} s, {g['peak_rss_mb']:.0f} MB, {g['groups']} groups ({g['files_in_groups']} files)\")" "$OUT/issue10-$who-r$r.json")" | tee -a "$LOG"
    done
done
