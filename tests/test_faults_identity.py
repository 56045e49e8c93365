"""Issue 11, section 1: one file is one file, and the index says what is on disk now.

A file is identified by its device and inode: reached by several paths (a folder given twice,
a symlinked or bind-mounted folder, a hard link, a followed symlink) it is indexed once and
never offered as a copy that could be removed. Results never present a file that is gone as
present. The change key catches a replacement with equal size and mtime, and a permission fix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from faults_support import (ABSENT_WORDS, cli_run, group_names, groups_of, json_doc,
                            marked_absent, ok, photo, status_count, sub_run, text,
                            as_nobody)
from PIL import Image


def _three_photos(root: Path) -> Path:
    """photos/x.jpg, photos/y.jpg, photos/sub/z.jpg: three different pictures, no copies."""
    ph = root / "photos"
    (ph / "sub").mkdir(parents=True)
    photo(ph / "x.jpg", seed=1)
    photo(ph / "y.jpg", seed=2)
    photo(ph / "sub" / "z.jpg", seed=3)
    return ph


def _same_inode_paths_marked(doc: dict) -> None:
    """Within a group, a path naming the same file (device, inode) as an earlier member is
    never presented as a plain copy: it must carry a relation of its own (same file / link)."""
    for files in groups_of(doc):
        seen: set[tuple[int, int]] = set()
        for f in files:
            st = os.stat(f["path"])
            key = (st.st_dev, st.st_ino)
            if key in seen:
                rel = f.get("relation", "").lower()
                assert "same file" in rel or "link" in rel, (
                    f"{f['path']} is the same file as another member but is listed as a copy "
                    f"({f.get('relation')!r}): deleting 'the copy' deletes the picture")
            seen.add(key)


def _paths_output_has_no_file_twice(stdout: str) -> None:
    keys = []
    for line in stdout.splitlines():
        if line.strip():
            st = os.stat(line)
            keys.append((st.st_dev, st.st_ino))
    assert len(keys) == len(set(keys)), f"one file listed under two names:\n{stdout}"


# ----------------------------------------------------------------------------- one file, many names
@pytest.fixture
def bind_mount(tmp_path):
    """A bind mount of a folder (root only); skipped where mounting is refused."""
    points = []

    def make(src: Path, dst: Path) -> Path:
        dst.mkdir()
        try:
            done = subprocess.run(["mount", "--bind", str(src), str(dst)], capture_output=True,
                                  timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            done = None
        if done is None or done.returncode != 0:
            pytest.skip("mount --bind refused here: a bind-mounted alias needs root")
        points.append(dst)
        return dst

    yield make
    for p in points:
        subprocess.run(["umount", str(p)], capture_output=True, timeout=10)


ALIASES = ["same-twice", "sub-folder", "dotdot", "symlink-alias", "two-symlinks", "bind-mount"]


@pytest.mark.parametrize("how", ALIASES)
def test_one_folder_reached_by_two_names_is_indexed_once(tmp_path, bind_mount, how):
    """fdupes#173 kind: the same folder under two names gives no self-duplicates, counts each
    file once, and leaves no alias rows in the index."""
    ph = _three_photos(tmp_path)
    db = str(tmp_path / "i.db")
    if how == "same-twice":
        roots = [ph, ph]
    elif how == "sub-folder":
        roots = [ph, ph / "sub"]
    elif how == "dotdot":
        roots = [ph, Path(str(ph / ".." / "photos") + "/")]
    elif how == "symlink-alias":
        os.symlink("photos", tmp_path / "photos-alias")
        roots = [ph, tmp_path / "photos-alias"]
    elif how == "two-symlinks":  # two mount-like names of one folder, neither the real one
        os.symlink("photos", tmp_path / "m1")
        os.symlink("photos", tmp_path / "m2")
        roots = [tmp_path / "m1", tmp_path / "m2"]
    else:
        roots = [ph, bind_mount(ph, tmp_path / "bound")]
    roots_s = [str(r) for r in roots]

    first = cli_run("--db", db, "index", *roots_s)
    ok(first)
    assert "3 new," in first.stderr, f"3 files must be 3 new, got: {first.stderr}"

    doc = json_doc(cli_run("--db", db, "dedupe", *roots_s, "--format", "json"))
    assert group_names(doc) == [], f"a file offered as a duplicate of itself: {group_names(doc)}"
    paths = cli_run("--db", db, "dedupe", *roots_s, "--format", "paths")
    ok(paths)
    assert paths.stdout.strip() == ""

    status = cli_run("--db", db, "status")
    ok(status)
    assert status_count(status.stdout, "files") == 3, status.stdout
    # and the whole index (no roots) has no self-duplicates either
    assert group_names(json_doc(cli_run("--db", db, "dedupe", "--format", "json"))) == []


def _linked_set(tmp_path: Path) -> Path:
    """a.jpg, b.jpg (an independent byte copy), other.jpg; a-hard.jpg hard link to a.jpg;
    best/a-link.jpg -> ../a.jpg; loop -> .. (a folder loop)."""
    ph = tmp_path / "photos"
    (ph / "best").mkdir(parents=True)
    photo(ph / "a.jpg", seed=11, quality=92)
    shutil.copy(ph / "a.jpg", ph / "b.jpg")
    photo(ph / "other.jpg", seed=12)
    os.link(ph / "a.jpg", ph / "a-hard.jpg")
    os.symlink("../a.jpg", ph / "best" / "a-link.jpg")
    os.symlink("..", ph / "loop")
    return ph


@pytest.mark.parametrize("follow", [False, True], ids=["default", "follow-symlinks"])
def test_links_are_the_same_file_never_a_removable_copy(tmp_path, follow):
    """geeqie#782 / czkawka#1404 kind: a hard link or a (followed) symlink to a.jpg is the same
    file, not an independent duplicate; b.jpg, a real copy, is still a duplicate."""
    ph = _linked_set(tmp_path)
    db = str(tmp_path / "i.db")
    extra = ["--follow-symlinks"] if follow else []
    doc = json_doc(cli_run("--db", db, "dedupe", str(ph), "--format", "json", *extra))
    names = [os.path.relpath(f["path"], ph) for files in groups_of(doc) for f in files]
    assert len(names) == len(set(names)), f"a path listed twice: {names}"
    assert any({"a.jpg", "b.jpg"} <= {os.path.basename(f["path"]) for f in files}
               or {"a-hard.jpg", "b.jpg"} <= {os.path.basename(f["path"]) for f in files}
               for files in groups_of(doc)), f"the real copy b.jpg was lost: {names}"
    _same_inode_paths_marked(doc)

    paths = cli_run("--db", db, "dedupe", str(ph), "--format", "paths", *extra)
    ok(paths)
    _paths_output_has_no_file_twice(paths.stdout)

    # The same file reached through a hard link is decoded and stored once.
    again = cli_run("--db", db, "index", str(ph), *extra)
    ok(again)
    status = cli_run("--db", db, "status")
    ok(status)
    assert status_count(status.stdout, "files") == 3, (
        f"a.jpg (+ its links), b.jpg, other.jpg are 3 files:\n{status.stdout}")


@pytest.mark.parametrize("follow", [False, True], ids=["default", "follow-symlinks"])
def test_links_are_shown_as_the_kept_files_other_names_never_as_removable(tmp_path, follow):
    """Issue 11: "links are shown as the same file (a relation of their own), never as a copy
    that could be removed". The hard link a-hard.jpg (and, when followed, the symbolic link
    best/a-link.jpg) appear beside a.jpg in text and JSON as its other names, and never in
    --format paths or a plan; a link deleted since is no longer shown."""
    ph = _linked_set(tmp_path)
    db = str(tmp_path / "i.db")
    extra = ["--follow-symlinks"] if follow else []
    ok(cli_run("--db", db, "index", str(ph), *extra))
    doc = json_doc(cli_run("--db", db, "dedupe", "--format", "json"))
    files = {os.path.basename(f["path"]): f for g in groups_of(doc) for f in g}
    assert set(files) >= {"a.jpg", "b.jpg"}, sorted(files)
    links = {(os.path.relpath(n["path"], ph), n["link"]) for n in files["a.jpg"]["other_names"]}
    want = {("a-hard.jpg", "hard link")} | ({("best/a-link.jpg", "symbolic link")} if follow else set())
    assert links == want, links
    assert files["b.jpg"]["other_names"] == []
    text = cli_run("--db", db, "dedupe").stdout
    assert f"same file: hard link {ph / 'a-hard.jpg'}" in text, text
    assert (f"same file: symbolic link {ph / 'best' / 'a-link.jpg'}" in text) == follow, text
    paths = cli_run("--db", db, "dedupe", "--format", "paths")
    ok(paths)
    plan = tmp_path / "plan.json"
    ok(cli_run("--db", db, "dedupe", "--keep", "oldest", "--plan", str(plan)))
    for shown in (paths.stdout, plan.read_text()):
        assert "a-hard.jpg" not in shown and "a-link.jpg" not in shown, shown
    (ph / "a-hard.jpg").unlink()
    text = cli_run("--db", db, "dedupe").stdout
    assert "a-hard.jpg" not in text, text


def test_symlink_given_as_a_root_is_the_file_it_names(tmp_path):
    """A root on the command line is followed: a symlink root to a.jpg beside the folder of
    a.jpg is the same file, not a copy of it."""
    ph = tmp_path / "photos"
    ph.mkdir()
    photo(ph / "a.jpg", seed=21)
    photo(ph / "c.jpg", seed=22)
    os.symlink(ph / "a.jpg", tmp_path / "shortcut.jpg")
    db = str(tmp_path / "i.db")
    doc = json_doc(cli_run("--db", db, "dedupe", str(ph), str(tmp_path / "shortcut.jpg"),
                           "--format", "json"))
    _same_inode_paths_marked(doc)
    paths = cli_run("--db", db, "dedupe", str(ph), str(tmp_path / "shortcut.jpg"),
                    "--format", "paths")
    ok(paths)
    _paths_output_has_no_file_twice(paths.stdout)


# ----------------------------------------------------------------------------- gone files
def _family_with_big_original(tmp_path: Path) -> tuple[Path, str]:
    """photos/big.jpg (the largest, so the likely original), photos/small.jpg (its copy),
    photos/other.jpg; indexed."""
    ph = tmp_path / "photos"
    ph.mkdir()
    im = photo(ph / "big.jpg", seed=31, size=(640, 480), quality=95)
    im.resize((320, 240), Image.Resampling.LANCZOS).save(ph / "small.jpg", quality=90)
    photo(ph / "other.jpg", seed=32)
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "index", str(ph)))
    return ph, db


def test_deleted_file_is_not_presented_by_whole_index_dedupe(tmp_path):
    ph, db = _family_with_big_original(tmp_path)
    (ph / "big.jpg").unlink()
    doc = json_doc(cli_run("--db", db, "dedupe", "--format", "json"))
    for files in groups_of(doc):
        assert os.path.exists(files[0]["path"]), (
            f"the likely original {files[0]['path']} is a file that is gone")
        for f in files:
            assert os.path.exists(f["path"]) or marked_absent(f), (
                f"{f['path']} is gone but presented as present: {f}")

    paths = cli_run("--db", db, "dedupe", "--format", "paths")
    ok(paths)
    for line in paths.stdout.splitlines():
        assert not line.strip() or os.path.exists(line), f"gone file listed: {line!r}"

    txt = cli_run("--db", db, "dedupe")
    ok(txt)
    for line in txt.stdout.splitlines():
        if "big.jpg" in line:
            assert any(w in line.lower() for w in ABSENT_WORDS), f"gone file unmarked: {line!r}"
            assert "original" not in line, f"a gone file as the original: {line!r}"


def test_deleted_file_is_not_presented_by_query(tmp_path):
    ph, db = _family_with_big_original(tmp_path)
    probe = tmp_path / "probe.jpg"
    shutil.copy(ph / "small.jpg", probe)
    (ph / "big.jpg").unlink()
    doc = json_doc(cli_run("--db", db, "query", str(probe), "--format", "json"))
    for m in doc["matches"]:
        assert os.path.exists(m["path"]) or marked_absent(m), f"gone file presented: {m}"
        if m.get("original"):
            assert os.path.exists(m["path"]), f"a gone file as the likely original: {m}"
    assert os.path.exists(doc["queries"][0]["original"]), doc["queries"][0]["original"]

    txt = cli_run("--db", db, "query", str(probe))
    ok(txt)
    for line in txt.stdout.splitlines():
        if "big.jpg" in line:
            assert any(w in line.lower() for w in ABSENT_WORDS), f"gone file unmarked: {line!r}"
            assert "likely original" not in line, f"a gone file as the original: {line!r}"

    paths = cli_run("--db", db, "query", str(probe), "--format", "paths")
    ok(paths)
    for line in paths.stdout.splitlines():
        assert not line.strip() or os.path.exists(line), f"gone file listed: {line!r}"


def test_files_under_an_unavailable_root_are_marked_and_kept(tmp_path):
    """An unplugged drive: its files stay in the index, and results say they are unavailable."""
    drive = tmp_path / "drive"
    (drive / "photos").mkdir(parents=True)
    im = photo(drive / "photos" / "a.jpg", seed=41, quality=95)
    here = tmp_path / "here"
    here.mkdir()
    im.save(here / "a-copy.jpg", quality=90)
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "index", str(drive / "photos"), str(here)))
    os.rename(drive, tmp_path / "unplugged")  # the root's whole tree is not there now

    doc = json_doc(cli_run("--db", db, "dedupe", "--format", "json"))
    entries = [f for files in groups_of(doc) for f in files]
    assert any(f["path"].endswith("a-copy.jpg") for f in entries), "kept files are still grouped"
    for f in entries:
        if not os.path.exists(f["path"]):
            assert marked_absent(f), f"file of an unavailable root listed with no mark: {f}"
    txt = cli_run("--db", db, "dedupe")
    ok(txt)
    for line in txt.stdout.splitlines():
        if str(drive) in line:
            assert any(w in line.lower() for w in ABSENT_WORDS), f"unmarked: {line!r}"

    ok(cli_run("--db", db, "index", str(here)))
    status = cli_run("--db", db, "status")
    ok(status)
    assert status_count(status.stdout, "files") == 2, "an unavailable root's files are kept"


def test_file_replaced_by_a_folder(tmp_path):
    """a.jpg becomes a folder (holding a picture): a.jpg is no longer presented as an image."""
    ph = tmp_path / "photos"
    ph.mkdir()
    im = photo(ph / "a.jpg", seed=51)
    im.save(ph / "a-copy.png")
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "index", str(ph)))
    (ph / "a.jpg").unlink()
    (ph / "a.jpg").mkdir()
    photo(ph / "a.jpg" / "inside.jpg", seed=52)

    whole = json_doc(cli_run("--db", db, "dedupe", "--format", "json"))
    for f in (f for files in groups_of(whole) for f in files):
        assert os.path.isfile(f["path"]) or marked_absent(f), f"a folder presented as an image: {f}"
    doc = json_doc(cli_run("--db", db, "dedupe", str(ph), "--format", "json"))
    assert group_names(doc) == [], group_names(doc)


# ----------------------------------------------------------------------------- the change key
@pytest.mark.parametrize("how", ["renamed-over", "rewritten-in-place"])
def test_replacement_with_same_size_and_mtime_is_reread(tmp_path, how):
    """`mv scan2.bmp scan1.bmp` (same size, same mtime) or an in-place rewrite whose mtime is
    restored: the file is read again, so its new picture is what the index holds."""
    ph = tmp_path / "scans"
    ph.mkdir()
    photo(ph / "scan1.bmp", seed=61)
    pic2 = photo(ph / "scan2.bmp", seed=62)
    pic2.save(ph / "scan2-copy.png")
    assert os.path.getsize(ph / "scan1.bmp") == os.path.getsize(ph / "scan2.bmp")
    stamp = 1_600_000_000_000_000_000
    for name in ("scan1.bmp", "scan2.bmp"):
        os.utime(ph / name, ns=(stamp, stamp))
    db = str(tmp_path / "i.db")
    first = json_doc(cli_run("--db", db, "dedupe", str(ph), "--format", "json"))
    assert group_names(first) == [["scan2-copy.png", "scan2.bmp"]]

    if how == "renamed-over":
        os.replace(ph / "scan2.bmp", ph / "scan1.bmp")
    else:
        data = (ph / "scan2.bmp").read_bytes()
        with open(ph / "scan1.bmp", "r+b") as f:  # same inode, same size
            f.write(data)
        (ph / "scan2.bmp").unlink()
    os.utime(ph / "scan1.bmp", ns=(stamp, stamp))

    again = cli_run("--db", db, "dedupe", str(ph), "--format", "json")
    doc = json_doc(again)
    assert "1 changed" in again.stderr, f"the replaced file was not re-read: {again.stderr}"
    assert group_names(doc) == [["scan1.bmp", "scan2-copy.png"]], (
        f"scan1.bmp still grouped as its old picture: {group_names(doc)}")


def test_unreadable_file_fixed_in_place_with_mtime_restored_is_reread(tmp_path):
    """Root-independent member of the permission kind: a file recorded as unreadable is repaired
    with neither size nor mtime changing (only its ctime does); the next index reads it."""
    ph = tmp_path / "photos"
    ph.mkdir()
    good = tmp_path / "good.jpg"
    photo(good, seed=71, quality=90)
    data = good.read_bytes()
    broken = ph / "x.jpg"
    broken.write_bytes(b"\0" * len(data))
    stamp = 1_600_000_000_000_000_000
    os.utime(broken, ns=(stamp, stamp))
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "index", str(ph)))
    st = cli_run("--db", db, "status")
    assert status_count(st.stdout, "unreadable") == 1

    with open(broken, "r+b") as f:
        f.write(data)
    os.utime(broken, ns=(stamp, stamp))
    again = cli_run("--db", db, "index", str(ph))
    ok(again)
    st = cli_run("--db", db, "status")
    assert status_count(st.stdout, "unreadable") == 0, f"still unreadable: {again.stderr}"


def test_chmod_000_then_644_is_reread(tmp_path):
    """A file that was mode 000 and is fixed by `chmod 644` (size and mtime unchanged) is read
    on the next index. As root the runs are made as uid nobody, since root reads mode 000."""
    base = Path(tempfile.mkdtemp(prefix="imgfind-perm-"))  # tmp_path's parents are 0700
    try:
        os.chmod(base, 0o777)
        ph = base / "photos"
        ph.mkdir()
        photo(ph / "ok.jpg", seed=81)
        photo(ph / "secret.jpg", seed=82)
        os.chmod(ph, 0o755)
        os.chmod(ph / "ok.jpg", 0o644)
        os.chmod(ph / "secret.jpg", 0)
        db = str(base / "i.db")
        run = {"prefix": as_nobody(), "cwd": str(base)}
        first = sub_run("--db", db, "-v", "index", str(ph), **run)
        assert first.returncode == 0, text(first.stderr)
        st = sub_run("--db", db, "status", **run)
        assert status_count(text(st.stdout), "unreadable") == 1, text(first.stderr)

        os.chmod(ph / "secret.jpg", 0o644)  # changes ctime only
        again = sub_run("--db", db, "-v", "index", str(ph), **run)
        assert again.returncode == 0, text(again.stderr)
        st = sub_run("--db", db, "status", **run)
        assert status_count(text(st.stdout), "unreadable") == 0, (
            f"still 'permission denied' after chmod 644: {text(again.stderr)}")
    finally:
        for dp, dns, fns in os.walk(base):
            for n in dns + fns:
                try:
                    os.chmod(os.path.join(dp, n), 0o755)
                except OSError:
                    pass
        shutil.rmtree(base, ignore_errors=True)


def test_a_symlink_to_a_hard_linked_file_is_called_a_symbolic_link(tmp_path):
    """New-user trial, session 8: photo.jpg, its hard link h.jpg (the shorter name, so the one
    kept) and sym.jpg -> photo.jpg: the symbolic link was shown as a "hard link" of h.jpg,
    because it does not resolve to h.jpg's path. Either name being a link makes it symbolic."""
    ph = tmp_path / "p"
    ph.mkdir()
    photo(ph / "photo.jpg", seed=31)
    photo(ph / "other.jpg", seed=32)
    (ph / "copy.jpg").write_bytes((ph / "photo.jpg").read_bytes())  # a group to be shown in
    os.link(ph / "photo.jpg", ph / "h.jpg")
    os.symlink("photo.jpg", ph / "sym.jpg")
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "index", "--follow-symlinks", str(ph)))
    doc = json_doc(cli_run("--db", db, "dedupe", "--format", "json"))
    names = {os.path.basename(n["path"]): n["link"]
             for g in groups_of(doc) for f in g for n in f.get("other_names", [])}
    assert names.get("sym.jpg") == "symbolic link", names
    assert names.get("photo.jpg", "hard link") == "hard link", names
