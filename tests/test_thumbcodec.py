"""thumbcodec: packed thumbnails are exact, smaller, and indexes of both layouts read alike."""

from __future__ import annotations

import sqlite3
import zlib

import numpy as np
import pytest
from conftest import make_image

from imgfind import Index, Settings
from imgfind.errors import StoreError
from imgfind.fingerprint import stored_thumb
from imgfind.recipe import COLOUR_SIZE, THUMB_SIZE
from imgfind.store import PAGE_SIZE, SCHEMA_VERSION, Store
from imgfind.thumbcodec import is_packed, pack, unpack, unpack_many


def _thumbs_of(tmp_path, count=6):
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(count):
        make_image(lib / f"p{i}.jpg", seed=i)
    db = tmp_path / "index.db"
    with Index.open(db, Settings(jobs=1)) as idx:
        idx.update([lib])
    return db, lib


@pytest.mark.parametrize("colour", [False, True])
def test_pack_is_exact_and_smaller_on_photo_thumbnails(colour):
    from imgfind.analyse import analyse  # noqa: F401 - real pipeline below
    from imgfind.fingerprint import compute

    rng = np.random.default_rng(3)
    for seed in range(5):
        im = np.asarray(make_image(seed=seed).convert("L"))
        chroma = rng.integers(90, 160, (2, COLOUR_SIZE, COLOUR_SIZE), dtype=np.uint8) if colour else None
        raw = stored_thumb(compute(im, chroma))
        assert len(raw) == THUMB_SIZE * THUMB_SIZE + (2 * COLOUR_SIZE ** 2 if colour else 0)
        packed = pack(raw)
        assert is_packed(packed) and len(packed) < 0.8 * len(raw)
        assert unpack(packed) == raw


def test_incompressible_thumbnails_stay_raw_and_raw_blobs_pass_through():
    raw = np.random.default_rng(0).integers(0, 256, THUMB_SIZE * THUMB_SIZE, dtype=np.uint8).tobytes()
    assert pack(raw) == raw and not is_packed(raw)
    assert unpack(raw) == raw
    with pytest.raises(ValueError):
        pack(b"\x01abc")


def test_a_damaged_packed_thumbnail_is_a_value_error():
    good = pack(bytes(THUMB_SIZE * THUMB_SIZE))
    with pytest.raises(ValueError, match="damaged"):
        unpack(good[:-3] + b"\xff\xff\xff")
    with pytest.raises(ValueError, match="format"):
        unpack(b"\x07" + good[1:])


def test_new_index_packs_thumbnails_on_large_pages(tmp_path):
    db, _ = _thumbs_of(tmp_path)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    blobs = [bytes(b) for (b,) in con.execute("SELECT thumb FROM thumbs")]
    con.close()
    assert len(blobs) == 6 and all(is_packed(b) for b in blobs)
    with Store(db, readonly=True) as store:
        thumbs = store.thumbs(range(1, 7))
        assert {t.shape for t in thumbs.values()} <= {(THUMB_SIZE + 2 * COLOUR_SIZE ** 2 // THUMB_SIZE, THUMB_SIZE),
                                                      (THUMB_SIZE, THUMB_SIZE)}
        assert [unpack(b) for b in blobs] == [thumbs[i].tobytes() for i in sorted(thumbs)]


def test_an_index_with_raw_thumbnails_of_schema_3_gives_the_same_answers_and_upgrades(tmp_path, runner):
    from helpers import invoke_json

    db, lib = _thumbs_of(tmp_path)
    before = invoke_json(runner, str(db), "query", str(lib / "p0.jpg"), "--format", "json")
    groups_before = invoke_json(runner, str(db), "dedupe", "--format", "json")
    con = sqlite3.connect(db)  # back to schema 3: every thumbnail raw
    rows = con.execute("SELECT file_id, thumb FROM thumbs").fetchall()
    con.executemany("UPDATE thumbs SET thumb = ? WHERE file_id = ?",
                    [(unpack(bytes(b)), i) for i, b in rows])
    con.execute("DELETE FROM meta WHERE key = 'thumbs_packed_since'")
    con.execute("PRAGMA user_version = 3")
    con.commit()
    con.close()
    with Store(db, readonly=True) as store:  # read as it is
        assert store.version == 3
        assert all(t.shape[1] == THUMB_SIZE for t in store.thumbs([i for i, _ in rows]).values())
    after = invoke_json(runner, str(db), "query", str(lib / "p0.jpg"), "--format", "json")
    assert after["matches"] == before["matches"]
    for _ in range(2):  # the migration is idempotent
        with Store(db) as store:
            assert store.version == SCHEMA_VERSION
            assert "thumbs_packed_since" in store.meta()
    assert invoke_json(runner, str(db), "dedupe", "--format", "json")["groups"] == groups_before["groups"]


def test_a_damaged_thumbnail_row_is_a_store_error(tmp_path):
    db, _ = _thumbs_of(tmp_path, 2)
    con = sqlite3.connect(db)
    con.execute("UPDATE thumbs SET thumb = ? WHERE file_id = 1", (b"\x01garbage",))
    con.commit()
    con.close()
    with Store(db, readonly=True) as store, pytest.raises(StoreError, match="damaged"):
        store.thumbs([1])


def test_unpack_many_equals_unpack_for_mixed_layouts_and_sizes():
    rng = np.random.default_rng(5)
    raws = [np.asarray(make_image(seed=s).convert("L").resize((THUMB_SIZE, THUMB_SIZE))).tobytes()
            + (rng.integers(100, 140, 2 * COLOUR_SIZE ** 2, dtype=np.uint8).tobytes() if s % 2 else b"")
            for s in range(6)]
    raws.append(rng.integers(0, 256, THUMB_SIZE * THUMB_SIZE, dtype=np.uint8).tobytes())  # stays raw
    blobs = [pack(r) for r in raws]
    assert sum(is_packed(b) for b in blobs) == 6
    assert unpack_many(blobs) == raws == [unpack(b) for b in blobs]
    with pytest.raises(ValueError, match="damaged"):
        unpack_many([blobs[0], blobs[1][:-4] + b"\xff\xff\xff\xff"])


def _by_hand(fmt: bytes, planes: list[np.ndarray], tail: bytes = b"", strategy=zlib.Z_FILTERED) -> bytes:
    """A packed blob made the plain way: each plane differenced from *fmt*'s predictor (int
    arithmetic, mod 256), then raw DEFLATE, as the format is documented."""
    from imgfind.thumbcodec import COLUMNS, ROWS

    out = []
    for x in planes:
        x = x.astype(np.int64)
        d = x.copy()
        if fmt == ROWS:
            d[:, 1:] = x[:, 1:] - x[:, :-1]
            d[1:, 0] = x[1:, 0] - x[:-1, 0]
        elif fmt == COLUMNS:
            d[1:, :] = x[1:, :] - x[:-1, :]
            d[0, 1:] = x[0, 1:] - x[0, :-1]
        else:
            p = np.pad(x, ((1, 0), (1, 0)))
            d = p[1:, 1:] - p[:-1, 1:] - p[1:, :-1] + p[:-1, :-1]
        out.append((d % 256).astype(np.uint8).tobytes())
    z = zlib.compressobj(9, zlib.DEFLATED, -15, 9, strategy)
    return z.compress(b"".join(out) + tail) + z.flush()


def _grey_and_colour(seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    grey = np.asarray(make_image(seed=seed).convert("L").resize((THUMB_SIZE, THUMB_SIZE)))
    colour = [rng.integers(100, 140, (COLOUR_SIZE, COLOUR_SIZE), dtype=np.uint8) for _ in range(2)]
    return grey, colour


@pytest.mark.parametrize("fmt", [b"\x01", b"\x03", b"\x04"])
def test_each_predictor_format_reads_back_exactly(fmt):
    """Formats 1 (planar; every index packed before session 9), 3 (left) and 4 (up), made by
    hand from their documented definition, with and without colour, with any strategy."""
    from imgfind.thumbcodec import COLUMNS, PACKED, ROWS

    assert (PACKED, ROWS, COLUMNS) == (b"\x01", b"\x03", b"\x04")
    rng = np.random.default_rng(9)
    for seed in range(3):
        grey, colour = _grey_and_colour(seed)
        noisy = rng.integers(0, 256, (THUMB_SIZE, THUMB_SIZE), dtype=np.uint8)
        for planes in ([grey], [grey] + colour, [noisy] + colour):
            raw = b"".join(p.tobytes() for p in planes)
            for strategy in (zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY, zlib.Z_DEFAULT_STRATEGY):
                blob = fmt + _by_hand(fmt, planes, strategy=strategy)
                assert unpack(blob) == raw and unpack_many([blob, blob])[1] == raw


def test_pack_keeps_the_shortest_predictor_and_a_textured_picture_packs_better_than_planar():
    from imgfind.fingerprint import quantize_thumb

    rng = np.random.default_rng(2)
    # Grass blades: each column a slow walk from its own level, the columns unrelated: the
    # upper neighbour predicts a pixel, the planar predictor adds the next column's jumps.
    walk = rng.integers(60, 190, THUMB_SIZE) + np.cumsum(rng.normal(0, 2, (THUMB_SIZE, THUMB_SIZE)), axis=0)
    streaks = quantize_thumb(np.clip(walk, 0, 255).astype(np.uint8), 6)
    for grey, colour in [_grey_and_colour(s) for s in range(3)] + [(streaks, [])]:
        raw = grey.tobytes() + b"".join(c.tobytes() for c in colour)
        packed = pack(raw)
        planar = b"\x01" + _by_hand(b"\x01", [grey] + colour)  # main's format 1 before session 9
        assert len(packed) <= len(planar) and unpack(packed) == raw
    assert packed[:1] == b"\x04" and len(packed) < 0.8 * len(planar)


def test_quantized_thumbnails_of_format_2_still_read_exactly():
    """Format 2 (session 7's recipe 9: a step byte, then the grey codes) is no longer written;
    a blob of it, made by hand, reads back as the levels q * step + step // 2."""
    from imgfind.thumbcodec import QUANTIZED

    for step in (3, 6):
        grey, colour = _grey_and_colour(step)
        codes = grey // step
        levels = np.minimum(codes.astype(int) * step + step // 2, 255).astype(np.uint8)
        tail = b"".join(c.tobytes() for c in colour)
        blob = QUANTIZED + bytes([step]) + _by_hand(b"\x01", [codes] + colour)
        assert unpack(blob) == levels.tobytes() + tail
        assert unpack_many([blob, pack(levels.tobytes())]) == [levels.tobytes() + tail, levels.tobytes()]
        with pytest.raises(ValueError, match="format"):
            unpack(QUANTIZED + b"\x00" + blob[2:])


def test_a_schema_5_index_reads_as_it_is_and_an_older_imgfind_refuses_schema_6(tmp_path, runner,
                                                                              monkeypatch):
    """Schema 6 (session 9) may hold thumbnails of formats 3 and 4: a schema-5 index (format-1
    rows, as main wrote them) is read as it is and upgraded in place; an imgfind that reads up
    to schema 5 refuses a schema-6 index as newer instead of calling its thumbnails damaged."""
    from helpers import invoke_json

    from imgfind import store as store_module

    db, lib = _thumbs_of(tmp_path)
    before = invoke_json(runner, str(db), "query", str(lib / "p0.jpg"), "--format", "json")
    con = sqlite3.connect(db)  # back to schema 5: every row in format 1, as main packed it
    rows = con.execute("SELECT file_id, thumb FROM thumbs").fetchall()
    for i, b in rows:
        raw = np.frombuffer(unpack(bytes(b)), np.uint8)
        planes = [raw[:THUMB_SIZE ** 2].reshape(THUMB_SIZE, THUMB_SIZE)]
        if raw.size > THUMB_SIZE ** 2:
            planes += [p.reshape(COLOUR_SIZE, COLOUR_SIZE) for p in np.split(raw[THUMB_SIZE ** 2:], 2)]
        con.execute("UPDATE thumbs SET thumb = ? WHERE file_id = ?",
                    (b"\x01" + _by_hand(b"\x01", planes), i))
    con.execute("DELETE FROM meta WHERE key = 'thumb_predictors_since'")
    con.execute("PRAGMA user_version = 5")
    con.commit()
    con.close()
    with Store(db, readonly=True) as store:
        assert store.version == 5
        assert [unpack(bytes(b)) for _, b in rows] == [store.thumbs([i])[i].tobytes() for i, _ in rows]
    assert invoke_json(runner, str(db), "query", str(lib / "p0.jpg"), "--format", "json")["matches"] == before["matches"]
    for _ in range(2):  # the migration is idempotent
        with Store(db) as store:
            assert store.version == SCHEMA_VERSION >= 6
            assert "thumb_predictors_since" in store.meta()
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 5)
    with pytest.raises(StoreError, match="newer"):
        Store(db, readonly=True).close()
