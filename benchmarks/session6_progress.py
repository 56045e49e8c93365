"""Read the progress log of a streamed dedupe (session 6, the 10^6 run) and say how far it got.

The log (benchmarks/results/session6/groups-1m-r1.progress) has one line every ~30 s: UTC
time, 1-minute load, the process's CPU seconds, and from ``py-spy dump -ll`` the innermost
imgfind frames and the locals ``held`` (candidate rows collected before streaming starts,
_stream_pairs) and ``n_hits`` (hits of the last searched chunk, iter_candidates). A chunk
boundary shows as a new ``n_hits`` value (the generator's frame is only on the stack while
it searches, so the value is seen then; the log must start before the first 20,000-row chunk
and sample faster than a chunk takes, or a value is missed). Chunks are STREAM_FIRST_ROWS = 64 rows doubling to
16,384 (32,704 rows in all), then capped at len/PROGRESS_STEPS = 20,000 rows at 10^6 files,
so the i-th distinct value (from 0) is the hits of the chunk ending at row 32,704 + 20,000 i.
Prints one line per boundary (time, CPU s, rows searched) and the CPU per 20,000-row chunk.

Usage::

    python3 benchmarks/session6_progress.py LOG [FIRST_ROWS=32704] [CHUNK=20000] [TOTAL=1000000]
"""
import re
import sys

log = sys.argv[1]
first = int(sys.argv[2]) if len(sys.argv) > 2 else 32_704
chunk = int(sys.argv[3]) if len(sys.argv) > 3 else 20_000
total = int(sys.argv[4]) if len(sys.argv) > 4 else 1_000_000
seen, marks, cpu_prev = [], [], None
for line in open(log):
    m = re.match(r"(\S+) (\S+)(?: cpu_s (\d+))?", line)
    h = re.search(r"n_hits: (\d+)", line)
    if m and m.group(3):
        cpu_prev = int(m.group(3))
    if not m or not h or "rows_at_once: 20000" not in line:
        continue
    hits = int(h.group(1))
    if hits in seen:
        continue
    seen.append(hits)
    done = first + chunk * (len(seen) - 1)  # the chunk these hits came from ends here
    cpu = int(m.group(3)) if m.group(3) else None
    marks.append((m.group(1), cpu, done))
    print(f"{m.group(1)} load {float(m.group(2)):5.2f} cpu_s {cpu if cpu is not None else '-':>5}  "
          f"rows searched: {done:,} (now searching the next {chunk:,})")
timed = [x for x in marks if x[1] is not None]
if len(timed) >= 2:
    (t0, c0, r0), (t1, c1, r1) = timed[0], timed[-1]
    per = (c1 - c0) / ((r1 - r0) / chunk)
    left = (total - r1) / chunk
    print(f"CPU per {chunk:,}-row chunk (search + its decisions), rows {r0:,}-{r1:,}: {per:.1f} s; "
          f"rows searched by {t1}: {r1:,} of {total:,} ({r1 / total:.0%}); at that rate the "
          f"remaining {left:.0f} chunks would take ~{left * per:,.0f} CPU s more")

# Where the samples were: the stage on the stack (search: iter_candidates; pair verification:
# decide_now; star checks: star_components; anything else: loading, tables, grouping). Each
# sample is a ~30 s wall interval of one process, so the shares are of its CPU as long as its
# share of the machine stayed about the same.
stages = {"search": 0, "pair verification": 0, "star checks": 0, "other": 0}
for line in open(log):
    if " cpu_s " not in line:
        continue
    if "star_components" in line:
        stages["star checks"] += 1
    elif "decide_now" in line:
        stages["pair verification"] += 1
    elif "iter_candidates" in line:
        stages["search"] += 1
    else:
        stages["other"] += 1
n = sum(stages.values())
if n:
    print("samples:", ", ".join(f"{k} {v} ({v / n:.0%})" for k, v in stages.items()))
