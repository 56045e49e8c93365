"""The compiled join (search/join.py) returns exactly what a scan returns, and the candidate
stage finds the same candidates through it as through the numpy engines, mirrored and turned
copies included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imgfind import side as side_mod
from imgfind.candidates import find_candidates
from imgfind.search import BruteForce
from imgfind.search import join as compiled

from helpers import make_image
from test_search import near_values

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba is not installed")

LAYOUTS = [None, ([0, 16, 32, 48], [16] * 4, [2, 1, 1, 1]), ([0, 22, 43], [22, 21, 21], [1, 1, 0]),
           ([0, 13, 26, 39, 52], [13, 13, 13, 13, 12], [1, 1, 1, 0, 0])]


def forced(k: int, layout):
    """A layout whose pigeonhole bound covers k (radii raised as needed); None: plan()."""
    if layout is None:
        return None
    offsets, widths, radii = layout
    radii = list(radii)
    j = 0
    while sum(r + 1 for r in radii) < k + 1:
        radii[j % len(radii)] += 1
        j += 1
    return offsets, widths, radii


@settings(max_examples=60, deadline=None)
@given(values=near_values(max_size=60), extra=st.lists(st.integers(0, 2**64 - 1), max_size=5),
       k=st.integers(0, 14), which=st.integers(0, len(LAYOUTS) - 1))
def test_compiled_join_equals_brute_force(values, extra, k, which):
    items = np.array(values, np.uint64)
    queries = np.array(values[:6] + extra, np.uint64)
    engine = compiled.CompiledJoin(items)
    engine.layout = forced(k, LAYOUTS[which])
    got = engine.find_many(queries, k)
    want = BruteForce(items).find_many(queries, k)
    for g, w in zip(got, want):
        assert g.tolist() == w.tolist()
    pairs, ref = engine.pairs(k), BruteForce(items).pairs(k)
    for g, w in zip(pairs, ref):
        assert g.tolist() == w.tolist()


def test_compiled_join_on_many_hashes_and_near_copies_equals_brute_force():
    rng = np.random.default_rng(7)
    items = rng.integers(0, 2**64, 30_000, dtype=np.uint64)
    flips = np.zeros(2_000, np.uint64)
    for _ in range(5):  # 0-5 random bits flipped per query
        flips ^= np.where(rng.random(2_000) < 0.8,
                          np.uint64(1) << rng.integers(0, 64, 2_000).astype(np.uint64), np.uint64(0))
    queries = items[rng.integers(0, len(items), 2_000)] ^ flips
    for k in (3, 8, 10):
        assert compiled.plan(len(items), k) is not None  # the tables, not the scan
        got = compiled.CompiledJoin(items).find_many(queries, k)
        want = BruteForce(items).find_many(queries, k)
        assert all(np.array_equal(g, w) for g, w in zip(got, want))
        if k >= 5:
            assert len(got[0]) >= 1_500  # most queries find their source (<= 5 bits flipped)


def test_more_matches_than_a_block_holds_are_all_returned():
    items = np.zeros(3 * compiled.BLOCK_QUERIES, np.uint64)  # every item matches every query
    q, i, d = compiled.CompiledJoin(items).join(np.zeros(3, np.uint64), 0)
    assert len(q) == 3 * len(items) and not d.any()


def test_tasks_that_overflow_run_again_alone_and_lose_nothing():
    # Two blocks of queries: the first holds 40 queries each near 1,000 items (40,000 matches,
    # more than a task's slot of 4 per query), the second only queries that match little; with
    # a forced layout (the sweep, not the scan), only the full tasks run again.
    rng = np.random.default_rng(3)
    hub = np.uint64(0x0123456789ABCDEF)
    items = np.concatenate([np.full(1_000, hub, np.uint64),
                            rng.integers(0, 2**64, 20_000, dtype=np.uint64)])
    queries = rng.integers(0, 2**64, 2 * compiled.BLOCK_QUERIES, dtype=np.uint64)
    queries[:40] = hub ^ np.uint64(1)
    queries[compiled.BLOCK_QUERIES:compiled.BLOCK_QUERIES + 50] = items[1_000:1_050]
    engine = compiled.CompiledJoin(items)
    engine.layout = ([0, 16, 32, 48], [16] * 4, [1, 1, 1, 0])
    got = engine.find_many(queries, 6)
    want = BruteForce(items).find_many(queries, 6)
    assert len(want[0]) >= 40_050
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def _side_of(images, tmp_path):
    from imgfind.analyse import analyse
    from imgfind.index import query_side
    from imgfind.model import FileStat

    fps = []
    for n, im in enumerate(images):
        path = tmp_path / f"{n}.png"
        im.save(path)
        st_ = path.stat()
        fps.append(analyse(FileStat(bytes(path), st_.st_size, st_.st_mtime_ns)).fingerprint)
    return lambda: query_side(fps)


def test_candidates_through_the_compiled_join_are_those_of_the_numpy_engines(monkeypatch, tmp_path):
    from imgfind.model import PRESETS

    images = []
    for seed in range(12):
        im = make_image(seed=seed)
        images += [im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), im.transpose(Image.Transpose.ROTATE_90),
                   im.crop((16, 12, 304, 228))]
    rule = PRESETS["normal"]
    make_side = _side_of(images, tmp_path)
    side = make_side()
    want = find_candidates(side, side, rule, same=True)
    monkeypatch.setattr(side_mod, "COMPILED_MIN_QUERIES", 0)
    monkeypatch.setattr(side_mod, "COMPILED_MIN_ITEMS", 0)
    monkeypatch.setattr(compiled, "plan", lambda n, k: forced(k, LAYOUTS[1]))
    side2 = make_side()
    got = find_candidates(side2, side2, rule, same=True)
    assert any(isinstance(e, compiled.CompiledJoin) for e in side2.engines.values())
    for name in ("q_row", "q_col", "i_row", "i_col", "distance", "a", "b"):
        assert getattr(got, name).tolist() == getattr(want, name).tolist()
    pairs = set(zip(got.a.tolist(), got.b.tolist()))
    for s in range(12):  # each picture meets its mirrored, turned and cropped copy
        assert {(4 * s, 4 * s + 1), (4 * s, 4 * s + 2), (4 * s, 4 * s + 3)} <= pairs


def test_distance_matrix_compiled_equals_numpy(monkeypatch):
    from imgfind import layout

    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**64, (40, layout.N_HASHES), dtype=np.uint64)
    hashes[1::2] = hashes[::2] ^ np.uint64(0b1011)  # near pairs
    hashes[5] = hashes[4]  # equal rows: ties resolved as numpy's argmin does
    monkeypatch.setattr(layout, "COMPILED_MIN_ROWS", 10**9)
    want = layout.distance_matrix(hashes)
    monkeypatch.setattr(layout, "COMPILED_MIN_ROWS", 2)
    got = layout.distance_matrix(hashes)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert got[0][0, 1] <= 3


@pytest.mark.parametrize("n_items", [1_100_000, 3_300_000, 11_000_000])
def test_crop_views_up_to_a_million_files_take_the_16_bit_substrings(n_items):
    # 11 crop views per file: 11M hashes at 10^6 files. Measured there (benchmarks/RESULTS.md,
    # "Dedupe at scale, session 9"), the 16-bit tables were 2.7x (10 bits) and 1.3x (8 bits)
    # cheaper per query than the 21-22-bit ones, whose bucket bounds miss the cache; both
    # radii on one layout also share one set of tables.
    for k in (8, 10):
        offsets, widths, radii = compiled.plan(n_items, k)
        assert widths == [16] * 4 and sum(r + 1 for r in radii) >= k + 1


def test_wide_substrings_when_the_16_bit_buckets_grow_large():
    # 10^8 hashes: ~1,500 per 16-bit bucket, every probe a long scan: the wide tables again
    assert max(compiled.plan(110_000_000, 10)[1]) > compiled.CACHED_WIDTH


def test_a_join_whose_slots_span_megabytes_equals_brute_force():
    # 9 blocks of queries x 4 substrings: output slots of 4.7 MB each (the kernels' slots are
    # then an anonymous mapping, join._slots), filled only at their starts.
    rng = np.random.default_rng(11)
    items = rng.integers(0, 2**64, 2_000, dtype=np.uint64)
    queries = rng.integers(0, 2**64, 9 * compiled.BLOCK_QUERIES, dtype=np.uint64)
    queries[::7] = items[rng.integers(0, len(items), len(queries[::7]))] ^ np.uint64(0b101)
    engine = compiled.CompiledJoin(items)
    engine.layout = ([0, 16, 32, 48], [16] * 4, [2, 1, 1, 1])
    got = engine.find_many(queries, 5)
    want = BruteForce(items).find_many(queries, 5)
    assert len(want[0]) >= len(queries[::7])
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


@pytest.mark.skipif(not hasattr(__import__("mmap"), "MADV_NOHUGEPAGE"), reason="Linux only")
def test_output_slots_written_only_at_their_starts_take_little_memory():
    # As a turned-crop join of a 10^6-file dedupe's chunk: 1,368 tasks' slots of 16,384
    # matches, a few written in each. numpy's own arrays get 2 MB pages (179 MB resident here).
    def resident_mb() -> float:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024

    before = resident_mb()
    out = compiled._slots(1_368 * 16_384, np.int64)
    out[::16_384] = 1
    assert out.flags.writeable and len(out) == 1_368 * 16_384
    assert resident_mb() - before < 40


@settings(max_examples=80, deadline=None)
@given(length=st.integers(0, 70), start=st.integers(0, 5), k=st.integers(0, 12),
       at=st.integers(-1, 69), seed=st.integers(0, 2**32 - 1))
def test_bucket_screen_says_whether_any_item_is_within_k_bits(length, start, k, at, seed):
    # The branch-free screen of a bucket (vectorised) before the loop that reports matches:
    # every bucket length (vector tails), empty buckets, a match at any position or none.
    from imgfind.search import _kernels

    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**64, start + length, dtype=np.uint64)
    v = rng.integers(0, 2**64, dtype=np.uint64)
    if 0 <= at < length:  # one item within k bits of v
        bits = rng.choice(64, size=k, replace=False)
        values[start + at] = v ^ np.uint64(sum(1 << int(b) for b in bits))
    bucket = values[start:start + length]
    want = bool(len(bucket)) and int(min(bin(int(x) ^ int(v)).count("1") for x in bucket)) <= k
    assert _kernels.any_within(v, values, start, start + length, np.uint64(k)) == want


def test_long_buckets_with_matches_at_their_ends_equal_brute_force():
    # Buckets of hundreds of items (every item shares its substrings with many others, as the
    # crop views of 10^6 files do) whose matches sit first, last or in a vector's tail.
    rng = np.random.default_rng(11)
    base = rng.integers(0, 2**16, 4, dtype=np.uint64)
    high = rng.integers(0, 2**48, 3_000, dtype=np.uint64) << np.uint64(16)
    items = high | base[rng.integers(0, 4, 3_000)]
    queries = items[[0, 1, 7, 8, 9, 2_999, 1_500]] ^ np.uint64(0b101 << 20)
    for layout in (None, LAYOUTS[1], LAYOUTS[3]):
        engine = compiled.CompiledJoin(items)
        engine.layout = forced(9, layout)
        got, want = engine.find_many(queries, 9), BruteForce(items).find_many(queries, 9)
        for g, w in zip(got, want):
            assert g.tolist() == w.tolist()
