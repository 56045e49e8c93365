"""The decision stage on hand-made sides: plain decisions, flat pictures, alignments."""

from __future__ import annotations

import numpy as np

from imgfind.candidates import best_per_pair
from imgfind.decide import alignments, decide
from imgfind.layout import N_HASHES, PRIMARY
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


def test_alignments_fold_the_trimmed_view_into_the_whole_one_without_borders():
    side = make_side(2)
    cands = best_per_pair(tuple(np.array(x, dtype=np.int64) for x in (
        [0, 0], [0, 8], [1, 1], [16, 16], [1, 1])), same=True, keep=12)
    aligns = alignments(side, side, cands, 0)
    assert len(aligns) == 1 and aligns[0].view_q == 0 and aligns[0].orient == 0
