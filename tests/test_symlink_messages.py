"""Symbolic links are never passed over in silence: an index without --follow-symlinks says
how many it skipped, and a query of a broken link says it is one."""

from __future__ import annotations

from helpers import invoke, make_image


def test_index_says_symlinks_were_skipped(runner, db, tmp_path) -> None:
    lib, links = tmp_path / "lib", tmp_path / "links"
    lib.mkdir()
    links.mkdir()
    for seed in (1, 2):
        make_image(lib / f"p{seed}.png", seed=seed)
        (links / f"p{seed}.png").symlink_to(lib / f"p{seed}.png")
    (links / "sub").symlink_to(lib, target_is_directory=True)
    (links / "notes.txt").symlink_to(tmp_path / "nowhere.txt")  # no picture: not worth a word
    r = invoke(runner, db, "index", str(links))
    assert "0 new" in r.stderr
    assert "3 skipped: symbolic link, not followed (--follow-symlinks follows it)" in r.stderr, r.stderr
    r = invoke(runner, db, "index", str(links), "--follow-symlinks")
    assert "2 new" in r.stderr and "symbolic link" not in r.stderr, r.stderr


def test_query_of_a_broken_symlink_says_so(runner, db, tmp_path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    make_image(lib / "p.png", seed=1)
    invoke(runner, db, "index", str(lib))
    (tmp_path / "gone.png").symlink_to(lib / "moved-away.png")
    r = invoke(runner, db, "query", str(tmp_path / "gone.png"), ok=False)
    assert r.exit_code == 1
    assert (f"{tmp_path / 'gone.png'}: a broken symbolic link (to {lib / 'moved-away.png'}, "
            "which does not exist)") in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
