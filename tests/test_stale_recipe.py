"""An index whose fingerprints another recipe made (an older imgfind, another Pillow) does not
answer "0 groups" or "0 matches" without a word: every reading command says how many files it
left out and how to refresh them, and the next index run says why it re-reads them."""

from __future__ import annotations

import glob
import os
import sqlite3

from helpers import group_names, invoke, invoke_json

from imgfind.recipe import recipe_id

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
