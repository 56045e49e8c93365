"""The candidate stage: channels per rule, named candidate records, best alignments per pair."""

from __future__ import annotations

import numpy as np

from imgfind.candidates import Candidates, Channel, best_per_pair, channels
from imgfind.layout import CROPS, DHASH_INDEXED, PRIMARY
from imgfind.model import PRESETS, Rule


def test_plain_rule_searches_primary_and_crop_views_at_its_threshold():
    chans = channels(Rule(8, None), same=True)
    assert all(isinstance(c, Channel) and c.radius == 8 for c in chans)
    assert [c.library_cols.tolist() for c in chans] == [PRIMARY.tolist(), CROPS.tolist()]


def test_verified_rule_adds_dhash_and_looks_for_turned_crops_closer():
    chans = channels(PRESETS["normal"], same=True)
    by_name = {c.name: c for c in chans}
    assert by_name["dhash"].library_cols.tolist() == DHASH_INDEXED.tolist()
    assert by_name["turned crops"].radius == 8
    # a reverse search also looks from the query's crops; same engine, same radius: merged
    reverse = channels(PRESETS["normal"], same=False)
    assert len({(c.library_cols.tobytes(), c.radius) for c in reverse}) == len(reverse)
    assert any("query crops" in c.name for c in reverse)


def test_best_per_pair_drops_self_pairs_and_keeps_nearest_alignments():
    hits = tuple(np.array(x, dtype=np.int64) for x in (
        [0, 1, 0, 2, 0],  # q_row
        [0, 0, 1, 0, 2],  # q_col
        [1, 0, 1, 2, 1],  # i_row
        [16, 16, 17, 16, 18],  # i_col
        [3, 1, 2, 0, 5],  # distance
    ))
    cands = best_per_pair(hits, same=True, keep=2)
    assert isinstance(cands, Candidates)
    assert cands.a.tolist() == [0, 0] and cands.b.tolist() == [1, 1]  # self-pair 2-2 dropped
    assert cands.distance.tolist() == [1, 2]
    starts, ends = cands.pair_bounds()
    assert starts.tolist() == [0] and ends.tolist() == [2]
    assert len(cands.take(np.array([True, False]))) == 1


def test_packed_pair_order_is_the_lexsort_it_replaces():
    """best_per_pair's one packed sort orders hits exactly as the seven-key lexsort, ties
    (equal hits) in their input order, for a dedupe and for a query."""
    import numpy as np

    from imgfind.candidates import _pair_order

    rng = np.random.default_rng(0)
    for same in (True, False):
        for _ in range(100):
            m, n = int(rng.integers(0, 300)), int(rng.integers(1, 20))
            qa, ib = rng.integers(0, n, m), rng.integers(0, n, m)
            if same:
                ok = qa != ib
                qa, ib = qa[ok], ib[ok]
            k = len(qa)
            qpos, ipos, dist = rng.integers(0, 43, k), rng.integers(0, 43, k), rng.integers(0, 12, k)
            lo = np.minimum(qa, ib) if same else qa
            hi = np.maximum(qa, ib) if same else ib
            want = np.lexsort((ipos, qpos, ib, qa, dist, hi, lo))
            assert np.array_equal(_pair_order(qa, qpos, ib, ipos, dist, lo, hi), want)
