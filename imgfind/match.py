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

import numpy as np
from PIL import Image

from . import fingerprint as fpmod
from . import verify
from .group import Links
from .layout import (CROPS, DHASH_INDEXED, DHASH_UPRIGHT, HASH_VIEW, INDEXED,
                     PRIMARY, QUERYING, TURNED, UPRIGHT, distance_matrix, invert, pair_distance,
                     relative, view_boxes)
from .model import DEFAULT_PRESET, PRESETS, PairMatch, Rule
from .search import Engine, MultiIndexHash, make_engine, ranges

__all__ = ["DEFAULT_PRESET", "PRESETS", "PairMatch", "Rule", "Side", "channels", "distance_matrix",
           "find_pairs", "pair_distance"]

VERIFY_SIZE = 24  # views are compared at this resolution

#: Flat pictures match only when their thumbnails differ by at most this much on average.
FLAT_MAX_DIFF = 6.0


ThumbLoader = Callable[[np.ndarray], dict[int, np.ndarray]]
#: Told (stage, done, total) as the work advances: stage "searching" counts query rows,
#: "verifying" counts candidate pairs.
Progress = Callable[[str, int, int], None]


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

    def engine(self, cols: np.ndarray, n_queries: int, k: int, *, build: bool = False) -> Engine:
        """The search engine over these hash columns, for batches of *n_queries* at *k*.

        A few queries (one reverse search from the shell) are answered by a scan: building
        multi-index tables over millions of hashes costs about a second. Once this side has
        been searched a few times (a program querying an open Index), or with *build*
        (``Index.warm``), the tables are built, kept and reused, and a query takes
        milliseconds.
        """
        key = np.asarray(cols).tobytes()
        engine = self._engines.get(key)
        if engine is None:
            values = self.columns(cols)
            self._scans[key] = self._scans.get(key, 0) + 1
            if not build and n_queries <= SCAN_QUERIES and self._scans[key] <= SCANS_BEFORE_TABLES:
                return make_engine(values, "brute")
            engine = self._engines[key] = make_engine(values)
        if isinstance(engine, MultiIndexHash):
            engine.prepare(k, n_queries)  # builds nothing the second time
        return engine

    def columns(self, cols: np.ndarray) -> np.ndarray:
        """The hashes of these columns for every row, column after column (item = position of
        the column in *cols* x rows + row): a range of columns of a memory-mapped index is a
        view, not a copy."""
        by_column = self.hashes.T
        cols = np.asarray(cols)
        if len(cols) and np.array_equal(cols, np.arange(cols[0], cols[0] + len(cols))):
            return by_column[int(cols[0]):int(cols[0]) + len(cols)].reshape(-1)
        return by_column[cols].reshape(-1)

    def forget(self) -> None:
        """Drop loaded thumbnails and views (their memory grows with every pair decided)."""
        self._thumbs.clear()
        self._views.clear()

    def prefetch(self, rows: np.ndarray) -> None:
        want = [int(i) for i in np.unique(self.ids[rows]) if int(i) not in self._thumbs]
        if want:
            self._thumbs.update(self._load(np.array(want)))


def find_pairs(query: Side, index: Side, rule: Rule, *, same: bool,
               links: Links | None = None, progress: Progress | None = None) -> list[PairMatch]:
    """Return verified matches between query rows and index rows.

    With ``same`` the two sides are one set (dedupe): self-pairs are dropped and each pair is
    reported once with a < b. With ``links`` (dedupe, when only the groups matter), pairs are
    decided nearest first, a pair already linked through earlier matches is not verified,
    and every match found is linked: the components come out the same, for far less work.
    """
    if len(query) == 0 or len(index) == 0:
        return []
    searches = [(q_cols, i_cols, k, index.engine(i_cols, len(query) * len(q_cols), k))
                for q_cols, i_cols, k in channels(rule, same)]
    # Query rows go in chunks sized so that even a huge threshold (every hash near every
    # other) keeps memory bounded; each chunk is cut to the best alignments per pair at once.
    per_pair = MAX_ALIGNMENTS if rule.verified else 1
    chunk = _chunk_rows(len(query), len(index) * len(INDEXED), len(QUERYING), rule.threshold)
    # ... and in at least about PROGRESS_STEPS chunks on large indexes, so progress can be told.
    chunk = min(chunk, max(PROGRESS_MIN_ROWS, -(-len(query) // PROGRESS_STEPS)))
    parts = []
    for lo_row in range(0, len(query), chunk):
        rows = slice(lo_row, min(len(query), lo_row + chunk))
        found = [_candidates(engine, query.hashes[rows], lo_row, q_cols, i_cols, k, len(index))
                 for q_cols, i_cols, k, engine in searches]
        parts.append(_best_per_pair(tuple(np.concatenate(p) for p in zip(*found)), same, per_pair))
        if progress:
            progress("searching", rows.stop, len(query))
    qa, qpos, ib, ipos, dist, lo, hi = _best_per_pair(
        tuple(np.concatenate(p) for p in zip(*[x[:5] for x in parts])), same, per_pair)
    out: list[PairMatch] = []
    if not rule.verified:
        # The plain pHash rule needs no pictures: decide every pair at once from its nearest
        # alignment, and send only pairs with a flat picture through the slow path.
        flat = query.flat[qa] | index.flat[ib]
        g = relative(qpos, ipos)
        g = np.where(qa == lo, g, invert(g))
        out = [PairMatch(int(x), int(y), int(d), int(o), None)
               for x, y, d, o in zip(lo[~flat], hi[~flat], dist[~flat], g[~flat])]
        keep = flat
        qa, qpos, ib, ipos, dist, lo, hi = (x[keep] for x in (qa, qpos, ib, ipos, dist, lo, hi))
    if len(qa) and (rule.verified or query.flat.any() or index.flat.any()):
        out += _decide_all(query, index, rule, (qa, qpos, ib, ipos, dist, lo, hi), same, links,
                           progress)
    if links is not None:
        for p in out:
            links.link(p.a, p.b)
    return out


#: Searches go in at least this many chunks of at least PROGRESS_MIN_ROWS query rows.
PROGRESS_STEPS = 50
PROGRESS_MIN_ROWS = 2048
#: Thumbnails are loaded for this many pairs at a time, so memory stays flat on huge indexes.
DECIDE_BATCH = 4096
#: Candidate pairs are verified this many at a time (one numpy batch); between batches,
#: pairs already linked are skipped.
VERIFY_BATCH = 256


def _decide_all(query: Side, index: Side, rule: Rule, found: tuple[np.ndarray, ...], same: bool,
                links: Links | None, progress: Progress | None) -> list[PairMatch]:
    """Decide every candidate pair from its alignments (rows sorted by pair, then distance)."""
    qa, qpos, ib, ipos, dist, lo, hi = found
    bounds = np.flatnonzero((np.diff(lo) != 0) | (np.diff(hi) != 0)) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, len(lo)]
    if links is not None:
        # Nearest pairs first: they are the likeliest to verify and to link a family early.
        order = np.lexsort((hi[starts], lo[starts], dist[starts]))
        starts, ends = starts[order], ends[order]
    out = []
    for b0 in range(0, len(starts), DECIDE_BATCH):
        batch_starts = starts[b0:b0 + DECIDE_BATCH]
        batch_ends = ends[b0:b0 + DECIDE_BATCH]
        rows = ranges(batch_starts, batch_ends - batch_starts)
        query.forget()
        index.forget()
        query.prefetch(qa[rows] if not same else np.concatenate([qa[rows], ib[rows]]))
        index.prefetch(ib[rows])
        for v0 in range(0, len(batch_starts), VERIFY_BATCH):
            tasks = []
            for s, e in zip(batch_starts[v0:v0 + VERIFY_BATCH].tolist(),
                            batch_ends[v0:v0 + VERIFY_BATCH].tolist()):
                a, b = int(lo[s]), int(hi[s])
                if links is not None and links.linked(a, b):
                    continue
                row_q, row_i = int(qa[s]), int(ib[s])
                flat_q, flat_i = bool(query.flat[row_q]), bool(index.flat[row_i])
                if flat_q and flat_i:
                    match = _decide_flat(query, index, a, b, row_q, row_i)
                    if match is not None:
                        out.append(match)
                elif rule.verified:
                    # A flat picture next to a detailed one is verified like any pair
                    # (darkening a dull picture can make it flat); verification rejects a
                    # flat picture against a detailed one.
                    tasks.append((a, b, _alignments(query, index, qa[s:e], qpos[s:e], ib[s:e],
                                                    ipos[s:e], a)))
            for match in _verify(query, index, rule, tasks):
                out.append(match)
                if links is not None:
                    links.link(match.a, match.b)
        if progress:
            progress("verifying", b0 + len(batch_starts), len(starts))
    return out


Alignment = tuple[int, int, int, int, int, int]  # row_q, view_q, orient, row_i, view_i, orient_ab


def _alignments(query: Side, index: Side, qa: np.ndarray, qpos: np.ndarray, ib: np.ndarray,
                ipos: np.ndarray, a: int) -> list[Alignment]:
    """The distinct alignments of one pair's candidates, nearest first, at most MAX_ALIGNMENTS.

    Each says: view ``view_q`` of query row ``row_q`` turned by ``orient`` should look like
    view ``view_i`` of index row ``row_i``, and then pair member b is ``orient_ab`` of a.
    """
    out: list[Alignment] = []
    tried: set[tuple[int, int, int, int]] = set()
    for row_q, q, row_i, i in zip(qa.tolist(), qpos.tolist(), ib.tolist(), ipos.tolist()):
        qview, iview = int(HASH_VIEW[q]), int(HASH_VIEW[i])
        orient = int(relative(q, i))
        # found from b's side: b ~ g(a) reads as a ~ g^-1(b)
        orient_ab = int(invert(orient)) if row_q != a else orient
        # Without borders the trimmed view is the whole view: same alignment, same answer.
        # (The whole view of a bordered picture is verified too: trimming is not stable under
        # brightness edits; a different picture in the same frame fails window_similarity.)
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
        out.append((row_q, qview, orient, row_i, iview, orient_ab))
    return out


def _verify(query: Side, index: Side, rule: Rule,
            tasks: list[tuple[int, int, list[Alignment]]]) -> list[PairMatch]:
    """Verify pairs from their alignments; a pair matches by its first alignment that passes.

    Two rounds: every pair's nearest alignment, then all the others of the pairs still
    undecided, so a true copy (which usually passes at once) costs one alignment.
    """
    min_sim = rule.min_similarity
    assert min_sim is not None
    passed: dict[int, tuple[int, float]] = {}  # task -> (alignment, similarity)
    for first_round in (True, False):
        todo = [(t, k) for t, (_, _, aligns) in enumerate(tasks) if t not in passed
                for k in (range(1) if first_round else range(1, len(aligns)))]
        if not todo:
            continue
        picked = [tasks[t][2][k] for t, k in todo]
        sims = verify.similarity(*_stacks(query, index, picked, VERIFY_SIZE))
        ok = np.flatnonzero(sims >= min_sim)
        # Only alignments that pass both tests count; the local test costs more: second.
        if len(ok):
            wins = verify.window_similarity(*_stacks(query, index, [picked[j] for j in ok],
                                                     verify.WINDOW_SIZE))
            for j in ok[wins >= rule.min_window].tolist():
                t, k = todo[j]
                if t not in passed or k < passed[t][0]:
                    passed[t] = (k, float(sims[j]))
    out = []
    for t, (k, sim) in sorted(passed.items()):
        a, b, aligns = tasks[t]
        row_q, row_i = aligns[0][0], aligns[0][3]
        out.append(PairMatch(a, b, pair_distance(query.hashes[row_q], index.hashes[row_i]),
                             aligns[k][5], round(sim, 4)))
    return out


def _stacks(query: Side, index: Side, aligns: list[Alignment], size: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """The aligned views of each alignment, as two (n, size, size) float32 stacks."""
    x = np.stack([fpmod.orient(query.view(row_q, view_q, size), orient)
                  for row_q, view_q, orient, _, _, _ in aligns])
    y = np.stack([index.view(row_i, view_i, size) for _, _, _, row_i, view_i, _ in aligns])
    return x, y


def _decide_flat(query: Side, index: Side, a: int, b: int, row_q: int, row_i: int
                 ) -> PairMatch | None:
    """Two flat pictures (blank pages, solid fills) match when their thumbnails are close."""
    diff = float(np.abs(_view(query, row_q, 1).astype(np.float32)
                        - _view(index, row_i, 1).astype(np.float32)).mean())
    if diff > FLAT_MAX_DIFF:
        return None
    return PairMatch(a, b, pair_distance(query.hashes[row_q], index.hashes[row_i]), 0, None)


#: Verified rules look for a turned or mirrored copy among the crop views this many bits
#: closer than the rule's threshold. Seven orientations against eleven crop views would be
#: most of the search work; at 2 bits closer it is a fifth of it (benchmarks/RESULTS.md), and
#: a turned-and-cropped copy is still found (README, "Matching").
TURNED_CROP_MARGIN = 2


def channels(rule: Rule, same: bool) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """The searches that make candidates: (query hash columns, index hash columns, threshold).

    The plain pHash rule compares every primary view in every orientation with every view
    at the one threshold. Verified rules also take upright dHash candidates, and look for
    turned copies among the crop views a little closer (TURNED_CROP_MARGIN).
    """
    t = rule.threshold
    turned = t - TURNED_CROP_MARGIN if rule.verified else t
    # Primary and crop views are searched apart (two engines, never one over both), so each
    # part can have its own threshold and the index holds each hash once.
    if not rule.verified:
        out = [(QUERYING, PRIMARY, t), (QUERYING, CROPS, t)]
    else:
        # dHash is a second opinion on upright copies (it survives some tone edits that move
        # pHash); turned copies come from pHash alone.
        out = [(QUERYING, PRIMARY, t), (UPRIGHT, CROPS, t),
               (TURNED, CROPS, turned), (DHASH_UPRIGHT, DHASH_INDEXED, t)]
    if not same:
        # A reverse search also looks the other way, which dedupe gets from its symmetry: an
        # indexed file may be a crop of the query (then one of the query's crop views is
        # near that file's whole view), turned copies again 2 bits closer.
        out += [(CROPS, PRIMARY, t), (CROPS, TURNED, turned)]
    # Channels into the same engine at the same threshold are one search (a call has a fixed
    # cost of about a millisecond at 10^6 files).
    merged: dict[tuple[bytes, int], tuple[np.ndarray, np.ndarray, int]] = {}
    for q, i, k in out:
        key = (i.tobytes(), k)
        if k >= 0:
            q0 = merged[key][0] if key in merged else q[:0]
            merged[key] = (np.concatenate([q0, q[~np.isin(q, q0)]]), i, k)
    return list(merged.values())


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
    # Ties broken by rows and hash columns: the order never depends on the channels' order.
    order = np.lexsort((ipos, qpos, ib, qa, dist, hi, lo))
    cols = [x[order] for x in (qa, qpos, ib, ipos, dist, lo, hi)]
    lo, hi = cols[5], cols[6]
    new = np.ones(len(lo), dtype=bool)
    new[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    starts = np.flatnonzero(new)
    rank = np.arange(len(lo)) - np.repeat(starts, np.diff(np.append(starts, len(lo))))
    best = rank < keep
    return tuple(x[best] for x in cols)


def _candidates(engine: object, hashes: np.ndarray, row_offset: int, q_cols: np.ndarray,
                i_cols: np.ndarray, threshold: int, n_index: int) -> tuple[np.ndarray, ...]:
    """Search one hash channel for some query rows; positions are columns of the layout.

    The engine holds the index side's columns one after the other (Side.columns).
    """
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
    ipos, ib = np.divmod(ii.astype(np.int64), n_index)
    return qa + row_offset, q_cols[qpos], ib, i_cols[ipos], dist.astype(np.int64)


def _view(side: Side, row: int, view: int, size: int = VERIFY_SIZE) -> np.ndarray:
    """Cut view *view* of a row's thumbnail and bring it to *size* square."""
    box = view_boxes(tuple(float(x) for x in side.trims[row]))[view]
    part = fpmod.crop(side.thumb(row), box)
    return np.asarray(Image.fromarray(np.ascontiguousarray(part), "L")
                      .resize((size, size), Image.Resampling.BILINEAR))


def _trimmed(side: Side, row: int) -> bool:
    t = side.trims[row]
    return bool(t[0] > 0 or t[1] > 0 or t[2] < 1 or t[3] < 1)
