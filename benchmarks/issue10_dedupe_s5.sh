#!/usr/bin/env bash
# Issue 10's "dedupe of a 10^5-file synthetic index no slower than today" (and issue 15's
# dedupe speed), session 5: Index.groups() as `imgfind dedupe` runs it on the synthetic 10^5
# index of benchmarks/bench_query.py (--files 100000 --parts groups --partial cli: partial
# matching off above 5,000 files; bc296fe has none), this checkout against bc296fe ("today"), alternating,
# ROUNDS rounds (the first version of a round alternates too).
#
# Each version runs its own bench_query.py from its own checkout with its own venv, on an
# index built by its own code (bc296fe reads schema 1 only), copied afresh before every run:
# a dedupe remembers its decisions in the index, so a reused copy would answer warm.
# CPU seconds (user + system) and wall of the whole bench_query.py process tree come from
# /usr/bin/time; groups_s and peak_rss_mb (of the dedupe's own process) from its JSON. The
# load average is recorded at the start and end of every run.
#
# Usage: ROUNDS=2 [FIRST=1] NEW_PRISTINE=/tmp/idx6 BASE_PRISTINE=/tmp/measure/base-pristine \
#        NEW_SRC=. NEW_PY=/work/venv-s5dedupe/bin/python OUT=benchmarks/results/session5 \
#        benchmarks/issue10_dedupe_s5.sh
# NEW_SRC may be an exported copy of a commit (git archive; NEW_REV names it), so that the
# checkout can change while this runs; run one small compiled join there first (numba caches
# its kernels next to the module: the first process in a fresh copy compiles them).
set -euo pipefail
ROUNDS=${ROUNDS:-2}
WORK=${WORK:-/tmp/s5-issue10}
OUT=$(mkdir -p "${OUT:-$(dirname "$0")/results/session5}" && cd "${OUT:-$(dirname "$0")/results/session5}" && pwd)
declare -A PRISTINE=([base]=${BASE_PRISTINE:-/tmp/measure/base-pristine} [new]=${NEW_PRISTINE:-/tmp/idx6})
declare -A SRC=([base]=${BASE_SRC:-/work/baseline} [new]=$(cd "${NEW_SRC:-$(dirname "$0")/..}" && pwd))
# bc296fe's bench_query.py has no --partial (nor partial matching); this one's, as the CLI.
declare -A ARGS=([base]=${BASE_ARGS:-} [new]=${NEW_ARGS:---partial cli})
declare -A PY=([base]=${BASE_PY:-$HOME/.venvs/imgfind-baseline/bin/python} [new]=${NEW_PY:-/work/venv-s5dedupe/bin/python})
LOG=$OUT/issue10-dedupe.log
mkdir -p "$WORK"
rev() { git -C "$1" rev-parse --short HEAD 2>/dev/null || echo "${NEW_REV:-unknown}"; }
echo "$(date -u +%FT%TZ) new = ${SRC[new]} at $(rev "${SRC[new]}"), base = ${SRC[base]} at $(rev "${SRC[base]}")" | tee -a "$LOG"
FIRST=${FIRST:-1}
for r in $(seq "$FIRST" $((FIRST + ROUNDS - 1))); do
    if [ $((r % 2)) -eq 1 ]; then order="base new"; else order="new base"; fi
    for who in $order; do
        run=$WORK/run-$who
        rm -rf "$run" && mkdir -p "$run"
        cp -a "${PRISTINE[$who]}/." "$run/"
        rm -f "$run"/build.json "$run"/build.log
        start_load=$(cut -d' ' -f1-3 /proc/loadavg)
        (cd "${SRC[$who]}" && /usr/bin/time -f "%U %S %e %M" -o "$WORK/time-$who-r$r.txt" \
            nice -n 5 "${PY[$who]}" benchmarks/bench_query.py --files 100000 --parts groups \
            ${ARGS[$who]} --profile never --cache "$run" --out "$OUT/issue10-$who-r$r.json" \
            > "$WORK/issue10-$who-r$r.log" 2>&1)
        end_load=$(cut -d' ' -f1-3 /proc/loadavg)
        read -r user sys wall _ < "$WORK/time-$who-r$r.txt"
        python3 - "$OUT/issue10-$who-r$r.json" "$who" "$r" "$user" "$sys" "$wall" "$start_load" "$end_load" <<'EOF' | tee -a "$LOG"
import json, sys
path, who, r, user, sys_, wall, l0, l1 = sys.argv[1:]
doc = json.load(open(path))
g = doc["groups"]
doc["process_tree"] = {"user_s": float(user), "sys_s": float(sys_), "cpu_s": float(user) + float(sys_),
                       "wall_s": float(wall), "load_start": l0, "load_end": l1}
json.dump(doc, open(path, "w"), indent=1)
print(f"round {r} {who:4s}: cpu {float(user) + float(sys_):6.1f} s (user {user}, sys {sys_}), "
      f"wall {float(wall):6.1f} s, groups() {g['groups_s']:6.1f} s, peak {g['peak_rss_mb']:4.0f} MB, "
      f"{g['groups']} groups ({g['files_in_groups']} files), load {l0} -> {l1}")
EOF
        rm -rf "$run"
    done
done
