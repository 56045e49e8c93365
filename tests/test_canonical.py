"""The canonical self-join (canonical.py) against brute force: it finds exactly what it claims,
a subset of the oriented query's rows, and mirrored and turned copies (noise in the low bits)
always; on real pictures, dedupe through it groups every mirrored and turned copy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imgfind import candidates, canonical
from imgfind.candidates import find_candidates, search_canonical
from imgfind.layout import COMPOSE, INVERSE, N_HASHES, N_ORIENT, PRIMARY, PRIMARY_VIEWS, QUERYING
from imgfind.model import PRESETS
from imgfind.side import Side

from helpers import make_image

N_PRIMARY = PRIMARY_VIEWS * N_ORIENT


def side_of(hashes: np.ndarray) -> Side:
    n = len(hashes)
    return Side(np.arange(n, dtype=np.int64), hashes, np.tile([0, 0, 1, 1], (n, 1)).astype(np.float32),
                np.zeros(n, bool), lambda ids: {})


def turned(row: np.ndarray, h: int, rng: np.random.Generator, flips: int, low_bits: int) -> np.ndarray:
    """A copy of a hash row turned by orientation h: H_g(copy) = H_{g h}(original), each
    primary hash with up to *flips* random bits flipped among its *low_bits* lowest."""
    out = row.copy()
    for v in range(PRIMARY_VIEWS):
        for g in range(N_ORIENT):
            value = int(row[v * N_ORIENT + COMPOSE[g][h]])
            for bit in rng.choice(low_bits, size=flips, replace=False) if flips else ():
                value ^= 1 << int(bit)
            out[v * N_ORIENT + g] = value
    return out


def rows_strategy():
    """Hash rows: random pictures, turned/mirrored noisy copies of them, symmetric ones (equal
    orientations: ties), and ones whose orientations share long prefixes."""
    return st.tuples(st.integers(0, 2**32 - 1), st.integers(2, 7), st.integers(0, 3),
                     st.integers(1, 60))


def build(seed: int, n_pictures: int, flips: int, low_bits: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_pictures):
        row = rng.integers(0, 2**64, N_HASHES, dtype=np.uint64)
        if p % 3 == 1:  # a symmetric picture: orientations tie in pairs
            row[1:N_ORIENT:2] = row[0:N_ORIENT:2]
        if p % 3 == 2:  # orientations close in value: a shared 12-bit prefix
            row[:N_PRIMARY] = (row[:N_PRIMARY] & np.uint64(2**52 - 1)) | (row[0] >> np.uint64(52) << np.uint64(52))
        row[N_ORIENT:N_PRIMARY] = row[:N_ORIENT] if p % 2 else row[N_ORIENT:N_PRIMARY]
        rows.append(row)
        for _ in range(int(rng.integers(1, 3))):
            rows.append(turned(row, int(rng.integers(0, N_ORIENT)), rng, flips, low_bits))
    return np.array(rows, np.uint64)


def brute_claim(hashes: np.ndarray, k: int) -> set[tuple[int, ...]]:
    """What the self-join claims, by brute force over every two rows and items."""
    items = {}
    mask = canonical.canonical_mask(hashes)
    for r in range(len(hashes)):
        items[r] = [v * N_ORIENT + g for v in range(PRIMARY_VIEWS) for g in range(N_ORIENT)
                    if mask[r, v, g]]
    out = set()
    for a in range(len(hashes)):
        for b in range(a + 1, len(hashes)):
            for ca in items[a]:
                for cb in items[b]:
                    if int(hashes[a, ca] ^ hashes[b, cb]).bit_count() > k:
                        continue
                    (va, ga), (vb, gb) = divmod(ca, N_ORIENT), divmod(cb, N_ORIENT)
                    r = COMPOSE[INVERSE[gb]][ga]  # ga(a) ~ gb(b): b ~ r(a)
                    for q, qv, rr, i, iv in ((a, va, r, b, vb), (b, vb, INVERSE[r], a, va)):
                        d = int(hashes[q, qv * N_ORIENT + rr] ^ hashes[i, iv * N_ORIENT]).bit_count()
                        if rr != 0 and d <= k:
                            out.add((q, qv * N_ORIENT + rr, i, iv * N_ORIENT, d))
    return out


def oriented_query_rows(hashes: np.ndarray, k: int) -> set[tuple[int, ...]]:
    """Every row of the oriented query (all 16 primary columns against upright primaries)."""
    out = set()
    for q in range(len(hashes)):
        for i in range(len(hashes)):
            if q == i:
                continue
            for qc in QUERYING:
                for ic in PRIMARY:
                    d = int(hashes[q, qc] ^ hashes[i, ic]).bit_count()
                    if d <= k:
                        out.add((q, int(qc), i, int(ic), d))
    return out


def found(side: Side, k: int, chunk: int) -> list[tuple[int, ...]]:
    out = []
    for lo in range(0, len(side), chunk):
        part = search_canonical(side, slice(lo, min(len(side), lo + chunk)), k)
        out += list(zip(*(x.tolist() for x in part)))
    return out


@settings(max_examples=40, deadline=None)
@given(params=rows_strategy(), k=st.integers(0, 12), chunk=st.integers(1, 9))
def test_self_join_equals_brute_force_and_is_a_subset_of_the_oriented_query(params, k, chunk):
    seed, n_pictures, flips, low_bits = params
    hashes = build(seed, n_pictures, flips, max(low_bits, flips))
    got = found(side_of(hashes), k, chunk)
    assert len(got) == len(set(got))  # each pair's rows once
    want = brute_claim(hashes, k)
    assert set(got) == want
    assert want <= oriented_query_rows(hashes, k)


@pytest.mark.parametrize("h", range(1, N_ORIENT))
def test_turned_copy_with_noise_below_the_prefix_is_always_found(h):
    """Noise that leaves the leading PREFIX_BITS alone never moves the canonical frame."""
    rng = np.random.default_rng(h)
    low = 64 - canonical.PREFIX_BITS
    for trial in range(30):
        row = rng.integers(0, 2**64, N_HASHES, dtype=np.uint64)
        copy = turned(row, h, rng, 4, low)
        hashes = np.stack([row, copy, rng.integers(0, 2**64, N_HASHES, dtype=np.uint64)])
        got = found(side_of(hashes), 8, 3)
        # the copy is b = h(a): read from a's side, h(a) ~ b
        assert any(q == 0 and i == 1 and qc % N_ORIENT == h for q, qc, i, ic, d in got), trial
        assert all({q, i} == {0, 1} for q, qc, i, ic, d in got)


def test_ties_and_close_orientations_are_all_indexed():
    row = np.zeros(N_HASHES, np.uint64)
    row[:N_ORIENT] = [5 << 60, 5 << 60, (5 << 60) + 7, 9 << 60, 6 << 60, 5 << 60, 15 << 60, 1 << 63]
    row[N_ORIENT:N_PRIMARY] = row[:N_ORIENT]
    mask = canonical.canonical_mask(row[None])[0]
    assert mask[0].tolist() == [True, True, True, False, False, True, False, False]
    rows, values, col_start, cols = canonical.canonical_items(row[None])
    assert rows.tolist() == [0, 0] and values.tolist() == [5 << 60, (5 << 60) + 7]
    # one item per distinct value, with every column holding it (the trimmed view repeats)
    assert col_start.tolist() == [0, 6, 8] and cols.tolist() == [0, 1, 5, 8, 9, 13, 2, 10]


def test_dedupe_search_finds_the_same_pairs_as_the_oriented_query_on_turned_pictures(tmp_path):
    """Real pictures in every orientation (and mirrored, rescaled copies): the canonical
    dedupe search pairs each copy with its original, as the 8-orientation query does."""
    from imgfind.analyse import analyse
    from imgfind.index import query_side
    from imgfind.model import FileStat

    fps = []
    for seed in range(5):
        im = make_image(seed=seed)
        variants = [im] + [im.transpose(t) for t in (
            Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM,
            Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270,
            Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE)]
        variants.append(variants[3].resize((150, 200)))
        for n, v in enumerate(variants):
            path = tmp_path / f"{seed}-{n}.jpg"
            v.save(path, quality=85)
            st_ = path.stat()
            fps.append(analyse(FileStat(bytes(path), st_.st_size, st_.st_mtime_ns)).fingerprint)
    rule = PRESETS["normal"]
    side = query_side(fps)
    new = find_candidates(side, side, rule, same=True)
    pairs_new = set(zip(new.a.tolist(), new.b.tolist()))
    try:
        candidates.CANONICAL = False
        old = find_candidates(query_side(fps), query_side(fps), rule, same=True)
    finally:
        candidates.CANONICAL = True
    pairs_old = set(zip(old.a.tolist(), old.b.tolist()))
    assert pairs_new <= pairs_old
    family = {(a, b) for a in range(len(fps)) for b in range(a + 1, len(fps)) if a // 9 == b // 9}
    assert family <= pairs_new  # every copy with every other, in whatever orientation
    assert len(pairs_new) >= len(pairs_old & family)
