"""The compiled kernel of consensus.py (numba; imported only when it is used): the largest
consensus any homography through four of a set of matches can reach, by enumeration.

Module-level function, so numba caches its machine code next to this file (``cache=True``).
"""

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def _basis(x, y, i, j, k, m, out):
    """The 3x3 matrix (into *out*) that maps the projective basis e1, e2, e3, (1, 1, 1) to
    points i, j, k, m of (x, y): columns lam_i p_i, lam_j p_j, lam_k p_k with
    [p_i p_j p_k] lam = p_m (Cramer's rule). Returns det([p_i p_j p_k]) times the product of
    the lams (0 when three of the points are collinear)."""
    d = (x[i] * (y[j] - y[k]) - x[j] * (y[i] - y[k]) + x[k] * (y[i] - y[j]))
    if d == 0.0:
        return 0.0
    li = (x[m] * (y[j] - y[k]) - x[j] * (y[m] - y[k]) + x[k] * (y[m] - y[j])) / d
    lj = (x[i] * (y[m] - y[k]) - x[m] * (y[i] - y[k]) + x[k] * (y[i] - y[m])) / d
    lk = (x[i] * (y[j] - y[m]) - x[j] * (y[i] - y[m]) + x[m] * (y[i] - y[j])) / d
    out[0, 0], out[1, 0], out[2, 0] = li * x[i], li * y[i], li
    out[0, 1], out[1, 1], out[2, 1] = lj * x[j], lj * y[j], lj
    out[0, 2], out[1, 2], out[2, 2] = lk * x[k], lk * y[k], lk
    return d * li * lj * lk


@nb.njit(cache=True, nogil=True)
def _orient(x, y, i, j, k):
    return (x[j] - x[i]) * (y[k] - y[i]) - (y[j] - y[i]) * (x[k] - x[i])


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _explained(ax, ay, bx, by, h, radius, margin, rel, flag):
    """How many of the n matches homography *h* (h[2, 2] = 1) puts within *radius* (+ the
    rounding allowance, see reaches) of their partners; flag[p] = 1 for each, else 0. A match
    sent near the horizon counts (its divisions, by a w near 0, are computed and ignored:
    error_model numpy gives inf or nan there instead of raising, so the loop has no branch)."""
    h00, h01, h02 = h[0, 0], h[0, 1], h[0, 2]
    h10, h11, h12 = h[1, 0], h[1, 1], h[1, 2]
    h20, h21 = h[2, 0], h[2, 1]
    total = 0
    for p in range(ax.shape[0]):
        x = ax[p]
        y = ay[p]
        w = h20 * x + h21 * y + 1.0
        size = abs(h20 * x) + abs(h21 * y) + 1.0
        u0 = h00 * x + h01 * y + h02
        u1 = h10 * x + h11 * y + h12
        terms = (abs(h00 * x) + abs(h01 * y) + abs(h02)
                 + abs(h10 * x) + abs(h11 * y) + abs(h12)
                 + size * (abs(u0) + abs(u1)) / abs(w)) / abs(w)
        dx = u0 / w - bx[p]
        dy = u1 / w - by[p]
        lim = radius + margin + rel * terms
        ok = (abs(w) <= 1e-4 * size) | (dx * dx + dy * dy <= lim * lim)
        flag[p] = 1 if ok else 0
        total += flag[p]
    return total


@nb.njit(cache=True, nogil=True)
def reaches(ax, ay, bx, by, need, radius, margin, rel):
    """Is there a 4-subset of the n matches (ax, ay) -> (bx, by) (float64 (n,) each), with
    its three-point orientations all kept or all reversed, whose homography (the one through
    its four matches) puts at least *need* matches within *radius* (+ *margin* + *rel* times
    the size of the terms of that match's projection, for rounding) of their partners?
    Subsets with three collinear points (exactly) are skipped, as OpenCV's RANSAC does; a
    match that a subset's homography sends near the horizon, where rounding decides, counts
    as explained. Returns 1 when one is found, 0 when none can be, -1 when a subset's
    homography cannot be normalised (h33 = 0)."""
    n = ax.shape[0]
    ma = np.empty((3, 3))
    mb = np.empty((3, 3))
    inv = np.empty((3, 3))
    h = np.empty((3, 3))
    flag = np.empty(n, np.int64)
    # sign of (orientation in a) x (orientation in b) of every triple i < j < k
    sgn = np.zeros((n, n, n), np.int8)
    for i in range(n):
        for j in range(i + 1, n):
            for k in range(j + 1, n):
                s = _orient(ax, ay, i, j, k) * _orient(bx, by, i, j, k)
                sgn[i, j, k] = 1 if s > 0.0 else (-1 if s < 0.0 else 0)
    for i in range(n):
        for j in range(i + 1, n):
            for k in range(j + 1, n):
                s0 = sgn[i, j, k]
                if s0 == 0:  # collinear: OpenCV's checkSubset rejects it
                    continue
                for m in range(k + 1, n):
                    if sgn[j, k, m] != s0 or sgn[i, k, m] != s0 or sgn[i, j, m] != s0:
                        continue  # OpenCV's checkSubset rejects it
                    if _basis(ax, ay, i, j, k, m, ma) == 0.0 or _basis(bx, by, i, j, k, m, mb) == 0.0:
                        continue
                    # inverse of ma by its adjugate (the scale does not matter)
                    inv[0, 0] = ma[1, 1] * ma[2, 2] - ma[1, 2] * ma[2, 1]
                    inv[0, 1] = ma[0, 2] * ma[2, 1] - ma[0, 1] * ma[2, 2]
                    inv[0, 2] = ma[0, 1] * ma[1, 2] - ma[0, 2] * ma[1, 1]
                    inv[1, 0] = ma[1, 2] * ma[2, 0] - ma[1, 0] * ma[2, 2]
                    inv[1, 1] = ma[0, 0] * ma[2, 2] - ma[0, 2] * ma[2, 0]
                    inv[1, 2] = ma[0, 2] * ma[1, 0] - ma[0, 0] * ma[1, 2]
                    inv[2, 0] = ma[1, 0] * ma[2, 1] - ma[1, 1] * ma[2, 0]
                    inv[2, 1] = ma[0, 1] * ma[2, 0] - ma[0, 0] * ma[2, 1]
                    inv[2, 2] = ma[0, 0] * ma[1, 1] - ma[0, 1] * ma[1, 0]
                    for r in range(3):
                        for c in range(3):
                            h[r, c] = mb[r, 0] * inv[0, c] + mb[r, 1] * inv[1, c] + mb[r, 2] * inv[2, c]
                    if h[2, 2] == 0.0:  # cannot be normalised as OpenCV does: not told
                        return -1
                    s22 = 1.0 / h[2, 2]
                    for r in range(3):
                        for c in range(3):
                            h[r, c] *= s22
                    # every match's verdict, branch-free so that the loop runs on the
                    # vector unit (the same IEEE operations as one at a time), then the
                    # subset's own four replaced by their count
                    found = 4 + _explained(ax, ay, bx, by, h, radius, margin, rel, flag)
                    found -= flag[i] + flag[j] + flag[k] + flag[m]
                    if found >= need:
                        return 1
    return 0
