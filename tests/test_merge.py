"""imgfind merge: indexes built in shards merge into the index built in one piece."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from helpers import dump_index, invoke, make_image, make_library

from imgfind import prints_cache
from imgfind.index import Index, Settings
from imgfind.indexer import InlineExecutor
from imgfind.merge import map_path, parse_map
from imgfind.store import Store


@pytest.fixture
def library(tmp_path) -> Path:
    """Two halves, a and b, with near-duplicates across them (p00N in a, p00N-small in b)."""
    root = tmp_path / "photos"
    make_library(root / "a", 10, copies=0)
    make_library(root / "b", 0, copies=0)
    for i in range(4):  # copies of pictures of half a, in half b
        make_image(seed=1000 + i, size=(160, 120)).resize((120, 90)).save(
            root / "b" / f"p{i:03d}-small.jpg", quality=80)
    make_library(root / "b" / "more", 8, copies=2, seed=2000)
    return root


def index(db: Path, *paths: Path) -> None:
    with Index.open(db, Settings(executor=InlineExecutor())) as idx:
        idx.update(list(paths))


def content(db: Path) -> dict[bytes, tuple]:
    """dump_index without device, inode and ctime: a merge stores none (they are another
    machine's); the next index run records this machine's."""
    return {path: row[:8] + row[11:] for path, row in dump_index(db).items()}


def groups(runner, db: Path) -> list:
    doc = json.loads(invoke(runner, str(db), "dedupe", "--format", "json").stdout)
    return sorted(sorted(f["path"] for f in g["files"]) for g in doc["groups"])


def test_merged_halves_equal_the_one_piece_index(tmp_path, library, runner):
    index(tmp_path / "whole.db", library)
    index(tmp_path / "a.db", library / "a")
    index(tmp_path / "b.db", library / "b")
    result = invoke(runner, str(tmp_path / "m.db"), "merge", str(tmp_path / "a.db"),
                    str(tmp_path / "b.db"))
    assert f"merged {tmp_path / 'a.db'}: 11 added, 0 replaced, 0 kept" in result.stderr
    whole = content(tmp_path / "whole.db")
    assert len(whole) == 11 + 16
    assert content(tmp_path / "m.db") == whole
    found = groups(runner, tmp_path / "m.db")
    assert found == groups(runner, tmp_path / "whole.db")
    assert any(len({os.path.basename(os.path.dirname(p)) for p in g}) > 1 for g in found)
    # merging again changes nothing; indexing the folders here reads nothing
    result = invoke(runner, str(tmp_path / "m.db"), "merge", str(tmp_path / "b.db"))
    assert "0 added, 0 replaced, 16 kept" in result.stderr
    result = invoke(runner, str(tmp_path / "m.db"), "index", str(library))
    assert "indexed: 0 new, 0 changed, 24 unchanged, 0 removed, 3 unreadable" in result.stderr
    assert dump_index(tmp_path / "m.db") == dump_index(tmp_path / "whole.db")  # identity too


def test_map_rewrites_path_prefixes(tmp_path, library, runner):
    mount = tmp_path / "mnt"
    mount.mkdir()
    os.symlink(library / "a", mount / "a")  # the same files, seen under another path
    index(tmp_path / "a.db", mount / "a")
    index(tmp_path / "b.db", library / "b")
    index(tmp_path / "whole.db", library)
    invoke(runner, str(tmp_path / "m.db"), "merge", str(tmp_path / "a.db"), str(tmp_path / "b.db"),
           "--map", f"{mount / 'a'}/={library / 'a'}")
    assert content(tmp_path / "m.db") == content(tmp_path / "whole.db")
    with Store(tmp_path / "m.db", readonly=True) as s:
        assert os.fsencode(library / "a") in s.roots()


def test_map_path_matches_whole_components():
    maps = parse_map(["/mnt/a=/data/a", "/mnt/a/deep=/elsewhere"])
    assert map_path(b"/mnt/a/x.jpg", maps) == b"/data/a/x.jpg"
    assert map_path(b"/mnt/a/deep/y.jpg", maps) == b"/elsewhere/y.jpg"  # the longest wins
    assert map_path(b"/mnt/ab/z.jpg", maps) == b"/mnt/ab/z.jpg"
    assert map_path(b"/mnt/a", maps) == b"/data/a"


@pytest.mark.parametrize("spec", ["nomap", "relative=/x", "/x=relative"])
def test_bad_map_is_one_line_error(tmp_path, runner, spec):
    index(tmp_path / "o.db", tmp_path)
    result = invoke(runner, str(tmp_path / "m.db"), "merge", str(tmp_path / "o.db"), "--map", spec,
                    ok=False)
    assert result.exit_code == 2 and "Invalid value for '--map'" in result.stderr


def test_newer_record_wins_in_either_order(tmp_path, runner):
    folder = tmp_path / "pics"
    folder.mkdir()
    make_image(folder / "x.jpg", seed=1)
    make_image(folder / "y.jpg", seed=2)
    index(tmp_path / "old.db", folder)
    time.sleep(0.01)
    make_image(folder / "x.jpg", seed=3)  # rewritten: another picture, a later mtime
    index(tmp_path / "new.db", folder)
    new = content(tmp_path / "new.db")
    assert new != content(tmp_path / "old.db")
    for order in (("old.db", "new.db"), ("new.db", "old.db")):
        target = tmp_path / f"m-{order[0]}"
        result = invoke(runner, str(target), "merge", *(str(tmp_path / o) for o in order))
        assert content(target) == new
        second = result.stderr.splitlines()[1]
        # y.jpg did not change, but new.db read it later: its record is the newer one too
        assert second.endswith(("0 added, 2 replaced, 0 kept (this index's record as new or newer)"
                                if order[0] == "old.db" else
                                "0 added, 0 replaced, 2 kept (this index's record as new or newer)"))


def test_foreign_recipe_is_refused_before_anything_is_copied(tmp_path, runner, library):
    index(tmp_path / "a.db", library / "a")
    index(tmp_path / "b.db", library / "b")
    con = sqlite3.connect(tmp_path / "b.db")
    con.execute("UPDATE files SET recipe = '3 pillow=9.0.0' WHERE recipe IS NOT NULL")
    con.commit()
    con.close()
    result = invoke(runner, str(tmp_path / "m.db"), "merge", str(tmp_path / "a.db"),
                    str(tmp_path / "b.db"), ok=False)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "recipe '3 pillow=9.0.0'" in result.stderr
    assert not (tmp_path / "m.db").exists()


def test_missing_other_and_self_are_one_line_errors(tmp_path, runner, library):
    index(tmp_path / "a.db", library / "a")
    result = invoke(runner, str(tmp_path / "a.db"), "merge", str(tmp_path / "a.db"), ok=False)
    assert result.exit_code == 1 and "is the index being merged into" in result.stderr
    result = invoke(runner, str(tmp_path / "a.db"), "merge", str(tmp_path / "nope.db"), ok=False)
    assert result.exit_code == 1 and result.stderr.startswith("Error: no index at")


def test_merge_refreshes_the_prints_sidecar(tmp_path, runner, library):
    index(tmp_path / "m.db", library / "a")
    index(tmp_path / "b.db", library / "b")
    with Store(tmp_path / "m.db") as s:
        before = len(s.load_prints())  # writes the sidecar for the state before the merge
        old_tag = json.loads(Path(prints_cache.paths(s.path)[1]).read_text())
    invoke(runner, str(tmp_path / "m.db"), "merge", str(tmp_path / "b.db"))
    with Store(tmp_path / "m.db") as s:
        owner = s._owner()
        cached = prints_cache.load(s.path, owner)  # the sidecar written by the merge
        assert cached is not None and len(cached) == s.counts()["fingerprinted"] > before
        assert owner.write_token != old_tag["write_token"]
    # a query through the cache finds a file that came with the merge
    doc = json.loads(invoke(runner, str(tmp_path / "m.db"), "query",
                            str(library / "a" / "p001.jpg"), "--format", "json").stdout)
    assert {m["path"] for m in doc["matches"]} == {str(library / "b" / "p001-small.jpg")}


def test_merge_keeps_the_keypoints_of_partial_matching(tmp_path, library, runner):
    """Local features travel with the fingerprints: a merged index finds crops and collages
    as one built in one piece does."""
    index(tmp_path / "whole.db", library)
    index(tmp_path / "a.db", library / "a")
    index(tmp_path / "b.db", library / "b")
    invoke(runner, str(tmp_path / "m.db"), "merge", str(tmp_path / "a.db"), str(tmp_path / "b.db"))

    def keypoints(db: Path) -> dict[str, tuple]:
        with Store(db, readonly=True) as s:
            paths = {r.id: r.path for r in s.records(s.local_features()).values()}
            return {paths[i]: (f.width, f.height, f.xy, f.desc)
                    for i, f in s.local_features().items()}

    whole = keypoints(tmp_path / "whole.db")
    assert whole and keypoints(tmp_path / "m.db") == whole
