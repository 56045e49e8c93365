"""The decision stage on hand-made sides: plain decisions, flat pictures, alignments."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from imgfind.candidates import best_per_pair, channels
from imgfind.decide import (_INVERT, _RELATIVE, _VIEW, _alignments, _pairs_rows, alignments,
                            decide, pair_candidates)
from imgfind.layout import HASH_VIEW, N_HASHES, PRIMARY, invert, relative
from imgfind.model import PRESETS, Rule
from imgfind.side import Side


def make_side(n: int, flat: bool = False, level: int = 128) -> Side:
    rng = np.random.default_rng(n)
    hashes = rng.integers(0, 2**63, (n, N_HASHES), dtype=np.int64).astype(np.uint64)
    thumbs = {i: np.full((48, 48), level, np.uint8) for i in range(n)}
    return Side(np.arange(n, dtype=np.int64), hashes, np.tile([0.0, 0.0, 1.0, 1.0], (n, 1)).astype(np.float32),
                np.full(n, flat), lambda want: {int(i): thumbs[int(i)] for i in want})


def one_candidate(q_col: int, i_col: int, distance: int = 2):
    hits = tuple(np.array([x], dtype=np.int64) for x in (0, q_col, 1, i_col, distance))
    return best_per_pair(hits, same=True, keep=12)


def test_plain_rule_decides_from_hashes_with_the_relative_orientation():
    side = make_side(2)
    pairs = decide(side, side, Rule(10, None), one_candidate(5, int(PRIMARY[0])), same=True)
    assert [(p.a, p.b, p.distance, p.orientation, p.similarity) for p in pairs] == [(0, 1, 2, 5, None)]


def test_flat_pictures_match_only_when_nearly_equal():
    side = make_side(2, flat=True)
    pairs = decide(side, side, PRESETS["normal"], one_candidate(0, int(PRIMARY[0])), same=True)
    assert len(pairs) == 1 and pairs[0].similarity is None


def test_a_family_of_flat_pictures_costs_one_decision_per_member_with_links():
    """Issue 15 kind (2,000 dark frames took minutes): with links (dedupe), a flat pair already
    linked through earlier flat matches is not decided again, as for verified pairs: k flat
    copies give k - 1 matches spanning them, not k(k - 1)/2."""
    from imgfind.group import Links

    k = 40
    side = make_side(k, flat=True)
    a, b = np.triu_indices(k, 1)
    col = np.full(len(a), int(PRIMARY[0]), np.int64)
    cands = best_per_pair((a.astype(np.int64), col, b.astype(np.int64), col,
                           np.ones(len(a), np.int64)), same=True, keep=12)
    links = Links(k)
    pairs = decide(side, side, PRESETS["normal"], cands, same=True, links=links)
    assert len(pairs) == k - 1, len(pairs)
    assert links.components() == [list(range(k))]
    # without links every candidate pair is decided (query, and the plain pair listing)
    assert len(decide(side, side, PRESETS["normal"], cands, same=True)) == k * (k - 1) // 2


def test_alignments_fold_the_trimmed_view_into_the_whole_one_without_borders():
    side = make_side(2)
    cands = best_per_pair(tuple(np.array(x, dtype=np.int64) for x in (
        [0, 0], [0, 8], [1, 1], [16, 16], [1, 1])), same=True, keep=12)
    aligns = alignments(side, side, cands, 0)
    assert len(aligns) == 1 and aligns[0].view_q == 0 and aligns[0].orient == 0


def near_side(seed: int, n: int, flips: int, trims: list[bool]) -> Side:
    """n rows whose every hash is one base's with up to *flips* random bits flipped: many
    alignments within the default threshold, in every channel and orientation."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, N_HASHES, dtype=np.int64).astype(np.uint64)
    hashes = np.tile(base, (n, 1))
    for _ in range(flips):
        bits = rng.integers(0, 64, (n, N_HASHES)).astype(np.uint64)
        hashes ^= np.where(rng.random((n, N_HASHES)) < 0.5, np.uint64(1) << bits, np.uint64(0))
    t = np.tile([0.0, 0.0, 1.0, 1.0], (n, 1)).astype(np.float32)
    for r, bordered in enumerate(trims[:n]):
        if bordered:
            t[r] = (0.05, 0.0, 0.95, 1.0)
    return Side(np.arange(n, dtype=np.int64), hashes, t, np.zeros(n, bool),
                lambda want: {int(i): np.zeros((48, 48), np.uint8) for i in want})


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 6), flips=st.integers(0, 12),
       trims=st.lists(st.booleans(), max_size=6), threshold=st.integers(4, 14))
def test_batched_pair_candidates_and_alignments_equal_pair_by_pair(seed, n, flips, trims, threshold):
    """verify_pairs' batch (_pairs_rows, _alignments) gives each pair the rows and alignments
    pair_candidates and alignments give it alone, in the same order."""
    side = near_side(seed, n, flips, trims)
    rule = replace(PRESETS["normal"], threshold=threshold)
    chans = channels(rule, True)
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
    batch = _pairs_rows(side, chans, pairs)
    assert len(batch) == len(pairs)
    some = 0
    for (a, b), rows in zip(pairs, batch):
        want = pair_candidates(side, chans, a, b)
        assert list(rows) == [want.q_row.tolist(), want.q_col.tolist(), want.i_row.tolist(),
                              want.i_col.tolist()]
        assert _alignments(side, side, *rows, a) == alignments(side, side, want, a)
        some += len(rows[0]) > 0
    if flips <= 2:
        assert some == len(pairs)  # near copies: every pair has alignments


def test_alignment_tables_equal_the_layout_functions():
    for q in range(N_HASHES):
        for i in range(N_HASHES):
            assert _RELATIVE[q][i] == int(relative(q, i))
    assert [_VIEW[c] for c in range(N_HASHES)] == HASH_VIEW.tolist()
    assert _INVERT == [int(invert(g)) for g in range(8)]
