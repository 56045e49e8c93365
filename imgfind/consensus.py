"""Can a homography explain enough matches? A bound by enumeration, so that RANSAC is not run
where it cannot succeed.

Verification (partial.py) runs OpenCV's RANSAC homography (findHomography) on the matched
keypoints of every candidate pair, and with the matches of two unrelated pictures it runs all
its 1,000 iterations: about 10 ms a call, up to 2 calls a candidate (both directions), half of
a cold dedupe's CPU on ../shared/bench's dev pool. But every hypothesis that RANSAC scores is
the homography through four of the matches, drawn at random (Fischler and Bolles 1981;
OpenCV skips samples with three collinear points or whose triangles do not all keep, or all
reverse, their orientation: `checkSubset`), and its consensus is the number of matches within
the reprojection threshold. So the largest consensus over *every* such 4-subset bounds the
consensus of RANSAC's best hypothesis. When the matches are few (a candidate that shares
nothing with the query has 10-40 after the ratio test), all 4-subsets are enumerated at less
cost than RANSAC's iterations, and when none reaches what the answer needs, RANSAC is
skipped: the same answer (no homography), for less.

The bound is not exact for what findHomography reports: it refits its best hypothesis on
that hypothesis' inliers and counts the inliers of the refitted model, which can explain a
match or two that no 4-point model does (measured with OpenCV 5.0: in calls where the
reported count exceeded the bound at RANSAC's radius, no 4-subset that OpenCV's RANSAC would
draw reached it with OpenCV's own 4-point solve and float32 errors). So callers ask within a
wider radius than RANSAC's (partial.HOMOGRAPHY_SLACK). Counts also allow for rounding
(OpenCV scores in float32).

Needs numba (the ``fast`` extra); without it, homography_may_reach always answers True.
"""

from __future__ import annotations

import functools

import numpy as np

#: Enumerate only up to this many matches (C(n, 4) subsets, an eighth of them kept by the
#: orientation test: 11,400 at 40); above it, RANSAC runs as before. Ours: with unrelated
#: matches the enumeration takes 0.1 ms at 20 matches, 0.9 at 30, 3.4 at 40 and 6 at 45 on
#: this machine, findHomography about 10 ms from 15 matches on (benchmarks/RESULTS.md,
#: session 9); 95% of the dev pool's failing first fits have at most 40 matches. Since
#: session 12 the count runs on the vector unit (1.65x less CPU); left at 40 because the
#: slack (partial.HOMOGRAPHY_SLACK) was measured on calls of at most 40 matches, and a 10^4
#: dedupe sample has few calls above it (88 of 4,030, 0.8 s of findHomography in 300 pictures).
MAX_MATCHES = 40
#: Allowance for rounding in the counts: MARGIN pixels plus REL times the size of the terms
#: of each projection (OpenCV computes the reprojection error in float32: 6e-8 relative).
MARGIN = 0.01
REL = 1e-5


@functools.lru_cache(maxsize=1)
def _kernel():  # type: ignore[no-untyped-def]
    try:
        from . import _consensus_kernels as k
    except Exception:  # ImportError, or a numba that does not load on this numpy
        return None
    return k.reaches


def homography_may_reach(pa: np.ndarray, pb: np.ndarray, need: int, radius: float) -> bool:
    """False only when no homography through four of the matches *pa* -> *pb* ((n, 2)
    positions in pixels, rows matched) puts *need* or more of them within *radius* pixels of
    their partner (the subsets OpenCV's RANSAC would sample: no three points collinear, all
    orientations kept or all reversed). True when one does, and whenever it is not worth
    telling (more than MAX_MATCHES matches, numba missing, a degenerate subset)."""
    n = len(pa)
    if n < need:
        return False
    if need <= 4 or n > MAX_MATCHES:
        return True
    reaches = _kernel()
    if reaches is None:
        return True
    a = np.asarray(pa, np.float64)
    b = np.asarray(pb, np.float64)
    return bool(reaches(np.ascontiguousarray(a[:, 0]), np.ascontiguousarray(a[:, 1]),
                        np.ascontiguousarray(b[:, 0]), np.ascontiguousarray(b[:, 1]),
                        int(need), float(radius), MARGIN, REL) != 0)
