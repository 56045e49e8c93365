"""printcodec: compact prints rows read back exactly, and schema-4 rows (every column) read alike."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from conftest import make_image
from PIL import Image, ImageOps

from imgfind import Index, Settings
from imgfind.errors import StoreError
from imgfind.layout import N_HASHES, N_ORIENT, N_PHASH
from imgfind.printcodec import (FULL_BYTES, SHORT_BYTES, TRIMMED_BYTES, pack_hashes, pack_trim,
                                unpack_hashes, unpack_trim)
from imgfind.store import SCHEMA_VERSION, Store


def _rows(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**63, (n, N_HASHES), dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _untrimmed(row: np.ndarray) -> np.ndarray:
    row = row.copy()
    row[N_ORIENT:2 * N_ORIENT] = row[:N_ORIENT]
    row[N_PHASH + N_ORIENT:N_PHASH + 2 * N_ORIENT] = row[N_PHASH:N_PHASH + N_ORIENT]
    return row


def test_each_layout_round_trips_and_is_told_by_its_length():
    rows = _rows(4)
    rows[1] = _untrimmed(rows[1])
    phash, dhash = rows[:, 0].copy(), rows[:, N_PHASH].copy()
    phash[2] ^= np.uint64(4)  # a prints row whose phash is not column 0: kept whole
    blobs = [pack_hashes(r, int(p), int(d)) for r, p, d in zip(rows, phash, dhash)]
    assert [len(b) for b in blobs] == [TRIMMED_BYTES, SHORT_BYTES, FULL_BYTES, TRIMMED_BYTES]
    assert SHORT_BYTES == FULL_BYTES - 8 * (2 + 2 * N_ORIENT)
    assert (unpack_hashes(blobs, phash, dhash) == rows).all()
    # rows written before schema 5: every column, whatever phash says
    assert (unpack_hashes([r.astype("<u8").tobytes() for r in rows], phash, dhash) == rows).all()
    assert unpack_hashes([], phash[:0], dhash[:0]).shape == (0, N_HASHES)


def test_a_row_of_another_length_is_a_value_error():
    with pytest.raises(ValueError, match="7 bytes"):
        unpack_hashes([b"x" * 7], np.zeros(1, np.uint64), np.zeros(1, np.uint64))


def test_the_whole_picture_box_is_stored_as_no_bytes():
    whole = np.array((0, 0, 1, 1), "<f4").tobytes()
    box = np.array((0.1, 0, 1, 0.9), "<f4").tobytes()
    assert pack_trim(whole) == b"" and unpack_trim(b"") == whole
    assert pack_trim(box) == box and unpack_trim(box) == box


def _library(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    make_image(lib / "plain.jpg", seed=1, quality=95)
    framed = ImageOps.expand(make_image(seed=2), border=40, fill=(255, 255, 255))
    framed.save(lib / "framed.png")
    make_image(seed=1).transpose(Image.Transpose.ROTATE_90).save(lib / "turned.png")
    db = tmp_path / "index.db"
    with Index.open(db, Settings(jobs=1)) as idx:
        idx.update([lib])
    return db, lib


def test_an_index_stores_short_rows_and_reads_the_fingerprints_exactly(tmp_path):
    from imgfind.analyse import analyse
    from imgfind.model import FileStat

    db, lib = _library(tmp_path)
    con = sqlite3.connect(db)
    lengths = dict(con.execute("SELECT f.path, length(p.hashes) || ',' || length(p.trim) FROM prints p"
                               " JOIN files f ON f.id = p.file_id"))
    con.close()
    by_name = {bytes(p).decode().rsplit("/", 1)[-1]: v for p, v in lengths.items()}
    assert by_name["plain.jpg"] == f"{SHORT_BYTES},0"
    assert by_name["framed.png"] == f"{TRIMMED_BYTES},16"  # a border: its trimmed view differs
    with Store(db, readonly=True) as store:
        prints = store.load_prints()
        stored = {bytes(f.path).decode().rsplit("/", 1)[-1]: f for f in store.stored_files()}
    assert len(prints) == 3
    for name, f in stored.items():
        path = lib / name
        st = path.stat()
        fp = analyse(FileStat(bytes(f.path), st.st_size, st.st_mtime_ns)).fingerprint
        assert np.frombuffer(f.hashes, "<u8").tolist() == fp.hashes.tolist()
        assert f.trim == np.array(fp.trim, "<f4").tobytes()
    assert sorted(map(tuple, prints.hashes.tolist())) == sorted(
        tuple(np.frombuffer(f.hashes, "<u8").tolist()) for f in stored.values())


def test_a_schema_4_index_of_full_rows_reads_alike_and_upgrades_idempotently(tmp_path, runner):
    from helpers import invoke_json

    db, lib = _library(tmp_path)
    groups = invoke_json(runner, str(db), "dedupe", "--format", "json")["groups"]
    assert len(groups) == 1  # plain.jpg and its turned copy
    with Store(db, readonly=True) as store:
        before = store.load_prints()
    con = sqlite3.connect(db)  # back to schema 4: every column, every box
    con.execute("DELETE FROM decisions")
    for i, h, t, ph, dh in con.execute("SELECT file_id, hashes, trim, phash, dhash FROM prints").fetchall():
        full = unpack_hashes([bytes(h)], np.array([ph & (2**64 - 1)], np.uint64),
                             np.array([dh & (2**64 - 1)], np.uint64))[0]
        con.execute("UPDATE prints SET hashes = ?, trim = ? WHERE file_id = ?",
                    (full.astype("<u8").tobytes(), unpack_trim(bytes(t)), i))
    assert {n for (n,) in con.execute("SELECT length(hashes) FROM prints")} == {FULL_BYTES}
    con.execute("DELETE FROM meta WHERE key = 'prints_compact_since'")
    con.execute("PRAGMA user_version = 4")
    con.commit()
    con.close()
    with Store(db, readonly=True) as store:  # read as it is
        assert store.version == 4
        after = store.load_prints()
    assert (after.hashes == before.hashes).all() and (after.trims == before.trims).all()
    for _ in range(2):  # the migration is idempotent
        with Store(db) as store:
            assert store.version == SCHEMA_VERSION >= 5
            assert "prints_compact_since" in store.meta()
    assert invoke_json(runner, str(db), "dedupe", "--format", "json")["groups"] == groups


def test_a_newer_index_is_refused_by_an_older_schema(tmp_path):
    db, _ = _library(tmp_path)
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer"):
        Store(db, readonly=True).close()


def test_a_damaged_prints_row_is_a_store_error(tmp_path):
    db, _ = _library(tmp_path)
    con = sqlite3.connect(db)
    con.execute("UPDATE prints SET hashes = ? WHERE file_id = 1", (b"\x00" * 9,))
    con.commit()
    con.close()
    with Store(db, readonly=True) as store, pytest.raises(StoreError, match="damaged"):
        store.load_prints()
