"""Two index runs of one folder at once: whatever the interleaving, the index equals a serial
run's. These tests force each interleaving in one process (a second Index, its own SQLite
connection, runs at the point where a concurrent run's commit lands); the torture suite
(test_torture_concurrency.py) runs real processes side by side."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from helpers import make_image
from torture_corpus import differences, snapshot

from imgfind.index import Index, Settings
from imgfind.store import Store


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "photos"
    d.mkdir()
    make_image(d / "a.jpg", seed=1)
    make_image(d / "b.png", seed=2)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff broken")
    return d


def _aliases(db: Path) -> list[tuple[bytes, str]]:
    con = sqlite3.connect(db)
    try:
        return [(bytes(p), how) for p, how in con.execute("SELECT path, how FROM aliases")]
    finally:
        con.close()


def test_a_file_stored_by_another_run_meanwhile_is_not_its_own_other_name(tmp_path, monkeypatch):
    # Run B reads what its roots hold (nothing yet), then run A stores every file, then B
    # looks up the crawled files it did not know by device and inode: it finds them under
    # their own paths, stored by A. They are the files themselves, not other names of them
    # (trial 1 of the torture test once recorded broken.jpg as an alias of itself).
    folder = _folder(tmp_path)
    db = tmp_path / "index.db"
    Index.open(str(db)).close()
    original = Store.known_under
    other_ran = []

    def known_then_other_run(self, roots):
        known = original(self, roots)
        if not other_ran:
            other_ran.append(True)
            with Index.open(str(db), settings=Settings(jobs=1)) as other:
                other.update([folder])
        return known

    monkeypatch.setattr(Store, "known_under", known_then_other_run)
    with Index.open(str(db), settings=Settings(jobs=1)) as idx:
        stats = idx.update([folder])
    assert other_ran
    assert _aliases(db) == []
    assert stats.new + stats.unchanged + stats.unreadable == 3
    serial = tmp_path / "serial.db"
    with Index.open(str(serial), settings=Settings(jobs=1)) as idx:
        idx.update([folder])
    got, expected = snapshot(db), snapshot(serial)
    assert got == expected, differences(got, expected)
