"""Are two versions' dedupe candidates the same? Run once per version (a git archive of each):

    python benchmarks/session7_same_candidates.py SNAPSHOT N OUT.npz

builds N synthetic rows (bench_query.synthetic_hashes, seed 1) with 1,000 of them turned or
mirrored copies of their neighbour, and saves find_candidates' rows and the streamed
iter_candidates' rows (merged) of a dedupe under the default rule; compare two OUT files
with numpy (every array equal). Ours (issue 15, session 7).
"""
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[1] + "/benchmarks")
import imgfind; assert imgfind.__file__.startswith(sys.argv[1]), imgfind.__file__
from bench_query import synthetic_hashes
from imgfind.side import Side
from imgfind.index import default_rule
from imgfind.candidates import find_candidates, iter_candidates
from imgfind.match import merge
n = int(sys.argv[2])
h = synthetic_hashes(n, 0.2, 1)
# some turned copies: row i+1 = row i's orientations permuted (a mirrored copy), a few bits off
from imgfind.layout import COMPOSE, N_ORIENT
for i in range(0, 2000, 2):
    g = 1 + (i // 2) % 7
    for v in range(2):
        for o in range(N_ORIENT):
            h[i + 1, v * 8 + COMPOSE[o][g]] = h[i, v * 8 + o] ^ np.uint64(1 << (i % 64))
side = Side(np.arange(n), h, np.tile([0.0, 0.0, 1.0, 1.0], (n, 1)), np.zeros(n, bool), lambda ids: {})
rule = default_rule()
c = find_candidates(side, side, rule, same=True)
s = merge(list(iter_candidates(side, side, rule, same=True)), True, rule)
out = {f"f_{k}": getattr(c, k) for k in ("q_row", "q_col", "i_row", "i_col", "distance")}
out.update({f"s_{k}": getattr(s, k) for k in ("q_row", "q_col", "i_row", "i_col", "distance")})
np.savez(sys.argv[3], **out)
print(len(c), len(s), len(set(zip(c.a.tolist(), c.b.tolist()))))
