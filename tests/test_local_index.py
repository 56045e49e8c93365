"""The descriptor index sidecar (local_index.py): its candidates are partial.LocalIndex's (the
compiled kernel and the numpy path, stop words included), and a stale, foreign or damaged
sidecar is never used: it is detected and rebuilt. Real SQLite indexes of Pillow pictures."""

from __future__ import annotations

import json
import os
import shutil

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


@pytest.mark.parametrize("damage", ["descriptors", "tables", "truncated", "emptied", "tag",
                                    "foreign"])
def test_damaged_or_foreign_sidecar_is_detected_and_rebuilt(indexed, monkeypatch, tmp_path,
                                                            damage):
    tmp, lib, db = indexed
    assert _query(db, tmp / "crop.jpg") == ["p0.jpg"]
    files = local_index.paths(db)
    if damage in ("descriptors", "tables"):
        name = files["desc" if damage == "descriptors" else "tables"]
        arr = np.load(name)
        flat = arr.reshape(-1)
        flat[::max(1, len(flat) // 50)] ^= 0x5A5A  # the checksum samples see this
        np.save(name, arr)
    elif damage == "truncated":
        with open(files["desc"], "r+b") as f:
            f.truncate(os.path.getsize(files["desc"]) // 2)
    elif damage == "emptied":  # a 0-byte .npy: numpy raises EOFError, not ValueError
        for key in ("ids", "desc", "tables"):
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
