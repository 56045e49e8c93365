"""Added time of the same-pixels pass at 10^5 files (synthetic index of bench_query.py):
cold (Store.shared_sizes + candidate_pairs + reads) and warm (the stage kept in the decision
cache for this state). Min and median of 5, in one process."""
import sys, time
import numpy as np
from imgfind.index import Index
from imgfind import same_pixels
from imgfind.decision_cache import DecisionCache

def timed(fn, k=5):
    ts = []
    for _ in range(k):
        t = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t)
    return out, f"min {min(ts)*1000:.1f} ms, median {sorted(ts)[k//2]*1000:.1f} ms"

db = sys.argv[1]
with Index.open(db) as ix:
    prints, side = ix.search_side()
    _, t = timed(lambda: ix.store.shared_sizes()); print("shared_sizes (SQL):", t)
    ids, w, h, j = ix.store.shared_sizes()
    rows = np.searchsorted(prints.ids, ids)
    (a, b), t = timed(lambda: same_pixels.candidate_pairs(prints.phash[rows], w, h, j & ~prints.flat[rows], ~j & ~prints.flat[rows]))
    print(f"candidate_pairs: {len(ids)} files of shared sizes, {len(a)} candidate pairs:", t)
    out, t = timed(lambda: same_pixels.library_pairs(ix.store, prints, None), 3)
    print(f"library_pairs, no cache (cold): {len(out)} pairs:", t)
    with ix.store.snapshot():
        cache = DecisionCache.load(ix.store.db, prints.ids, ix.store.path, ix.store.generation())
        same_pixels.library_pairs(ix.store, prints, cache)
    print("saved:", cache.save())
    with ix.store.snapshot():
        cache = DecisionCache.load(ix.store.db, prints.ids, ix.store.path, ix.store.generation())
        out, t = timed(lambda: same_pixels.library_pairs(ix.store, prints, cache))
    print(f"library_pairs, warm (stage kept for this state): {len(out)} pairs:", t)
