"""keypointcodec: packed keypoints come back bit for bit, are smaller, and indexes of both
layouts (raw rows of schema 6, packed rows of schema 7) read alike."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from conftest import make_image
from helpers import invoke_json
from hypothesis import given, settings
from hypothesis import strategies as st

from imgfind import Index, Settings, keypoints, recipe
from imgfind.errors import StoreError
from imgfind.keypointcodec import (ESCAPE, GRID_LEVELS, GRID_SCALE, PACKED, REFERENCE, pack,
                                   unpack, unpack_descriptors)
from imgfind.store import SCHEMA_VERSION, Store

needs_cv2 = pytest.mark.skipif(not keypoints.available(), reason="OpenCV is not installed")


def _roundtrip(width: int, height: int, xy: bytes, desc: bytes) -> bytes:
    blob = pack(width, height, xy, desc)
    assert blob[0] == PACKED
    assert unpack(width, height, blob) == (xy, desc)
    assert unpack_descriptors(blob) == desc
    return blob


def _grid_points(rng: np.random.Generator, n: int, width: int, height: int) -> np.ndarray:
    """n positions as ORB reports them: integer pixels of a pyramid level, scaled up by
    float32(GRID_SCALE ** level), stored as keypoints.extract stores them."""
    level = np.sort(rng.integers(0, GRID_LEVELS, n))  # ORB lists its points level by level
    scale = np.array([np.float32(GRID_SCALE ** lv) for lv in level], np.float32)
    i = np.floor(rng.random(n) * np.floor(width / scale)).astype(np.float32)
    j = np.floor(rng.random(n) * np.floor(height / scale)).astype(np.float32)
    x, y = (i * scale).astype(np.float64), (j * scale).astype(np.float64)
    q = np.empty((n, 2), "<u2")
    q[:, 0] = np.clip(np.rint(x / width * 65535), 0, 65535)
    q[:, 1] = np.clip(np.rint(y / height * 65535), 0, 65535)
    return q


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 600), width=st.integers(1, 5000), height=st.integers(1, 5000),
       seed=st.integers(0, 2**32 - 1), skew=st.floats(0.0, 1.0), on_grid=st.floats(0.0, 1.0))
def test_any_points_come_back_bit_for_bit(n, width, height, seed, skew, on_grid):
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 65536, (n, 2)).astype("<u2")  # anywhere: escaped points
    grid = rng.random(n) < on_grid
    q[grid] = _grid_points(rng, int(grid.sum()), width, height)
    bits = rng.random((n, 64)) < np.where(rng.random(64) < 0.5, skew, 1 - skew)
    desc = np.packbits(bits, axis=1, bitorder="little").tobytes()
    _roundtrip(width, height, q.tobytes(), desc)


@pytest.mark.parametrize("n", [16, 253, 256, 512])
def test_grid_points_and_skewed_descriptors_pack_small(n):
    rng = np.random.default_rng(n)
    q = _grid_points(rng, n, 384, 256)
    bits = rng.random((n, 64)) < rng.choice([0.05, 0.2, 0.5, 0.8, 0.95], 64)
    desc = np.packbits(bits, axis=1, bitorder="little").tobytes()
    blob = _roundtrip(384, 256, q.tobytes(), desc)
    # positions: at most 9 + 9 bits a point instead of 32; descriptors below 64 bits (at 16
    # points the header and DEFLATE's code tables take the saving: the store keeps such a
    # row raw, _keypoints_row)
    if n > 100:
        assert len(blob) < 0.8 * 12 * n


def test_edge_cases_come_back_bit_for_bit():
    rng = np.random.default_rng(0)
    for n in (1, 16, 512):
        desc = rng.integers(0, 2**63, n, dtype=np.uint64).astype("<u8").tobytes()
        same = np.tile(np.array([[123, 45678]], "<u2"), (n, 1))  # every point at one position
        corners = np.array([[0, 0], [65535, 65535], [0, 65535], [65535, 0]] * n, "<u2")[:n]
        for q in (same, corners, np.zeros((n, 2), "<u2")):
            for d in (desc, bytes(8 * n), b"\xff" * 8 * n):
                _roundtrip(384, 384, q.tobytes(), d)
                _roundtrip(1, 1, q.tobytes(), d)  # a one-pixel side: the grid barely fits


def test_points_off_the_grid_are_escaped():
    q = np.array([[31683, 34851], [100, 200]], "<u2")  # 92.82 px of 192: on no level's grid
    blob = _roundtrip(192, 384, q.tobytes(), bytes(16))
    levels = unpack(192, 384, blob)  # exact whatever the levels; one escape costs 32 bits
    assert levels[0] == q.tobytes() and ESCAPE == GRID_LEVELS


def test_bad_fields_and_damaged_blobs_are_value_errors():
    with pytest.raises(ValueError, match="not local features"):
        pack(384, 384, b"\x00" * 4, b"\x00" * 16)
    with pytest.raises(ValueError, match="not local features"):
        pack(384, 384, b"", b"")
    good = pack(384, 384, bytes(64), bytes(128))
    with pytest.raises(ValueError, match="format"):
        unpack(384, 384, b"\x07" + good[1:])
    with pytest.raises(ValueError, match="damaged"):
        unpack(384, 384, good[:12] + b"\xff" * 10)
    with pytest.raises(ValueError, match="damaged"):
        unpack(384, 384, good + b"\x00\x00")  # positions of another length
    with pytest.raises(ValueError, match="damaged"):
        unpack_descriptors(good[:1] + (17).to_bytes(2, "little") + good[3:])  # another n


def test_every_referenced_plane_is_stored_as_it_is():
    """One XOR undoes REFERENCE only if no referenced plane is itself XORed."""
    assert len(REFERENCE) == 64 and all(-1 <= k < 64 and k != j for j, k in enumerate(REFERENCE))
    assert all(REFERENCE[k] == -1 for k in REFERENCE if k >= 0)


def test_correlated_bits_pack_smaller_than_their_planes_alone():
    """A bit that copies (or inverts) the bit it references costs almost nothing."""
    rng = np.random.default_rng(5)
    n = 256
    bits = rng.random((n, 64)) < 0.5
    for j, k in enumerate(REFERENCE):
        if k >= 0:
            bits[:, j] = bits[:, k] ^ (j % 2 == 0)
    desc = np.packbits(bits, axis=1, bitorder="little").tobytes()
    q = _grid_points(rng, n, 384, 384).tobytes()
    blob = _roundtrip(384, 384, q, desc)
    roots = sum(k < 0 for k in REFERENCE)
    assert len(blob) < 600 + roots * n / 8 * 1.1  # the XORed planes deflate to nothing


def test_the_grid_is_the_recipe_pyramid():
    """Format 1's grid is fixed in the codec (a blob decodes the same whatever the recipe
    becomes); a new pyramid still packs exactly, but larger: give it a format of its own."""
    assert (GRID_SCALE, GRID_LEVELS) == (recipe.ORB_SCALE, recipe.ORB_LEVELS)


@needs_cv2
@pytest.mark.parametrize("size", [(384, 288), (288, 384), (384, 100)])
def test_orb_features_pack_exact_and_a_third_smaller(size):
    for seed in range(3):
        grey = np.asarray(make_image(seed=seed, size=size).convert("L"))
        local = keypoints.extract(grey)
        assert local is not None and local.n >= keypoints.MIN_KEYPOINTS
        blob = _roundtrip(local.width, local.height, local.xy, local.desc)
        assert len(blob) < 0.75 * (len(local.xy) + len(local.desc))


def _library(tmp_path, count=5):
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(count):
        make_image(lib / f"p{i}.jpg", seed=i, size=(400, 300))
    make_image(seed=0, size=(400, 300)).crop((60, 40, 300, 220)).save(lib / "crop.jpg", quality=92)
    db = tmp_path / "index.db"
    with Index.open(db, Settings(jobs=1)) as idx:
        idx.update([lib])
    return db, lib


@needs_cv2
def test_an_index_packs_keypoints_and_reads_them_as_extracted(tmp_path):
    db, _ = _library(tmp_path)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT length(xy), length(descs), descs FROM keypoints").fetchall()
    con.close()
    assert rows and all(x == 0 and bytes(b)[0] == PACKED for x, _, b in rows)
    with Store(db, readonly=True) as store:
        feats = store.local_features()
        index = store.descriptor_index()
    assert len(feats) == len(rows)
    for f in feats.values():
        assert len(f.xy) == 4 * f.n and len(f.desc) == 8 * f.n
    assert np.array_equal(index.desc, np.concatenate(
        [np.frombuffer(feats[i].desc, "<u8") for i in sorted(feats)]).astype(index.desc.dtype))


@needs_cv2
def test_an_index_of_schema_6_reads_alike_and_upgrades(tmp_path, runner, monkeypatch):
    db, lib = _library(tmp_path)
    with Store(db, readonly=True) as store:
        before = store.local_features()
        stored = list(store.stored_files())
    query = invoke_json(runner, str(db), "query", str(lib / "crop.jpg"), "--format", "json")
    con = sqlite3.connect(db)  # back to schema 6: every keypoints row raw, as main wrote it
    con.execute("DELETE FROM decisions")
    for i, f in before.items():
        con.execute("UPDATE keypoints SET xy = ?, descs = ? WHERE file_id = ?", (f.xy, f.desc, i))
    con.execute("DELETE FROM meta WHERE key = 'keypoints_packed_since'")
    con.execute("PRAGMA user_version = 6")
    con.commit()
    con.close()
    with Store(db, readonly=True) as store:  # read as it is
        assert store.version == 6
        assert store.local_features() == before
        assert list(store.stored_files()) == stored
    for _ in range(2):  # the migration is idempotent and leaves the raw rows as they are
        with Store(db) as store:
            assert store.version == SCHEMA_VERSION >= 7
            assert "keypoints_packed_since" in store.meta()
            assert store.local_features() == before
    con = sqlite3.connect(db)
    assert all(x > 0 for (x,) in con.execute("SELECT length(xy) FROM keypoints"))
    con.close()
    assert invoke_json(runner, str(db), "query", str(lib / "crop.jpg"), "--format", "json")["matches"] \
        == query["matches"]
    from imgfind import store as store_module

    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 6)
    with pytest.raises(StoreError, match="newer"):  # an older imgfind refuses schema 7
        Store(db, readonly=True).close()


@needs_cv2
def test_a_damaged_packed_keypoints_row_is_a_store_error(tmp_path):
    db, _ = _library(tmp_path, count=2)
    con = sqlite3.connect(db)
    con.execute("UPDATE keypoints SET descs = substr(descs, 1, 20)")
    con.commit()
    con.close()
    with Store(db, readonly=True) as store, pytest.raises(StoreError, match="damaged"):
        store.local_features()
    with Store(db, readonly=True) as store, pytest.raises(StoreError, match="damaged"):
        store.descriptor_index()


def test_the_store_keeps_a_row_raw_when_packing_does_not_shorten_it():
    from imgfind.model import LocalFeatures
    from imgfind.store import _keypoints_row

    rng = np.random.default_rng(1)
    xy = rng.integers(0, 65536, (16, 2)).astype("<u2").tobytes()  # off the grid: escaped
    desc = rng.integers(0, 2**63, 16, dtype=np.uint64).astype("<u8").tobytes()
    assert len(pack(384, 384, xy, desc)) >= len(xy) + len(desc)
    assert _keypoints_row(LocalFeatures(384, 384, xy, desc)) == (xy, desc)
    grid = _grid_points(rng, 256, 384, 384).tobytes()
    skewed = np.packbits(rng.random((256, 64)) < 0.1, axis=1, bitorder="little").tobytes()
    stored_xy, blob = _keypoints_row(LocalFeatures(384, 384, grid, skewed))
    assert stored_xy == b"" and unpack(384, 384, blob) == (grid, skewed)


def test_many_rows_unpack_as_each_alone_across_chunks():
    from imgfind.keypointcodec import _CHUNK, unpack_descriptors_many, unpack_many

    rng = np.random.default_rng(2)
    rows, fields = [], []
    for k in range(_CHUNK + 7):  # two chunks, sizes and point counts of every kind mixed
        n, w, h = int(rng.integers(1, 300)), int(rng.integers(1, 600)), int(rng.integers(1, 600))
        q = _grid_points(rng, n, w, h)
        q[rng.random(n) < 0.05] = rng.integers(0, 65536, 2)
        d = rng.integers(0, 2**63, n, dtype=np.uint64).astype("<u8").tobytes()
        rows.append((w, h, pack(w, h, q.tobytes(), d)))
        fields.append((q.tobytes(), d))
    assert unpack_many(rows) == fields
    assert unpack_descriptors_many([b for _, _, b in rows]) == [d for _, d in fields]
    assert unpack_many([]) == [] and unpack_descriptors_many([]) == []
