"""The match decision: which pairs of fingerprints are copies of the same picture. Pure.

Two stages. Candidates come from the search engine: a pair is a candidate when the pHash of
some primary view of one file (whole or border-trimmed, in any of the 8 orientations) is within
``threshold`` bits of the upright pHash of some view of the other (whole, trimmed or cropped).
Then, unless the rule says otherwise, each candidate is verified: the two views are cut from
the stored thumbnails, aligned (same orientation), and compared twice: by normalised
correlation at 24 px (``similarity``), and by the worst local agreement at 48 px
(``window_similarity``), which rejects a different picture inside an identical frame. pHash
bits say "the coarse layout agrees"; the correlation
says "the grey levels agree too", which rejects the unrelated pictures whose hashes collide.
Flat pictures (blank pages, solid fills) have meaningless hashes and match only each other, and
only when their thumbnails are nearly equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import fingerprint as fpmod
from .fingerprint import (DHASH_INDEXED, DHASH_QUERYING, HASH_ORIENT, HASH_VIEW, INDEXED,
                          PRIMARY_VIEWS, QUERYING)
from .search import Engine, make_engine

VERIFY_SIZE = 24  # views are compared at this resolution
#: The inverse of each orientation: only the two quarter turns are not their own inverse.
INVERSE = (0, 1, 2, 3, 4, 6, 5, 7)


@dataclass(frozen=True, slots=True)
class Rule:
    """How near two pictures must be to count as copies."""

    threshold: int  # pHash Hamming distance for candidates (0..64)
    min_similarity: float | None  # verification: minimum correlation; None = pHash alone
    min_window: float = 0.40  # verification: minimum local agreement (window_similarity)


#: Named operating points. "normal" is the default, calibrated on ../shared/bench (README).
PRESETS: dict[str, Rule] = {
    "strict": Rule(8, 0.85, 0.45),
    "normal": Rule(10, 0.80, 0.40),
    "loose": Rule(10, 0.80, 0.35),
}
DEFAULT_PRESET = "normal"

#: Flat pictures match only when their thumbnails differ by at most this much on average.
FLAT_MAX_DIFF = 6.0


@dataclass(frozen=True, slots=True)
class PairMatch:
    """A verified pair: rows a and b of the two print sets, and how b relates to a."""

    a: int
    b: int
    distance: int
    orientation: int  # b looks like a transformed by fingerprint.ORIENTATIONS[orientation]
    similarity: float | None


ThumbLoader = Callable[[np.ndarray], dict[int, np.ndarray]]


class Side:
    """One set of fingerprints (the index, or the query files) with lazily loaded thumbnails."""

    def __init__(self, ids: np.ndarray, hashes: np.ndarray, trims: np.ndarray, flat: np.ndarray,
                 load_thumbs: ThumbLoader):
        self.ids, self.hashes, self.trims, self.flat = ids, hashes, trims, flat
        self._load = load_thumbs
        self._thumbs: dict[int, np.ndarray] = {}
        self._views: dict[tuple[int, int, int], np.ndarray] = {}
        self._engines: dict[bytes, Engine] = {}
        self._scans: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def thumb(self, row: int) -> np.ndarray:
        return self._thumbs[int(self.ids[row])]

    def view(self, row: int, view: int, size: int = 0) -> np.ndarray:
        """Return a view's pixels as float32 (cached: many pairs share a view)."""
        key = (row, view, size)
        cached = self._views.get(key)
        if cached is None:
            cached = _view(self, row, view, size or VERIFY_SIZE).astype(np.float32)
            self._views[key] = cached
        return cached

    def engine(self, cols: np.ndarray, n_queries: int) -> Engine:
        """The search engine over these hash columns.

        A few queries (one reverse search from the shell) are answered by a scan: building
        multi-index tables over millions of hashes costs seconds. Once this side has been
        searched a few times (a program querying an open Index), the tables are built, kept
        and reused, and each later query takes microseconds.
        """
        key = np.asarray(cols).tobytes()
        if key in self._engines:
            return self._engines[key]
        values = self.hashes[:, cols].reshape(-1)
        self._scans[key] = self._scans.get(key, 0) + 1
        if n_queries <= SCAN_QUERIES and self._scans[key] <= SCANS_BEFORE_TABLES:
            return make_engine(values, "brute")
        self._engines[key] = make_engine(values)
        return self._engines[key]

    def prefetch(self, rows: np.ndarray) -> None:
        want = [int(i) for i in np.unique(self.ids[rows]) if int(i) not in self._thumbs]
        if want:
            self._thumbs.update(self._load(np.array(want)))


def find_pairs(query: Side, index: Side, rule: Rule, *, same: bool) -> list[PairMatch]:
    """Return verified matches between query rows and index rows.

    With ``same`` the two sides are one set (dedupe): self-pairs are dropped and each pair is
    reported once with a < b.
    """
    if len(query) == 0 or len(index) == 0:
        return []
    channels = [(QUERYING, INDEXED)]
    if rule.min_similarity is not None:  # verified rules also take dHash candidates
        channels.append((DHASH_QUERYING, DHASH_INDEXED))
    if not same:
        # Reverse search also needs the other direction: the query may be a crop of an
        # indexed picture (then one of the query's crop views is near an indexed whole view).
        channels.append((INDEXED[PRIMARY_VIEWS:], QUERYING))
    # The engine scans for a few queries and builds its multi-index tables once the scans
    # have cost as much as building them would; kept on the Side, later queries reuse them.
    searches = [(q_cols, i_cols, index.engine(i_cols, len(query) * len(q_cols)))
                for q_cols, i_cols in channels]
    # Query rows go in chunks sized so that even a huge threshold (every hash near every
    # other) keeps memory bounded; each chunk is cut to the best alignments per pair at once.
    per_pair = MAX_ALIGNMENTS if rule.min_similarity is not None else 1
    chunk = _chunk_rows(len(query), len(index) * len(INDEXED), len(QUERYING), rule.threshold)
    parts = []
    for lo_row in range(0, len(query), chunk):
        rows = slice(lo_row, min(len(query), lo_row + chunk))
        found = [_candidates(engine, query.hashes[rows], lo_row, q_cols, i_cols, rule.threshold)
                 for q_cols, i_cols, engine in searches]
        parts.append(_best_per_pair(tuple(np.concatenate(p) for p in zip(*found)), same, per_pair))
    qa, qpos, ib, ipos, dist, lo, hi = _best_per_pair(
        tuple(np.concatenate(p) for p in zip(*[x[:5] for x in parts])), same, per_pair)
    out: list[PairMatch] = []
    if rule.min_similarity is None:
        # The plain pHash rule needs no pictures: decide every pair at once from its nearest
        # alignment, and send only pairs with a flat picture through the slow path.
        flat = query.flat[qa] | index.flat[ib]
        g = np.where(HASH_ORIENT[ipos] == 0, HASH_ORIENT[qpos],
                     np.asarray(INVERSE)[HASH_ORIENT[ipos]])
        g = np.where(qa == lo, g, np.asarray(INVERSE)[g])
        out = [PairMatch(int(x), int(y), int(d), int(o), None)
               for x, y, d, o in zip(lo[~flat], hi[~flat], dist[~flat], g[~flat])]
        keep = flat
        qa, qpos, ib, ipos, dist, lo, hi = (x[keep] for x in (qa, qpos, ib, ipos, dist, lo, hi))
    if len(qa) and (rule.min_similarity is not None or query.flat.any() or index.flat.any()):
        query.prefetch(qa if not same else np.concatenate([qa, ib]))
        index.prefetch(ib)
    bounds = np.flatnonzero((np.diff(lo) != 0) | (np.diff(hi) != 0)) + 1
    for s, e in zip(np.r_[0, bounds], np.r_[bounds, len(lo)]):
        if s == e:
            continue
        match = _decide(query, index, rule, qa[s:e], qpos[s:e], ib[s:e], ipos[s:e], dist[s:e],
                        int(lo[s]), int(hi[s]))
        if match is not None:
            out.append(match)
    return out


#: Searches of up to SCAN_QUERIES hashes scan the index, the first SCANS_BEFORE_TABLES times.
SCAN_QUERIES = 512
SCANS_BEFORE_TABLES = 2

#: At most this many distinct alignments (views x orientation) are verified per pair,
#: nearest hashes first.
MAX_ALIGNMENTS = 12


def _chunk_rows(n_rows: int, n_values: int, per_row: int, threshold: int) -> int:
    """How many query rows to search at once so that one chunk yields ~4M matches at most."""
    # Share of uniformly random 64-bit pairs within the threshold; real hashes cluster, so
    # this is an underestimate, but it only has to tell 10 bits (tiny) from 32 (half).
    share = sum(math.comb(64, k) for k in range(threshold + 1)) / 2.0 ** 64
    expected = per_row * max(1.0, n_values * share)
    return max(1, min(n_rows, int(4_000_000 / expected)))


def _best_per_pair(found: tuple[np.ndarray, ...], same: bool, keep: int) -> tuple[np.ndarray, ...]:
    """Drop self-pairs (dedupe) and keep the *keep* nearest alignments of every pair.

    Returns (qa, qpos, ib, ipos, dist, lo, hi) sorted by pair, then distance; lo/hi name the
    unordered pair, since dedupe finds a pair from both of its files.
    """
    qa, qpos, ib, ipos, dist = found
    if same:
        ok = qa != ib
        qa, qpos, ib, ipos, dist = qa[ok], qpos[ok], ib[ok], ipos[ok], dist[ok]
    lo = np.minimum(qa, ib) if same else qa
    hi = np.maximum(qa, ib) if same else ib
    order = np.lexsort((dist, hi, lo))
    cols = [x[order] for x in (qa, qpos, ib, ipos, dist, lo, hi)]
    lo, hi = cols[5], cols[6]
    new = np.ones(len(lo), dtype=bool)
    new[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    starts = np.flatnonzero(new)
    rank = np.arange(len(lo)) - np.repeat(starts, np.diff(np.append(starts, len(lo))))
    best = rank < keep
    return tuple(x[best] for x in cols)


def _candidates(engine: object, hashes: np.ndarray, row_offset: int, q_cols: np.ndarray,
                i_cols: np.ndarray, threshold: int) -> tuple[np.ndarray, ...]:
    """Search one hash channel for some query rows; positions are columns of the layout."""
    # Many query hashes repeat (a picture without borders has equal whole and trimmed views;
    # symmetric pictures repeat across orientations): search each distinct value once.
    unique, inverse = np.unique(hashes[:, q_cols].reshape(-1), return_inverse=True)
    ui, ii, dist = engine.find_many(unique, threshold)  # type: ignore[attr-defined]
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(unique))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    reps = counts[ui]
    first = np.repeat(starts[ui], reps)
    offset = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    qi = order[first + offset]
    ii, dist = np.repeat(ii, reps), np.repeat(dist, reps)
    qa, qpos = np.divmod(qi.astype(np.int64), len(q_cols))
    ib, ipos = np.divmod(ii.astype(np.int64), len(i_cols))
    return qa + row_offset, q_cols[qpos], ib, i_cols[ipos], dist.astype(np.int64)


def _decide(query: Side, index: Side, rule: Rule, qa: np.ndarray, qpos: np.ndarray,
            ib: np.ndarray, ipos: np.ndarray, dist: np.ndarray, a: int, b: int) -> PairMatch | None:
    """Decide one pair (a, b) from its candidate alignments (query row, view, index row, view)."""
    d_min = pair_distance(query.hashes[qa[0]], index.hashes[ib[0]])
    if query.flat[qa[0]] != index.flat[ib[0]] and rule.min_similarity is None:
        return None
    # A flat picture next to a detailed one is verified like any pair (darkening a dull
    # picture can make it flat); verification rejects a flat picture against a detailed one.
    if query.flat[qa[0]] and index.flat[ib[0]]:
        diff = float(np.abs(_view(query, int(qa[0]), 1).astype(np.float32)
                            - _view(index, int(ib[0]), 1).astype(np.float32)).mean())
        return PairMatch(a, b, d_min, 0, None) if diff <= FLAT_MAX_DIFF else None
    best: tuple[float, int, int] | None = None
    tried: set[tuple[int, int, int, int]] = set()
    for row_q, q, row_i, i, d in zip(qa.tolist(), qpos.tolist(), ib.tolist(), ipos.tolist(),
                                     dist.tolist()):
        qview, iview = int(HASH_VIEW[q]), int(HASH_VIEW[i])
        # One side's hash is upright; the other's orientation g says g(query) ~ index. An
        # oriented hash on the index side (query mode's reverse channel) means the inverse.
        i_orient = int(HASH_ORIENT[i])
        orient = int(HASH_ORIENT[q]) if i_orient == 0 else INVERSE[i_orient]
        # The whole view of a bordered picture is verified too (trimming is not stable under
        # brightness edits: a dark margin is trimmed in one copy and not in another); a
        # different picture in the same frame fails window_similarity.
        if row_q != a:  # found from b's side: b ~ g(a) reads as a ~ g^-1(b)
            orient_ab = INVERSE[orient]
        else:
            orient_ab = orient
        if rule.min_similarity is None:
            if best is None or d < best[1]:
                best = (0.0, d, orient_ab)
            continue
        # Without borders the trimmed view is the whole view: same alignment, same answer.
        if qview == 1 and not _trimmed(query, row_q):
            qview = 0
        if iview == 1 and not _trimmed(index, row_i):
            iview = 0
        key = (row_q, qview, orient, iview)
        if key in tried:
            continue
        if len(tried) >= MAX_ALIGNMENTS:
            break
        tried.add(key)
        sim = similarity(fpmod.orient(query.view(row_q, qview), orient), index.view(row_i, iview))
        if sim >= rule.min_similarity:
            # Only alignments that pass both tests count; the local test costs more, so it
            # runs second.
            win = window_similarity(fpmod.orient(query.view(row_q, qview, WINDOW_SIZE), orient),
                                    index.view(row_i, iview, WINDOW_SIZE))
            if win < rule.min_window:
                sim = min(sim, rule.min_similarity - 1e-6)
        if best is None or sim > best[0] or (sim == best[0] and d < best[1]):
            best = (sim, d, orient_ab)
        if sim >= rule.min_similarity:
            break  # alignments come nearest first; the first that verifies decides
    if best is None:
        return None
    sim, _, orient_ab = best
    if rule.min_similarity is None:
        return PairMatch(a, b, d_min, orient_ab, None)
    if sim < rule.min_similarity:
        return None
    return PairMatch(a, b, d_min, orient_ab, round(sim, 4))


def _view(side: Side, row: int, view: int, size: int = VERIFY_SIZE) -> np.ndarray:
    """Cut view *view* of a row's thumbnail and bring it to *size* square."""
    box = fpmod.view_boxes(tuple(float(x) for x in side.trims[row]))[view]
    part = fpmod.crop(side.thumb(row), box)
    return np.asarray(Image.fromarray(np.ascontiguousarray(part), "L")
                      .resize((size, size), Image.Resampling.BILINEAR))


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


def _trimmed(side: Side, row: int) -> bool:
    t = side.trims[row]
    return bool(t[0] > 0 or t[1] > 0 or t[2] < 1 or t[3] < 1)


def _standardise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (a flat view stays all zeros)."""
    x = x - x.mean()
    std = float(x.std())
    return x / std if std > 1e-6 else x


def _blocks(x: np.ndarray) -> np.ndarray:
    n = x.shape[0] // GRID
    return x.reshape(GRID, n, GRID, n).transpose(0, 2, 1, 3).reshape(GRID * GRID, n * n)


def robust_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """Correlation of two aligned, standardised views over all but their worst blocks."""
    xs, ys = _standardise(x), _standardise(y)
    residual = ((_blocks(xs) - _blocks(ys)) ** 2).sum(axis=1)
    keep = np.argsort(residual)[:GRID * GRID - IGNORED_BLOCKS]
    a = _blocks(xs)[keep].ravel()
    b = _blocks(ys)[keep].ravel()
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-9 else 0.0


def block_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """Mean block-by-block correlation, each block judged on its own contrast.

    Every block counts alike however dark or dull it is, so a picture inside an identical
    frame (a screenshot, a slide) is judged by the picture, not by the frame. Blocks flat in
    both views say little and weigh less; the worst IGNORED_BLOCKS are dropped.
    """
    bx, by = _blocks(x), _blocks(y)
    sx, sy = bx.std(axis=1), by.std(axis=1)
    cx, cy = bx - bx.mean(axis=1, keepdims=True), by - by.mean(axis=1, keepdims=True)
    den = np.sqrt((cx * cx).sum(axis=1) * (cy * cy).sum(axis=1))
    corr = np.where(den > 1e-9, (cx * cy).sum(axis=1) / np.maximum(den, 1e-9), 0.0)
    flat_x, flat_y = sx < FLAT_BLOCK, sy < FLAT_BLOCK
    both_flat = flat_x & flat_y
    close = np.abs(bx.mean(axis=1) - by.mean(axis=1)) < 16
    score = np.where(both_flat, close.astype(np.float64), np.where(flat_x | flat_y, 0.0, corr))
    weight = np.where(both_flat, FLAT_WEIGHT, 1.0)
    # A block blown out (clipped flat) in one view only says nothing: the edit erased it.
    n = x.shape[0] // GRID
    blown_x = _saturated(x, GRID, n) | flat_x & ((bx.mean(axis=1) >= CLIP_HIGH - BLOWN_MARGIN)
                                                 | (bx.mean(axis=1) <= CLIP_LOW + BLOWN_MARGIN))
    blown_y = _saturated(y, GRID, n) | flat_y & ((by.mean(axis=1) >= CLIP_HIGH - BLOWN_MARGIN)
                                                 | (by.mean(axis=1) <= CLIP_LOW + BLOWN_MARGIN))
    weight = np.where(blown_x ^ blown_y, 0.0, weight)
    keep = np.argsort(np.where(weight > 0, score, np.inf))[IGNORED_BLOCKS:]
    if weight[keep].sum() < MIN_KNOWN_WEIGHT:
        return 0.0
    return float((score[keep] * weight[keep]).sum() / weight[keep].sum())


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


def photometric_align(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undo a global brightness/contrast edit between two aligned views, clipping included.

    The gain and offset are fitted (mean and contrast) on the pixels clipped in neither view;
    the view with fewer clipped pixels (else the duller one) is mapped onto the other's grey
    scale and clipped to 0..255 the way the edited copy was, so a highlight blown to 255 in one
    copy meets a mapped 255 in the other instead of reading as disagreement.
    """
    ux = (x > CLIP_LOW) & (x < CLIP_HIGH)
    uy = (y > CLIP_LOW) & (y < CLIP_HIGH)
    both = ux & uy
    if np.count_nonzero(both) < 16:
        return x, y
    # Median and interquartile range: a logo or caption on one copy moves them little.
    xs, ys = np.sort(x[both]), np.sort(y[both])
    at = [len(xs) // 4, len(xs) // 2, 3 * len(xs) // 4]
    qx, qy = xs[at], ys[at]
    sx, sy = float(qx[2] - qx[0]), float(qy[2] - qy[0])
    if sx < 1.0 or sy < 1.0 or not 1 / MAX_GAIN <= sx / sy <= MAX_GAIN:
        return x, y
    cx, cy = 1.0 - np.count_nonzero(ux) / ux.size, 1.0 - np.count_nonzero(uy) / uy.size
    if abs(cx - cy) > 0.01 and cx > cy or abs(cx - cy) <= 0.01 and sx >= sy:
        gain, offset = sx / sy, float(qx[1]) - sx / sy * float(qy[1])
        if abs(offset) > MAX_OFFSET * gain:
            return x, y
        return x, np.clip(y * gain + offset, 0, 255)
    gain, offset = sy / sx, float(qy[1]) - sy / sx * float(qx[1])
    if abs(offset) > MAX_OFFSET * gain:
        return x, y
    return np.clip(x * gain + offset, 0, 255), y


def similarity(x: np.ndarray, y: np.ndarray) -> float:
    """How alike two aligned greyscale views (same size, raw grey levels) are, in [-1, 1]."""
    x, y = photometric_align(x, y)
    return min(robust_similarity(x, y), block_similarity(x, y))


#: Local verification: views at WINDOW_SIZE px, each scaled to zero mean and unit contrast (so
#: that brightness, contrast and gamma edits do not turn blocks "flat" in one copy only), are cut
#: into WINDOW_GRID x WINDOW_GRID blocks, each block scored on its own (correlation; two flat
#: blocks score 1 when their levels are close, a block flat in one view only scores 0), and the
#: score is the WORST mean over
#: any WINDOW_SPAN x WINDOW_SPAN square of blocks (~14% of the area). A different picture in
#: an identical frame (screenshots, slides, same border) disagrees over one large region and
#: scores near 0; a logo, caption or watermark spoils a few blocks of any window, not all.
WINDOW_SIZE = 48
WINDOW_GRID = 8
WINDOW_SPAN = 3
WINDOW_FLAT = 0.06  # a block is flat below this standard deviation (units of the view's)
WINDOW_CLOSE = 0.32  # two flat blocks agree when their means are this close (same units)


def window_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """Worst local agreement of two aligned views (WINDOW_SIZE square, raw grey levels)."""
    g, n = WINDOW_GRID, x.shape[0] // WINDOW_GRID
    x, y = photometric_align(x, y)
    # A block blown out (clipped flat) in one view only says nothing: the edit erased it.
    sat_x, sat_y = _saturated(x, g, n), _saturated(y, g, n)
    known = (~(sat_x ^ sat_y)).astype(np.float64)
    x = (x - x.mean()) / max(float(x.std()), 1e-3)
    y = (y - y.mean()) / max(float(y.std()), 1e-3)
    bx = x[:g * n, :g * n].reshape(g, n, g, n).transpose(0, 2, 1, 3).reshape(g * g, n * n)
    by = y[:g * n, :g * n].reshape(g, n, g, n).transpose(0, 2, 1, 3).reshape(g * g, n * n)
    mx, my = bx.mean(axis=1), by.mean(axis=1)
    cx, cy = bx - mx[:, None], by - my[:, None]
    vx, vy = (cx * cx).sum(axis=1), (cy * cy).sum(axis=1)
    den = np.sqrt(vx * vy)
    corr = np.where(den > 1e-9, (cx * cy).sum(axis=1) / np.maximum(den, 1e-9), 0.0)
    flat_x, flat_y = vx < WINDOW_FLAT ** 2 * n * n, vy < WINDOW_FLAT ** 2 * n * n
    close = (np.abs(mx - my) < WINDOW_CLOSE).astype(np.float64)
    score = np.where(flat_x & flat_y, close, np.where(flat_x | flat_y, 0.0, corr)) * known
    w = WINDOW_SPAN
    total = _window_sums(score.reshape(g, g), w)
    count = _window_sums(known.reshape(g, g), w)
    if known.all():
        return float(total.min()) / (w * w)
    valid = count >= WINDOW_MIN_KNOWN
    if not valid.any():
        return float(score.sum() / max(known.sum(), 1.0)) if known.sum() >= WINDOW_MIN_KNOWN else 0.0
    return float((total[valid] / count[valid]).min())


#: A window needs this many blocks not blown out in one view only to be judged.
WINDOW_MIN_KNOWN = 5


def _saturated(x: np.ndarray, g: int, n: int) -> np.ndarray:
    """Blocks (g x g of n px) at least 90% clipped to black or white."""
    clipped = ((x <= CLIP_LOW) | (x >= CLIP_HIGH))[:g * n, :g * n]
    return clipped.reshape(g, n, g, n).mean(axis=(1, 3)).reshape(g * g) >= 0.9


def _window_sums(a: np.ndarray, w: int) -> np.ndarray:
    c = np.pad(a, ((1, 0), (1, 0))).cumsum(axis=0).cumsum(axis=1)
    return c[w:, w:] - c[:-w, w:] - c[w:, :-w] + c[:-w, :-w]


def distance_matrix(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smallest pHash distance between every two rows of hash layouts, over all views and
    orientations either way, and the orientation g with column ~ g(row)."""
    q = hashes[:, QUERYING]
    i = hashes[:, INDEXED]
    k = len(hashes)
    dist = np.zeros((k, k), dtype=np.int64)
    orient = np.zeros((k, k), dtype=np.int64)
    q_orient = HASH_ORIENT[QUERYING]
    for a in range(k):
        d = np.bitwise_count(q[a][None, :, None] ^ i[:, None, :]).reshape(k, -1)
        best = d.argmin(axis=1)
        dist[a] = d[np.arange(k), best]
        orient[a] = q_orient[best // i.shape[1]]
    both = np.minimum(dist, dist.T)
    # found from b's side (a ~ g(b)) means b ~ g^-1(a)
    orient = np.where(dist <= dist.T, orient, np.asarray(INVERSE)[orient.T])
    np.fill_diagonal(both, 0)
    np.fill_diagonal(orient, 0)
    return both, orient


def pair_distance(ha: np.ndarray, hb: np.ndarray) -> int:
    """Smallest pHash distance between two files' hash rows (see distance_matrix)."""
    return int(distance_matrix(np.stack([ha, hb]))[0][0, 1])
