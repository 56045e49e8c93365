"""The store's public surface, minimal: save, read back, change detection, delete, read-only.

(tests/test_store.py is the pipeline work's; this file keeps to the basics so the two never
clash.) Fingerprints come from real Pillow pictures through the public analyse().
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import make_image

from imgfind.analyse import analyse
from imgfind.errors import StoreError
from imgfind.indexer import is_current
from imgfind.model import FileStat
from imgfind.store import Store


def stat_of(path) -> FileStat:
    st = os.stat(path)
    return FileStat(os.fsencode(os.path.abspath(path)), st.st_size, st.st_mtime_ns)


@pytest.fixture
def saved(tmp_path):
    """An index holding two pictures and one unreadable file; returns (db, paths)."""
    paths = [tmp_path / "a.jpg", tmp_path / "b.png", tmp_path / "bad.jpg"]
    make_image(paths[0], seed=1)
    make_image(paths[1], seed=2)
    paths[2].write_bytes(b"not a picture")
    db = str(tmp_path / "i.db")
    with Store(db) as store:
        with store.transaction():
            store.save([analyse(stat_of(p)) for p in paths])
    return db, paths


def test_saved_files_come_back_as_records_prints_and_problems(saved):
    db, paths = saved
    with Store(db, readonly=True) as store:
        assert store.counts() == {"files": 3, "fingerprinted": 2, "unreadable": 1, "usable": 2,
                                  "stale": 0}
        prints = store.load_prints()
        assert len(prints) == 2 and prints.hashes.dtype == np.uint64
        records = store.records(int(i) for i in prints.ids)
        assert sorted(os.path.basename(r.path) for r in records.values()) == ["a.jpg", "b.png"]
        rec = next(r for r in records.values() if r.path.endswith("a.jpg"))
        assert (rec.width, rec.height, rec.format) == (320, 240, "JPEG")
        assert rec.size == os.path.getsize(paths[0])
        (problem,) = store.problems()
        assert problem[0].endswith("bad.jpg") and "not an image" in problem[1]
        thumbs = store.thumbs(int(i) for i in prints.ids)
        assert len(thumbs) == 2 and all(t.dtype == np.uint8 for t in thumbs.values())


def test_known_files_are_current_until_they_change(saved):
    db, paths = saved
    root = os.fsencode(os.path.dirname(os.path.abspath(paths[0])))
    with Store(db) as store:
        known = store.known_under([root])
        a = stat_of(paths[0])
        assert is_current(known[a.path], a)
        os.utime(paths[0], ns=(a.mtime_ns + 10**9, a.mtime_ns + 10**9))
        assert not is_current(known[a.path], stat_of(paths[0]))
        before = store.generation()
        with store.transaction():
            assert store.delete([known[a.path].id]) == 1
        assert store.generation() != before  # a write is seen by cached readers
        assert store.counts()["files"] == 2


def test_read_only_store_refuses_to_write(saved):
    db, paths = saved
    with Store(db, readonly=True) as store:
        with pytest.raises(StoreError):
            with store.transaction():
                store.save([analyse(stat_of(paths[1]))])
    with Store(db, readonly=True) as store:
        assert store.counts()["files"] == 3
