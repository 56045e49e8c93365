"""Inner pictures: the box of a picture shown inside a frame (a screenshot's window, a phone's
screen, a page or a mat around a photo), found in a stored grey thumbnail.

A picture shown inside an application window is a rectangle whose four sides are step edges
against the window around it. Its local features (keypoints.py) find it when it has corners
of its own; a soft gradient or abstract wallpaper has almost none, and its global
fingerprint is then the only way to it, but the window is most of a screenshot's pixels. Cut
out, the picture's box is the picture again at about half the size, and a soft picture is
all low frequencies: the 26 px or so the box spans in a 48 px thumbnail carry what global
verification compares (24 px views). part_views.py makes a view of that box.

Method (ours): the thumbnail's step edges (grey changes of at least STEP levels across three
pixels, so that a resampled edge counts); candidate sides are rows and columns with a run of
edges at least MIN_SIDE of the thumbnail long; the box is the largest rectangle of candidate
sides whose four sides are each edges along at least SUPPORT of their length, between
MIN_SIDE of the thumbnail on a side and MAX_AREA of its area, shrunk by a pixel so that the
blurred edge stays out. A picture with no such rectangle has no inner box.

Pure: numpy on arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Grey levels a step edge changes by across three pixels of the thumbnail.
STEP = 24.0
#: The share of each side of the box that must be an edge.
SUPPORT = 0.85
#: The box's sides are at least this fraction of the thumbnail's ...
MIN_SIDE = 0.2
#: ... and its area at most this fraction: a larger box is the picture with a thin border,
#: which the trimmed view (fingerprint.trim_box) and the halves already cover.
MAX_AREA = 0.8
#: The frame: next to at least FLAT_SIDES of the box's sides, just outside the edge, the
#: thumbnail is flat along the side (neighbours within FLAT_STEP grey levels over SUPPORT of
#: it): a window's margin, a bezel, a mat. An edge in a texture has texture on both sides.
FLAT_STEP = 3.0
FLAT_SIDES = 3
#: At most this many candidate rows and columns (the longest edge runs) are tried.
MAX_LINES = 12
#: inner_boxes looks at this many thumbnails at once (256 of 48 px: about 2 MB each array).
BATCH = 256


def _longest_runs(edges: np.ndarray) -> np.ndarray:
    """The longest run of True down each column of *edges* (bool (..., rows, cols)): int64
    (..., cols). A stack of arrays gives each its own (the runs go down axis -2).

    Without a loop over rows: the running count of Trues down a column, less its value at the
    last False above (where a run restarts), is the run ending at each place."""
    if edges.shape[-2] == 0:
        return np.zeros(edges.shape[:-2] + edges.shape[-1:], np.int64)
    count = np.cumsum(edges, axis=-2, dtype=np.int32)
    restart = np.maximum.accumulate(np.where(edges, 0, count), axis=-2)
    return (count - restart).max(axis=-2).astype(np.int64)


def _has_run(edges: np.ndarray, least: float) -> np.ndarray:
    """Whether ``_longest_runs(edges) >= least``, per column (bool (..., cols)), without the
    running maximum _longest_runs needs (numpy's accumulate along a middle axis is its
    slowest step): a column has a run of at least ceil(least) edges exactly where some
    window of that many rows holds that many, told by differences of one cumulative sum."""
    rows = edges.shape[-2]
    need = math.ceil(least)
    shape = edges.shape[:-2] + edges.shape[-1:]
    if need <= 0:
        return np.ones(shape, bool)
    if need > rows:
        return np.zeros(shape, bool)
    count = np.zeros(edges.shape[:-2] + (rows + 1,) + edges.shape[-1:], np.int32)
    np.cumsum(edges, axis=-2, dtype=np.int32, out=count[..., 1:, :])
    return ((count[..., need:, :] - count[..., :-need, :]) == need).any(axis=-2)


def _lines(edges: np.ndarray, least: float) -> np.ndarray:
    """Indices of the columns of *edges* whose longest run reaches *least*, longest first,
    at most MAX_LINES."""
    runs = _longest_runs(edges)
    found = np.nonzero(runs >= least)[0]
    return found[np.argsort(-runs[found], kind="stable")][:MAX_LINES]


def inner_boxes(greys: Sequence[np.ndarray]) -> list[tuple[float, float, float, float] | None]:
    """:func:`inner_box` of each of *greys* (the same answers), most of them at once: a box
    needs at least two candidate columns and two candidate rows (_lines), which one pass over
    all the thumbnails of a shape tells; only the thumbnails that have them are searched for
    a box one by one (a dedupe asks for every grouped picture's: benchmarks/RESULTS.md,
    "Dedupe at scale, session 9")."""
    out: list[tuple[float, float, float, float] | None] = [None] * len(greys)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for k, grey in enumerate(greys):
        by_shape.setdefault(np.shape(grey), []).append(k)
    for shape, which in by_shape.items():
        if len(shape) != 2 or min(shape) < 12:
            for k in which:
                out[k] = inner_box(greys[k])
            continue
        rows, cols = shape
        for lo in range(0, len(which), BATCH):  # a few MB at a time, whatever the caller's batch
            some = which[lo:lo + BATCH]
            g = np.stack([np.asarray(greys[k], np.float32) for k in some])
            v = np.abs(g[:, :, 2:] - g[:, :, :-2]) >= STEP
            h = np.abs(g[:, 2:, :] - g[:, :-2, :]) >= STEP
            n_x = _has_run(v, MIN_SIDE * rows).sum(axis=1)
            n_y = _has_run(np.swapaxes(h, 1, 2), MIN_SIDE * cols).sum(axis=1)
            for k, ok in zip(some, (n_x >= 2) & (n_y >= 2)):
                if ok:
                    out[k] = inner_box(greys[k])
    return out


def inner_box(grey: np.ndarray) -> tuple[float, float, float, float] | None:
    """The box of a picture shown inside a frame in *grey* (uint8, rows x cols, a stored
    thumbnail), as fractions (left, top, right, bottom) of the thumbnail, or None when no
    rectangle of step edges encloses one (see the module's docstring)."""
    g = np.asarray(grey, np.float32)
    rows, cols = g.shape
    if min(rows, cols) < 12:
        return None
    # v[y, c]: an edge between columns c and c + 2 (its place: column c + 1); h alike for rows
    v = np.abs(g[:, 2:] - g[:, :-2]) >= STEP
    h = np.abs(g[2:, :] - g[:-2, :]) >= STEP
    xs = _lines(v, MIN_SIDE * rows)
    ys = _lines(h.T, MIN_SIDE * cols)
    if len(xs) < 2 or len(ys) < 2:
        return None
    xs, ys = xs.astype(np.int64), ys.astype(np.int64)
    down = np.vstack([np.zeros((1, v.shape[1])), np.cumsum(v, axis=0)])  # (rows + 1, cols - 2)
    across = np.hstack([np.zeros((h.shape[0], 1)), np.cumsum(h, axis=1)])  # (rows - 2, cols + 1)
    # every pair of candidate columns (x0 < x1) against every pair of candidate rows (y0 < y1)
    i, j = np.triu_indices(len(xs), 1)
    x0, x1 = np.minimum(xs[i], xs[j]), np.maximum(xs[i], xs[j])
    i, j = np.triu_indices(len(ys), 1)
    y0, y1 = np.minimum(ys[i], ys[j]), np.maximum(ys[i], ys[j])
    wide, high = (x1 - x0)[:, None], (y1 - y0)[None, :]
    top, bottom = y0 + 1, y1 + 1
    left, right = x0 + 1, x1 + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        support = np.minimum.reduce([
            (down[bottom[None, :], x0[:, None]] - down[top[None, :], x0[:, None]]) / high,
            (down[bottom[None, :], x1[:, None]] - down[top[None, :], x1[:, None]]) / high,
            (across[y0[None, :], right[:, None]] - across[y0[None, :], left[:, None]]) / wide,
            (across[y1[None, :], right[:, None]] - across[y1[None, :], left[:, None]]) / wide])
    # the frame just outside each side (a pixel beyond the edge's three) runs flat along it
    cols_flat = np.vstack([np.zeros((1, cols)), np.cumsum(
        np.abs(np.diff(g, axis=0)) <= FLAT_STEP, axis=0)])  # (rows, cols): down each column
    rows_flat = np.hstack([np.zeros((rows, 1)), np.cumsum(
        np.abs(np.diff(g, axis=1)) <= FLAT_STEP, axis=1)])  # (rows, cols): along each row
    out_l, out_r = np.clip(x0 - 1, 0, cols - 1), np.clip(x1 + 3, 0, cols - 1)
    out_t, out_b = np.clip(y0 - 1, 0, rows - 1), np.clip(y1 + 3, 0, rows - 1)
    lo_y, hi_y = top[None, :], np.maximum(bottom - 1, top)[None, :]
    lo_x, hi_x = left[:, None], np.maximum(right - 1, left)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        flat_sides = sum(
            ((table[hi, line] - table[lo, line]) / np.maximum(hi - lo, 1) >= SUPPORT).astype(int)
            for table, line, lo, hi in (
                (cols_flat, out_l[:, None], lo_y, hi_y), (cols_flat, out_r[:, None], lo_y, hi_y),
                (rows_flat.T, out_t[None, :], lo_x, hi_x),
                (rows_flat.T, out_b[None, :], lo_x, hi_x)))
    area = wide * high
    fits = ((support >= SUPPORT) & (flat_sides >= FLAT_SIDES) & (wide >= MIN_SIDE * cols) & (high >= MIN_SIDE * rows)
            & (area <= MAX_AREA * rows * cols))
    box = None
    if fits.any():
        k = np.unravel_index(np.argmax(np.where(fits, area, -1)), fits.shape)
        box = (int(left[k[0]]), int(top[k[1]]), int(right[k[0]]), int(bottom[k[1]]))
    if box is None:
        return None
    left, top, right, bottom = box
    # Each side at the sub-pixel place of its edge (a resampled edge is a pixel or two of
    # mixed grey): the picture's box neither takes in a strip of the frame nor loses one.
    x_lo = _edge_place(g[top + 1:bottom - 1, :], left - 1)
    x_hi = cols - _edge_place(g[top + 1:bottom - 1, ::-1], cols - right - 1)
    y_lo = _edge_place(g[:, left + 1:right - 1].T, top - 1)
    y_hi = rows - _edge_place(g[::-1, left + 1:right - 1].T, rows - bottom - 1)
    if min(x_hi - x_lo, y_hi - y_lo) < MIN_SIDE * min(rows, cols):
        return None
    return (x_lo / cols, y_lo / rows, x_hi / cols, y_hi / rows)


def _edge_place(g: np.ndarray, near: int) -> float:
    """Where the step edge near column *near* of *g* (float (rows, cols), the frame to the
    left of the edge, the picture to its right) lies, in pixels from the left: per row, the
    frame's share of the pixels from *near* - 2 to *near* + 3 (each pixel's grey between the
    frame's, at the first, and the picture's, at the last), added to the first's place; the
    median over the rows whose step is at least STEP."""
    lo = max(0, near - 2)
    hi = min(g.shape[1] - 1, near + 3)
    a, b = g[:, lo:lo + 1], g[:, hi:hi + 1]
    step = (b - a)[:, 0]
    keep = np.abs(step) >= STEP
    if not keep.any():
        return float(near + 1)
    share = np.clip((g[keep, lo:hi + 1] - a[keep]) / (b - a)[keep], 0.0, 1.0)
    return float(lo + np.median((1.0 - share).sum(axis=1)))
