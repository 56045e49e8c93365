"""An index whose fingerprints another recipe made (an older imgfind, another Pillow) does not
answer "0 groups" or "0 matches" without a word: every reading command says how many files it
left out and how to refresh them, and the next index run says why it re-reads them."""

from __future__ import annotations

import glob
import os
import sqlite3

from helpers import group_names, invoke, invoke_json, make_image

from imgfind.recipe import recipe_id
from imgfind.stale import folders_to_index

OLD = "8 pillow=0.0.0"  # a recipe this imgfind never makes


def _age(db: str, where: str = "recipe IS NOT NULL") -> int:
    """Mark fingerprints as another recipe's, as in an index written by an older imgfind, and
    drop the caches beside the index (an older imgfind's sidecars name its own recipe)."""
    con = sqlite3.connect(db)
    with con:
        n = con.execute(f"UPDATE files SET recipe = ? WHERE {where}", (OLD,)).rowcount
    con.close()
    for side in glob.glob(glob.escape(db) + "-*"):
        if not side.endswith(("-wal", "-shm")):
            os.remove(side)
    return n


def test_an_old_recipes_index_says_why_it_answers_nothing_until_indexed_again(runner, db, photo_dir):
    fresh = invoke_json(runner, db, "dedupe", str(photo_dir))
    assert fresh["groups"]
    assert recipe_id() != OLD
    aged = _age(db)
    assert aged == 8  # the fixture's readable pictures (one of its 9 files is unreadable)

    note = f"note: {aged} indexed files were fingerprinted by another version of imgfind"
    dedupe = invoke(runner, db, "dedupe")
    assert "0 groups" in dedupe.stdout and note in dedupe.stderr
    query = invoke(runner, db, "query", str(photo_dir / "a.jpg"))
    assert note in query.stderr
    assert note in invoke(runner, db, "status").stderr
    assert note in invoke(runner, db, "dedupe", "--plan", str(photo_dir.parent / "p.json")).stderr
    assert "note:" not in invoke(runner, db, "-q", "dedupe").stderr  # -q: quiet

    again = invoke(runner, db, "index", str(photo_dir)).stderr
    assert f"note: {aged} indexed files were fingerprinted by another version" in again
    assert "8 changed" in again
    assert group_names(invoke_json(runner, db, "dedupe")) == group_names(fresh)
    assert "note:" not in invoke(runner, db, "dedupe").stderr
    assert "note:" not in invoke(runner, db, "index", str(photo_dir)).stderr


def test_a_query_with_matches_does_not_pay_for_the_check(runner, db, photo_dir):
    invoke(runner, db, "index", str(photo_dir))
    assert _age(db, "CAST(path AS TEXT) LIKE '%a-q40.jpg'") == 1  # the query still finds a.jpg's other copies
    out = invoke(runner, db, "query", str(photo_dir / "a.jpg"))
    assert "a-small.jpg" in out.stdout and "note:" not in out.stderr
    assert "note: 1 indexed file was fingerprinted" in invoke(runner, db, "dedupe").stderr


def test_status_counts_usable_and_stale_fingerprints_apart(runner, db, photo_dir):
    invoke(runner, db, "index", str(photo_dir))
    assert "fingerprinted: 8\n" in invoke(runner, db, "status").stdout  # all usable: as before
    _age(db, "CAST(path AS TEXT) LIKE '%a-q40.jpg'")
    out = invoke(runner, db, "status")
    assert "fingerprinted: 8 (7 usable by this imgfind, 1 stale:" in out.stdout, out.stdout
    assert "note: 1 indexed file was fingerprinted by another version" in out.stderr
    _age(db)
    out = invoke(runner, db, "status")
    assert "fingerprinted: 8 (0 usable by this imgfind, 8 stale:" in out.stdout, out.stdout


def test_the_note_names_the_folders_to_index_again(runner, db, tmp_path):
    base = tmp_path / "photos"
    roots = []
    for i in range(5):
        folder = base / f"trip{i}" / "day"
        folder.mkdir(parents=True)
        make_image(folder / "a.jpg", seed=i)
        roots.append(base / f"trip{i}")
    for root in roots:  # five index runs: five roots
        invoke(runner, db, "index", str(root))
    _age(db, "CAST(path AS TEXT) LIKE '%trip1/%'")
    note = invoke(runner, db, "dedupe").stderr
    # the root given to index, not the sub-folder the file is in
    assert note.rstrip().endswith(f"run: imgfind --db {db} index {roots[1]}"), note
    _age(db)
    note = invoke(runner, db, "dedupe").stderr
    assert note.rstrip().endswith(f"run: imgfind --db {db} index {roots[0]} {roots[1]} {roots[2]}"
                                  " (and 2 more folders)"), note
    # the command given works: the files are fingerprinted again and the note goes
    invoke(runner, db, "index", str(roots[0]))
    assert f"index {roots[1]} {roots[2]} {roots[3]} (and 1 more folder)" in \
        invoke(runner, db, "dedupe").stderr


def test_folders_without_a_recorded_root_are_named_by_their_common_folder():
    parents = [b"/data/photos/2019/%02d" % m for m in range(1, 13)]
    assert folders_to_index(parents, []) == (["/data/photos/2019"], 0)
    assert folders_to_index(parents[:2], []) == (["/data/photos/2019/01", "/data/photos/2019/02"], 0)
    # never the file system's root: listed, then counted
    assert folders_to_index([b"/a/x", b"/b/y", b"/c/z", b"/d/w"], []) == (["/a/x", "/b/y", "/c/z"], 1)
    # inside a root: the deepest root; a folder inside another named one is dropped
    assert folders_to_index([b"/r/s/t", b"/r/u", b"/q"], [b"/r", b"/r/s", b"/q/"]) == (["/q", "/r"], 0)
