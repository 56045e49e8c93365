"""The dedupe's candidate search alone (issue 15, session 11): CPU seconds of each channel's
search and of the canonical self-join over the first ROWS rows of an index, in chunks as the
dedupe's, and a SHA-256 of the candidates (``best_per_pair`` of every chunk, all arrays), so
two versions of the code can be compared for the same candidates at 10^6 files without a
whole dedupe.

    PYTHONPATH=<snapshot> python benchmarks/session11_search.py DB [--rows N] [--chunk C]

Read-only (no decisions written). CPU clock (``time.process_time``: every thread of the
process). Prints one JSON object. Ours.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import time

import numpy as np

from imgfind import candidates as C
from imgfind.index import Index, default_rule


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--chunk", type=int, default=C.PROGRESS_MIN_ROWS)
    a = ap.parse_args()
    t0 = time.process_time()
    _, side = Index.open(a.db, readonly=True).search_side(None)
    rule = default_rule()
    n = len(side) if a.rows is None else min(a.rows, len(side))
    canon = C.uses_canonical(rule, True)
    searches = C.channel_engines(side, side, C.channels(rule, True, canonical_join=canon))
    per_pair = C.MAX_ALIGNMENTS if rule.verified else 1
    spent: dict[str, float] = {}
    digest = hashlib.sha256()
    n_candidates = 0
    for lo in range(0, n, a.chunk):
        rows = slice(lo, min(n, lo + a.chunk))
        found = []
        for ch, engine in searches:
            t = time.process_time()
            found.append(C.search_channel(engine, side.hashes[rows], lo, ch, len(side), True))
            spent[ch.name] = spent.get(ch.name, 0.0) + time.process_time() - t
        if canon:
            t = time.process_time()
            found.append(C.search_canonical(side, rows, rule.threshold))
            spent["canonical"] = spent.get("canonical", 0.0) + time.process_time() - t
        t = time.process_time()
        best = C.best_per_pair(tuple(np.concatenate(p) for p in zip(*found)), True, per_pair)
        spent["best_per_pair"] = spent.get("best_per_pair", 0.0) + time.process_time() - t
        for name in ("q_row", "q_col", "i_row", "i_col", "distance", "a", "b"):
            digest.update(np.ascontiguousarray(getattr(best, name), np.int64).tobytes())
        n_candidates += len(best)
    print(json.dumps({"rows": n, "chunk": a.chunk, "cpu_s": {k: round(v, 2) for k, v in spent.items()},
                      "search_cpu_s": round(sum(spent.values()), 2),
                      "process_cpu_s": round(time.process_time() - t0, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "candidates": n_candidates, "sha256": digest.hexdigest()}))


if __name__ == "__main__":
    main()
