"""The decision stage: which candidate pairs are copies of the same picture.

A plain rule decides from the hashes alone: every candidate pair within the threshold is a
match, related by the orientation of its nearest alignment. A verified rule checks each pair on
its thumbnails: the pair's distinct alignments (which view of each file, turned how) are cut
out, aligned, and compared twice (verify.py): by correlation at VERIFY_SIZE px
(``similarity``) and by the worst local agreement at verify.WINDOW_SIZE px
(``window_similarity``), which rejects a different picture inside an identical frame.
Then the checks of issue 10 (verify.py): evidence that grows as texture shrinks
(``texture_evidence``), a shared frame that counts for nothing (``frame_evidence``), and the
colour layout up to a global hue rotation when both pictures have colour (``colour_check``).
Each PairMatch lists the checks it passed. Flat pictures (blank pages, solid fills) have
meaningless hashes and match only each other, when their thumbnails and mean colours are
nearly equal. :func:`verify_pairs` verifies given pairs (a star group's members against its
first file) through the alignments the candidate search would have found. Another verifier (geometric, on local features)
takes the same Candidates and returns the same PairMatch records.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import decision_cache, verify, verify_helper
from .candidates import MAX_ALIGNMENTS, Candidates, Channel, StageProgress, channels
from .decision_cache import DecisionCache
from .fingerprint import orient
from .group import Links
from .layout import HASH_VIEW, TRIMMED, WHOLE, invert, pair_distance, pair_distances, relative
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
#: A batch of pairs to verify is shared with the helper process (verify_helper.py) when the
#: helper would get at least this many of them (fewer are not worth the shipping).
HELPER_MIN_TASKS = 256


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
           links: Links | None = None, progress: StageProgress | None = None,
           cache: DecisionCache | None = None) -> list[PairMatch]:
    """Return the candidate pairs that match under *rule*.

    With ``links`` (dedupe, when only the groups matter), pairs are decided nearest first and
    a pair already linked through earlier matches is not verified. With *cache* (dedupe: the
    index's remembered decisions, decision_cache.py), a pair decided before with the same
    alignments is answered from it and thumbnails are loaded only for the others.
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
        out += _decide_each(query, index, rule, cands, same, links, progress,
                            cache if same else None)
    return out


def _decide_each(query: Side, index: Side, rule: Rule, cands: Candidates, same: bool,
                 links: Links | None, progress: StageProgress | None,
                 cache: DecisionCache | None = None) -> list[PairMatch]:
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
        # Thumbnails are loaded batch by batch, for the pairs the cache does not answer.
        query.forget()
        index.forget()
        # The cache knows a pair by its candidate rows (from which its alignments come).
        keys = (decision_cache.rows_keys(lo[batch_starts], qa, cands.q_col, cands.i_col,
                                         batch_starts, batch_ends).tolist()
                if cache is not None else [0] * len(batch_starts))
        # The batch's candidate rows gathered as lists, once (alignments() reads them row by
        # row): pair j's are rows_l[...][offs[j]:offs[j + 1]].
        lengths = batch_ends - batch_starts
        gather = ranges(batch_starts, lengths)
        rows_l = [x[gather].tolist() for x in (qa, cands.q_col, ib, cands.i_col)]
        offs = np.concatenate([[0], np.cumsum(lengths)]).tolist()
        # Pairs the helper process verifies meanwhile (j in the batch -> its task there).
        shared: dict[int, int] = {}
        job = None
        if links is not None and same and rule.verified:
            shared = _share(query, rule, cache, links, lo, hi, qa, ib, batch_starts, keys)
            if shared:
                helper = verify_helper.get()
                if helper is None:
                    shared = {}
                else:
                    tasks_h = [(int(lo[batch_starts[j]]), int(hi[batch_starts[j]]),
                                _alignments(query, index, *(r[offs[j]:offs[j + 1]] for r in rows_l),
                                            int(lo[batch_starts[j]]))) for j in shared]
                    _prefetch(query, index, same, [al.row_q for _, _, al_ in tasks_h for al in al_],
                              [al.row_i for _, _, al_ in tasks_h for al in al_])
                    job = helper.submit(query, rule, tasks_h)
        for v0 in range(0, len(batch_starts), VERIFY_BATCH):
            tasks = []
            task_keys = []
            # Per pair in order: (True, index into tasks), (False, the cache's answer) or
            # (None, (task in the helper's job, a, b, key)).
            slots: list[tuple[bool | None, Any]] = []
            flats = []
            for j, (s, key) in enumerate(zip(batch_starts[v0:v0 + VERIFY_BATCH].tolist(),
                                             keys[v0:v0 + VERIFY_BATCH]), v0):
                a, b = int(lo[s]), int(hi[s])
                if links is not None and links.linked(a, b):
                    continue
                row_q, row_i = int(qa[s]), int(ib[s])
                flat_q, flat_i = bool(query.flat[row_q]), bool(index.flat[row_i])
                if flat_q and flat_i:
                    flats.append((a, b, row_q, row_i))
                elif rule.verified:
                    # A flat picture next to a detailed one is verified like any pair
                    # (darkening a dull picture can make it flat); verification rejects a
                    # flat picture against a detailed one.
                    if cache is not None:
                        known, match = cache.lookup(rule, a, b, key)
                        if known:
                            slots.append((False, match))
                            continue
                    if j in shared:  # answered by the helper (after this batch's own tasks)
                        slots.append((None, (shared[j], a, b, key)))
                        continue
                    slots.append((True, len(tasks)))
                    tasks.append((a, b, _alignments(query, index, *(r[offs[j]:offs[j + 1]]
                                                                     for r in rows_l), a)))
                    task_keys.append(key)
            for a, b, row_q, row_i in flats:
                if links is not None and links.linked(a, b):
                    continue  # linked by a flat match met earlier in this batch
                match = _flat_cached(query, index, rule, a, b, row_q, row_i, same, cache)
                if match is not None:
                    out.append(match)
                    if links is not None:
                        # As a verified match: a family of k flat frames costs about k
                        # decisions, not one per candidate pair (issue 15).
                        links.link(match.a, match.b)
            # Under the plain rule a flat picture next to a detailed one makes no task: flat
            # pictures match only each other (README), so there may be nothing to verify.
            found = (_verify_remembered(query, index, rule, tasks, task_keys, same, cache)
                     if tasks else [])
            for is_task, v in slots:
                if is_task is None:
                    assert job is not None
                    t, a, b, key = v
                    match = job.answer(t)
                    if cache is not None:
                        cache.remember(rule, a, b, key, match)
                else:
                    match = found[v] if is_task else v
                if match is None:
                    continue
                out.append(match)
                if links is not None:
                    links.link(match.a, match.b)
        if job is not None:
            job.all()  # read to the end (every shared pair was asked for in the loop)
        if progress:
            progress("verifying", b0 + len(batch_starts), len(starts))
    return out


def _share(side: Side, rule: Rule, cache: DecisionCache | None, links: Links, lo: np.ndarray,
           hi: np.ndarray, qa: np.ndarray, ib: np.ndarray, batch_starts: np.ndarray,
           keys: list[int]) -> dict[int, int]:
    """Which pairs of a dedupe's batch (positions j in it) the helper process verifies, each
    with its task number there: about half of the pairs that will be verified, taken only
    among those *certain* to be verified, whatever the batch's earlier pairs decide (neither
    of their files' components is met by an earlier pair: nothing can link them before their
    turn), so the helper verifies no pair the serial loop would skip. Empty when the helper
    would get fewer than HELPER_MIN_TASKS."""
    met: set[int] = set()
    picked: dict[int, int] = {}
    verified = 0
    flat = side.flat
    for j, (s, key) in enumerate(zip(batch_starts.tolist(), keys)):
        a, b = int(lo[s]), int(hi[s])
        ra, rb = links.find(a), links.find(b)
        if ra == rb:
            continue  # skipped, and it links nothing new
        if not (flat[int(qa[s])] and flat[int(ib[s])]) and (
                cache is None or not cache.knows(rule, a, b, key)):
            verified += 1
            if ra not in met and rb not in met and 2 * len(picked) < verified:
                picked[j] = len(picked)
        met.add(ra)
        met.add(rb)
    return picked if len(picked) >= HELPER_MIN_TASKS else {}


def _prefetch(query: Side, index: Side, same: bool, rows_q: list[int], rows_i: list[int]) -> None:
    """Load the thumbnails of these rows (query side, library side) not loaded yet."""
    if same:
        rows = np.array(sorted(set(rows_q) | set(rows_i)), dtype=np.int64)
        if len(rows):
            query.prefetch(rows)
            if index is not query:
                index.prefetch(rows)
        return
    if rows_q:
        query.prefetch(np.array(sorted(set(rows_q)), dtype=np.int64))
    if rows_i:
        index.prefetch(np.array(sorted(set(rows_i)), dtype=np.int64))


def _flat_cached(query: Side, index: Side, rule: Rule, a: int, b: int, row_q: int, row_i: int,
                 same: bool, cache: DecisionCache | None) -> PairMatch | None:
    """decide_flat, answered by *cache* when it knows the pair (keyed by its direction)."""
    key = decision_cache.FLAT if row_q == a else decision_cache.FLAT - 1
    if cache is not None:
        known, match = cache.lookup(rule, a, b, key)
        if known:
            return match
    _prefetch(query, index, same, [row_q], [row_i])
    match = decide_flat(query, index, a, b, row_q, row_i)
    if cache is not None:
        cache.remember(rule, a, b, key, match)
    return match


def _verify_remembered(query: Side, index: Side, rule: Rule,
                       tasks: list[tuple[int, int, list[Alignment]]], keys: list[int], same: bool,
                       cache: DecisionCache | None) -> list[PairMatch | None]:
    """verify_alignments of every task (thumbnails loaded first), as one answer per task (the
    match, or None), each remembered in *cache* under its key."""
    _prefetch(query, index, same, [al.row_q for _, _, aligns in tasks for al in aligns],
              [al.row_i for _, _, aligns in tasks for al in aligns])
    passed = {(m.a, m.b): m for m in verify_alignments(query, index, rule, tasks)}
    answers = [passed.get((a, b)) for a, b, _ in tasks]
    if cache is not None:
        for (a, b, _), key, match in zip(tasks, keys, answers):
            cache.remember(rule, a, b, key, match)
    return answers


def alignments(query: Side, index: Side, rows: Candidates, a: int) -> list[Alignment]:
    """The distinct alignments of one pair's candidate rows, nearest first, at most
    MAX_ALIGNMENTS; *a* is the pair's first member (orient_ab is relative to it)."""
    return _alignments(query, index, rows.q_row.tolist(), rows.q_col.tolist(),
                       rows.i_row.tolist(), rows.i_col.tolist(), a)


#: layout.HASH_VIEW, layout.relative of every two columns and layout.INVERSE as Python lists:
#: alignments() reads them once per candidate row.
_VIEW = HASH_VIEW.tolist()
_COLS = np.arange(len(HASH_VIEW))
_RELATIVE = relative(_COLS[:, None], _COLS[None, :]).tolist()  # one array call, at import
_INVERT = [int(invert(g)) for g in range(8)]


def _alignments(query: Side, index: Side, q_rows: list[int], q_cols: list[int],
                i_rows: list[int], i_cols: list[int], a: int) -> list[Alignment]:
    """alignments() of candidate rows given as lists (one pair's, in order)."""
    out: list[Alignment] = []
    tried: set[tuple[int, int, int, int]] = set()
    trimmed_q, trimmed_i = query.trimmed_rows, index.trimmed_rows
    for row_q, q, row_i, i in zip(q_rows, q_cols, i_rows, i_cols):
        qview, iview = _VIEW[q], _VIEW[i]
        g = _RELATIVE[q][i]
        # found from b's side: b ~ g(a) reads as a ~ g^-1(b)
        orient_ab = _INVERT[g] if row_q != a else g
        # Without borders the trimmed view is the whole view: same alignment, same answer.
        # (The whole view of a bordered picture is verified too: trimming is not stable under
        # brightness edits; a different picture in the same frame fails window_similarity.)
        if qview == TRIMMED and not trimmed_q[row_q]:
            qview = WHOLE
        if iview == TRIMMED and not trimmed_i[row_i]:
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
    passed: dict[int, tuple[int, float, bool, bool]] = {}  # task -> (alignment, similarity,
    # colour judged, passed on its colour layout alone)
    for first_round in (True, False):
        todo = [(t, k) for t, (_, _, aligns) in enumerate(tasks) if t not in passed
                for k in (range(1) if first_round else range(1, len(aligns)))]
        if not todo:
            continue
        picked = [tasks[t][2][k] for t, k in todo]
        xs, ys = aligned_views(query, index, picked, VERIFY_SIZE)
        # Brightness-aligned once (pair by pair: a subset's rows are the same), for the
        # similarity and the texture test.
        ax, ay = verify.photometric_align(xs, ys)
        sims = verify.similarity_aligned(ax, ay)
        ok = np.flatnonzero(sims >= min_sim)
        # Evidence that grows as texture shrinks; a shared frame counts for nothing.
        colour_only = np.zeros(len(picked), bool)
        if len(ok):
            tex_ok, colour_only[ok] = verify.texture_evidence(xs[ok], ys[ok], sims[ok],
                                                              (ax[ok], ay[ok]))
            ok = ok[tex_ok]
        if len(ok):
            ok = ok[verify.frame_evidence(xs[ok], ys[ok], min_sim)]
        # Only alignments that pass every test count; the local test costs more: after those.
        if len(ok):
            wins = verify.window_similarity(*aligned_views(query, index, [picked[j] for j in ok],
                                                           verify.WINDOW_SIZE))
            ok = ok[wins >= rule.min_window]
        if len(ok):
            colour_ok, coloured, proven = colour_check(query, index, [picked[j] for j in ok], rule)
            for j, c_ok, judged, by_colour in zip(ok.tolist(), colour_ok.tolist(), coloured.tolist(),
                                                  proven.tolist()):
                if not c_ok or colour_only[j] and not by_colour:
                    continue
                t, k = todo[j]
                if t not in passed or k < passed[t][0]:
                    passed[t] = (k, float(sims[j]), judged, bool(colour_only[j]))
    out = []
    won = sorted(passed.items())
    # The matches' distances at once (one k x k matrix per match cost more than its checks).
    firsts = [tasks[t][2][0] for t, _ in won]
    dists = pair_distances(query.hashes[[al.row_q for al in firsts]],
                           index.hashes[[al.row_i for al in firsts]]).tolist() if won else []
    for (t, (k, sim, judged, by_colour)), dist in zip(won, dists):
        a, b, aligns = tasks[t]
        checks = (("hash", "similarity", "texture", "frame", "window") + (("colour",) if judged else ())
                  + (("smooth: colour layout instead of detail",) if by_colour else ()))
        out.append(PairMatch(a, b, dist, aligns[k].orient_ab, round(sim, 4), checks))
    return out


def colour_check(query: Side, index: Side, aligns: list[Alignment], rule: Rule
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour verification of alignments: (passed, judged, proven), bool arrays per alignment.

    Judged only when both views have colour (a greyscale copy passes unjudged); then the
    colour layouts must agree up to a global hue rotation and saturation change
    (verify.colour_similarity >= rule.min_colour). *proven*: judged and agreeing closely
    enough (verify.COLOUR_ONLY_MIN) and in hue itself (verify.COLOUR_ONLY_MAX_TURN) to be a
    pure gradient's only evidence.
    """
    score, judged, turn = colour_scores(query, index, aligns)
    proven = judged & (score >= verify.COLOUR_ONLY_MIN) & (turn <= verify.COLOUR_ONLY_MAX_TURN)
    return ~judged | (score >= rule.min_colour), judged, proven


def colour_scores(query: Side, index: Side, aligns: list[Alignment]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """verify.colour_similarity and verify.hue_turn of each alignment's colour views
    (verify.COLOUR_VIEW px): (score, judged, turn in degrees) per alignment; score 1.0, judged
    False and turn 0 where either picture has no colour."""
    n = len(aligns)
    score, judged, turn = np.ones(n), np.zeros(n, bool), np.zeros(n)
    size = verify.COLOUR_VIEW
    both = []
    cqs = query.colour_views([(al.row_q, al.view_q) for al in aligns], size)
    cis = index.colour_views([(al.row_i, al.view_i) for al in aligns], size)
    for j, (al, cq, ci) in enumerate(zip(aligns, cqs, cis)):
        if cq is not None and ci is not None:
            both.append((j, np.stack([orient(c, al.orient) for c in cq]), ci))
    if both:
        s, ok = verify.colour_similarity(np.stack([x for _, x, _ in both]),
                                         np.stack([y for _, _, y in both]))
        idx = np.array([j for j, _, _ in both])
        score[idx], judged[idx] = s, ok
        turn[idx] = verify.hue_turn(np.stack([x for _, x, _ in both]),
                                    np.stack([y for _, _, y in both]))
    return score, judged, turn


def aligned_views(query: Side, index: Side, aligns: list[Alignment], size: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The aligned views of each alignment, as two (n, size, size) float32 stacks."""
    xs = query.views([(al.row_q, al.view_q) for al in aligns], size)
    x = np.stack([orient(v, al.orient) for v, al in zip(xs, aligns)]).astype(np.float32)
    y = np.stack(index.views([(al.row_i, al.view_i) for al in aligns], size)).astype(np.float32)
    return x, y


def decide_flat(query: Side, index: Side, a: int, b: int, row_q: int, row_i: int
                ) -> PairMatch | None:
    """Two flat pictures (blank pages, solid fills) match when their thumbnails are close."""
    diff = float(np.abs(query.pixels(row_q, TRIMMED, VERIFY_SIZE).astype(np.float32)
                        - index.pixels(row_i, TRIMMED, VERIFY_SIZE).astype(np.float32)).mean())
    if diff > FLAT_MAX_DIFF:
        return None
    # Flat pictures carry no structure: their colours must agree too (a red, a green and a
    # grey fill can have the same grey level).
    if not verify.flat_colour_match(query.colour(row_q), index.colour(row_i)):
        return None
    return PairMatch(a, b, pair_distance(query.hashes[row_q], index.hashes[row_i]), 0, None,
                     ("flat", "flat_colour"))


def verify_pairs(side: Side, rule: Rule, pairs: list[tuple[int, int]],
                 cache: DecisionCache | None = None) -> dict[tuple[int, int], PairMatch]:
    """Verify given pairs of rows of one side directly, whatever found them (dedupe's star
    groups check each member against its group's first file). Returns the pairs that pass,
    keyed as given; PairMatch.a/b are the pair as given (b looks like orientation(a)).

    Each pair is tried in its MAX_ALIGNMENTS nearest alignments among those the candidate
    search would have found (the rule's channels and radii, either way), with the same tests
    as decide; two flat pictures as flat pictures. Under the plain rule only flat pairs can
    pass (nothing else is verified). With *cache*, pairs decided before are answered from it.
    """
    out: dict[tuple[int, int], PairMatch] = {}
    chans = channels(rule, True)
    for b0 in range(0, len(pairs), DECIDE_BATCH):
        batch = pairs[b0:b0 + DECIDE_BATCH]
        side.forget()
        tasks = []
        need: list[tuple[int, int]] = []
        for a, b in batch:
            if side.flat[a] and side.flat[b]:
                m = _flat_cached(side, side, rule, a, b, a, b, True, cache)
                if m is not None:
                    out[(a, b)] = m
                continue
            if not rule.verified:
                continue
            if cache is not None:
                # pair_candidates is a function of the two hash rows and the rule: the pair
                # and the rule are the key.
                known, m = cache.lookup(rule, a, b, decision_cache.OWN)
                if known:
                    if m is not None:
                        out[(a, b)] = m
                    continue
            need.append((a, b))
        # The pairs' candidate rows, all at once (pair_candidates, pair by pair).
        for (a, b), rows in zip(need, _pairs_rows(side, chans, need)):
            if not rows[0]:
                if cache is not None:
                    cache.remember(rule, a, b, decision_cache.OWN, None)
                continue
            tasks.append((a, b, _alignments(side, side, *rows, a)))
        # The second half to the helper process (verify_helper.py), verified meanwhile.
        own, job = len(tasks), None
        if rule.verified and len(tasks) >= 2 * HELPER_MIN_TASKS:
            helper = verify_helper.get()
            if helper is not None:
                own = len(tasks) // 2
                rows = [r for _, _, aligns in tasks[own:] for al in aligns for r in (al.row_q, al.row_i)]
                _prefetch(side, side, True, rows, rows)
                job = helper.submit(side, rule, tasks[own:])
        for v0 in range(0, own, VERIFY_BATCH):
            part = tasks[v0:min(own, v0 + VERIFY_BATCH)]
            for m in _verify_remembered(side, side, rule, part, [decision_cache.OWN] * len(part),
                                        True, cache):
                if m is not None:
                    out[(m.a, m.b)] = m
        if job is not None:
            for (a, b, _), m in zip(tasks[own:], job.all()):
                if cache is not None:
                    cache.remember(rule, a, b, decision_cache.OWN, m)
                if m is not None:
                    out[(m.a, m.b)] = m
    return out


def verifiable(side: Side, rule: Rule, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Which of these pairs of rows :func:`verify_pairs` could pass, told from the hashes and
    flat flags alone (bool, one per pair): two flat pictures, or (verified rules) a pair with at
    least one hash alignment the candidate search would have found (pair_candidates). The
    others are rejected by verify_pairs without a thumbnail; asking first keeps them out of
    its work and out of the decision cache (a star group's first against the rest of a large
    component: most pairs are far apart, benchmarks/RESULTS.md, "Families, session 9")."""
    if not pairs:
        return np.zeros(0, bool)
    pa = np.array([a for a, _ in pairs], np.int64)
    pb = np.array([b for _, b in pairs], np.int64)
    out = side.flat[pa] & side.flat[pb]
    if rule.verified:
        out |= _hash_near(side, channels(rule, True), pa, pb)
    return out


#: _hash_near tests this many pairs at a time (its temporaries: pairs x 16 x 11 int64).
NEAR_BATCH = 4096


def _hash_near(side: Side, chans: list[Channel], pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """For each pair (pa[j], pb[j]): does it have a row in :func:`_pairs_rows` (any channel,
    either way, within the channel's radius)? The same test, without listing the rows."""
    near = np.zeros(len(pa), bool)
    hashes = side.hashes
    for lo in range(0, len(pa), NEAR_BATCH):
        ha, hb = hashes[pa[lo:lo + NEAR_BATCH]], hashes[pb[lo:lo + NEAR_BATCH]]
        got = near[lo:lo + NEAR_BATCH]
        for ch in chans:
            q_cols, i_cols = ch.query_cols, ch.library_cols
            for x, y in ((ha, hb), (hb, ha)):
                d = np.bitwise_count(x[:, q_cols][:, :, None] ^ y[:, i_cols][:, None, :])
                got |= (d <= ch.radius).any(axis=(1, 2))
    return near


def _pairs_rows(side: Side, chans: list[Channel], pairs: list[tuple[int, int]]
                ) -> list[tuple[list[int], list[int], list[int], list[int]]]:
    """:func:`pair_candidates` of many pairs at once: per pair its rows' (q_row, q_col, i_row,
    i_col) as lists, in pair_candidates' order (distance, library row, query column, library
    column: no two rows of a pair share all four, so the order is the same however found)."""
    if not pairs:
        return []
    pa = np.array([a for a, _ in pairs], np.int64)
    pb = np.array([b for _, b in pairs], np.int64)
    parts: list[tuple[np.ndarray, ...]] = []
    for ch in chans:
        q_cols, i_cols = ch.query_cols, ch.library_cols
        for x, y in ((pa, pb), (pb, pa)):
            d = np.bitwise_count(side.hashes[x][:, q_cols][:, :, None]
                                 ^ side.hashes[y][:, i_cols][:, None, :])
            p, qi, ii = np.nonzero(d <= ch.radius)
            parts.append((p, x[p], q_cols[qi], y[p], i_cols[ii], d[p, qi, ii].astype(np.int64)))
    pair, q_row, q_col, i_row, i_col, dist = (np.concatenate([pt[f] for pt in parts]).astype(np.int64)
                                              for f in range(6))
    order = np.lexsort((i_col, q_col, i_row, dist, pair))
    pair = pair[order]
    cols = [c[order].tolist() for c in (q_row, q_col, i_row, i_col)]
    bounds = np.searchsorted(pair, np.arange(len(pairs) + 1)).tolist()
    return [tuple(c[bounds[j]:bounds[j + 1]] for c in cols) for j in range(len(pairs))]


def pair_candidates(side: Side, chans: list[Channel], a: int, b: int) -> Candidates:
    """The hash alignments of rows a and b either way that the candidate search would have
    found (*chans*: the rule's ``channels(rule, True)``, each within its own radius), nearest
    first. A pair the search
    could not have proposed has none: the hash test is part of the evidence, for a star
    group's member as for any pair."""
    parts: list[tuple[np.ndarray, ...]] = []
    for ch in chans:
        q_cols, i_cols = ch.query_cols, ch.library_cols
        for x, y in ((a, b), (b, a)):
            d = np.bitwise_count(side.hashes[x, q_cols][:, None] ^ side.hashes[y, i_cols][None, :])
            qi, ii = np.divmod(np.arange(d.size), len(i_cols))
            near = d.reshape(-1) <= ch.radius
            n = int(near.sum())
            parts.append((np.full(n, x), q_cols[qi[near]], np.full(n, y), i_cols[ii[near]],
                          d.reshape(-1)[near]))
    q_row, q_col, i_row, i_col, dist = (np.concatenate([p[f] for p in parts]).astype(np.int64)
                                        for f in range(5))
    order = np.lexsort((i_col, q_col, i_row, dist))
    n = len(order)
    return Candidates(q_row[order], q_col[order], i_row[order], i_col[order], dist[order],
                      np.full(n, a, np.int64), np.full(n, b, np.int64))
