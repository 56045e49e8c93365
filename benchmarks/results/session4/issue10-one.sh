#!/usr/bin/env bash
# One more issue 10 run, as in issue10-finish.sh: issue10-one.sh base|main TAG [bench_query args...]
set -euo pipefail
DIR=${DIR:-/tmp/measure}
OUT=$(cd "${OUT:-$(dirname "$0")}" && pwd)
LOG=$OUT/issue10-dedupe.log
who=$1 tag=$2; shift 2
if [ "$who" = base ]; then src=/work/baseline py=$HOME/.venvs/imgfind-baseline/bin/python
else src=/work/wt-measure py=/work/venv-measure/bin/python; fi
run=$DIR/run-$who
rm -rf "$run" && mkdir -p "$run" && cp -a "$DIR/$who-pristine/." "$run/"
echo "$(date -u +%FT%TZ) $tag $who start  load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
(cd "$src" && nice -n 5 "$py" benchmarks/bench_query.py --files 100000 --parts groups --profile never \
    --cache "$run" --out "$OUT/issue10-$who-$tag.json" "$@" > "$DIR/logs/issue10-$who-$tag.log" 2>&1)
echo "$(date -u +%FT%TZ) $tag $who end    load $(cut -d' ' -f1-3 /proc/loadavg) $(python3 -c "
import json,sys; g=json.load(open(sys.argv[1]))['groups']; print(f\"{g['groups_s']:.1f} s, {g['peak_rss_mb']:.0f} MB, {g['groups']} groups ({g['files_in_groups']} files)\")" "$OUT/issue10-$who-$tag.json")" | tee -a "$LOG"
