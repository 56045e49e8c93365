"""Tabulate the logs of benchmarks/session12_stage_pairs.sh: CPU seconds per stage of each
run (stage_dedupe.py's JSON), the process's user + system CPU and peak RSS (/usr/bin/time -v:
the verification helper process included), and the 1-minute load before and after::

    python benchmarks/stage_table.py OUTDIR m1 b1 m2 b2
"""
from __future__ import annotations

import json
import re
import sys


def main() -> None:
    out, tags = sys.argv[1], sys.argv[2:]
    rows, meta = {}, {}
    for t in tags:
        s = open(f"{out}/run-{t}.log").read()
        j = json.loads(s[s.index("{\n"):s.index("\n}\n") + 2])
        rows[t] = {k.strip(): v["cpu_s"] for k, v in j["stages"].items()}
        cpu = sum(float(re.search(rf"{w} time \(seconds\): ([\d.]+)", s).group(1))
                  for w in ("User", "System"))
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", s).group(1)) // 1024
        loads = re.findall(r"load average: ([\d.]+)", s)
        meta[t] = (cpu, rss, loads[0], loads[-1])
    print("| stage (CPU s) | " + " | ".join(tags) + " |")
    print("|---|" + "---|" * len(tags))
    for n in rows[tags[0]]:
        print(f"| {n} | " + " | ".join(f"{rows[t].get(n, 0):.1f}" for t in tags) + " |")
    print("| process user+sys (time -v, helper included) | "
          + " | ".join(f"{meta[t][0]:.1f}" for t in tags) + " |")
    print("| max RSS MB (time -v) | " + " | ".join(str(meta[t][1]) for t in tags) + " |")
    print("| 1-min load before / after | " + " | ".join(f"{meta[t][2]} / {meta[t][3]}" for t in tags)
          + " |")


if __name__ == "__main__":
    main()
