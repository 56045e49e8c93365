"""Local features: ORB keypoints of a picture's detail picture, in a compact stored form.

A global fingerprint describes a whole picture, so it cannot find a crop, a photo inside a
screenshot or a collage, or a copy turned by a few degrees. Local features can: a few
hundred distinctive points, each with a binary descriptor of the patch around it that does
not change when the picture is scaled, turned or cut around it (ORB: Rublee, Rabaud,
Konolige and Bradski, "ORB: an efficient alternative to SIFT or SURF", ICCV 2011, as
implemented by OpenCV). partial.py searches them and verifies the geometry.

Stored form (model.LocalFeatures): at most recipe.KEYPOINTS points, each a position as two
uint16 fractions of the detail picture and the first recipe.DESCRIPTOR_BITS (64) bits of its
ORB descriptor as one uint64: 12 bytes a point, about 3 KB a picture (stored packed since
schema 7, about 2.1 KB: keypointcodec). 64 bits rather than
256 were chosen by measurement (bench dev pool, 45 originals, their crop/screenshot/rotated/
perspective copies against 2,400 pairs of different pictures, 384 px detail pictures): pairs
verified with at least 12 RANSAC inliers, 256 bits 91-96% per kind, 64 bits 84-96%, and no
different pair verified with either; 64 bits are a quarter of the bytes and fit the Hamming
engine of imgfind.search.

Pure functions over numpy arrays; OpenCV is imported on first use (a fifth of a second).
"""

from __future__ import annotations

import numpy as np

from .model import LocalFeatures
from .recipe import (DESCRIPTOR_BITS, KEYPOINTS, ORB_FAST, ORB_FAST_MIN, ORB_LEVELS, ORB_PATCH,
                     ORB_SCALE)

#: A picture with fewer keypoints than this has no local features (a flat fill, a tiny icon,
#: a soft gradient): it is matched by its global fingerprint only.
MIN_KEYPOINTS = 16
#: Pictures smaller than this on either side of the detail picture get no keypoints.
MIN_DETAIL_SIDE = 2 * ORB_PATCH + 8

#: Keypoints of a query picture (not stored, so not bounded by the index's budget): a
#: collage of four photos has about a quarter of them on each photo. (512: it was 4 x 128
#: before KEYPOINTS became 256; kept, so that a query verifies no more keypoints than before.)
QUERY_KEYPOINTS = 2 * KEYPOINTS

_orbs: dict[tuple[int, int], object] = {}


def available() -> bool:
    """True when OpenCV can be imported (without it, no picture has local features)."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def _detector(n: int, fast: int = ORB_FAST):  # type: ignore[no-untyped-def]
    if (n, fast) not in _orbs:
        import cv2

        cv2.setNumThreads(1)  # workers are processes already; threads only add overhead
        _orbs[(n, fast)] = cv2.ORB_create(nfeatures=n, scaleFactor=ORB_SCALE,
                                          nlevels=ORB_LEVELS, edgeThreshold=ORB_PATCH,
                                          patchSize=ORB_PATCH, fastThreshold=fast)
    return _orbs[(n, fast)]


#: A query's keypoints are spread over its picture (extract's *spread*): its detail picture
#: cut in SPREAD_CELLS x SPREAD_CELLS cells, each given an equal share of the budget from
#: SPREAD_OVERSAMPLE times as many ORB keypoints found (the strongest in each cell, then the
#: strongest left). A collage of four photos held up to 268 of the 512 strongest keypoints on
#: one photo and 57 on another, too few to verify it (ours: generated collages; grid
#: selection as in ORB-SLAM's distribution of FAST corners, Mur-Artal et al., 2015).
SPREAD_CELLS = 4
SPREAD_OVERSAMPLE = 4


def _spread(keypoints: list, desc: np.ndarray, n: int, cols: int, rows: int
            ) -> tuple[list, np.ndarray]:
    """The *n* of *keypoints* (and their rows of *desc*) spread over the picture: the
    strongest (ORB response) n / SPREAD_CELLS^2 in each cell first, then the strongest left."""
    if len(keypoints) <= n:
        return keypoints, desc
    xy = np.array([k.pt for k in keypoints], dtype=np.float64)
    response = np.array([k.response for k in keypoints], dtype=np.float64)
    cell = (np.minimum((xy[:, 1] / rows * SPREAD_CELLS).astype(int), SPREAD_CELLS - 1)
            * SPREAD_CELLS + np.minimum((xy[:, 0] / cols * SPREAD_CELLS).astype(int),
                                        SPREAD_CELLS - 1))
    order = np.lexsort((-response, cell))  # by cell, strongest first within each
    rank = np.empty(len(order), dtype=np.int64)
    starts = np.searchsorted(cell[order], np.arange(SPREAD_CELLS ** 2))
    rank[order] = np.arange(len(order)) - starts[cell[order]]
    quota = n // SPREAD_CELLS ** 2
    first = np.nonzero(rank < quota)[0]
    rest = np.setdiff1d(np.argsort(-response, kind="stable"), first, assume_unique=True)
    rest = rest[np.argsort(-response[rest], kind="stable")][:n - len(first)]
    keep = np.sort(np.concatenate([first, rest]))
    return [keypoints[i] for i in keep], desc[keep]


def extract(detail: np.ndarray | None, n: int = KEYPOINTS, spread: bool = False
            ) -> LocalFeatures | None:
    """Find up to *n* (recipe.KEYPOINTS) ORB keypoints in *detail* (uint8 grey, rows x cols);
    with *spread* (a query's), spread over the picture (SPREAD_CELLS) rather than the
    strongest anywhere.

    A soft picture with fewer than *n* corners at the FAST threshold recipe.ORB_FAST is
    searched again at half the threshold, down to recipe.ORB_FAST_MIN (ours: bench smooth
    pool, 286 of 1,610 pictures had fewer than MIN_KEYPOINTS at 8, 5 at 2).

    Returns None when the picture is too small (MIN_DETAIL_SIDE) or yields fewer than
    MIN_KEYPOINTS keypoints: such pictures fall back to the global fingerprint. Never raises
    for a picture's content.
    """
    if detail is None or detail.ndim != 2 or min(detail.shape) < MIN_DETAIL_SIDE or not available():
        return None
    rows, cols = detail.shape
    grey = np.ascontiguousarray(detail, np.uint8)
    fast = ORB_FAST
    asked = n * SPREAD_OVERSAMPLE if spread else n
    while True:  # a soft picture: lower the FAST threshold until there are enough corners
        keypoints, desc = _detector(asked, fast).detectAndCompute(grey, None)
        found = 0 if desc is None else len(keypoints)
        if found >= n or fast <= ORB_FAST_MIN:
            break
        fast = max(ORB_FAST_MIN, fast // 2)
    if desc is None or found < MIN_KEYPOINTS:
        return None
    if spread:
        keypoints, desc = _spread(list(keypoints), desc, n, cols, rows)
    xy = np.array([k.pt for k in keypoints], dtype=np.float64)
    q = np.empty((len(xy), 2), dtype="<u2")
    q[:, 0] = np.clip(np.rint(xy[:, 0] / cols * 65535), 0, 65535)
    q[:, 1] = np.clip(np.rint(xy[:, 1] / rows * 65535), 0, 65535)
    words = np.ascontiguousarray(desc[:, :DESCRIPTOR_BITS // 8]).view("<u8").ravel()
    return LocalFeatures(cols, rows, q.tobytes(), words.tobytes())


def positions(local: LocalFeatures) -> np.ndarray:
    """The keypoints' positions in detail-picture pixels: float64 (n, 2) of (x, y)."""
    q = np.frombuffer(local.xy, dtype="<u2").reshape(-1, 2).astype(np.float64) / 65535.0
    return q * np.array([local.width, local.height], dtype=np.float64)


def descriptors(local: LocalFeatures) -> np.ndarray:
    """The keypoints' descriptors: uint64 (n,)."""
    return np.frombuffer(local.desc, dtype="<u8").astype(np.uint64)


def outside(local: LocalFeatures, boxes: list[tuple[float, float, float, float]]
            ) -> LocalFeatures | None:
    """The keypoints of *local* that lie in none of *boxes* (left, top, right, bottom as
    fractions of the picture, Partial.box_a), positions unchanged; None when fewer than
    MIN_KEYPOINTS are left (or none was cut away)."""
    q = np.frombuffer(local.xy, dtype="<u2").reshape(-1, 2).astype(np.float64) / 65535.0
    keep = np.ones(len(q), dtype=bool)
    for left, top, right, bottom in boxes:
        keep &= ~((q[:, 0] >= left) & (q[:, 0] <= right) & (q[:, 1] >= top) & (q[:, 1] <= bottom))
    if keep.all() or keep.sum() < MIN_KEYPOINTS:
        return None
    xy = np.frombuffer(local.xy, dtype="<u2").reshape(-1, 2)[keep]
    desc = np.frombuffer(local.desc, dtype="<u8")[keep]
    return LocalFeatures(local.width, local.height, xy.tobytes(), desc.tobytes())


def density_outside(local: LocalFeatures, box: tuple[float, float, float, float]) -> float:
    """How densely *local*'s keypoints lie outside *box* (left, top, right, bottom as
    fractions of the picture, Partial.box_b) against the whole picture: the fraction of the
    keypoints outside over the fraction of the area; 1.0 when nothing lies outside. A picture
    that goes on past the box (a crop's source) reads 0.37-0.50 (ORB keeps the strongest,
    drawn a little inwards by its patch border), the bars and status bar of a phone
    screenshot around the photo it letterboxes 0.0-0.007 (ours, generated pictures)."""
    left, top, right, bottom = box
    outside_area = 1.0 - max(0.0, right - left) * max(0.0, bottom - top)
    if outside_area <= 0.01 or local.n == 0:
        return 1.0
    q = np.frombuffer(local.xy, dtype="<u2").reshape(-1, 2).astype(np.float64) / 65535.0
    inside = (q[:, 0] >= left) & (q[:, 0] <= right) & (q[:, 1] >= top) & (q[:, 1] <= bottom)
    return float((~inside).mean() / outside_area)
