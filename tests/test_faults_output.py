"""Issue 11, section 5: output is safe and says what it means.

Text output never sends a raw control character to the terminal (names and EXIF fields are
shown escaped); `--format paths` is never split silently by a newline in a name, and `-0/--null`
gives NUL-separated output; the group options are accepted after the command too; query and
info on a file they cannot read give one Error line; messages count in good English; the
likely original among pixel-identical copies does not depend on junk metadata.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from faults_support import (CONTROL, as_nobody, cli_run, group_names, groups_of, json_doc, ok,
                            one_error_line, photo, status_count, sub_run, text)
from PIL import Image

HOSTILE = ["a\x1b]0;pwned\x07.jpg", "b\x1b[2J\x1b[31m.jpg", "c\r\x08\x7f.jpg"]


def _no_raw_controls(out: str, where: str) -> None:
    found = sorted({repr(c) for c in CONTROL.findall(out)})
    assert not found, f"{where}: raw control characters {found} reach the terminal:\n{out!r}"


def _hostile_folder(tmp_path: Path) -> Path:
    """Copies of one picture under names with escape sequences, EXIF Artist with escapes too,
    and an unreadable file with an escape in its name."""
    folder = tmp_path / "photos"
    folder.mkdir()
    im = photo(None, seed=1)
    exif = Image.Exif()
    exif[0x013B] = "Eve\x1b]0;owned\x07\x1b[2J"  # Artist
    exif[0x8298] = "\x1b[31mred\x1b[0m"  # Copyright
    for name in HOSTILE:
        im.save(folder / name, exif=exif.tobytes())
    (folder / "bad\x1b[2J.jpg").write_bytes(b"not a picture at all")
    return folder


@pytest.mark.parametrize("command", ["dedupe", "dedupe DIR", "query", "status -v", "-v status",
                                     "index -v", "info"])
def test_text_output_shows_control_characters_escaped(tmp_path, command):
    folder = _hostile_folder(tmp_path)
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "index", str(folder)))
    probe = folder / HOSTILE[0]
    args = {
        "dedupe": ["--db", db, "dedupe"],
        "dedupe DIR": ["--db", db, "dedupe", str(folder)],
        "query": ["--db", db, "query", str(probe)],
        "status -v": ["--db", db, "status", "-v"],
        "-v status": ["--db", db, "-v", "status"],
        "index -v": ["--db", db, "-v", "index", str(folder)],
        "info": ["info", str(probe)],
    }[command]
    result = cli_run(*args)
    ok(result)
    _no_raw_controls(result.stdout, f"{command} stdout")
    _no_raw_controls(result.stderr, f"{command} stderr")
    if command in ("dedupe", "dedupe DIR", "query"):
        assert "\\x1b" in result.stdout, "the escaped names are shown"
    if command in ("status -v", "-v status"):
        assert "bad\\x1b[2J.jpg" in result.stdout, result.stdout


def _newline_names(tmp_path: Path) -> tuple[Path, str, str]:
    folder = tmp_path / "photos"
    folder.mkdir()
    im = photo(None, seed=2)
    tricky = "x\nvictim.jpg\n\nzz.jpg"
    im.save(folder / "a.jpg")
    im.save(folder / tricky, format="JPEG")
    photo(folder / "other.jpg", seed=3)
    return folder, str(folder / "a.jpg"), str(folder / tricky)


def test_paths_format_is_not_split_by_a_newline_in_a_name(tmp_path):
    """`x\\nvictim.jpg\\n\\nzz.jpg` must not print a fake path and a fake group separator."""
    folder, plain, tricky = _newline_names(tmp_path)
    db = str(tmp_path / "i.db")
    for args in (["dedupe", str(folder)], ["dedupe"], ["query", plain]):
        result = cli_run("--db", db, *args, "--format", "paths")
        ok(result)
        lines = result.stdout.splitlines()
        assert "" not in lines, f"{args}: a fake group separator: {lines}"
        assert not any(ln in ("victim.jpg", "zz.jpg") or ln == str(folder / "x") for ln in lines), (
            f"{args}: fake paths: {lines}")


@pytest.mark.parametrize("flag", ["-0", "--null"])
def test_null_separated_paths(tmp_path, flag):
    """`-0/--null` (as find and fdupes): each path ends with NUL, names kept byte for byte."""
    folder, plain, tricky = _newline_names(tmp_path)
    db = str(tmp_path / "i.db")
    done = sub_run("--db", db, "dedupe", str(folder), "--format", "paths", flag)
    assert done.returncode == 0, text(done.stderr)
    records = [r for r in done.stdout.split(b"\0") if r]
    assert sorted(records) == sorted([os.fsencode(plain), os.fsencode(tricky)]), records
    assert done.stdout.endswith(b"\0") and b"\n" not in done.stdout.replace(os.fsencode(tricky), b"")
    done = sub_run("--db", db, "query", plain, "--format", "paths", flag)
    assert done.returncode == 0, text(done.stderr)
    assert [r for r in done.stdout.split(b"\0") if r] == [os.fsencode(tricky)], done.stdout


# ----------------------------------------------------------------------------- option placement
def test_group_options_are_accepted_after_the_command(tmp_path):
    """People type -v, -q and --db after the command as often as before it."""
    folder = tmp_path / "photos"
    folder.mkdir()
    im = photo(folder / "a.jpg", seed=4)
    im.save(folder / "a.png")
    (folder / "broken.jpg").write_bytes(b"junk")
    db = str(tmp_path / "after.db")
    env = {"IMGFIND_DB": str(tmp_path / "default.db"), "XDG_DATA_HOME": str(tmp_path / "xdg")}

    idx = cli_run("index", str(folder), "--db", db, "-q", env=env)
    ok(idx)
    assert idx.stderr == "", f"-q after the command is ignored: {idx.stderr!r}"
    assert os.path.exists(db) and not os.path.exists(tmp_path / "default.db")

    st = cli_run("status", "-v", "--db", db, env=env)
    ok(st)
    assert "broken.jpg" in st.stdout, f"status -v lists the unreadable files: {st.stdout}"
    assert status_count(st.stdout, "files") == 3

    dd = cli_run("dedupe", "--db", db, "--format", "json", env=env)
    assert group_names(json_doc(dd)) == [["a.jpg", "a.png"]]
    q = cli_run("query", str(folder / "a.png"), "--db", db, "-q", env=env)
    ok(q)
    assert "a.jpg" in q.stdout


# ----------------------------------------------------------------------------- unreadable inputs
def test_query_and_info_on_an_unreadable_file_are_one_error_line(tmp_path):
    """README exit-code table: an unreadable query image is exit 1 with one Error line (today:
    a usage block and exit 2). As root the commands run as uid nobody."""
    base = Path(tempfile.mkdtemp(prefix="imgfind-unreadable-"))
    try:
        os.chmod(base, 0o777)
        folder = base / "photos"
        folder.mkdir()
        os.chmod(folder, 0o755)
        photo(folder / "ok.jpg", seed=5)
        photo(folder / "secret.jpg", seed=6)
        os.chmod(folder / "ok.jpg", 0o644)
        os.chmod(folder / "secret.jpg", 0)
        db = str(base / "i.db")
        run = {"prefix": as_nobody(), "cwd": str(base)}
        assert sub_run("--db", db, "index", str(folder / "ok.jpg"), **run).returncode == 0
        for args in (["query", str(folder / "secret.jpg")], ["info", str(folder / "secret.jpg")]):
            done = sub_run("--db", db, *args, **run)
            line = one_error_line(done.returncode, text(done.stderr))
            assert "secret.jpg" in line and "permission" in line.lower(), line
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo", "dangling-symlink", "not-an-image"])
def test_query_and_info_on_other_unusable_paths_are_one_error_line(tmp_path, kind):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "ok.jpg", seed=7)
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "index", str(folder)))
    target = tmp_path / "target.jpg"
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "dangling-symlink":
        os.symlink(tmp_path / "nowhere.jpg", target)
    elif kind == "not-an-image":
        target.write_text("hello\n")
    for args in (["--db", db, "query", str(target)], ["info", str(target)]):
        done = sub_run(*args)
        one_error_line(done.returncode, text(done.stderr))


def test_empty_file_is_called_an_empty_file(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "ok.jpg", seed=8)
    (folder / "empty.jpg").write_bytes(b"")
    db = str(tmp_path / "i.db")
    idx = cli_run("--db", db, "-v", "index", str(folder))
    ok(idx)
    line = next(ln for ln in idx.stderr.splitlines() if "empty.jpg" in ln)
    assert "empty file" in line, line
    st = cli_run("--db", db, "status", "-v")
    assert "empty file" in st.stdout or "empty file" in cli_run("--db", db, "-v", "status").stdout
    for args in (["--db", db, "query", str(folder / "empty.jpg")], ["info", str(folder / "empty.jpg")]):
        r = cli_run(*args)
        line = one_error_line(r.exit_code, r.stderr)
        assert "empty file" in line, line


# ----------------------------------------------------------------------------- counting words
def test_counts_of_one_are_singular(tmp_path):
    """'1 match', '1 group', '1 warning': never '1 matches', '1 groups', '1 warnings'."""
    folder = tmp_path / "photos"
    folder.mkdir()
    im = photo(folder / "a.jpg", seed=9)
    photo(folder / "b.jpg", seed=10)
    probe = tmp_path / "probe.png"
    im.save(probe)
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)  # a root that is neither a file nor a folder: one warning
    db = str(tmp_path / "i.db")
    idx = cli_run("--db", db, "index", str(folder), str(fifo))
    ok(idx)
    assert "1 warning" in idx.stderr and "1 warnings" not in idx.stderr, idx.stderr
    q = cli_run("--db", db, "query", str(probe))
    ok(q)
    assert "1 match " in q.stdout or "1 match\n" in q.stdout or "1 match:" in q.stdout, q.stdout
    assert "1 matches" not in q.stdout, q.stdout
    im.save(folder / "a-copy.png")
    d = cli_run("--db", db, "dedupe", str(folder))
    ok(d)
    assert "1 groups" not in d.stdout and "1 group" in d.stdout, d.stdout


# ----------------------------------------------------------------------------- likely original
def _twins(folder: Path, junk_a: int, junk_b: int) -> None:
    """a.jpg and b.jpg: the same JPEG pixels; EXIF Artist that is only NULs and blanks (junk);
    a.jpg made 20 s before b.jpg, within one minute."""
    folder.mkdir()
    im = photo(None, seed=11, size=(400, 300))
    for name, junk in (("a.jpg", junk_a), ("b.jpg", junk_b)):
        exif = Image.Exif()
        exif[0x013B] = "\0 " * junk
        im.save(folder / name, quality=90, exif=exif.tobytes())
    minute = 1_700_000_040 * 10**9  # a whole minute
    os.utime(folder / "a.jpg", ns=(minute + 5 * 10**9, minute + 5 * 10**9))
    os.utime(folder / "b.jpg", ns=(minute + 25 * 10**9, minute + 25 * 10**9))


def test_likely_original_is_not_decided_by_junk_exif_length(tmp_path):
    """Swapping which copy carries the longer junk Artist string must not swap the original."""
    picks = []
    for run, (ja, jb) in enumerate(((5, 900), (900, 5))):
        folder = tmp_path / f"run{run}"
        _twins(folder, ja, jb)
        db = str(tmp_path / f"i{run}.db")
        doc = json_doc(cli_run("--db", db, "dedupe", str(folder), "--format", "json"))
        assert group_names(doc) == [["a.jpg", "b.jpg"]], group_names(doc)
        picks.append(os.path.basename(groups_of(doc)[0][0]["path"]))
        probe = tmp_path / f"probe{run}.png"
        Image.open(folder / "a.jpg").resize((200, 150)).save(probe)
        q = json_doc(cli_run("--db", db, "query", str(probe), "--format", "json"))
        picks.append(os.path.basename(q["queries"][0]["original"]))
    assert len(set(picks)) == 1, (
        f"the likely original follows the length of junk EXIF (dedupe, query per run): {picks}")
