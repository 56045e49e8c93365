"""The dedupe's candidate search alone, per channel (issue 15, session 7): CPU seconds of each
channel's engine over every row of an index, in chunks of CHUNK query rows, and (``--layouts``)
the compiled join's cost per query under 3, 4 and 5 substrings for the crop channels.

    PYTHONPATH=<snapshot> python benchmarks/session7_search.py DB [--rows N] [--chunk C] [--layouts]

CPU clock (``time.process_time``: both of numba's threads), so the machine's load moves it
less than wall time. Ours.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from imgfind import candidates as C
from imgfind.index import Index, default_rule
from imgfind.layout import CROPS, TURNED, UPRIGHT
from imgfind.search.join import CompiledJoin, plan


def layout(m: int, k: int) -> tuple[list[int], list[int], list[int]]:
    base, extra = divmod(64, m)
    widths = [base + (1 if j < extra else 0) for j in range(m)]
    r_base, r_extra = divmod(k + 1 - m, m)
    radii = [r_base + (1 if j < r_extra else 0) for j in range(m)]
    return [sum(widths[:j]) for j in range(m)], widths, radii


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--chunk", type=int, default=2048)
    ap.add_argument("--layouts", action="store_true")
    a = ap.parse_args()
    _, side = Index.open(a.db, readonly=True).search_side(None)
    rule = default_rule()
    n = len(side) if a.rows is None else a.rows
    if a.layouts:
        values = side.columns(CROPS)
        for name, cols, k in (("crops", UPRIGHT, rule.threshold),
                              ("turned crops", TURNED, rule.threshold - C.TURNED_CROP_MARGIN)):
            q = np.unique(side.hashes[:n][:, cols].reshape(-1))
            print(f"{name}: {len(q):,} queries against {len(values):,} hashes at k={k}; "
                  f"plan {plan(len(values), k)}")
            for m in (3, 4, 5):
                e = CompiledJoin(values)
                e.layout = layout(m, k)
                e.join(q[:100], k)
                t = time.process_time()
                e.join(q, k)
                dt = time.process_time() - t
                print(f"  m={m}: {dt:.2f} CPU s, {dt / len(q) * 1e6:.1f} us a query")
        return
    canon = C.uses_canonical(rule, True)
    searches = C.channel_engines(side, side, C.channels(rule, True, canonical_join=canon))
    spent: dict[str, float] = {}
    for lo in range(0, n, a.chunk):
        rows = slice(lo, min(n, lo + a.chunk))
        for ch, engine in searches:
            t = time.process_time()
            C.search_channel(engine, side.hashes[rows], lo, ch, len(side))
            spent[ch.name] = spent.get(ch.name, 0.0) + time.process_time() - t
        if canon:
            t = time.process_time()
            C.search_canonical(side, rows, rule.threshold)
            spent["canonical"] = spent.get("canonical", 0.0) + time.process_time() - t
    for name, s in spent.items():
        print(f"{name:20s} {s:7.2f} CPU s")
    print(f"{'all':20s} {sum(spent.values()):7.2f} CPU s; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
