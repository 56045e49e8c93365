"""The descriptor index sidecar (local_index.py): its candidates are partial.LocalIndex's (the
compiled kernel and the numpy path, stop words included), and a stale, foreign or damaged
sidecar is never used: it is detected and rebuilt. Real SQLite indexes of Pillow pictures."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest
from helpers import textured
from PIL import Image

from imgfind import Index, local_index, partial
from imgfind.local_index import DescriptorIndex
from imgfind.model import LocalFeatures
from imgfind.search import join


def _library(seed: int, pictures: int, per: int, popular: int) -> dict[int, LocalFeatures]:
    """Pictures whose descriptors are near a few shared bases (so that pictures share
    descriptors within 4 bits) and near *popular* stop-word bases found in most pictures."""
    rng = np.random.default_rng(seed)
    bases = rng.integers(0, 2**63, 6 * pictures, dtype=np.int64).astype(np.uint64)
    hubs = rng.integers(0, 2**63, max(popular, 1), dtype=np.int64).astype(np.uint64)
    out = {}
    for p in range(pictures):
        n = int(rng.integers(per // 2, per + 1))
        pick = np.where(rng.random(n) < 0.3, hubs[rng.integers(0, len(hubs), n)],
                        bases[rng.integers(0, len(bases), n)]) if popular else \
            bases[rng.integers(0, len(bases), n)]
        flips = np.zeros(n, np.uint64)
        for _ in range(int(rng.integers(0, 4))):
            flips ^= np.left_shift(np.uint64(1), rng.integers(0, 64, n).astype(np.uint64))
        desc = (pick ^ flips).astype("<u8")
        xy = rng.integers(0, 65535, (n, 2)).astype("<u2")
        out[1000 + 7 * p] = LocalFeatures(384, 288, xy.tobytes(), desc.tobytes())
    return out


@pytest.mark.parametrize("seed,pictures,popular", [(0, 60, 0), (1, 120, 3), (2, 300, 5)])
@pytest.mark.parametrize("numba", [True, False])
def test_candidates_equal_the_in_memory_index(seed, pictures, popular, numba, monkeypatch):
    if numba and not join.available():
        pytest.skip("numba not installed")
    monkeypatch.setattr(local_index, "USE_NUMBA", numba)
    feats = _library(seed, pictures, 24, popular)
    ids = np.array(sorted(feats), np.int64)
    mem = partial.LocalIndex.build({int(i): feats[int(i)] for i in ids})
    disk = DescriptorIndex.build(ids, [feats[int(i)].desc for i in ids],
                                 lambda want: {i: feats[i] for i in want})
    rows = list(range(0, pictures, 3))
    got, scores = disk.candidates_many([disk.desc[disk.starts[r]:disk.starts[r + 1]] for r in rows],
                                       exclude=rows)
    stopped = 0
    for k, r in enumerate(rows):
        want = mem.candidates(feats[int(ids[r])], exclude=r)
        assert [(int(a), float(b)) for a, b in zip(got[k], scores[k]) if a >= 0] == want
        assert disk.candidates(feats[int(ids[r])], exclude=r) == want
        stopped += bool(want)
    assert stopped >= len(rows) // 4  # the libraries do have candidates
    # a query that is not in the index, and top=3
    q = _library(seed + 10, 1, 24, popular)
    (qf,) = q.values()
    assert disk.candidates(qf, top=3) == mem.candidates(qf, top=3)
    assert disk.features[0] == feats[int(ids[0])]


def _photo(seed: int) -> Image.Image:
    return textured(seed, 640, 480, shapes=100, largest=70)


@pytest.fixture
def indexed(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(4):
        _photo(i).save(lib / f"p{i}.jpg", quality=92)
    _photo(0).crop((100, 80, 540, 400)).save(tmp_path / "crop.jpg", quality=90)
    db = str(tmp_path / "i.db")
    with Index.open(db) as idx:
        idx.update([lib])
    return tmp_path, lib, db


def _query(db: str, image) -> list[str]:
    with Index.open(db, readonly=True) as idx:
        return sorted(os.path.basename(m.file.path) for m in idx.query(image).matches)


def _builds(monkeypatch) -> list[int]:
    built: list[int] = []
    real = DescriptorIndex.build.__func__

    def counting(cls, ids, blobs, read):
        built.append(len(ids))
        return real(cls, ids, blobs, read)

    monkeypatch.setattr(DescriptorIndex, "build", classmethod(counting))
    return built


def test_sidecar_is_written_reused_and_rebuilt_when_the_index_changes(indexed, monkeypatch):
    tmp, lib, db = indexed
    built = _builds(monkeypatch)
    assert _query(db, tmp / "crop.jpg") == ["p0.jpg"]
    assert built == [4]
    files = local_index.paths(db)
    assert all(os.path.exists(f) for f in files.values())
    tag = json.loads(open(files["tag"]).read())
    assert tag["rows"] == 4 and tag["descriptors"] > 4 * 16
    assert _query(db, tmp / "crop.jpg") == ["p0.jpg"]
    assert built == [4]  # the second query read the sidecar
    # a new file: the index's state changes, the sidecar is stale and rebuilt
    _photo(9).save(lib / "p9.jpg", quality=92)
    _photo(9).crop((100, 80, 540, 400)).save(tmp / "crop9.jpg", quality=90)
    with Index.open(db) as idx:
        idx.update([lib])
    assert _query(db, tmp / "crop9.jpg") == ["p9.jpg"]
    assert built == [4, 5]
    assert json.loads(open(files["tag"]).read())["rows"] == 5


@pytest.mark.parametrize("damage", ["descriptors", "tables", "near", "far", "truncated",
                                    "emptied", "tag", "foreign"])
def test_damaged_or_foreign_sidecar_is_detected_and_rebuilt(indexed, monkeypatch, tmp_path,
                                                            damage):
    tmp, lib, db = indexed
    assert _query(db, tmp / "crop.jpg") == ["p0.jpg"]
    files = local_index.paths(db)
    if damage in ("descriptors", "tables", "near", "far"):
        name = files[{"descriptors": "desc"}.get(damage, damage)]
        arr = np.load(name)
        flat = arr.reshape(-1)
        flat[::max(1, len(flat) // 50)] ^= 0x5A5A  # the checksum samples see this
        np.save(name, arr)
    elif damage == "truncated":
        with open(files["desc"], "r+b") as f:
            f.truncate(os.path.getsize(files["desc"]) // 2)
    elif damage == "emptied":  # a 0-byte .npy: numpy raises EOFError, not ValueError
        for key in ("ids", "desc", "tables", "near", "far"):
            open(files[key], "wb").close()
    elif damage == "tag":
        with open(files["tag"], "w") as f:
            f.write("{not json")
    else:  # another index's sidecar copied beside this one
        other = tmp_path / "other"
        other.mkdir()
        _photo(20).save(other / "x.jpg", quality=92)
        _photo(21).save(other / "y.jpg", quality=92)
        odb = str(tmp_path / "o.db")
        with Index.open(odb) as idx:
            idx.update([other])
        assert _query(odb, tmp / "crop.jpg") == []
        for key, name in local_index.paths(odb).items():
            shutil.copy(name, files[key])
    with Index.open(db, readonly=True) as idx:
        owner = idx.store._owner()  # noqa: SLF001
    assert DescriptorIndex.load(db, owner, lambda want: {}) is None
    built = _builds(monkeypatch)
    assert _query(db, tmp / "crop.jpg") == ["p0.jpg"]
    assert built == [4]
    assert DescriptorIndex.load(db, owner, lambda want: {}) is not None  # rewritten


def test_read_only_folder_still_searches(indexed, monkeypatch):
    tmp, lib, db = indexed
    monkeypatch.setattr(DescriptorIndex, "save", lambda self, path, owner: False)
    assert _query(db, tmp / "crop.jpg") == ["p0.jpg"]
    assert not os.path.exists(local_index.paths(db)["tag"])


def test_query_keeps_partial_matching_on_where_dedupe_turns_it_off(indexed, runner,
                                                                  monkeypatch):
    """The limits differ by command (a query's lookup grows with the library, a dedupe's
    with its square): between them, query searches local features by default and dedupe
    does not, with a note."""
    from helpers import invoke

    from imgfind import cli_common

    tmp, lib, db = indexed
    monkeypatch.setattr(cli_common, "PARTIAL_DEDUPE_MAX", 3)
    monkeypatch.setattr(cli_common, "PARTIAL_QUERY_MAX", 4)
    q = invoke(runner, db, "query", str(tmp / "crop.jpg"), "--format", "json")
    assert [m["path"].rsplit("/", 1)[1] for m in json.loads(q.stdout)["matches"]] == ["p0.jpg"]
    assert json.loads(q.stdout)["matches"][0]["partial"]["overlap_query"] > 0.9
    assert "partial matching" not in q.stderr
    d = invoke(runner, db, "dedupe", "--format", "json")
    assert "is off for an index of 4 files (more than 3" in d.stderr
    monkeypatch.setattr(cli_common, "PARTIAL_QUERY_MAX", 3)
    q = invoke(runner, db, "query", str(tmp / "crop.jpg"), "--format", "json")
    assert json.loads(q.stdout)["matches"] == []
    assert "more than 3: slow at this size" in q.stderr


def _bucket_cost(tables: np.ndarray, d_items: int, v: int) -> int:
    """Entries a lookup of descriptor v reads (independently of local_index: for each chunk
    searched at radius 1, its 17 buckets plus the other three chunks' own; the cheapest)."""
    size = lambda c, key: int(tables[c, d_items + key + 1]) - int(tables[c, d_items + key])  # noqa: E731
    keys = [(v >> (16 * c)) & 0xFFFF for c in range(4)]
    exact = [size(c, keys[c]) for c in range(4)]
    return min(sum(exact) + sum(size(c, keys[c] ^ (1 << b)) for b in range(16)) for c in range(4))


def _reference(index: DescriptorIndex, q: np.ndarray, exclude: int, cap: int, crowded: int,
               top: int) -> list[tuple[int, float]]:
    """partial.vote's rule by brute force, with a crowded descriptor (its buckets hold more
    than *crowded* entries) a stop word as well: weight 0, its hits still count as votes."""
    n = len(index)
    desc, owner = np.asarray(index.desc), index.owner
    qi, items = np.nonzero(np.bitwise_count(q[:, None] ^ desc[None, :]) <= partial.CANDIDATE_BITS)
    key = np.unique(qi.astype(np.int64) * n + owner[items])
    qi, rows = key // n, key % n
    keep = rows != exclude
    qi, rows = qi[keep], rows[keep]
    df = np.bincount(qi, minlength=len(q))
    weight = partial.idf(n, df)
    weight[df > cap] = 0.0
    if crowded >= 0:
        cost = np.array([_bucket_cost(index.tables, len(desc), int(v)) for v in q])
        weight[cost > crowded] = 0.0
    votes = np.bincount(rows, minlength=n)
    score = np.bincount(rows, weights=weight[qi], minlength=n)
    score[votes < partial.MIN_VOTES] = 0.0
    best = np.argsort(-score, kind="stable")[:top]
    return [(int(r), float(score[r])) for r in best if score[r] > 0]


@pytest.mark.parametrize("seed", [3, 4])
def test_fixed_stop_cap_and_crowded_buckets_numpy_and_kernel_agree_with_brute_force(
        seed, monkeypatch):
    """Above 5,000 pictures a descriptor found in more than STOP_MAX pictures, or whose
    buckets hold more than CROWDED entries, does not vote: scaled down here (STOP_MAX 6,
    CROWDED the median lookup of the library) on 400 pictures, with the numpy path reading
    its buckets in slices of 3 entries (so it stops stop words early over many rounds)."""
    feats = _library(seed, 400, 24, 6)
    ids = np.array(sorted(feats), np.int64)
    index = DescriptorIndex.build(ids, [feats[int(i)].desc for i in ids],
                                  lambda want: {i: feats[i] for i in want})
    costs = [_bucket_cost(index.tables, len(index.desc), int(v)) for v in index.desc[:2000]]
    monkeypatch.setattr(partial, "STOP_MAX", 6)
    monkeypatch.setattr(partial, "CROWDED", int(np.median(costs)))
    monkeypatch.setattr(local_index, "SCAN_FIRST", 3)
    n = len(index)
    cap, crowded = partial.stop_cap(n), partial.crowded_cap(n)
    assert cap == 6 and crowded == int(np.median(costs))
    assert partial.crowded_cap(n, query=True) == -1  # a query reads all it needs
    monkeypatch.setattr(partial, "CROWDED_QUERY", 7)
    assert partial.crowded_cap(n, query=True) == 7 and partial.crowded_cap(n // 100) == -1
    rows = list(range(0, n, 5))
    queries = [np.asarray(index.desc[index.starts[r]:index.starts[r + 1]]) for r in rows]
    want = [_reference(index, q, r, int(cap), crowded, partial.TOP_CANDIDATES)
            for q, r in zip(queries, rows)]
    loose = [_reference(index, q, r, int(cap), -1, partial.TOP_CANDIDATES)
             for q, r in zip(queries, rows)]
    assert want != loose  # the crowded rule does change candidates here
    assert sum(bool(w) for w in want) >= len(rows) // 4
    monkeypatch.setattr(local_index, "USE_NUMBA", False)
    for q, r, w in zip(queries, rows, want):
        got, scores = index.candidates_many([q], exclude=[r])
        assert [(int(a), float(b)) for a, b in zip(got[0], scores[0]) if a >= 0] == w
    if join.available():
        monkeypatch.setattr(local_index, "USE_NUMBA", True)
        got, scores = index.candidates_many(queries, exclude=rows)
        for k, w in enumerate(want):
            assert [(int(a), float(b)) for a, b in zip(got[k], scores[k]) if a >= 0] == w


def test_stop_cap_is_unchanged_up_to_5000_pictures_and_fixed_above():
    for n in (10, 640, 2207, 5000):
        assert partial.stop_cap(n) == max(partial.COMMON * n, partial.STOP_MIN)
        assert partial.crowded_cap(n) == -1
    for n in (5001, 10**5, 10**7):
        assert partial.stop_cap(n) == partial.STOP_MAX
        assert partial.crowded_cap(n) == partial.crowded_cap(n, query=True) == -1  # off


def test_a_one_shot_query_does_not_load_numba_on_a_small_index(indexed):
    """The numpy path answers a query's lookup on a small index: a fresh process that
    queries never imports numba (0.5-0.8 s of CPU)."""
    import subprocess

    tmp_path, _lib, db = indexed
    code = ("import sys; from imgfind import Index\n"
            f"with Index.open({db!r}, readonly=True) as idx:\n"
            f"    found = idx.query({str(tmp_path / 'crop.jpg')!r}).matches\n"
            "print(len(found), 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["1", "False"]


def test_store_sizes_of_some_files(indexed):
    _tmp, _lib, db = indexed
    with Index.open(db, readonly=True) as idx:
        every = idx.store.sizes()
        some = sorted(every)[:2]
        assert idx.store.sizes(some) == {i: every[i] for i in some}
        assert idx.store.sizes([10**9]) == {}
        _index, lazy = idx.local_side()
        assert lazy.get(some[0]) == every[some[0]] and lazy.get(10**9) is None
        assert lazy  # truthy before anything was read


def test_numpy_that_would_read_too_much_hands_over_to_the_kernel(monkeypatch):
    """A one-shot query whose buckets hold too much for numpy (NUMPY_BOUND), or that reads
    more than NUMPY_ENTRIES, is answered by the kernel: the same candidates either way."""
    if not join.available():
        pytest.skip("numba not installed")
    feats = _library(5, 200, 24, 4)
    ids = np.array(sorted(feats), np.int64)
    index = DescriptorIndex.build(ids, [feats[int(i)].desc for i in ids],
                                  lambda want: {i: feats[i] for i in want})
    q = feats[int(ids[7])]
    monkeypatch.setattr(local_index, "USE_NUMBA", False)
    want = index.candidates(q, exclude=7)
    assert want
    monkeypatch.setattr(local_index, "USE_NUMBA", True)
    calls = []
    real = local_index._kernel

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(local_index, "_kernel", counting)
    for bound, entries, kernel in ((10**12, 10**12, False), (0, 10**12, True), (10**12, 5, True)):
        calls.clear()
        # as in a fresh process: the kernel not loaded yet
        monkeypatch.delitem(sys.modules, "imgfind.search._local_kernels", raising=False)
        monkeypatch.setattr(local_index, "NUMPY_BOUND", bound)
        monkeypatch.setattr(local_index, "NUMPY_ENTRIES", entries)
        assert index.candidates(q, exclude=7) == want
        assert bool(calls) == kernel


def test_near_bits_are_the_next_two_chunks_in_table_order():
    """The sidecar's ``near`` array holds, in each chunk's table order, the descriptor's next
    two 16-bit chunks: a descriptor within k bits of a query is within k on them (the numpy
    and compiled lookups skip the others without reading ``desc``)."""
    rng = np.random.default_rng(3)
    desc = rng.integers(0, 2**63, 500, dtype=np.int64).astype(np.uint64)
    index = DescriptorIndex.build(np.arange(5), [desc[i * 100:(i + 1) * 100].tobytes()
                                                 for i in range(5)], lambda want: {})
    assert index.near.shape == (4, 500) and index.near.dtype == np.uint32
    for c in range(4):
        order = index.tables[c, :500].astype(np.int64)
        v = desc[order]
        lo = (v >> np.uint64(16 * ((c + 1) % 4))) & np.uint64(0xFFFF)
        hi = (v >> np.uint64(16 * ((c + 2) % 4))) & np.uint64(0xFFFF)
        assert np.array_equal(index.near[c], (lo | (hi << np.uint64(16))).astype(np.uint32))
        q = v ^ np.uint64(0b1011)  # 3 bits away in chunk 0
        near = np.bitwise_count(local_index.near_bits(q, c) ^ index.near[c])
        assert np.all(near <= np.bitwise_count(q ^ v))


def test_far_bits_with_the_bucket_and_near_bits_are_the_whole_descriptor():
    """The sidecar's ``far`` array holds, in each chunk's table order, the descriptor's last
    16-bit chunk: with the bucket's key (its chunk) and ``near`` (the next two) that is every
    bit, so the compiled lookup knows each entry's distance without reading ``desc``."""
    rng = np.random.default_rng(4)
    desc = rng.integers(0, 2**63, 600, dtype=np.int64).astype(np.uint64)
    index = DescriptorIndex.build(np.arange(6), [desc[i * 100:(i + 1) * 100].tobytes()
                                                 for i in range(6)], lambda want: {})
    assert index.far.shape == (4, 600) and index.far.dtype == np.uint16
    for c in range(4):
        order = index.tables[c, :600].astype(np.int64)
        key = np.repeat(np.arange(65536, dtype=np.uint64),
                        np.diff(index.tables[c, 600:].astype(np.int64)))
        near, far = index.near[c].astype(np.uint64), index.far[c].astype(np.uint64)
        whole = ((key << np.uint64(16 * c)) | ((near & np.uint64(0xFFFF)) << np.uint64(16 * ((c + 1) % 4)))
                 | ((near >> np.uint64(16)) << np.uint64(16 * ((c + 2) % 4)))
                 | (far << np.uint64(16 * ((c + 3) % 4))))
        assert np.array_equal(whole, desc[order])
        assert np.array_equal(local_index.far_bits(desc[order], c), index.far[c])


@pytest.mark.skipif(not join.available(), reason="needs numba")
def test_the_kernel_finds_the_same_candidates_without_reading_descriptors():
    """Without stop words (whose pictures it checks again against ``desc``), the compiled
    lookup answers from the tables, ``near`` and ``far`` alone: the same candidates and
    scores with ``desc`` zeroed."""
    from imgfind.search._local_kernels import vote

    feats = _library(5, 120, 24, 4)
    ids = np.array(sorted(feats), np.int64)
    index = DescriptorIndex.build(ids, [feats[int(i)].desc for i in ids],
                                  lambda want: {i: feats[i] for i in want})
    n = len(index)
    rows = list(range(0, n, 3))
    queries = [np.asarray(index.desc[index.starts[r]:index.starts[r + 1]]) for r in rows]
    want, _ = index.candidates_many(queries, exclude=rows)
    assert (want >= 0).sum() >= len(rows)
    qstart = np.zeros(len(rows) + 1, np.int64)
    np.cumsum([len(x) for x in queries], out=qstart[1:])
    cap = n  # no stop words
    got = []
    for desc in (index.desc, np.zeros_like(index.desc)):
        out_rows = np.full((len(rows), partial.TOP_CANDIDATES), -1, np.int64)
        out_scores = np.zeros(out_rows.shape)
        vote(np.concatenate(queries), qstart, np.asarray(rows, np.int64), desc, index.starts,
             index.owner, index.tables, index.near, index.far, n, partial.CANDIDATE_BITS, cap,
             -1, partial.idf(n, np.arange(cap + 1)), partial.MIN_VOTES, 2, out_rows,
             out_scores, np.zeros((len(rows), 2), np.int64))
        got.append((out_rows, out_scores))
    assert np.array_equal(got[0][0], got[1][0]) and np.array_equal(got[0][1], got[1][1])
    assert (got[0][0] >= 0).sum() >= len(rows)
