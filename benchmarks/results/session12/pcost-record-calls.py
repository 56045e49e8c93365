"""Record every homography_may_reach call of the verification of a sample's candidate pairs."""
import sys, pickle
sys.path.insert(0, "/work/wt-pcost/benchmarks")
import numpy as np
from imgfind import consensus, partial
calls = []
orig = consensus.homography_may_reach
def rec(pa, pb, need, radius):
    calls.append((np.array(pa), np.array(pb), need, radius))
    return orig(pa, pb, need, radius)
partial.homography_may_reach = rec
import bench_partial_dedupe as b
r = b.sample(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), threads=0)
print(r, len(calls))
pickle.dump(calls, open(sys.argv[4], "wb"))
