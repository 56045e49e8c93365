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

Evidence for pictures the scores above cannot tell apart (issue 10): ``colour_similarity``
(chroma layouts up to a global hue rotation and saturation change, (pairs, 2, s, s) Cb/Cr
views), ``flat_colour_match`` (fills), ``texture_evidence`` (a smooth picture needs a higher
similarity, a pure gradient its detail or its colour) and ``frame_evidence`` (the content
inside an identical frame must pass on its own).
"""

from __future__ import annotations

import numpy as np

from .model import MIN_COLOUR as _MIN_COLOUR

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
    return similarity_aligned(*photometric_align(x, y))


def similarity_aligned(ax: np.ndarray, ay: np.ndarray) -> np.ndarray:
    """:func:`similarity` of views already through :func:`photometric_align` (which works
    pair by pair: the rows of a subset come out as the whole stack's)."""
    return np.minimum(robust_similarity(ax, ay), block_similarity(ax, ay))


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


# ----------------------------------------------------------------------------- colour
#: Colour verification compares the two views' chroma (Cb, Cr around neutral 128) at
#: COLOUR_VIEW px, as complex numbers z = Cb + i Cr. A global hue rotation multiplies every z
#: by e^(i theta) and a saturation change by a real factor, so the score is the modulus of the
#: complex correlation |sum conj(zx) zy| / sqrt(sum |zx|^2 sum |zy|^2): 1 for any hue rotation
#: and saturation change of the same colour layout, lower for a different one.
COLOUR_VIEW = 8
#: A view counts as coloured when its chroma's rms is at least this (0-255 units): a greyscale
#: copy (rms ~0-2 after JPEG) is not compared, a faint tint (rms < 6) says too little.
COLOUR_PRESENT = 6.0
#: The COLOUR_IGNORED cells (of COLOUR_VIEW^2) that disagree most are left out, as the grey test
#: leaves out its worst block: an overlaid logo changes a corner's colour, not the picture's.
COLOUR_IGNORED = 4


def colour_presence(c: np.ndarray) -> np.ndarray:
    """RMS chroma of (pairs, 2, s, s) Cb/Cr views (0..255, neutral 128), per pair."""
    d = c.astype(np.float64) - 128.0
    return np.sqrt((d * d).sum(axis=1).mean(axis=(1, 2)))


def colour_similarity(cx: np.ndarray, cy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hue-rotation- and saturation-invariant agreement of aligned chroma views, per pair.

    Returns (score, judged): judged only where both views have colour (COLOUR_PRESENT); the
    score is 1.0 where not judged (a greyscale copy says nothing about colour).
    """
    zx = (cx[:, 0].astype(np.float64) - 128.0) + 1j * (cx[:, 1].astype(np.float64) - 128.0)
    zy = (cy[:, 0].astype(np.float64) - 128.0) + 1j * (cy[:, 1].astype(np.float64) - 128.0)
    zx, zy = zx.reshape(len(zx), -1), zy.reshape(len(zy), -1)
    # The best complex gain (hue rotation x saturation) maps x onto y; the cells it fits worst
    # are dropped, then the correlation is taken over the rest.
    gain = (np.conj(zx) * zy).sum(axis=1) / np.maximum((np.abs(zx) ** 2).sum(axis=1), 1e-9)
    resid = np.abs(zy - gain[:, None] * zx) ** 2
    keep = np.ones(zx.shape, bool)
    np.put_along_axis(keep, np.argsort(resid, axis=1)[:, zx.shape[1] - COLOUR_IGNORED:], False, axis=1)
    num = np.abs((np.conj(zx) * zy * keep).sum(axis=1))
    den = np.sqrt((np.abs(zx) ** 2 * keep).sum(axis=1) * (np.abs(zy) ** 2 * keep).sum(axis=1))
    judged = (colour_presence(cx) >= COLOUR_PRESENT) & (colour_presence(cy) >= COLOUR_PRESENT)
    score = np.where(den > 1e-9, num / np.maximum(den, 1e-9), 1.0)
    # The mean colour carries most of the energy, so the correlation above says little about
    # the layout of hues. Tone edits (gamma, brightness, contrast) change each cell's
    # saturation differently but hardly its hue; a hue shift turns every hue alike. So: after
    # the best global rotation, how far apart are the two views' hues, cell by cell
    # (circular spread, each cell weighted by |zx| |zy| so near-grey cells say little)?
    prod = np.conj(zx) * zy
    turn = np.exp(-1j * np.angle((prod * keep).sum(axis=1)))
    dev = np.abs(np.angle(prod * turn[:, None]))
    keep2 = np.ones(zx.shape, bool)
    np.put_along_axis(keep2, np.argsort(dev * (np.abs(prod) > 0), axis=1)[:, zx.shape[1] - COLOUR_IGNORED:],
                      False, axis=1)
    resultant = np.abs((prod * keep2).sum(axis=1)) / np.maximum((np.abs(prod) * keep2).sum(axis=1), 1e-9)
    spread = np.degrees(np.sqrt(-2.0 * np.log(np.clip(resultant, 1e-9, 1.0))))
    hue = MIN_COLOUR + (1.0 - MIN_COLOUR) * (1.0 - spread / MAX_HUE_SPREAD)
    score = np.minimum(score, hue)
    return np.where(judged, score, 1.0), judged


#: The colour threshold the default rule uses (model.Rule.min_colour), and the circular spread
#: (degrees) of the cell-by-cell hue differences after the best global rotation that scores
#: like it: a larger spread is a different layout of hues.
MIN_COLOUR = _MIN_COLOUR
MAX_HUE_SPREAD = 20.0
#: When the colour layout is a pair's only evidence (a pure gradient, texture_evidence), it must
#: agree twice as closely: a hue spread of at most half MAX_HUE_SPREAD (score 0.95). The legit
#: colour edits of 40 wallpapers (brightness, contrast, gamma, saturation, hue shift, JPEG)
#: scored 0.969 and above.
COLOUR_ONLY_MIN = MIN_COLOUR + (1.0 - MIN_COLOUR) / 2


#: A pure gradient has no detail to tell a hue-shifted copy from another gradient of the same
#: course in other colours (a blue sky and an orange one): when colour is its only evidence,
#: the two must also agree in hue itself, within this global rotation (degrees).
COLOUR_ONLY_MAX_TURN = MAX_HUE_SPREAD


def hue_turn(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """The global hue rotation (degrees, 0..180) that best maps each pair's chroma views
    (pairs, 2, s, s; 0..255, neutral 128) onto each other: the angle of sum(conj(zx) zy)."""
    zx = (cx[:, 0].astype(np.float64) - 128.0) + 1j * (cx[:, 1].astype(np.float64) - 128.0)
    zy = (cy[:, 0].astype(np.float64) - 128.0) + 1j * (cy[:, 1].astype(np.float64) - 128.0)
    prod = (np.conj(zx) * zy).reshape(len(zx), -1).sum(axis=1)
    return np.abs(np.degrees(np.angle(prod)))


#: Two flat pictures (fills) are the same only if their colours are too: mean Cb and Cr within
#: this distance (0-255 units), and both coloured or both grey.
FLAT_COLOUR_DIFF = 8.0


def flat_colour_match(cx: np.ndarray | None, cy: np.ndarray | None) -> bool:
    """Do two flat pictures' colour signatures (2, s, s) say the same fill colour?

    A picture with no colour signature is grey: it matches only a grey signature. A flat
    picture carries no structure, so a greyscale copy of a red fill cannot be told from a grey
    fill: no evidence, no match.
    """
    def mean(c: np.ndarray | None) -> np.ndarray:
        if c is None:
            return np.zeros(2)
        return c.reshape(2, -1).astype(np.float64).mean(axis=1) - 128.0
    mx, my = mean(cx), mean(cy)
    return bool(np.hypot(*(mx - my)) <= FLAT_COLOUR_DIFF)


# ----------------------------------------------------------------------------- texture
#: A smooth picture (gradient, soft shapes, sky) correlates highly with any other of the same
#: coarse layout once brightness is aligned: its grey levels are nearly a smooth surface, and
#: two smooth surfaces agree by construction. The evidence is in what the surface does not
#: explain: the detail. Each view is fitted with a quadratic surface (6 terms); its texture is
#: the share of its grey variance the surface leaves (0 = a pure gradient).
_SURFACE_CACHE: dict[int, np.ndarray] = {}


def _surface_basis(size: int) -> np.ndarray:
    """Orthonormal basis (size*size, 6) of the quadratic surfaces on a size x size grid."""
    basis = _SURFACE_CACHE.get(size)
    if basis is None:
        v = (np.arange(size) - (size - 1) / 2) / size
        yy, xx = np.meshgrid(v, v, indexing="ij")
        raw = np.stack([np.ones_like(xx), xx, yy, xx * xx, xx * yy, yy * yy], axis=-1).reshape(-1, 6)
        basis = _SURFACE_CACHE[size] = np.linalg.qr(raw)[0]
    return basis


def detail(x: np.ndarray) -> np.ndarray:
    """(pairs, s, s) views minus their best quadratic surface, flattened (pairs, s*s)."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    q = _surface_basis(x.shape[1])
    return flat - (flat @ q) @ q.T


def texture(x: np.ndarray) -> np.ndarray:
    """Share of each view's grey variance that no quadratic surface explains, per pair."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    var = ((flat - flat.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    res = (detail(x) ** 2).sum(axis=1)
    return np.where(var > 1e-9, res / np.maximum(var, 1e-9), 0.0)


def detail_similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correlation of the aligned views' detail (what their quadratic surfaces leave), per
    pair, over all but the worst GRID x GRID block (a logo or caption)."""
    x, y = photometric_align(x, y)
    s = x.shape[1]
    dx, dy = detail(x).reshape(x.shape), detail(y).reshape(y.shape)
    return robust_similarity(dx.astype(np.float32), dy.astype(np.float32))


#: Evidence grows as texture shrinks: a pair whose views leave a share t of their grey variance
#: to detail (texture, min over the two views) needs a similarity of at least 1 - TEXTURE_K * t
#: (besides the rule's own minimum). Two smooth pictures of the same coarse layout correlate
#: about as much as their surfaces do, so the less detail, the closer to 1 a copy must be.
#: TEXTURE_K = 2 makes the rule bite only below t = 0.1 (10% detail), where 1 - 2t exceeds the
#: default 0.80; calibrated on the dev pool (no copy lost) and the smooth pool.
TEXTURE_K = 2.0
#: A pure gradient (t below SMOOTH_TEXTURE) may still prove itself by its detail alone (a logo,
#: the JPEG structure of the same source) correlating at least MIN_DETAIL, or else by its colour
#: layout (decide.verify_alignments: both in colour, colour_similarity passing). No candidate pair of
#: different pictures on the dev and smooth pools had t below 0.02.
SMOOTH_TEXTURE = 0.02
MIN_DETAIL = 0.8


def texture_evidence(x: np.ndarray, y: np.ndarray, sims: np.ndarray,
                     aligned: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Is the similarity of aligned views (VERIFY_SIZE px, raw grey) evidence enough, given
    how little texture they have? (TEXTURE_K, SMOOTH_TEXTURE, MIN_DETAIL.) *aligned* is
    ``photometric_align(x, y)`` when the caller has it already.

    Returns (ok, colour_only) per pair: colour_only marks pure gradients with no grey
    evidence, which pass only if their colour layouts agree.
    """
    ax, ay = photometric_align(x, y) if aligned is None else aligned
    t = np.minimum(texture(ax), texture(ay))
    ok = sims >= 1.0 - TEXTURE_K * t
    smooth = ~ok & (t < SMOOTH_TEXTURE)
    colour_only = np.zeros(len(x), bool)
    if smooth.any():
        detail_ok = detail_similarity(x[smooth], y[smooth]) >= MIN_DETAIL
        ok[smooth] = True
        colour_only[np.flatnonzero(smooth)[~detail_ok]] = True
    return ok, colour_only


# ----------------------------------------------------------------------------- shared frame
#: A different picture inside an identical frame (an application window, a phone's status bar,
#: a template): the pixels (at VERIFY_SIZE px) that are the same in both views, within
#: SHARED_DIFF grey levels as stored (JPEG and resampling noise at 24 px), are the frame. When
#: they cover at least SHARED_MIN of the picture and leave at least REST_MIN differing, the
#: frame counts for nothing: the differing region alone must pass the similarity test and the
#: texture rule. (A true copy either differs a little everywhere or nowhere.)
SHARED_DIFF = 6.0
SHARED_MIN = 0.15
FRAME_EDGE = 0.9
REST_MIN = 0.15


def _region_texture(v: np.ndarray, m: np.ndarray) -> float:
    """Share of a view's variance over the pixels *m* that a quadratic surface leaves."""
    q = _surface_basis(v.shape[0])[m.reshape(-1)]
    z = v.reshape(-1)[m.reshape(-1)].astype(np.float64)
    var = ((z - z.mean()) ** 2).sum()
    if var <= 1e-9:
        return 0.0
    coef = np.linalg.lstsq(q, z, rcond=None)[0]
    return float(((z - q @ coef) ** 2).sum() / var)


def erode(m: np.ndarray) -> np.ndarray:
    """The pixels of mask *m* whose 8 neighbours are all in it too: a region's inside, without
    the pixels resampling blends with the frame around it (they agree as frame does)."""
    pad = np.pad(m, 1)
    out = m.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out &= pad[1 + dy:1 + dy + m.shape[0], 1 + dx:1 + dx + m.shape[1]]
    return out


def frame_evidence(x: np.ndarray, y: np.ndarray, min_sim: float) -> np.ndarray:
    """False for pairs whose agreement is a shared frame around differing content, per pair."""
    # Raw grey levels: an identical frame is identical as stored, while brightness alignment
    # (fitted over frame and content together) would move it. Pixel by pixel, so that the
    # frame's edge around the content counts as frame, not as agreeing detail.
    ax, ay = x, y
    shared = (np.abs(ax - ay) <= SHARED_DIFF).reshape(len(x), -1)
    share = shared.mean(axis=1)
    out = np.ones(len(x), bool)
    for p in np.flatnonzero((share >= SHARED_MIN) & (share <= 1.0 - REST_MIN)):
        sp = shared[p].reshape(x.shape[1:])
        # A frame reaches the picture's edge: one whole outer row or column is shared (a title
        # or status bar, a side panel, a mat). Scattered agreement (a hue-shifted copy whose
        # grey levels moved only in places) is no frame.
        if max(sp[0].mean(), sp[-1].mean(), sp[:, 0].mean(), sp[:, -1].mean()) < FRAME_EDGE:
            continue
        m = erode(~sp)
        if m.sum() < REST_MIN * m.size / 2:
            continue
        a, b = ax[p][m].astype(np.float64), ay[p][m].astype(np.float64)
        a, b = a - a.mean(), b - b.mean()
        den = np.sqrt((a * a).sum() * (b * b).sum())
        corr = float((a * b).sum() / den) if den > 1e-9 else 0.0
        t = min(_region_texture(ax[p], m), _region_texture(ay[p], m))
        out[p] = corr >= max(min_sim, 1.0 - TEXTURE_K * t)
    return out
