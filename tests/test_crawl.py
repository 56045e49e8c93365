"""Crawling: extensions, hidden files, exclusions, symbolic links, single files."""

from __future__ import annotations

import os

from helpers import make_image

from imgfind.crawl import CrawlOptions, walk


def names(root, **options):
    warnings = []
    found = walk([os.fsencode(root)], CrawlOptions(**options), lambda p, m: warnings.append(m))
    return sorted(os.path.relpath(os.fsdecode(s.path), root) for s in found), warnings


def test_picks_images_by_extension_case_insensitive(tmp_path):
    for name in ("a.JPG", "b.jpeg", "c.Png", "d.gif", "e.bmp", "f.TIFF", "g.webp", "notes.txt", "raw"):
        (tmp_path / name).write_bytes(b"x")
    found, _ = names(tmp_path)
    assert found == ["a.JPG", "b.jpeg", "c.Png", "d.gif", "e.bmp", "f.TIFF", "g.webp"]


def test_recurses_and_skips_hidden_unless_asked(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for p in ("sub/a.jpg", "sub/deeper/b.png", ".hidden/c.jpg", ".d.jpg"):
        (tmp_path / p).write_bytes(b"x")
    assert names(tmp_path)[0] == ["sub/a.jpg", "sub/deeper/b.png"]
    assert names(tmp_path, hidden=True)[0] == [".d.jpg", ".hidden/c.jpg", "sub/a.jpg", "sub/deeper/b.png"]


def test_exclude_globs_match_names_and_paths(tmp_path):
    (tmp_path / "thumbs").mkdir()
    for p in ("a.jpg", "a.tmp.jpg", "thumbs/t.jpg"):
        (tmp_path / p).write_bytes(b"x")
    assert names(tmp_path, exclude=("*.tmp.jpg", "thumbs"))[0] == ["a.jpg"]
    assert names(tmp_path, exclude=("*/thumbs/*",))[0] == ["a.jpg", "a.tmp.jpg"]


def test_symlinks_skipped_unless_followed_and_loops_end(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.jpg").write_bytes(b"x")
    root = tmp_path / "root"
    root.mkdir()
    (root / "b.jpg").write_bytes(b"x")
    os.symlink(real, root / "link")
    os.symlink(root, root / "loop")
    os.symlink(real / "a.jpg", root / "alias.jpg")
    assert names(root)[0] == ["b.jpg"]
    followed, _ = names(root, follow_symlinks=True)
    # alias.jpg and link/a.jpg are one file (issue 11): yielded once, a symlink to a file last
    assert followed == ["b.jpg", "link/a.jpg"]


def test_single_file_root_taken_whatever_its_extension(tmp_path):
    make_image(tmp_path / "photo.dat", seed=1, fmt="PNG")
    found = list(walk([os.fsencode(tmp_path / "photo.dat")], CrawlOptions()))
    assert len(found) == 1 and found[0].size > 0


def test_fifo_is_never_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "ok.jpg").write_bytes(b"x")
    assert names(tmp_path)[0] == ["ok.jpg"]


def test_missing_root_is_a_warning(tmp_path):
    found = []
    result = list(walk([os.fsencode(tmp_path / "gone")], CrawlOptions(), lambda p, m: found.append(m)))
    assert result == [] and found


def test_a_file_with_hard_links_is_yielded_once_under_its_plainest_name(tmp_path):
    make_image(tmp_path / "a.jpg")
    os.link(tmp_path / "a.jpg", tmp_path / "a-hard.jpg")  # sorts before a.jpg
    os.link(tmp_path / "a.jpg", tmp_path / "zz copy of a.jpg")
    make_image(tmp_path / "b.jpg", seed=2)
    found = [os.path.basename(s.path) for s in walk([os.fsencode(tmp_path)], CrawlOptions())]
    assert sorted(found) == [b"a.jpg", b"b.jpg"]


def test_a_fifo_with_an_image_name_is_counted_as_skipped_not_passed_over(tmp_path, runner):
    from helpers import invoke, make_image

    make_image(tmp_path / "a.jpg", seed=2)
    os.mkfifo(tmp_path / "stuck.jpg")
    run = invoke(runner, str(tmp_path / "i.db"), "index", str(tmp_path))
    assert "1 new" in run.stderr and "1 skipped: not a regular file (a FIFO)" in run.stderr, run.stderr
