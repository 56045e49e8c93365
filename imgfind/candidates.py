"""The candidate stage: which hash columns are searched against which, at which radius, and the
pairs of rows those searches find.

A pair is a candidate when the pHash of some primary view of one file (whole or border-trimmed,
in any of the 8 orientations) is within the rule's threshold of the upright pHash of some view
of the other (whole, trimmed or cropped); verified rules add upright dHash. Each search is a
:class:`Channel`; what they find is one :class:`Candidates` record of parallel arrays, sorted
by pair and then distance, at most a few alignments per pair. Another candidate source (local
features, say) produces the same record and the decision stage takes it as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

import numpy as np

from . import canonical
from .layout import (CROPS, DHASH_INDEXED, DHASH_UPRIGHT, INDEXED, N_HASHES, PRIMARY, QUERYING,
                     TURNED, UPRIGHT)
from .model import Rule
from .search import Engine
from .side import COMPILED_MIN_QUERIES, Side

#: Verified rules look for a turned or mirrored copy among the crop views this many bits
#: closer than the rule's threshold. Seven orientations against eleven crop views would be
#: most of the search work; at 2 bits closer it is a fifth of it (benchmarks/RESULTS.md), and
#: a turned-and-cropped copy is still found (README, "Matching").
TURNED_CROP_MARGIN = 2
#: At most this many distinct alignments (views x orientation) are kept per pair for a
#: verified rule, nearest hashes first (a plain rule keeps the nearest one).
MAX_ALIGNMENTS = 12
#: Searches go in at least this many chunks of at least PROGRESS_MIN_ROWS query rows. A
#: chunk's queries sweep the compiled engine's tables in substring order (search/join.py):
#: the more queries at once, the nearer one probe's bucket to the last one's. 16,384 rows a
#: chunk, not 2,048, cut the search of a synthetic 10^5 index by a third (benchmarks/RESULTS.md,
#: "Search at scale, session 7").
PROGRESS_STEPS = 10
PROGRESS_MIN_ROWS = 16384

#: Streamed searches (iter_candidates) hold about this many raw hits at a time: chunks of query
#: rows start at STREAM_FIRST_ROWS and grow (doubling) while their hits stay under the budget.
STREAM_HITS = 2_000_000
#: 8 rather than 64 (session 7): in a family of 2,000 copies one row already hits every
#: copy through tens of channels, so a first chunk of 64 rows was the dedupe's memory peak
#: (bench_families copies: 547 MB -> 446 MB, same groups, same CPU).
STREAM_FIRST_ROWS = 8
#: A chunk whose raw hits pass STREAM_HITS this many times over is searched again in smaller
#: chunks before its hits are sorted: rows_at_once grows while rows hit little, so the first
#: rows of a dense family after many unrelated pictures came in one chunk of millions of hits
#: (case 22 of ../shared/cases: 8.9M hits, a 2.3 GB peak for 6,000 files).
STREAM_OVERSHOOT = 2

#: Told (stage, done, total) as the work advances: stage "searching" counts query rows,
#: "verifying" counts candidate pairs.
StageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Channel:
    """One search: these query-side hash columns against these library-side columns, within
    ``radius`` bits. ``name`` says what it is for (shown in benchmarks and tests)."""

    query_cols: np.ndarray  # int64 layout columns
    library_cols: np.ndarray  # int64 layout columns; one engine per distinct set
    radius: int
    name: str


@dataclass(frozen=True, slots=True)
class Candidates:
    """Candidate alignments: row j says query row ``q_row[j]``'s column ``q_col[j]`` is
    ``distance[j]`` bits from library row ``i_row[j]``'s column ``i_col[j]``.

    ``a`` and ``b`` name the unordered pair (in dedupe, where both sides are one set, ``a`` is
    the smaller row; in a reverse search ``a`` is the query row, ``b`` the library row). Every
    array is int64 and as long as the others.
    """

    q_row: np.ndarray
    q_col: np.ndarray
    i_row: np.ndarray
    i_col: np.ndarray
    distance: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def __len__(self) -> int:
        return len(self.q_row)

    def take(self, which: np.ndarray) -> Candidates:
        """Return the rows selected by an index or boolean array."""
        return Candidates(*(getattr(self, f.name)[which] for f in fields(self)))

    def pair_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (starts, ends) of each pair's run of rows (rows are sorted by pair)."""
        lo, hi = self.a, self.b
        bounds = np.flatnonzero((np.diff(lo) != 0) | (np.diff(hi) != 0)) + 1
        return np.r_[0, bounds], np.r_[bounds, len(lo)]


#: A dedupe under a verified rule finds mirrored and turned copies of the primary views with
#: one self-join in canonical orientations (canonical.py) instead of querying 7 more
#: orientations of every picture; False restores the oriented query (for comparisons).
CANONICAL = True


def uses_canonical(rule: Rule, same: bool) -> bool:
    """True when the search for this rule joins primary views in canonical orientations:
    a dedupe (*same*) under a verified rule."""
    return CANONICAL and same and rule.verified


def channels(rule: Rule, same: bool, *, canonical_join: bool = False) -> list[Channel]:
    """The searches that make candidates.

    The plain pHash rule compares every primary view in every orientation with every view
    at the one threshold. Verified rules also take upright dHash candidates, and look for
    turned copies among the crop views a little closer (TURNED_CROP_MARGIN). Channels into
    the same index columns at the same radius are merged into one search. With
    *canonical_join* (a dedupe: see uses_canonical) the primary channel queries the upright
    views only: the canonical self-join (search_canonical) finds the turned ones.
    """
    t = rule.threshold
    turned = t - TURNED_CROP_MARGIN if rule.verified else t
    # Primary and crop views are searched apart (two engines, never one over both), so each
    # part can have its own threshold and the index holds each hash once.
    if not rule.verified:
        out = [Channel(QUERYING, PRIMARY, t, "primary"), Channel(QUERYING, CROPS, t, "crops")]
    else:
        # dHash is a second opinion on upright copies (it survives some tone edits that move
        # pHash); turned copies come from pHash alone.
        primary = (Channel(UPRIGHT, PRIMARY, t, "primary, upright") if canonical_join
                   else Channel(QUERYING, PRIMARY, t, "primary"))
        out = [primary, Channel(UPRIGHT, CROPS, t, "crops"),
               Channel(TURNED, CROPS, turned, "turned crops"),
               Channel(DHASH_UPRIGHT, DHASH_INDEXED, t, "dhash")]
    if not same:
        # A reverse search also looks the other way, which dedupe gets from its symmetry: an
        # indexed file may be a crop of the query (then one of the query's crop views is
        # near that file's whole view), turned copies again 2 bits closer.
        out += [Channel(CROPS, PRIMARY, t, "query crops"),
                Channel(CROPS, TURNED, turned, "query crops, turned")]
    # Channels into the same engine at the same threshold are one search (a call has a fixed
    # cost of about a millisecond at 10^6 files).
    merged: dict[tuple[bytes, int], Channel] = {}
    for ch in out:
        key = (ch.library_cols.tobytes(), ch.radius)
        if ch.radius >= 0:
            if key in merged:
                old = merged[key]
                q0 = old.query_cols
                merged[key] = Channel(np.concatenate([q0, ch.query_cols[~np.isin(ch.query_cols, q0)]]),
                                      ch.library_cols, ch.radius, f"{old.name} + {ch.name}")
            else:
                merged[key] = ch
    return list(merged.values())


def channel_engines(query: Side, index: Side, chans: list[Channel]) -> list[tuple[Channel, Engine]]:
    """Each channel with the engine that searches it. Channels into the same library columns
    share one engine (built once), chosen for all the queries it will answer: the upright
    crop channel (2 query columns) and the turned one (14) meet one engine over the crop
    views, which must be the compiled one when their total says so, not the numpy engine the
    first channel's share alone would pick (at 10^5 files that engine took most of a dedupe:
    benchmarks/RESULTS.md, "Session 5"). When all the channels together reach
    side.COMPILED_MIN_QUERIES, the compiled engine serves the smaller channels too."""
    total: dict[bytes, int] = {}
    for ch in chans:
        key = np.asarray(ch.library_cols).tobytes()
        total[key] = total.get(key, 0) + len(query) * len(ch.query_cols)
    large = sum(total.values()) >= COMPILED_MIN_QUERIES
    return [(ch, index.engine(ch.library_cols, total[np.asarray(ch.library_cols).tobytes()],
                              ch.radius, large=large)) for ch in chans]


def find_candidates(query: Side, index: Side, rule: Rule, *, same: bool,
                    progress: StageProgress | None = None) -> Candidates:
    """Search every channel for every query row; keep the best alignments of each pair.

    With ``same`` the two sides are one set (dedupe): self-pairs are dropped and a pair found
    from both of its files is one pair.
    """
    canon = uses_canonical(rule, same)
    searches = channel_engines(query, index, channels(rule, same, canonical_join=canon))
    # Query rows go in chunks sized so that even a huge threshold (every hash near every
    # other) keeps memory bounded; each chunk is cut to the best alignments per pair at once.
    per_pair = MAX_ALIGNMENTS if rule.verified else 1
    chunk = _chunk_rows(len(query), len(index) * len(INDEXED), len(QUERYING), rule.threshold)
    # ... and in at least about PROGRESS_STEPS chunks on large indexes, so progress can be told.
    chunk = min(chunk, max(PROGRESS_MIN_ROWS, -(-len(query) // PROGRESS_STEPS)))
    parts = []
    for lo_row in range(0, len(query), chunk):
        rows = slice(lo_row, min(len(query), lo_row + chunk))
        found = [search_channel(engine, query.hashes[rows], lo_row, ch, len(index), same)
                 for ch, engine in searches]
        if canon:
            found.append(search_canonical(query, rows, rule.threshold))
        parts.append(best_per_pair(tuple(np.concatenate(p) for p in zip(*found)), same, per_pair))
        if progress:
            progress("searching", rows.stop, len(query))
    hits = tuple(np.concatenate([getattr(p, name) for p in parts])
                 for name in ("q_row", "q_col", "i_row", "i_col", "distance"))
    return best_per_pair(hits, same, per_pair)


#: Says which pairs (arrays a, b of rows) need no more candidates (a dedupe's pairs already
#: linked through verified pairs): True drops the pair's rows before they are sorted.
PairFilter = Callable[[np.ndarray, np.ndarray], np.ndarray]


def iter_candidates(query: Side, index: Side, rule: Rule, *, same: bool,
                    drop: PairFilter | None = None,
                    progress: StageProgress | None = None) -> Iterator[Candidates]:
    """The candidates of :func:`find_candidates`, streamed: one Candidates record per chunk
    of query rows, decided by the caller before the next chunk is searched.

    Chunks are sized by their hits, not their rows (a family of k near-identical copies has
    k^2 candidate pairs; their rows must never be held at once): they start at
    STREAM_FIRST_ROWS rows and double while a chunk's hits stay under STREAM_HITS, and shrink
    when they do not. *drop* is asked before each chunk's pairs are sorted, so pairs already
    decided cost no memory. A pair is met from both of its rows in a dedupe (``same``): each
    time with the alignments found from that row's side (find_candidates merges them).
    """
    per_pair = MAX_ALIGNMENTS if rule.verified else 1
    canon = uses_canonical(rule, same)
    searches = channel_engines(query, index, channels(rule, same, canonical_join=canon))
    rows_at_once = max(1, min(STREAM_FIRST_ROWS, len(query)))
    lo_row = 0
    while lo_row < len(query):
        rows = slice(lo_row, min(len(query), lo_row + rows_at_once))
        n_rows = rows.stop - rows.start
        found, n_hits = [], 0  # hits between two files (search_channel drops a file's own)
        for ch, engine in searches:
            found.append(search_channel(engine, query.hashes[rows], lo_row, ch, len(index), same))
            n_hits += len(found[-1][0])
            if n_hits > STREAM_OVERSHOOT * STREAM_HITS and n_rows > 1:
                break
        else:
            if canon:
                found.append(search_canonical(query, rows, rule.threshold))
                n_hits += len(found[-1][0])
        if n_hits > STREAM_OVERSHOOT * STREAM_HITS and n_rows > 1:
            # Dense rows after sparse ones (a family of near-identical copies after unrelated
            # pictures: the chunk grew while its rows hit little): search these rows again in
            # chunks sized by what they hit so far, rather than hold and sort them all at once.
            del found
            rows_at_once = max(1, min(n_rows // 2, int(STREAM_HITS / (n_hits / n_rows))))
            continue
        hits = tuple(np.concatenate(p) for p in zip(*found))
        del found
        if drop is not None and n_hits:
            lo = np.minimum(hits[0], hits[2]) if same else hits[0]
            hi = np.maximum(hits[0], hits[2]) if same else hits[2]
            keep = ~drop(lo, hi)
            hits = tuple(h[keep] for h in hits)
        yield best_per_pair(hits, same, per_pair)
        lo_row = rows.stop
        if progress:
            progress("searching", lo_row, len(query))
        per_row = n_hits / max(1, rows.stop - rows.start)
        if per_row * rows_at_once * 2 <= STREAM_HITS:
            rows_at_once *= 2
        else:
            rows_at_once = max(1, int(STREAM_HITS / max(per_row, 1.0)))
        # ... and in at least about PROGRESS_STEPS chunks, as find_candidates
        rows_at_once = min(rows_at_once, max(PROGRESS_MIN_ROWS, -(-len(query) // PROGRESS_STEPS)))


def _chunk_rows(n_rows: int, n_values: int, per_row: int, threshold: int) -> int:
    """How many query rows to search at once so that one chunk yields ~4M matches at most."""
    # Share of uniformly random 64-bit pairs within the threshold; real hashes cluster, so
    # this is an underestimate, but it only has to tell 10 bits (tiny) from 32 (half).
    share = sum(math.comb(64, k) for k in range(threshold + 1)) / 2.0 ** 64
    expected = per_row * max(1.0, n_values * share)
    return max(1, min(n_rows, int(4_000_000 / expected)))


def best_per_pair(hits: tuple[np.ndarray, ...], same: bool, keep: int) -> Candidates:
    """Drop self-pairs (dedupe) and keep the *keep* nearest alignments of every pair.

    *hits* is (q_row, q_col, i_row, i_col, distance); the result is sorted by pair, then
    distance, with ties broken by rows and columns (never by the channels' order).
    """
    qa, qpos, ib, ipos, dist = hits
    if same:
        ok = qa != ib
        qa, qpos, ib, ipos, dist = qa[ok], qpos[ok], ib[ok], ipos[ok], dist[ok]
    lo = np.minimum(qa, ib) if same else qa
    hi = np.maximum(qa, ib) if same else ib
    order = _pair_order(qa, qpos, ib, ipos, dist, lo, hi)
    cols = [x[order] for x in (qa, qpos, ib, ipos, dist, lo, hi)]
    lo, hi = cols[5], cols[6]
    new = np.ones(len(lo), dtype=bool)
    new[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    starts = np.flatnonzero(new)
    rank = np.arange(len(lo)) - np.repeat(starts, np.diff(np.append(starts, len(lo))))
    best = rank < keep
    return Candidates(*(x[best] for x in cols))


def _pair_order(qa: np.ndarray, qpos: np.ndarray, ib: np.ndarray, ipos: np.ndarray,
                dist: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``np.lexsort((ipos, qpos, ib, qa, dist, hi, lo))``, as one stable sort of packed int64
    keys when they fit (several times faster): within a pair (lo, hi), ib is the member qa
    is not, so qa is one bit (is it hi?); distances and columns take 7 and 6 bits."""
    n = int(max(int(hi.max()), int(lo.max()))) + 1 if len(lo) else 1
    if not len(lo) or n * n >= 1 << 42 or N_HASHES > 64 or int(dist.max()) >= 128:
        return np.lexsort((ipos, qpos, ib, qa, dist, hi, lo))
    key = lo * n + hi
    key = (key << 7) | dist
    key = (key << 1) | (qa == hi) & (qa != lo)
    key = (key << 6) | qpos
    key = (key << 6) | ipos
    return np.argsort(key, kind="stable")


def search_channel(engine: Engine, hashes: np.ndarray, row_offset: int, channel: Channel,
                   n_index: int, same: bool = False) -> tuple[np.ndarray, ...]:
    """Search one channel for some query rows (*hashes*, starting at row *row_offset*).

    The engine holds the library side's columns one after the other (Side.columns). Returns
    (q_row, q_col, i_row, i_col, distance), int64, columns as layout columns, in no
    particular order (best_per_pair sorts them). With *same*
    (a dedupe: both sides one set) a row's hits on its own columns are left out at once (a
    picture's upright hash is near its own crop views: most of the crop channel's hits).
    """
    q_cols, i_cols = channel.query_cols, channel.library_cols
    # Many query hashes repeat (a picture without borders has equal whole and trimmed views;
    # symmetric pictures repeat across orientations): search each distinct value once.
    unique, inverse = np.unique(hashes[:, q_cols].reshape(-1), return_inverse=True)
    # Any order of matches will do (best_per_pair sorts every row it keeps by a total order),
    # so the compiled engine's unsorted join, not find_many's sort of every raw match (self
    # hits included: a tenth of a dedupe's search CPU at 10^5 files, benchmarks/RESULTS.md).
    join = getattr(engine, "join", None)
    ui, ii, dist = (join if join is not None else engine.find_many)(unique, channel.radius)
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
    qa += row_offset
    if same:
        other = qa != ib
        qa, qpos, ib, ipos, dist = qa[other], qpos[other], ib[other], ipos[other], dist[other]
    return qa, q_cols[qpos], ib, i_cols[ipos], dist.astype(np.int64)


def search_canonical(side: Side, rows: slice, radius: int) -> tuple[np.ndarray, ...]:
    """The canonical self-join (canonical.py) for the pairs whose first member is among
    *rows* of a dedupe's one side: each pair once (found from its smaller row), as candidate
    rows of the oriented primary search within *radius*, upright alignments left out (the
    upright channel finds them). Returns (q_row, q_col, i_row, i_col, distance), int64."""
    (item_row, values, col_start, cols), engine, starts = side.canonical_join(radius)
    lo, hi = int(starts[rows.start]), int(starts[rows.stop])
    if hi <= lo:
        return tuple(np.empty(0, np.int64) for _ in range(5))
    join = getattr(engine, "join", None)  # the compiled engine's unsorted join is enough
    qi, ii, _ = join(values[lo:hi], radius) if join is not None else engine.find_many(values[lo:hi], radius)
    qi = np.asarray(qi, np.int64) + lo
    ii = np.asarray(ii, np.int64)
    keep = item_row[qi] < item_row[ii]  # each pair once (and a row never with itself)
    qi, ii = qi[keep], ii[keep]
    hit, col_a, col_b = canonical.expand(qi, ii, col_start, cols)
    return canonical.alignment_rows(side.hashes, item_row[qi[hit]], col_a, item_row[ii[hit]],
                                    col_b, radius)
