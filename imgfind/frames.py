"""Shared frames: is a global match only a frame two pictures share?

Two screenshots of one application around different pictures (a window's title, tool and
status bars and a side panel, with a wallpaper or photo shown at half its size inside) have
nearly the same global fingerprints when the pictures inside are soft: the frame is most of
their pixels, and at the 24 px of global verification two dark gradients differ by a few
grey levels only (verify.frame_evidence judges the content inside a frame, but at 24 px the
content of a picture shown at 55% of the width is 13 px across). The local features tell
them apart: the keypoints of an identical frame match one to one, those of the content
inside it do not, while a true copy's keypoints match over the whole picture.

The test (ours, calibrated on ../shared/bench's dev and smooth pools, session 6): a pair
whose raw 24 px views share a frame (verify's SHARED_MIN, REST_MIN and FRAME_EDGE; pixels
within FRAME_DIFF grey levels) is a frame only when, in either picture, at least
CONTENT_POINTS keypoints lie in the region that differs (and map inside the other picture)
and fewer than CONTENT_AGREE of them are inliers of the model verification fits between the
two (partial.fit_model), or there is no such model at all; a model that does not lay the two
pictures over each other whole (IN_PLACE) gives no verdict. Measured on main's groups at 128
keypoints: 4 of the smooth pool's 5 wrong global pairs that share a frame (3 screenshots of
different wallpapers, a turned copy of another wallpaper) are frames only, and none of the
167 true pairs that share a frame (89 dev, 78 smooth: crops, borders, brightness and
contrast edits); without IN_PLACE two true crops of the dev pool were lost. Two dark
pictures whose 24 px views differ by fewer than FRAME_DIFF grey levels leave no differing
region and are not caught.

Pure: numpy arrays and LocalFeatures.
"""

from __future__ import annotations

import numpy as np

from . import partial
from .keypoints import positions
from .model import LocalFeatures
from .verify import FRAME_EDGE, REST_MIN, SHARED_MIN, erode

#: Pixels of the two raw 24 px views within this many grey levels are the frame they share
#: (verify.SHARED_DIFF is 6: two soft pictures inside one window can differ by less).
FRAME_DIFF = 6.0
#: Keypoints a picture needs in the differing region for its verdict to count ...
CONTENT_POINTS = 10
#: ... and the share of them the pair's model must explain for the pair to be more than a frame.
CONTENT_AGREE = 0.1
#: The model must lay the pictures over each other whole, each corner within this fraction of
#: the picture's side of the other's (a shared frame stays where it is).
IN_PLACE = 0.05


#: Two inner pictures' boxes (inner_box.py) are in the same place of their frames when each
#: side is within this fraction of the picture of the other's.
SAME_PLACE = 0.02


def same_place(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Are boxes *a* and *b* (fractions of their pictures) the same place, within SAME_PLACE?"""
    return max(abs(x - y) for x, y in zip(a, b)) <= SAME_PLACE


def shared_frame(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """The region where two aligned raw grey views (same size, square) differ, when the rest
    is a frame they share (reaches an edge of the picture, covers SHARED_MIN to 1 - REST_MIN
    of it): bool (size, size), eroded by a pixel; None when they share no frame."""
    shared = np.abs(x.astype(np.float32) - y.astype(np.float32)) <= FRAME_DIFF
    share = float(shared.mean())
    if not SHARED_MIN <= share <= 1.0 - REST_MIN:
        return None
    if max(shared[0].mean(), shared[-1].mean(), shared[:, 0].mean(),
           shared[:, -1].mean()) < FRAME_EDGE:
        return None
    return erode(~shared)


def _content_points(f: LocalFeatures, differ: np.ndarray, matrix: np.ndarray | None,
                    other: LocalFeatures) -> np.ndarray:
    """Which keypoints of *f* lie in the differing region (*differ*, a grid over f) and,
    under *matrix* (f's detail pixels into other's; None: no model), inside *other*."""
    pos = positions(f)
    size = differ.shape[0]
    cx = np.minimum((pos[:, 0] / f.width * size).astype(np.int64), size - 1)
    cy = np.minimum((pos[:, 1] / f.height * size).astype(np.int64), size - 1)
    inside = differ[cy, cx]
    if matrix is not None:
        h = np.hstack([pos, np.ones((len(pos), 1))]) @ matrix.T
        with np.errstate(divide="ignore", invalid="ignore"):
            mapped = h[:, :2] / h[:, 2:3]
        inside &= ((h[:, 2] > 0) & (mapped[:, 0] >= 0) & (mapped[:, 0] < other.width)
                   & (mapped[:, 1] >= 0) & (mapped[:, 1] < other.height))
    return inside


def _in_place(matrix: np.ndarray, a: LocalFeatures, b: LocalFeatures) -> bool:
    """Does *matrix* lay picture a over the whole of b (each corner within IN_PLACE of the
    other picture's side of b's corner)? A shared frame is where it was: only then do the
    two whole views compared at 24 px show the same places."""
    corners = np.array([[0, 0], [a.width, 0], [a.width, a.height], [0, a.height]], np.float64)
    h = np.hstack([corners, np.ones((4, 1))]) @ matrix.T
    if np.any(h[:, 2] <= 0):
        return False
    got = h[:, :2] / h[:, 2:3]
    want = np.array([[0, 0], [b.width, 0], [b.width, b.height], [0, b.height]], np.float64)
    off = np.abs(got - want) / np.array([b.width, b.height], np.float64)
    return bool(off.max() <= IN_PLACE)


def frame_only(x: np.ndarray, y: np.ndarray, a: LocalFeatures | None,
               b: LocalFeatures | None) -> bool:
    """Is the agreement of pictures a and b (raw grey views *x*, *y* of the whole pictures
    in the same orientation, as global verification compares them; their local features
    *a*, *b*) only a frame they share? False when they share no frame or either has no
    local features (nothing to tell by)."""
    if a is None or b is None:
        return False
    differ = shared_frame(x, y)
    if differ is None or not differ.any():
        return False
    fitted = partial.fit_model(a, b)
    if fitted is not None:
        matrix, ia, ib = fitted[0], fitted[2], fitted[3]
    else:
        back = partial.fit_model(b, a)
        if back is not None:
            matrix, ia, ib = np.linalg.inv(back[0]), back[3], back[2]
        else:
            matrix, ia, ib = None, np.zeros(0, np.int64), np.zeros(0, np.int64)
    if matrix is not None and not _in_place(matrix, a, b):
        return False  # not laid over each other whole (a crop matched by a crop view)
    inverse = None if matrix is None else np.linalg.inv(matrix)
    for f, inl, m, other in ((a, ia, matrix, b), (b, ib, inverse, a)):
        content = _content_points(f, differ, m, other)
        n = int(content.sum())
        if n < CONTENT_POINTS:
            continue
        agree = int(content[inl].sum())
        if agree < CONTENT_AGREE * n:
            return True
    return False
