"""thumbcodec: packed thumbnails are exact, smaller, and indexes of both layouts read alike."""

from __future__ import annotations

import sqlite3

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


def test_quantized_thumbnails_pack_as_their_codes_exactly_and_smaller(monkeypatch):
    from imgfind import thumbcodec
    from imgfind.fingerprint import quantize_thumb
    from imgfind.recipe import THUMB_STEP
    from imgfind.thumbcodec import PACKED, QUANTIZED

    assert THUMB_STEP == 1  # every level kept (a step of 6 cost smooth-pool accuracy)
    step = 6
    monkeypatch.setattr(thumbcodec, "THUMB_STEP", step)  # format 2, as a recipe with steps packs
    for seed in range(4):
        grey = np.asarray(make_image(seed=seed).convert("L").resize((THUMB_SIZE, THUMB_SIZE)))
        q = quantize_thumb(grey, step)
        err = grey.astype(int) - q.astype(int)
        assert err.min() >= -(step // 2) and err.max() <= step - 1 - step // 2
        assert (quantize_thumb(q, step) == q).all()  # idempotent
        exact, coded = pack(grey.tobytes()), pack(q.tobytes())
        assert exact[:1] == PACKED and coded[:2] == QUANTIZED + bytes([step])
        assert len(coded) < 0.8 * len(exact)
        assert unpack(coded) == q.tobytes() and unpack(exact) == grey.tobytes()
        assert unpack_many([coded, exact]) == [q.tobytes(), grey.tobytes()]
    monkeypatch.setattr(thumbcodec, "THUMB_STEP", 1)  # read back whatever the step is now
    assert unpack(coded) == q.tobytes() and unpack_many([coded])[0] == q.tobytes()
    assert pack(q.tobytes())[:1] == PACKED  # step 1: format 1, as main stores it
    with pytest.raises(ValueError, match="format"):
        unpack(QUANTIZED + b"\x00" + coded[2:])
    assert (quantize_thumb(grey) == grey).all()  # THUMB_STEP 1: every level kept
