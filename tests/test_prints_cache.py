"""prints_cache: the sidecar is a memory-mapped .npy with a tag, used only by its own index."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from imgfind import prints_cache as pc
from imgfind.layout import N_HASHES


def prints(n: int = 50, seed: int = 0) -> pc.Prints:
    rng = np.random.default_rng(seed)
    return pc.Prints(ids=np.arange(1, n + 1, dtype=np.int64) * 3,
                     hashes=rng.integers(0, 2**64 - 1, (n, N_HASHES), dtype=np.uint64),
                     trims=rng.random((n, 4), dtype=np.float32),
                     flat=rng.random(n) < 0.2,
                     phash=rng.integers(0, 2**64 - 1, n, dtype=np.uint64),
                     dhash=rng.integers(0, 2**64 - 1, n, dtype=np.uint64))


OWNER = pc.Owner("id-a", "token-1", 3, 2)


def same(a: pc.Prints, b: pc.Prints) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in pc.Prints.__slots__)


def test_round_trip_memory_maps_the_hashes(tmp_path):
    db = str(tmp_path / "i.db")
    p = prints()
    pc.save(db, p, OWNER)
    got = pc.load(db, OWNER)
    assert got is not None and same(got, p)
    assert isinstance(got.hashes.base, np.memmap) or isinstance(got.hashes, np.memmap)
    # a range of hash columns is a view of the file, not a copy
    assert np.shares_memory(got.hashes.T[2:5], got.hashes)
    assert got.trims.dtype == np.float32 and got.flat.dtype == bool and got.ids.dtype == np.int64
    assert np.load(pc.paths(db)[0], mmap_mode="r").shape == (pc.N_ROWS, 50)


def test_empty_index(tmp_path):
    db = str(tmp_path / "i.db")
    pc.save(db, prints(0), OWNER)
    got = pc.load(db, OWNER)
    assert got is not None and len(got) == 0


def test_any_other_owner_is_ignored(tmp_path):
    db = str(tmp_path / "i.db")
    pc.save(db, prints(), OWNER)
    for other in (pc.Owner("id-b", "token-1", 3, 2), pc.Owner("id-a", "token-2", 3, 2),
                  pc.Owner("id-a", "token-1", 4, 2), pc.Owner("id-a", "token-1", 3, 3)):
        assert pc.load(db, other) is None, other


def test_arrays_that_do_not_match_the_tag_are_ignored(tmp_path):
    db = str(tmp_path / "i.db")
    pc.save(db, prints(seed=1), OWNER)
    arrays, tag = pc.paths(db)
    kept_tag = open(tag).read()
    pc.save(db, prints(seed=2), OWNER)  # another writer's arrays, the first writer's tag
    open(tag, "w").write(kept_tag)
    assert pc.load(db, OWNER) is None
    pc.save(db, prints(seed=2), OWNER)
    data = bytearray(open(arrays, "rb").read())
    data[-5] ^= 0xFF  # a flipped byte in the trims
    open(arrays, "wb").write(bytes(data))
    assert pc.load(db, OWNER) is None
    open(arrays, "wb").write(bytes(data[:len(data) // 2]))  # truncated
    assert pc.load(db, OWNER) is None
    open(arrays, "wb").close()  # emptied: numpy raises EOFError, not ValueError
    assert pc.load(db, OWNER) is None
    open(tag, "w").write("{not json")
    assert pc.load(db, OWNER) is None
    os.unlink(tag)
    assert pc.load(db, OWNER) is None


def test_tag_names_identity_token_generation_rows_checksum(tmp_path):
    db = str(tmp_path / "i.db")
    pc.save(db, prints(7), OWNER)
    tag = json.load(open(pc.paths(db)[1]))
    assert {k: tag[k] for k in ("identity", "write_token", "generation", "recipe", "rows")} == {
        "identity": "id-a", "write_token": "token-1", "generation": 3, "recipe": 2, "rows": 7}
    assert isinstance(tag["checksum"], int)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_dead_writers_are_removed(tmp_path):
    db = str(tmp_path / "i.db")
    dead = tmp_path / f"i.db-prints.npy.{_dead_pid()}.tmp"
    old_zip = tmp_path / f"i.db-prints.npz.{_dead_pid()}.tmp"
    mine = tmp_path / f"i.db-prints.npy.{os.getpid()}.tmp.keep"  # not a temporary name
    live = tmp_path / f"i.db-prints.json.{os.getppid()}.tmp"  # a running writer
    other = tmp_path / f"other.db-prints.npy.{_dead_pid()}.tmp"  # another index's
    for p in (dead, old_zip, mine, live, other):
        p.write_bytes(b"x")
    assert sorted(pc.remove_stale(db)) == sorted([dead.name, old_zip.name])
    assert live.exists() and mine.exists() and other.exists()
    hour_ago = os.stat(live).st_mtime - 2 * pc.STALE_SECONDS
    os.utime(live, (hour_ago, hour_ago))  # a pid reused long after its writer died
    assert pc.remove_stale(db) == [live.name]


def test_save_on_a_read_only_folder_is_quiet(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    db = str(ro / "i.db")
    os.chmod(ro, 0o500)
    try:
        pc.save(db, prints(), OWNER)  # no exception; as root the write may even succeed
    finally:
        os.chmod(ro, 0o700)
    assert not [n for n in os.listdir(ro) if n.endswith(".tmp")]


def test_the_zip_sidecar_of_schema_1_is_removed(tmp_path):
    db = str(tmp_path / "i.db")
    (tmp_path / "i.db-prints.npz").write_bytes(b"PK old")
    pc.save(db, prints(), OWNER)
    assert not (tmp_path / "i.db-prints.npz").exists()


def test_an_emptied_search_table_is_ignored(tmp_path):
    db = str(tmp_path / "i.db")
    open(pc.table_path(db, OWNER, 0), "wb").close()  # a 0-byte .npy (a full disk, a crash)
    assert pc.load_table(db, OWNER, 0, 50) is None
