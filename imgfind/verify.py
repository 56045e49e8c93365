"""Verification of candidate alignments: do two aligned views show the same picture? Pure.

Every function takes stacks of aligned greyscale views, shape (pairs, size, size), raw grey
levels 0..255, and returns one score per pair, so a batch of thousands of candidate
alignments costs a few numpy calls instead of thousands: verification is most of the work
of deduplicating a library with many copies.

Two scores. ``similarity`` (24 px) is the global test: a correlation robust to one spoiled
block, and a block-by-block correlation where each block counts alike however dull it is.
``window_similarity`` (48 px) is the local test: the worst agreement over any window of
about 14% of the picture, which rejects a different picture inside an identical frame.
Both first undo a global brightness/contrast edit (``photometric_align``).
"""

from __future__ import annotations

import numpy as np

#: Verification splits the aligned views into GRID x GRID blocks and ignores the
#: IGNORED_BLOCKS worst ones: an overlaid logo or caption changes a corner, not the picture.
GRID = 4
IGNORED_BLOCKS = 1
#: Blocks whose grey levels vary less than this (std, 0-255) count as flat.
FLAT_BLOCK = 3.0
#: Blocks flat in both views say little about a match and weigh this much.
FLAT_WEIGHT = 0.25
#: Verification needs at least this much block weight left once blown-out blocks are dropped.
MIN_KNOWN_WEIGHT = 4.0
#: A flat block this close to black or white counts as blown out too (highlights compressed by
#: clipping in one colour channel before the grey conversion).
BLOWN_MARGIN = 15.0
#: Grey levels at or beyond these count as clipped (a brightened copy's highlights at 255, a
#: darkened copy's shadows at 0): a clipped pixel says only "at least this bright".
CLIP_LOW, CLIP_HIGH = 5.0, 250.0
#: Photometric alignment maps one view's grey levels onto the other's only for contrast
#: ratios within this range (x1/2.5 .. x2.5); beyond it the views are left as they are.
MAX_GAIN = 2.5
#: ... and only for edits that scale grey levels (exposure, brightness: y = gain * x + offset
#: with a small offset). An arbitrary gain and offset would make two different pictures in one
#: frame agree by clipping both to black or white.
MAX_OFFSET = 20.0

#: Local verification: views at WINDOW_SIZE px, each scaled to zero mean and unit contrast (so
#: that brightness, contrast and gamma edits do not turn blocks "flat" in one copy only), are cut
#: into WINDOW_GRID x WINDOW_GRID blocks, each block scored on its own (correlation; two flat
#: blocks score 1 when their levels are close, a block flat in one view only scores 0), and the
#: score is the WORST mean over any WINDOW_SPAN x WINDOW_SPAN square of blocks (~14% of the
#: area). A different picture in an identical frame (screenshots, slides, same border)
#: disagrees over one large region and scores near 0; a logo, caption or watermark spoils a
#: few blocks of any window, not all.
WINDOW_SIZE = 48
WINDOW_GRID = 8
WINDOW_SPAN = 3
WINDOW_FLAT = 0.06  # a block is flat below this standard deviation (units of the view's)
WINDOW_CLOSE = 0.32  # two flat blocks agree when their means are this close (same units)
#: A window needs this many blocks not blown out in one view only to be judged.
WINDOW_MIN_KNOWN = 5


def _blocks(x: np.ndarray, g: int) -> np.ndarray:
    """(pairs, s, s) -> (pairs, g*g, (s//g)**2): the views cut into g x g blocks."""
    p, n = x.shape[0], x.shape[1] // g
    x = x[:, :g * n, :g * n]
    return x.reshape(p, g, n, g, n).transpose(0, 1, 3, 2, 4).reshape(p, g * g, n * n)


def _per_pair(v: np.ndarray) -> np.ndarray:
    """A per-pair value shaped to broadcast against (pairs, s, s)."""
    return v[:, None, None]


def _quartiles(x: np.ndarray, use: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Lower quartile, median and upper quartile of each pair's pixels where *use*.

    Taken as the sorted values at count//4, count//2 and 3*count//4, shape (pairs, 3).
    """
    flat = np.where(use, x, np.inf).reshape(len(x), -1)
    flat.sort(axis=1)
    at = np.stack([count // 4, count // 2, 3 * count // 4], axis=1)
    return np.take_along_axis(flat, np.minimum(at, flat.shape[1] - 1), axis=1)


def photometric_align(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undo a global brightness/contrast edit between aligned views, clipping included.

    The gain and offset are fitted (median and interquartile range, which a logo or caption
    on one copy moves little) on the pixels clipped in neither view; the view with fewer
    clipped pixels (else the duller one) is mapped onto the other's grey scale and clipped to
    0..255 the way the edited copy was, so a highlight blown to 255 in one copy meets a
    mapped 255 in the other instead of reading as disagreement.
    """
    ux = (x > CLIP_LOW) & (x < CLIP_HIGH)
    uy = (y > CLIP_LOW) & (y < CLIP_HIGH)
    both = ux & uy
    count = both.reshape(len(x), -1).sum(axis=1)
    qx = _quartiles(x, both, count).astype(np.float64)
    qy = _quartiles(y, both, count).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # pairs with no usable pixels
        sx, sy = qx[:, 2] - qx[:, 0], qy[:, 2] - qy[:, 0]
        ratio = sx / sy
        fit = (count >= 16) & (sx >= 1.0) & (sy >= 1.0) & (ratio >= 1 / MAX_GAIN) & (ratio <= MAX_GAIN)
        size = ux[0].size
        cx = 1.0 - ux.reshape(len(x), -1).sum(axis=1) / size
        cy = 1.0 - uy.reshape(len(y), -1).sum(axis=1) / size
        near = np.abs(cx - cy) <= 0.01
        map_y = ~near & (cx > cy) | near & (sx >= sy)
        gain = np.where(map_y, sx / sy, sy / sx)
        offset = np.where(map_y, qx[:, 1] - gain * qy[:, 1], qy[:, 1] - gain * qx[:, 1])
    fit &= np.abs(offset) <= MAX_OFFSET * gain
    # The edit is applied in the views' own precision, as a scalar gain would be.
    g32 = _per_pair(np.where(fit, gain, 1.0).astype(x.dtype))
    o32 = _per_pair(np.where(fit, offset, 0.0).astype(x.dtype))
    move_y, move_x = _per_pair(fit & map_y), _per_pair(fit & ~map_y)
    y = np.where(move_y, np.clip(y * g32 + o32, 0, 255), y)
    x = np.where(move_x, np.clip(x * g32 + o32, 0, 255), x)
    return x, y


def _standardise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per view (a flat view stays all zeros)."""
    x = x - x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    return np.where(std > 1e-6, x / np.where(std > 1e-6, std, 1.0), x)


def _correlation(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Pearson correlation over the last two axes, rows of (pairs, blocks, px) weighted 0/1."""
    w = weight[:, :, None]
    n = weight.sum(axis=1)[:, None, None] * a.shape[2]
    a = a - (a * w).sum(axis=(1, 2), keepdims=True) / n
    b = b - (b * w).sum(axis=(1, 2), keepdims=True) / n
    den = np.sqrt((a * a * w).sum(axis=(1, 2)) * (b * b * w).sum(axis=(1, 2)))
    num = (a * b * w).sum(axis=(1, 2))
    return np.where(den > 1e-9, num / np.where(den > 1e-9, den, 1.0), 0.0)


def robust_similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correlation of aligned, standardised views over all but their worst blocks."""
    bx, by = _blocks(_standardise(x), GRID), _blocks(_standardise(y), GRID)
    residual = ((bx - by) ** 2).sum(axis=2)
    worst = np.argsort(residual, axis=1, kind="stable")[:, GRID * GRID - IGNORED_BLOCKS:]
    keep = np.ones(residual.shape, bool)
    np.put_along_axis(keep, worst, False, axis=1)
    return _correlation(bx, by, keep.astype(bx.dtype))


def _saturated(x: np.ndarray, g: int) -> np.ndarray:
    """Blocks (g x g) at least 90% clipped to black or white, shape (pairs, g*g)."""
    clipped = ((x <= CLIP_LOW) | (x >= CLIP_HIGH)).astype(np.float32)
    return _blocks(clipped, g).mean(axis=2) >= 0.9


def _block_correlation(bx: np.ndarray, by: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-block means, centred sums of squares and correlation of (pairs, blocks, px)."""
    mx, my = bx.mean(axis=2), by.mean(axis=2)
    cx, cy = bx - mx[:, :, None], by - my[:, :, None]
    vx, vy = (cx * cx).sum(axis=2), (cy * cy).sum(axis=2)
    den = np.sqrt(vx * vy)
    corr = np.where(den > 1e-9, (cx * cy).sum(axis=2) / np.maximum(den, 1e-9), 0.0)
    return mx, my, vx, vy, corr


def block_similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean block-by-block correlation, each block judged on its own contrast.

    Every block counts alike however dark or dull it is, so a picture inside an identical
    frame (a screenshot, a slide) is judged by the picture, not by the frame. Blocks flat in
    both views say little and weigh less; the worst IGNORED_BLOCKS are dropped.
    """
    bx, by = _blocks(x, GRID), _blocks(y, GRID)
    mx, my, vx, vy, corr = _block_correlation(bx, by)
    px = bx.shape[2]
    sx, sy = np.sqrt(vx / px), np.sqrt(vy / px)
    flat_x, flat_y = sx < FLAT_BLOCK, sy < FLAT_BLOCK
    both_flat = flat_x & flat_y
    close = np.abs(mx - my) < 16
    score = np.where(both_flat, close.astype(np.float64), np.where(flat_x | flat_y, 0.0, corr))
    weight = np.where(both_flat, FLAT_WEIGHT, 1.0)
    # A block blown out (clipped flat) in one view only says nothing: the edit erased it.
    blown_x = _saturated(x, GRID) | flat_x & ((mx >= CLIP_HIGH - BLOWN_MARGIN) | (mx <= CLIP_LOW + BLOWN_MARGIN))
    blown_y = _saturated(y, GRID) | flat_y & ((my >= CLIP_HIGH - BLOWN_MARGIN) | (my <= CLIP_LOW + BLOWN_MARGIN))
    weight = np.where(blown_x ^ blown_y, 0.0, weight)
    worst = np.argsort(np.where(weight > 0, score, np.inf), axis=1, kind="stable")[:, :IGNORED_BLOCKS]
    np.put_along_axis(weight, worst, 0.0, axis=1)
    total = weight.sum(axis=1)
    mean = (score * weight).sum(axis=1) / np.where(total > 0, total, 1.0)
    return np.where(total < MIN_KNOWN_WEIGHT, 0.0, mean)


def similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How alike aligned views (VERIFY_SIZE px, raw grey levels) are, in [-1, 1] per pair."""
    x, y = photometric_align(x, y)
    return np.minimum(robust_similarity(x, y), block_similarity(x, y))


def _window_sums(a: np.ndarray, w: int) -> np.ndarray:
    """Sums over every w x w window of (pairs, g, g)."""
    c = np.pad(a, ((0, 0), (1, 0), (1, 0))).cumsum(axis=1).cumsum(axis=2)
    return c[:, w:, w:] - c[:, :-w, w:] - c[:, w:, :-w] + c[:, :-w, :-w]


def window_similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Worst local agreement of aligned views (WINDOW_SIZE px, raw grey levels), per pair."""
    g = WINDOW_GRID
    n = x.shape[1] // g
    x, y = photometric_align(x, y)
    # A block blown out (clipped flat) in one view only says nothing: the edit erased it.
    known = (~(_saturated(x, g) ^ _saturated(y, g))).astype(np.float64)
    x = (x - x.mean(axis=(1, 2), keepdims=True)) / np.maximum(x.std(axis=(1, 2), keepdims=True), 1e-3)
    y = (y - y.mean(axis=(1, 2), keepdims=True)) / np.maximum(y.std(axis=(1, 2), keepdims=True), 1e-3)
    mx, my, vx, vy, corr = _block_correlation(_blocks(x, g), _blocks(y, g))
    flat_x, flat_y = vx < WINDOW_FLAT ** 2 * n * n, vy < WINDOW_FLAT ** 2 * n * n
    close = (np.abs(mx - my) < WINDOW_CLOSE).astype(np.float64)
    score = np.where(flat_x & flat_y, close, np.where(flat_x | flat_y, 0.0, corr)) * known
    w, p = WINDOW_SPAN, len(x)
    total = _window_sums(score.reshape(p, g, g), w).reshape(p, -1)
    count = _window_sums(known.reshape(p, g, g), w).reshape(p, -1)
    valid = count >= WINDOW_MIN_KNOWN
    # Every block judged: the plain worst window; else the worst window with enough judged
    # blocks; else, with no such window, the mean over the judged blocks (if enough).
    all_known = known.all(axis=1)
    plain = total.min(axis=1) / (w * w)
    ratio = np.where(valid, total / np.where(count > 0, count, 1.0), np.inf).min(axis=1)
    n_known = known.sum(axis=1)
    fallback = np.where(n_known >= WINDOW_MIN_KNOWN, score.sum(axis=1) / np.maximum(n_known, 1.0), 0.0)
    return np.where(all_known, plain, np.where(valid.any(axis=1), ratio, fallback))
