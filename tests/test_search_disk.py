"""search.disk: the on-disk multi-index tables give exactly BruteForce's matches."""

from __future__ import annotations

import numpy as np
import pytest

from imgfind.search import BruteForce
from itertools import product

from imgfind.search.disk import BITS, CHUNKS, DiskTables, build, find_many, radii, searchable


def _near(rng, base, n, max_bits):
    out = base.copy()
    for i in range(n):
        for b in rng.choice(64, int(rng.integers(0, max_bits + 1)), replace=False):
            out[i] ^= np.uint64(1) << np.uint64(int(b))
    return out


@pytest.mark.parametrize("k", range(12))
def test_disk_tables_equal_brute_force_over_several_columns(k):
    rng = np.random.default_rng(k)
    n = 3000
    centre = rng.integers(0, 2**64, 40, dtype=np.uint64)
    cols = []
    for _ in range(3):
        c = rng.integers(0, 2**64, n, dtype=np.uint64)
        c[:400] = _near(rng, np.repeat(centre, 10), 400, 14)  # many within and around k
        c[400:410] = c[0]  # duplicate values are separate items
        cols.append(c)
    queries = np.concatenate([centre[:20], _near(rng, centre[20:], 20, 6), rng.integers(0, 2**64, 5, dtype=np.uint64)])
    got = DiskTables([build(c) for c in cols], cols).find_many(queries, k)
    want = BruteForce(np.concatenate(cols)).find_many(queries, k)
    assert len(want[0]) > 20
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("k", range(12))
def test_every_split_of_k_differing_bits_over_the_substrings_is_found(k):
    """The sharper pigeonhole (radii) probes some substrings one bit less widely: a hash that
    differs from the query by exactly k bits, however they fall on the substrings (the worst
    case for it: as evenly as possible), and one bit more (k + 1, never found), are answered
    as BruteForce answers them."""
    rng = np.random.default_rng(100 + k)
    query = rng.integers(0, 2**64, dtype=np.uint64)
    rows, within = [], 0
    for extra in (0, 1):
        for split in product(range(k + extra + 1), repeat=CHUNKS):
            if sum(split) != k + extra:
                continue
            value = int(query)
            for c, bits in enumerate(split):
                for b in rng.choice(BITS, bits, replace=False):
                    value ^= 1 << (c * BITS + int(b))
            rows.append(value)
            within += extra == 0
    col = np.concatenate([np.array(rows, dtype=np.uint64),
                          rng.integers(0, 2**64, 60_000, dtype=np.uint64)])  # full buckets
    q = np.array([query], dtype=np.uint64)
    got = find_many([build(col)], [col], q, k)
    want = BruteForce(col).find_many(q, k)
    assert len(want[0]) == within
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_radii_probe_less_than_plain_pigeonhole_and_never_less_than_needed():
    assert radii(8) == [2, 1, 1, 1] and radii(10) == [2, 2, 2, 1] and radii(11) == [2, 2, 2, 2]
    assert radii(2) == [0, 0, 0, -1] and radii(0) == [0, -1, -1, -1]
    for k in range(12):
        r = radii(k)
        # the smallest total distance that escapes every probe is k + 1
        assert sum(x + 1 for x in r) == k + 1


def test_too_wide_a_distance_is_refused_and_empty_inputs_answer_nothing():
    assert searchable(11) and not searchable(12)
    c = np.arange(10, dtype=np.uint64)
    with pytest.raises(ValueError):
        find_many([build(c)], [c], c[:1], 12)
    assert all(len(x) == 0 for x in find_many([build(c)], [c], np.empty(0, np.uint64), 3))


def test_a_query_answered_from_the_tables_equals_the_scan_and_writes_them_beside_the_index(
        tmp_path, monkeypatch):
    from conftest import make_image
    from PIL import Image, ImageOps

    from imgfind import Index, Settings
    from imgfind.search import disk

    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(8):
        make_image(lib / f"p{i}.jpg", seed=i)
    ImageOps.mirror(Image.open(lib / "p0.jpg")).save(lib / "p0-mirror.jpg")
    Image.open(lib / "p1.jpg").rotate(90, expand=True).save(lib / "p1-turned.png")
    Image.open(lib / "p2.jpg").crop((20, 15, 300, 225)).save(lib / "p2-crop.jpg")
    db = tmp_path / "index.db"
    with Index.open(db, Settings(jobs=1)) as idx:
        idx.update([lib])

    def answers():
        with Index.open(db, readonly=True) as idx:
            return [[(m.file.path, m.distance, m.relation, m.similarity) for m in
                     idx.query(lib / f"p{i}.jpg").matches] for i in range(4)]

    scanned = answers()
    assert not list(tmp_path.glob("index.db-mih-*"))  # a small index is scanned
    monkeypatch.setattr(disk, "MIN_ROWS", 1)
    calls = []
    real = disk.find_many
    monkeypatch.setattr(disk, "find_many", lambda *a: calls.append(1) or real(*a))
    assert answers() == scanned
    assert calls and list(tmp_path.glob("index.db-mih-*"))
    assert sum(len(a) for a in scanned) >= 2  # at least the mirrored and the turned copy
