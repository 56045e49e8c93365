"""Summarize benchmarks/query_startup.sh output: per label, the median and range of wall and
CPU (user + sys) seconds, peak RSS, the 1-minute load range, and whether every query's JSON
was identical to the baseline's.

Usage: python3 benchmarks/summarize_startup.py LOG
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict

rows: dict[str, list[tuple[float, float, float, int, str]]] = defaultdict(list)
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("#") or "wall/user/sys/KB" not in line:
        continue
    head, _, tail = line.partition(" load ")
    parts = tail.split()
    load, wall, user, sys_s, kb = float(parts[0]), float(parts[2]), float(parts[3]), float(parts[4]), int(parts[5])
    rows[head.strip()].append((load, wall, user + sys_s, kb, parts[6] if len(parts) > 6 else ""))
print("| run | n | wall median (range) | CPU user+sys median (range) | peak RSS MB | load | output |")
print("|---|---:|---|---|---:|---|---|")
for label, rs in rows.items():
    walls, cpus = [r[1] for r in rs], [r[2] for r in rs]
    same = {r[4] for r in rs} - {""}
    print(f"| {label} | {len(rs)} | {statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}) "
          f"| {statistics.median(cpus):.2f} s ({min(cpus):.2f}-{max(cpus):.2f}) "
          f"| {statistics.median(r[3] for r in rs) / 1024:,.0f} "
          f"| {min(r[0] for r in rs):.1f}-{max(r[0] for r in rs):.1f} | {', '.join(sorted(same)) or '-'} |")
