"""The hash layout and orientation algebra: group laws, columns, pair distance."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from imgfind import layout as L

orientations = st.integers(0, L.N_ORIENT - 1)


def test_inverse_table_is_the_known_one():
    # Only the two quarter turns are not their own inverse.
    assert L.INVERSE == (0, 1, 2, 3, 4, 6, 5, 7)


@given(orientations, orientations, orientations)
def test_compose_is_a_group_law(g, h, k):
    assert L.compose(g, L.compose(h, k)) == L.compose(L.compose(g, h), k)
    assert L.compose(g, 0) == L.compose(0, g) == g
    assert L.compose(g, L.invert(g)) == 0 == L.compose(L.invert(g), g)


@given(orientations, orientations)
def test_compose_matches_applying_orientations(g, h):
    a = np.arange(12).reshape(3, 4)
    both = L.apply_orientation(L.apply_orientation(a, h), g)
    assert np.array_equal(both, L.apply_orientation(a, L.compose(g, h)))


def test_columns():
    assert L.N_HASHES == 43 and L.N_PHASH == 27
    assert (L.HASH_ORIENT[L.INDEXED] == 0).all() and (L.HASH_ORIENT[L.DHASH_INDEXED] == 0).all()
    assert L.HASH_VIEW[L.PRIMARY].tolist() == [0, 1]
    assert L.HASH_VIEW[L.CROPS].tolist() == list(range(2, 2 + len(L.CROP_VIEWS)))
    assert sorted(L.UPRIGHT.tolist() + L.TURNED.tolist()) == L.QUERYING.tolist()
    assert (L.HASH_ORIENT[L.DHASH_UPRIGHT] == 0).all() and (L.DHASH_UPRIGHT >= L.N_PHASH).all()


def test_relative_orientation_of_two_columns():
    upright = int(L.PRIMARY[0])
    rotated = 5  # whole view, rotated 90° clockwise
    assert L.relative(rotated, upright) == 5  # query column oriented: that orientation
    assert L.relative(upright, rotated) == 6  # index column oriented: its inverse
    q = np.array([rotated, upright])
    i = np.array([upright, rotated])
    assert L.relative(q, i).tolist() == [5, 6]


def test_view_boxes():
    boxes = L.view_boxes((0.1, 0.0, 0.9, 1.0))
    assert boxes[0] == (0.0, 0.0, 1.0, 1.0) and boxes[1] == (0.1, 0.0, 0.9, 1.0)
    assert len(boxes) == L.PRIMARY_VIEWS + len(L.CROP_VIEWS)
    assert np.allclose(boxes[2], (0.14, 0.05, 0.86, 0.95))


def test_pair_distance_is_smallest_over_views_and_orientations():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**63, L.N_HASHES, dtype=np.int64).astype(np.uint64)
    b = rng.integers(0, 2**63, L.N_HASHES, dtype=np.int64).astype(np.uint64)
    b[L.PRIMARY[0]] = a[3] ^ np.uint64(0b111)  # b's whole view is 3 bits from a turned by 3
    dist, orient = L.distance_matrix(np.stack([a, b]))
    assert L.pair_distance(a, b) == dist[0, 1] == dist[1, 0] == 3
    assert orient[0, 1] == 3 and orient[1, 0] == L.INVERSE[3]
    assert dist[0, 0] == 0


def test_pair_distances_equal_distance_matrix_pair_by_pair():
    # Near pairs (a few bits apart in one column, either way) and far ones, in batches larger
    # than PAIR_BATCH: each distance is distance_matrix's of the pair on its own.
    rng = np.random.default_rng(7)
    n = L.PAIR_BATCH + 37
    ha = rng.integers(0, 2**63, (n, L.N_HASHES), dtype=np.int64).astype(np.uint64)
    hb = rng.integers(0, 2**63, (n, L.N_HASHES), dtype=np.int64).astype(np.uint64)
    for j in range(0, n, 3):
        src, dst = (ha, hb) if j % 2 else (hb, ha)
        col = int(L.QUERYING[j % len(L.QUERYING)])
        dst[j, L.INDEXED[j % len(L.INDEXED)]] = src[j, col] ^ np.uint64((1 << (j % 9)) - 1)
    got = L.pair_distances(ha, hb)
    assert got.dtype == np.int64 and got.shape == (n,)
    want = [L.distance_matrix(np.stack([ha[j], hb[j]]))[0][0, 1] for j in range(n)]
    assert got.tolist() == want
    assert [L.pair_distance(ha[j], hb[j]) for j in range(50)] == want[:50]
    assert L.pair_distances(ha[:0], hb[:0]).shape == (0,)


def test_pair_distances_rejects_unequal_shapes():
    import pytest

    with pytest.raises(ValueError):
        L.pair_distances(np.zeros((2, L.N_HASHES), np.uint64), np.zeros((3, L.N_HASHES), np.uint64))


def test_star_distances_equal_row_0_and_the_largest_of_distance_matrix():
    from imgfind.layout import COMPILED_MIN_ROWS, N_HASHES, distance_matrix, star_distances

    rng = np.random.default_rng(11)
    base = rng.integers(0, 2**63, N_HASHES, dtype=np.uint64) * np.uint64(2)
    for k in (1, 2, 7, COMPILED_MIN_ROWS + 3):  # numpy path, then the compiled one (if numba)
        rows = np.repeat(base[None], k, axis=0)
        flips = rng.random((k, N_HASHES, 64)) < 0.04  # near copies, a few bits apart
        rows ^= (flips * (np.uint64(1) << np.arange(64, dtype=np.uint64))).sum(axis=2, dtype=np.uint64)
        rows[k // 2:] = rows[k // 2:, ::-1]  # and some that meet only through other columns
        dist, orient = distance_matrix(rows)
        first, first_orient, top = star_distances(rows)
        assert first.tolist() == dist[0].tolist()
        assert first_orient.tolist() == orient[0].tolist()
        assert top == int(dist.max()) and (k == 1 or top > 0)
