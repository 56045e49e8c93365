"""Remembered pair decisions (decision_cache.py): a repeated dedupe answers from the index's
decisions table, byte for byte as an uncached run; a re-fingerprinted file is verified again."""

from __future__ import annotations

import os
import sqlite3
import time

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import invoke, make_image
from PIL import Image, ImageEnhance

from imgfind import decide
from imgfind.decision_cache import DecisionCache, rows_keys, rule_key
from imgfind.model import PRESETS, PairMatch


def _families(folder, seeds=(0, 1, 2)):
    """Families of copies (flipped, smaller, turned, brighter) of a few pictures, and a lone one."""
    folder.mkdir()
    for seed in seeds:
        im = make_image(seed=seed)
        im.save(folder / f"f{seed}-orig.png")
        im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / f"f{seed}-flip.png")
        im.resize((200, 150)).save(folder / f"f{seed}-small.jpg", quality=85)
        im.transpose(Image.Transpose.ROTATE_90).save(folder / f"f{seed}-turn.png")
        ImageEnhance.Brightness(im).enhance(1.3).save(folder / f"f{seed}-bright.jpg", quality=90)
    make_image(seed=50).save(folder / "lone.png")


def _dedupe(db):
    return invoke(CliRunner(), db, "dedupe", "--format", "json").stdout


def _count_rows(db, file_id=None):
    with sqlite3.connect(db) as c:
        if file_id is None:
            return c.execute("SELECT count(*) FROM decisions").fetchone()[0]
        return c.execute("SELECT count(*) FROM decisions WHERE a = ? OR b = ?",
                         (file_id, file_id)).fetchone()[0]


def _file_id(db, name):
    with sqlite3.connect(db) as c:
        for file_id, path in c.execute("SELECT id, path FROM files"):
            if os.path.basename(bytes(path)).decode() == name:
                return file_id
    raise KeyError(name)


def _forget(db):
    """Empty the cache: the next dedupe is an uncached run."""
    with sqlite3.connect(db) as c:
        c.execute("DELETE FROM decisions")
        c.execute("DELETE FROM decisions_found")


@pytest.fixture
def counting(monkeypatch):
    """Counts the pairs verified on thumbnails (decide.verify_alignments, decide_flat)."""
    calls = {"pairs": 0}
    real_verify, real_flat = decide.verify_alignments, decide.decide_flat

    def verify_alignments(query, index, rule, tasks):
        calls["pairs"] += len(tasks)
        return real_verify(query, index, rule, tasks)

    def decide_flat(*args):
        calls["pairs"] += 1
        return real_flat(*args)

    monkeypatch.setattr(decide, "verify_alignments", verify_alignments)
    monkeypatch.setattr(decide, "decide_flat", decide_flat)
    return calls


def test_repeated_dedupe_is_answered_from_the_cache_byte_identical(tmp_path, counting):
    _families(tmp_path / "lib")
    db = str(tmp_path / "i.db")
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    assert _count_rows(db) == 0
    first = _dedupe(db)
    verified = counting["pairs"]
    assert verified > 0 and _count_rows(db) > 0
    assert '"groups"' in first and first.count("f0-") >= 3
    second = _dedupe(db)
    assert second == first
    assert counting["pairs"] == verified  # nothing verified again
    # ... and an uncached run (the table emptied) says the same, verifying again.
    _forget(db)
    assert _dedupe(db) == first
    assert counting["pairs"] == 2 * verified


def test_a_refingerprinted_file_is_verified_again(tmp_path, counting):
    _families(tmp_path / "lib", seeds=(1, 2))
    db = str(tmp_path / "i.db")
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    first = _dedupe(db)
    assert "f1-flip.png" in first
    changed = _file_id(db, "f1-flip.png")
    assert _count_rows(db, changed) > 0
    # The flipped copy is edited (darker); the index run drops its decisions.
    path = tmp_path / "lib" / "f1-flip.png"
    flip = make_image(seed=1).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    ImageEnhance.Brightness(flip).enhance(0.8).save(path)
    later = time.time() + 5
    os.utime(path, (later, later))
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    assert _file_id(db, "f1-flip.png") == changed  # same file id: the triggers did the work
    assert _count_rows(db, changed) == 0
    assert _count_rows(db) > 0  # the other files' decisions stay
    before = counting["pairs"]
    cached = _dedupe(db)
    assert counting["pairs"] > before  # its pairs were verified again
    assert "f1-flip.png" in cached and cached != first  # its similarity changed
    _forget(db)
    assert _dedupe(db) == cached


def test_a_removed_file_loses_its_decisions(tmp_path):
    _families(tmp_path / "lib", seeds=(3,))
    db = str(tmp_path / "i.db")
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    _dedupe(db)
    gone = _file_id(db, "f3-small.jpg")
    assert _count_rows(db, gone) > 0
    os.remove(tmp_path / "lib" / "f3-small.jpg")
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    assert _count_rows(db, gone) == 0


def test_a_locked_index_dedupes_without_saving(tmp_path, counting):
    """An index run holding the write lock: dedupe answers at once and saves nothing."""
    _families(tmp_path / "lib", seeds=(4,))
    db = str(tmp_path / "i.db")
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        locked = _dedupe(db)
        assert time.monotonic() - started < 30
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert _count_rows(db) == 0
    assert _dedupe(db) == locked and _count_rows(db) > 0


def test_decisions_of_another_state_are_not_saved(tmp_path):
    _families(tmp_path / "lib", seeds=(5,))
    db = str(tmp_path / "i.db")
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    with sqlite3.connect(db) as c:
        generation = int(c.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    rule = PRESETS["normal"]
    stale = DecisionCache(np.array([1, 2]), {}, db, generation - 1)
    stale.remember(rule, 0, 1, 7, PairMatch(0, 1, 3, 2, 0.9, ("hash",)))
    assert stale.save() is False and _count_rows(db) == 0
    fresh = DecisionCache(np.array([1, 2]), {}, db, generation)
    fresh.remember(rule, 0, 1, 7, PairMatch(0, 1, 3, 2, 0.9, ("hash", "similarity")))
    fresh.remember(rule, 1, 0, 7, None)
    assert fresh.save() is True and _count_rows(db) == 2
    with sqlite3.connect(db) as c:
        loaded = DecisionCache.load(c, np.array([1, 2]), db, generation)
    assert loaded.lookup(rule, 0, 1, 7) == (True, PairMatch(0, 1, 3, 2, 0.9, ("hash", "similarity")))
    assert loaded.lookup(rule, 1, 0, 7) == (True, None)
    assert loaded.lookup(rule, 0, 1, 8) == (False, None)  # other alignments
    assert loaded.lookup(PRESETS["strict"], 0, 1, 7) == (False, None)  # another rule


def test_keys_tell_rules_and_candidate_rows_apart():
    normal, loose = PRESETS["normal"], PRESETS["loose"]
    assert rule_key(normal) == rule_key(normal) != rule_key(loose)
    # Four pairs: rows 0-1, 2-3 (the same rows as 0-1), 4-5 (in the other order), 6 (from b).
    first = np.array([3, 3, 3, 3])
    q_row = np.array([3, 3, 3, 3, 3, 3, 5])
    q_col = np.array([0, 8, 0, 8, 8, 0, 0])
    i_col = np.array([0, 1, 0, 1, 1, 0, 0])
    keys = rows_keys(first, q_row, q_col, i_col, np.array([0, 2, 4, 6]), np.array([2, 4, 6, 7]))
    assert keys[0] == keys[1] and len(set(keys.tolist())) == 3 and (keys >= 0).all()
    one = rows_keys(first[:1], q_row, q_col, i_col, np.array([6]), np.array([7]))
    assert one[0] == keys[3]


def test_an_index_without_the_tables_gains_them_from_a_read_only_dedupe(tmp_path, counting):
    """An index written by an imgfind without the cache (no tables, no triggers): dedupe reads
    it read-only, then creates the tables and triggers when it saves; the triggers work."""
    _families(tmp_path / "lib", seeds=(6,))
    db = str(tmp_path / "i.db")
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    with sqlite3.connect(db) as c:
        for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                 " AND name LIKE 'decisions%'").fetchall():
            c.execute(f"DROP TRIGGER {name}")
        c.execute("DROP TABLE decisions")
        c.execute("DROP TABLE decisions_found")
    first = _dedupe(db)
    assert _count_rows(db) > 0
    with sqlite3.connect(db) as c:
        triggers = c.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
                             " AND name LIKE 'decisions%'").fetchone()[0]
    assert triggers == 6
    verified = counting["pairs"]
    assert _dedupe(db) == first and counting["pairs"] == verified
    gone = _file_id(db, "f6-small.jpg")
    assert _count_rows(db, gone) > 0
    os.remove(tmp_path / "lib" / "f6-small.jpg")
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    assert _count_rows(db, gone) == 0


def test_a_writer_restores_a_dropped_trigger(tmp_path):
    """A migration elsewhere that rebuilds the thumbs table drops its triggers: the next
    writable open makes them again (Store._migrate_decisions, decision_cache.complete)."""
    from imgfind.store import Store

    db = str(tmp_path / "i.db")
    Store(db).close()
    with sqlite3.connect(db) as c:
        c.execute("DROP TRIGGER decisions_thumbs_insert")
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'decisions_thumbs_insert'"
                         ).fetchone()[0] == 0
    Store(db).close()
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'decisions_thumbs_insert'"
                         ).fetchone()[0] == 1


@pytest.mark.parametrize("garble", [b"\x78\x9c\x00",  # a truncated zlib stream
                                    "zlib:" '{"joins": 5}',  # JSON of the wrong shape
                                    "zlib:" "[[999999, 1, 0, 0, 1.0, []]]"])  # unknown file id
def test_a_garbled_found_row_is_a_miss_not_a_traceback(tmp_path, garble):
    import zlib

    _families(tmp_path / "lib")
    db = str(tmp_path / "i.db")
    invoke(CliRunner(), db, "index", str(tmp_path / "lib"))
    first = _dedupe(db)
    blob = zlib.compress(garble[5:].encode()) if isinstance(garble, str) else garble
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM decisions_found").fetchone()[0] >= 2
        c.execute("UPDATE decisions_found SET pairs = ?", (blob,))
    assert _dedupe(db) == first  # searched again, same answer
