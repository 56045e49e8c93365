"""The match decision: which pairs of fingerprints are copies of the same picture. Pure.

Two stages. Candidates come from the search engine: a pair is a candidate when the pHash of
some primary view of one file (whole or border-trimmed, in any of the 8 orientations) is within
``threshold`` bits of the upright pHash of some view of the other (whole, trimmed or cropped).
Then, unless the rule says otherwise, each candidate is verified: the two views are cut from
the stored thumbnails, aligned (same orientation), and compared by normalised correlation over
the whole view and over its centre. pHash bits say "the coarse layout agrees"; the correlation
says "the grey levels agree too", which rejects the unrelated pictures whose hashes collide.
Flat pictures (blank pages, solid fills) have meaningless hashes and match only each other, and
only when their thumbnails are nearly equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import fingerprint as fpmod
from .fingerprint import (DHASH_INDEXED, DHASH_QUERYING, HASH_ORIENT, HASH_VIEW, INDEXED,
                          QUERYING, THUMB_SIZE)
from .search import make_engine

VERIFY_SIZE = 24  # views are compared at this resolution
#: The inverse of each orientation: only the two quarter turns are not their own inverse.
INVERSE = (0, 1, 2, 3, 4, 6, 5, 7)


@dataclass(frozen=True, slots=True)
class Rule:
    """How near two pictures must be to count as copies."""

    threshold: int  # pHash Hamming distance for candidates (0..64)
    min_similarity: float | None  # verification: minimum correlation; None = pHash alone


#: Named operating points. "normal" is the default, calibrated on ../shared/bench (README).
PRESETS: dict[str, Rule] = {
    "strict": Rule(6, 0.95),
    "normal": Rule(8, 0.90),
    "loose": Rule(10, 0.85),
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
        self._views: dict[tuple[int, int], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def thumb(self, row: int) -> np.ndarray:
        return self._thumbs[int(self.ids[row])]

    def view(self, row: int, view: int) -> np.ndarray:
        """Return a view's pixels, standardised (cached: many pairs share a view)."""
        key = (row, view)
        cached = self._views.get(key)
        if cached is None:
            cached = _view(self, row, view).astype(np.float32)
            self._views[key] = cached
        return cached

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
    found = [_candidates(query, index, q_cols, i_cols, rule.threshold) for q_cols, i_cols in channels]
    qa, qpos, ib, ipos, dist = (np.concatenate(parts) for parts in zip(*found))
    keep = qa != ib if same else np.ones(len(qa), dtype=bool)
    qa, qpos, ib, ipos, dist = qa[keep], qpos[keep], ib[keep], ipos[keep], dist[keep]
    # In dedupe a pair is found from both sides; group by the unordered pair, keeping for each
    # candidate which file played the query role.
    lo = np.minimum(qa, ib) if same else qa
    hi = np.maximum(qa, ib) if same else ib
    order = np.lexsort((dist, hi, lo))
    qa, qpos, ib, ipos, dist, lo, hi = (x[order] for x in (qa, qpos, ib, ipos, dist, lo, hi))
    if len(qa) and (rule.min_similarity is not None or query.flat.any() or index.flat.any()):
        query.prefetch(qa if not same else np.concatenate([qa, ib]))
        index.prefetch(ib)
    out: list[PairMatch] = []
    bounds = np.flatnonzero((np.diff(lo) != 0) | (np.diff(hi) != 0)) + 1
    for s, e in zip(np.r_[0, bounds], np.r_[bounds, len(lo)]):
        if s == e:
            continue
        match = _decide(query, index, rule, qa[s:e], qpos[s:e], ib[s:e], ipos[s:e], dist[s:e],
                        int(lo[s]), int(hi[s]))
        if match is not None:
            out.append(match)
    return out


#: At most this many distinct alignments (views x orientation) are verified per pair,
#: nearest hashes first.
MAX_ALIGNMENTS = 6

#: Up to this many query hashes are answered by a plain scan of the index.
BRUTE_QUERIES = 256


def _candidates(query: Side, index: Side, q_cols: np.ndarray, i_cols: np.ndarray, threshold: int
                ) -> tuple[np.ndarray, ...]:
    """Search one hash channel; positions come back as columns of the hash layout."""
    values = index.hashes[:, i_cols].reshape(-1)
    n_queries = len(query) * len(q_cols)
    # A handful of queries (reverse search of a few images) is answered fastest by scanning:
    # building multi-index tables over millions of hashes costs more than the scan.
    engine = make_engine(values, "brute" if n_queries <= BRUTE_QUERIES else "auto")
    # Many query hashes repeat (a picture without borders has equal whole and trimmed views;
    # symmetric pictures repeat across orientations): search each distinct value once.
    unique, inverse = np.unique(query.hashes[:, q_cols].reshape(-1), return_inverse=True)
    ui, ii, dist = engine.find_many(unique, threshold)
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
    return qa, q_cols[qpos], ib, i_cols[ipos], dist.astype(np.int64)


def _decide(query: Side, index: Side, rule: Rule, qa: np.ndarray, qpos: np.ndarray,
            ib: np.ndarray, ipos: np.ndarray, dist: np.ndarray, a: int, b: int) -> PairMatch | None:
    """Decide one pair (a, b) from its candidate alignments (query row, view, index row, view)."""
    d_min, _ = pair_distance(query.hashes[qa[0]], index.hashes[ib[0]])
    if query.flat[qa[0]] or index.flat[ib[0]]:
        if not (query.flat[qa[0]] and index.flat[ib[0]]):
            return None
        diff = float(np.abs(_view(query, int(qa[0]), 1).astype(np.float32)
                            - _view(index, int(ib[0]), 1).astype(np.float32)).mean())
        return PairMatch(a, b, d_min, 0, None) if diff <= FLAT_MAX_DIFF else None
    best: tuple[float, int, int] | None = None
    tried: set[tuple[int, int, int, int]] = set()
    for row_q, q, row_i, i, d in zip(qa.tolist(), qpos.tolist(), ib.tolist(), ipos.tolist(),
                                     dist.tolist()):
        qview, orient = int(HASH_VIEW[q]), int(HASH_ORIENT[q])
        iview = int(HASH_VIEW[i])
        # A bordered picture is compared by its content: its whole view (border included)
        # would match every other picture with the same frame.
        if (qview == 0 and _trimmed(query, row_q)) or (iview == 0 and _trimmed(index, row_i)):
            continue
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


def _view(side: Side, row: int, view: int) -> np.ndarray:
    """Cut view *view* of a row's thumbnail and bring it to VERIFY_SIZE square."""
    box = fpmod.view_boxes(tuple(float(x) for x in side.trims[row]))[view]
    part = fpmod.crop(side.thumb(row), box)
    return np.asarray(Image.fromarray(np.ascontiguousarray(part), "L")
                      .resize((VERIFY_SIZE, VERIFY_SIZE), Image.Resampling.BILINEAR))


#: Verification splits the aligned views into GRID x GRID blocks and ignores the
#: IGNORED_BLOCKS worst ones: an overlaid logo or caption changes a corner, not the picture.
import os as _os
GRID = int(_os.environ.get("IMGFIND_GRID", 4))
IGNORED_BLOCKS = int(_os.environ.get("IMGFIND_IGN", 1))
FLAT_BLOCK = float(_os.environ.get("IMGFIND_FLATB", 3.0))
FLAT_WEIGHT = float(_os.environ.get("IMGFIND_FLATW", 0.25))
MODE = _os.environ.get("IMGFIND_MODE", "both")


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
    keep = np.argsort(score)[IGNORED_BLOCKS:]
    return float((score[keep] * weight[keep]).sum() / weight[keep].sum())


def similarity(x: np.ndarray, y: np.ndarray) -> float:
    """How alike two aligned greyscale views (same size, raw grey levels) are, in [-1, 1]."""
    if MODE == "global":
        return robust_similarity(x, y)
    if MODE == "block":
        return block_similarity(x, y)
    return min(robust_similarity(x, y), block_similarity(x, y))


def pair_distance(ha: np.ndarray, hb: np.ndarray) -> tuple[int, int]:
    """Return (smallest pHash distance, orientation) between two files' hash rows, both ways."""
    best = (65, 0)
    for q, i in ((ha, hb), (hb, ha)):
        d = np.bitwise_count(q[QUERYING][:, None] ^ i[INDEXED][None, :])
        k = int(np.argmin(d))
        qpos = k // len(INDEXED)
        cand = (int(d.flat[k]), int(HASH_ORIENT[QUERYING[qpos]]))
        if cand[0] < best[0]:
            best = cand
    return best
