#!/usr/bin/env bash
# Second part of the issue 10 runs (see issue10-dedupe.sh): main's bench_query.py now measures
# Index.groups() as `imgfind dedupe` runs it (--partial cli: partial matching off above 5,000
# files), then bc296fe again, each on a fresh copy of its own pristine index.
set -euo pipefail
DIR=${DIR:-/tmp/measure}
OUT=$(cd "${OUT:-$(dirname "$0")}" && pwd)
LOG=$OUT/issue10-dedupe.log
summ() { python3 -c "
import json,sys; g=json.load(open(sys.argv[1]))['groups']; print(f\"{g['groups_s']:.1f} s, {g['peak_rss_mb']:.0f} MB, {g['groups']} groups ({g['files_in_groups']} files)\")" "$1"; }
one() {  # who tag extra-args...
    local who=$1 tag=$2; shift 2
    local src py run=$DIR/run-$who
    if [ "$who" = base ]; then src=/work/baseline py=$HOME/.venvs/imgfind-baseline/bin/python
    else src=/work/wt-measure py=/work/venv-measure/bin/python; fi
    rm -rf "$run" && mkdir -p "$run" && cp -a "$DIR/$who-pristine/." "$run/"
    echo "$(date -u +%FT%TZ) $tag $who start  load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
    (cd "$src" && nice -n 5 "$py" benchmarks/bench_query.py --files 100000 --parts groups --profile never \
        --cache "$run" --out "$OUT/issue10-$who-$tag.json" "$@" > "$DIR/logs/issue10-$who-$tag.log" 2>&1)
    echo "$(date -u +%FT%TZ) $tag $who end    load $(cut -d' ' -f1-3 /proc/loadavg) $(summ "$OUT/issue10-$who-$tag.json")" | tee -a "$LOG"
}
one main r2 --partial cli
one base r2
