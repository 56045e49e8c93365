"""The multi-index hashing cost model: valid layouts, and brute force where it is cheaper."""

from __future__ import annotations

import pytest

from imgfind.search.mih_cost import ball_size, choose_plan, layout, layouts


@pytest.mark.parametrize("k", [0, 1, 6, 10, 20])
def test_every_layout_covers_64_bits_and_satisfies_the_pigeonhole_bound(k):
    for plan in layouts(k):
        assert sum(plan.widths) == 64
        assert plan.offsets[0] == 0
        assert all(o + w == n for o, w, n in zip(plan.offsets, plan.widths, plan.offsets[1:]))
        assert sum(r + 1 for r in plan.radii if r >= 0) >= k + 1


def test_layout_with_more_substrings_than_needed_probes_only_k_plus_one():
    plan = layout(4, 1)
    assert plan.radii == (0, 0, -1, -1)


def test_ball_size():
    assert ball_size(16, 0) == 1
    assert ball_size(16, 1) == 17
    assert ball_size(4, 10) == 16


def test_choose_plan_prefers_tables_for_big_collections_and_brute_force_for_small_or_far():
    assert choose_plan(10**6, 6, None) is not None
    assert choose_plan(10, 6, 1) is None
    assert choose_plan(10**6, 40, 1) is None  # half the bits: every key's ball is huge
