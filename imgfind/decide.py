"""The decision stage: which candidate pairs are copies of the same picture.

A plain rule decides from the hashes alone: every candidate pair within the threshold is a
match, related by the orientation of its nearest alignment. A verified rule checks each pair on
its thumbnails: the pair's distinct alignments (which view of each file, turned how) are cut
out, aligned, and compared twice (verify.py): by correlation at VERIFY_SIZE px
(``similarity``) and by the worst local agreement at verify.WINDOW_SIZE px
(``window_similarity``), which rejects a different picture inside an identical frame.
Flat pictures (blank pages, solid fills) have meaningless hashes and match only each other,
when their thumbnails are nearly equal. Another verifier (geometric, on local features)
takes the same Candidates and returns the same PairMatch records.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import verify
from .candidates import MAX_ALIGNMENTS, Candidates, StageProgress
from .fingerprint import orient
from .group import Links
from .layout import HASH_VIEW, TRIMMED, WHOLE, invert, pair_distance, relative
from .model import PairMatch, Rule
from .search import ranges
from .side import Side

VERIFY_SIZE = 24  # views are compared at this resolution
#: Flat pictures match only when their thumbnails differ by at most this much on average.
FLAT_MAX_DIFF = 6.0
#: Thumbnails are loaded for this many pairs at a time, so memory stays flat on huge indexes.
DECIDE_BATCH = 4096
#: Candidate pairs are verified this many at a time (one numpy batch); between batches,
#: pairs already linked are skipped.
VERIFY_BATCH = 256


class Alignment(NamedTuple):
    """View ``view_q`` of query row ``row_q`` turned by ``orient`` should look like view
    ``view_i`` of library row ``row_i``; then pair member b is ``orient_ab`` of member a."""

    row_q: int
    view_q: int
    orient: int
    row_i: int
    view_i: int
    orient_ab: int


def decide(query: Side, index: Side, rule: Rule, cands: Candidates, *, same: bool,
           links: Links | None = None, progress: StageProgress | None = None) -> list[PairMatch]:
    """Return the candidate pairs that match under *rule*.

    With ``links`` (dedupe, when only the groups matter), pairs are decided nearest first and
    a pair already linked through earlier matches is not verified.
    """
    out: list[PairMatch] = []
    if not rule.verified:
        # The plain pHash rule needs no pictures: decide every pair at once from its nearest
        # alignment, and send only pairs with a flat picture through the slow path.
        flat = query.flat[cands.q_row] | index.flat[cands.i_row]
        g = relative(cands.q_col, cands.i_col)
        g = np.where(cands.q_row == cands.a, g, invert(g))
        out = [PairMatch(int(x), int(y), int(d), int(o), None)
               for x, y, d, o in zip(cands.a[~flat], cands.b[~flat], cands.distance[~flat],
                                     g[~flat])]
        cands = cands.take(flat)
    if len(cands) and (rule.verified or query.flat.any() or index.flat.any()):
        out += _decide_each(query, index, rule, cands, same, links, progress)
    return out


def _decide_each(query: Side, index: Side, rule: Rule, cands: Candidates, same: bool,
                 links: Links | None, progress: StageProgress | None) -> list[PairMatch]:
    """Decide every candidate pair from its alignments (rows sorted by pair, then distance)."""
    qa, ib, lo, hi = cands.q_row, cands.i_row, cands.a, cands.b
    starts, ends = cands.pair_bounds()
    if links is not None:
        # Nearest pairs first: they are the likeliest to verify and to link a family early.
        order = np.lexsort((hi[starts], lo[starts], cands.distance[starts]))
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
                    match = decide_flat(query, index, a, b, row_q, row_i)
                    if match is not None:
                        out.append(match)
                elif rule.verified:
                    # A flat picture next to a detailed one is verified like any pair
                    # (darkening a dull picture can make it flat); verification rejects a
                    # flat picture against a detailed one.
                    tasks.append((a, b, alignments(query, index, cands.take(slice(s, e)), a)))
            # Under the plain rule a flat picture next to a detailed one makes no task: flat
            # pictures match only each other (README), so there may be nothing to verify.
            for match in verify_alignments(query, index, rule, tasks) if tasks else ():
                out.append(match)
                if links is not None:
                    links.link(match.a, match.b)
        if progress:
            progress("verifying", b0 + len(batch_starts), len(starts))
    return out


def alignments(query: Side, index: Side, rows: Candidates, a: int) -> list[Alignment]:
    """The distinct alignments of one pair's candidate rows, nearest first, at most
    MAX_ALIGNMENTS; *a* is the pair's first member (orient_ab is relative to it)."""
    out: list[Alignment] = []
    tried: set[tuple[int, int, int, int]] = set()
    for row_q, q, row_i, i in zip(rows.q_row.tolist(), rows.q_col.tolist(), rows.i_row.tolist(),
                                  rows.i_col.tolist()):
        qview, iview = int(HASH_VIEW[q]), int(HASH_VIEW[i])
        g = int(relative(q, i))
        # found from b's side: b ~ g(a) reads as a ~ g^-1(b)
        orient_ab = int(invert(g)) if row_q != a else g
        # Without borders the trimmed view is the whole view: same alignment, same answer.
        # (The whole view of a bordered picture is verified too: trimming is not stable under
        # brightness edits; a different picture in the same frame fails window_similarity.)
        if qview == TRIMMED and not query.trimmed(row_q):
            qview = WHOLE
        if iview == TRIMMED and not index.trimmed(row_i):
            iview = WHOLE
        key = (row_q, qview, g, iview)
        if key in tried:
            continue
        if len(tried) >= MAX_ALIGNMENTS:
            break
        tried.add(key)
        out.append(Alignment(row_q, qview, g, row_i, iview, orient_ab))
    return out


def verify_alignments(query: Side, index: Side, rule: Rule,
                      tasks: list[tuple[int, int, list[Alignment]]]) -> list[PairMatch]:
    """Verify pairs (a, b, alignments); a pair matches by its first alignment that passes.

    Two rounds: every pair's nearest alignment, then all the others of the pairs still
    undecided, so a true copy (which usually passes at once) costs one alignment. No tasks,
    no pairs.

    Raises:
        ValueError: *rule* is the plain rule (nothing to verify against) and there are tasks.
    """
    if not tasks:
        return []
    min_sim = rule.min_similarity
    if min_sim is None:
        raise ValueError("verify_alignments needs a verified rule (min_similarity is None)")
    passed: dict[int, tuple[int, float]] = {}  # task -> (alignment, similarity)
    for first_round in (True, False):
        todo = [(t, k) for t, (_, _, aligns) in enumerate(tasks) if t not in passed
                for k in (range(1) if first_round else range(1, len(aligns)))]
        if not todo:
            continue
        picked = [tasks[t][2][k] for t, k in todo]
        sims = verify.similarity(*aligned_views(query, index, picked, VERIFY_SIZE))
        ok = np.flatnonzero(sims >= min_sim)
        # Only alignments that pass both tests count; the local test costs more: second.
        if len(ok):
            wins = verify.window_similarity(*aligned_views(query, index, [picked[j] for j in ok],
                                                           verify.WINDOW_SIZE))
            for j in ok[wins >= rule.min_window].tolist():
                t, k = todo[j]
                if t not in passed or k < passed[t][0]:
                    passed[t] = (k, float(sims[j]))
    out = []
    for t, (k, sim) in sorted(passed.items()):
        a, b, aligns = tasks[t]
        row_q, row_i = aligns[0].row_q, aligns[0].row_i
        out.append(PairMatch(a, b, pair_distance(query.hashes[row_q], index.hashes[row_i]),
                             aligns[k].orient_ab, round(sim, 4)))
    return out


def aligned_views(query: Side, index: Side, aligns: list[Alignment], size: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The aligned views of each alignment, as two (n, size, size) float32 stacks."""
    x = np.stack([orient(query.view(al.row_q, al.view_q, size), al.orient) for al in aligns])
    y = np.stack([index.view(al.row_i, al.view_i, size) for al in aligns])
    return x, y


def decide_flat(query: Side, index: Side, a: int, b: int, row_q: int, row_i: int
                ) -> PairMatch | None:
    """Two flat pictures (blank pages, solid fills) match when their thumbnails are close."""
    diff = float(np.abs(query.pixels(row_q, TRIMMED, VERIFY_SIZE).astype(np.float32)
                        - index.pixels(row_i, TRIMMED, VERIFY_SIZE).astype(np.float32)).mean())
    if diff > FLAT_MAX_DIFF:
        return None
    return PairMatch(a, b, pair_distance(query.hashes[row_q], index.hashes[row_i]), 0, None)
