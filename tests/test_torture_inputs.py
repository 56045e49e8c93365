"""Torture: hostile files, names and trees. Every bad entry gets a one-line reason (or is
skipped without being opened) and the crawl goes on to the end.

Fast: a few seconds. The corpus is generated in the test (tests/torture_corpus.py).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from torture_corpus import (Case, build_bad_corpus, cli_env, imgfind_cmd, kinds, record,
                            run_cli, snapshot, summary, tiny_image)

from imgfind import index as index_mod
from imgfind.analyse import analyse
from imgfind.cli import main as cli_main
from imgfind.errors import DecodeError
from imgfind.index import Index, Settings
from imgfind.model import FileStat

NOBODY = 65534


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[Case]]:
    root = tmp_path_factory.mktemp("torture") / "corpus"
    root.mkdir()
    return root, build_bad_corpus(root)


@pytest.fixture(scope="module")
def indexed(corpus, tmp_path_factory):
    """The corpus indexed once by the real CLI (a subprocess, as a user runs it)."""
    root, cases = corpus
    db = tmp_path_factory.mktemp("torture-db") / "index.db"
    done = run_cli(db, "-v", "index", str(root), timeout=120)
    return db, done


def _rows(db: Path) -> dict[bytes, tuple]:
    con = sqlite3.connect(db)
    try:
        return {bytes(p): (e, pid) for p, e, pid in con.execute(
            "SELECT f.path, f.error, p.file_id FROM files f"
            " LEFT JOIN prints p ON p.file_id = f.id")}
    finally:
        con.close()


def test_every_bad_input_has_a_one_line_reason_and_the_crawl_goes_on(corpus, indexed):
    root, cases = corpus
    db, done = indexed
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = _rows(db)
    rootb = os.fsencode(root)
    wrong = []
    for case in cases:
        path = os.path.join(rootb, case.rel)
        row = rows.get(path)
        if case.expect == "skipped":
            if row is not None:
                wrong.append((case, "stored, should be skipped"))
        elif row is None:
            wrong.append((case, "missing from the index"))
        elif case.expect == "indexed" and (row[0] is not None or row[1] is None):
            wrong.append((case, f"not fingerprinted: {row[0]}"))
        elif case.expect == "unreadable":
            reason = row[0]
            if reason is None:
                wrong.append((case, "fingerprinted, should be unreadable"))
            elif "\n" in reason or "\r" in reason or not reason.strip():
                wrong.append((case, f"reason is not one line: {reason!r}"))
            elif case.reason and case.reason not in reason:
                wrong.append((case, f"reason {reason!r} lacks {case.reason!r}"))
    assert not wrong, "\n".join(f"{c.rel!r} ({c.kind}): {why}" for c, why in wrong)
    # Nothing outside the root, nothing reached through a link, nothing extra.
    assert all(p.startswith(rootb + b"/") for p in rows)
    assert not [p for p in rows if b"/links/" in p]
    expected = {os.path.join(rootb, c.rel) for c in cases if c.expect != "skipped"}
    assert set(rows) == expected
    unreadable = sum(c.expect == "unreadable" for c in cases)
    stored = len(expected)
    assert summary(done.stderr)[:5] == (stored - unreadable, 0, 0, 0, unreadable)
    assert done.stderr.count("unreadable: ") == unreadable
    record("bad inputs", **{"entries in the hostile corpus": len(cases),
                            "by kind": dict(kinds(cases)),
                            "fingerprinted / unreadable with reason / skipped unopened":
                            f"{stored - unreadable} / {unreadable} / {len(cases) - stored}"})


def test_second_run_decodes_nothing(corpus, indexed):
    root, cases = corpus
    db, _ = indexed
    again = run_cli(db, "index", str(root))
    assert again.returncode == 0, again.stderr
    stored = sum(c.expect != "skipped" for c in cases)
    unreadable = sum(c.expect == "unreadable" for c in cases)
    # Still unreadable, not read again: counted as unreadable, not as unchanged.
    assert summary(again.stderr) == (0, 0, stored - unreadable, 0, unreadable)


def _main(capfd, *argv: str) -> tuple[int, str, str]:
    """The console entry point in this process (no interpreter start-up): code, stdout, stderr."""
    capfd.readouterr()
    with pytest.raises(SystemExit) as end:
        cli_main(list(argv))
    out, err = capfd.readouterr()
    return end.value.code or 0, out, err


def test_status_and_dedupe_json_survive_hostile_names(corpus, indexed, capfd):
    db, _ = indexed
    code, out, err = _main(capfd, "--db", str(db), "-v", "status")
    assert code == 0 and "unreadable:    27" in out, err
    code, out, err = _main(capfd, "--db", str(db), "dedupe", "--format", "json")
    assert code == 0, err
    json.loads(out)  # valid JSON whatever the names


def test_verbose_report_is_one_line_per_problem(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    (root / "broken\nname.jpg").write_bytes(b"not a picture")
    done = run_cli(tmp_path / "i.db", "-v", "index", str(root))
    lines = done.stderr.splitlines()
    assert all(line.startswith(("unreadable: ", "warning: ", "indexed: ")) for line in lines), lines


def test_follow_symlinks_ends_on_loops_and_warns_once_per_bad_link(corpus, tmp_path):
    root, _ = corpus
    done = run_cli(tmp_path / "i.db", "-v", "index", "--follow-symlinks", str(root / "links"),
                   timeout=60)
    assert done.returncode == 0, done.stderr
    warnings = [w for w in done.stderr.splitlines() if w.startswith("warning: ")]
    # a.jpg <-> b.jpg and self.jpg loop; dangling.png points nowhere.
    assert len(warnings) == 4, warnings
    assert sum("symbolic links" in w for w in warnings) == 3
    stored = snapshot(tmp_path / "i.db")
    # Links leaving the root are followed only on request, and stored under the link's path.
    # out-file.png and out-dir/secret.png are one file (issue 11: one file is one file): it
    # is stored once, under the name that is not itself a link to a file.
    names = sorted(os.path.basename(p) for p in stored)
    assert names == [b"secret.png"]
    assert all(b"/links/" in p for p in stored)


def test_hostile_names_as_arguments(corpus, tmp_path, capfd, monkeypatch):
    root, _ = corpus
    names = root / "names"
    db = str(tmp_path / "i.db")
    monkeypatch.chdir(names)
    code, _, err = _main(capfd, "--db", db, "index", "--", "-rf.png")
    assert code == 0 and summary(err)[0] == 1, err
    # A name that is not UTF-8 arrives as Python passes it from argv (surrogate escapes).
    raw = os.path.join(os.fsencode(names), b"\xff\xfe-latin1-\xe9t\xe9.png")
    code, _, err = _main(capfd, "--db", db, "index", os.fsdecode(raw))
    assert code == 0, err
    assert raw in snapshot(db)
    code, out, err = _main(capfd, "--db", db, "query", "--format", "json", os.fsdecode(raw))
    assert code == 0, err
    assert json.loads(out)
    code, out, err = _main(capfd, "--db", db, "query", "--", "-rf.png")
    assert code == 0, err
    assert "Traceback" not in err


def test_deleted_or_replaced_between_walk_and_decode(tmp_path, monkeypatch):
    root = tmp_path / "r"
    root.mkdir()
    for i in range(6):
        tiny_image(i).save(root / f"{i}.png")
    real_walk = index_mod.walk

    def racing_walk(*args, **kwargs):
        found = list(real_walk(*args, **kwargs))
        (root / "0.png").unlink()  # deleted
        (root / "1.png").unlink()
        os.mkfifo(root / "1.png")  # replaced by a FIFO: must not hang the run
        tiny_image(99, (80, 60)).save(root / "2.png.tmp", "PNG")
        os.replace(root / "2.png.tmp", root / "2.png")  # replaced by another picture
        (root / "3.png").unlink()
        (root / "3.png").mkdir()  # replaced by a folder
        return iter(found)

    monkeypatch.setattr(index_mod, "walk", racing_walk)
    old = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("decode blocked on a FIFO"))
    signal.alarm(20)
    try:
        with Index.open(tmp_path / "i.db", Settings(jobs=1)) as idx:
            stats = idx.update([root])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    reasons = {os.path.basename(p): r for p, r in stats.problems}
    assert reasons == {"0.png": "file not found",
                       "1.png": "not a regular file (a FIFO); not read",
                       "3.png": "is a directory"}
    assert (stats.new, stats.unreadable) == (3, 3)
    # The replacement was fingerprinted, and stored with the size and mtime of what was read,
    # so the next run sees it as unchanged instead of decoding it again.
    st = os.stat(root / "2.png")
    con = sqlite3.connect(tmp_path / "i.db")
    row = con.execute("SELECT size, mtime_ns, width, height FROM files WHERE path = ?",
                      (os.fsencode(root / "2.png"),)).fetchone()
    con.close()
    assert row == (st.st_size, st.st_mtime_ns, 80, 60)
    monkeypatch.setattr(index_mod, "walk", real_walk)
    with Index.open(tmp_path / "i.db", Settings(jobs=1)) as idx:
        again = idx.update([root])
    # 0.png and 1.png (now a FIFO) are gone from the crawl; 3.png is a folder now.
    assert (again.new, again.changed, again.unchanged, again.removed) == (0, 0, 3, 3)
    record("bad inputs", **{"races between walk and decode (deleted, FIFO, replaced, folder)": 4})


def test_special_files_are_refused_before_they_are_opened(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    for target in (fifo, Path("/dev/zero"), Path("/dev/null")):
        with pytest.raises(DecodeError, match="not a regular file"):
            from imgfind.decode import open_for_hash

            open_for_hash(target)
        result = analyse(FileStat(os.fsencode(target), 0, 0))
        assert result.error and "not a regular file" in result.error


def _as_nobody(fn, *args) -> dict:
    """Run fn(*args) in a forked child with uid/gid nobody; return what it returns (JSON)."""
    from PIL import Image

    Image.init()  # plugins are imported before privileges go (root's site-packages is 0700)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = json.dumps(fn(*args)).encode()
            os.write(write, out)
            code = 0
        except BaseException as exc:  # noqa: BLE001 - report anything to the parent
            os.write(write, json.dumps({"child_error": repr(exc)}).encode())
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks) or b"{}")


def _index_as_user(db: str, root: str) -> dict:
    from click.testing import CliRunner

    from imgfind.cli import cli

    # -j 1: the interpreter's own files are unreadable to nobody here (root's home is 0700),
    # so the child can use only modules imported before the fork.
    result = CliRunner().invoke(cli, ["--db", db, "-v", "index", "-j", "1", root],
                                catch_exceptions=True)
    return {"code": result.exit_code, "stderr": result.stderr,
            "exception": repr(result.exception) if result.exception else None}


def test_permission_denied_file_and_folder(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to nobody (as a user, chmod 000 just works: "
                    "see test_permission_denied_as_this_user)")
    analyse(FileStat(b"/nonexistent", 0, 0))  # warm every lazy import before dropping
    base = Path(tempfile.mkdtemp(prefix="imgfind-perm-"))
    try:
        os.chmod(base, 0o755)
        root = base / "tree"
        (root / "locked").mkdir(parents=True)
        for i in range(3):
            tiny_image(i).save(root / f"{i}.png")
        tiny_image(5).save(root / "locked" / "inside.png")
        tiny_image(6).save(root / "secret.png")
        os.chmod(root / "secret.png", 0o000)
        os.chmod(root / "locked", 0o000)
        for p in (base, root, *root.glob("[0-9].png")):
            os.chown(p, NOBODY, NOBODY)
        # First run as root sees everything; then a user who cannot read the folder must
        # neither fail nor drop the folder's indexed files from the index.
        db = str(base / "index.db")
        first = subprocess.run(imgfind_cmd(db, "index", str(root)), env=cli_env(),
                               capture_output=True, text=True)
        assert summary(first.stderr) == (5, 0, 0, 0, 0)
        for p in (db, db + "-wal", db + "-shm"):
            if os.path.exists(p):
                os.chown(p, NOBODY, NOBODY)
        out = _as_nobody(_index_as_user, db, str(root))
        assert out.get("code") == 0, out
        assert "Traceback" not in out["stderr"]
        assert "locked: Permission denied" in out["stderr"]
        assert summary(out["stderr"]) == (0, 0, 4, 0, 0)
        # A fresh index built by the user: the unreadable file gets a reason, the folder a
        # warning, and the rest is indexed.
        db2 = str(base / "fresh.db")
        out = _as_nobody(_index_as_user, db2, str(root))
        assert out.get("code") == 0, out
        assert "secret.png: permission denied" in out["stderr"]
        assert "warning: " in out["stderr"] and "locked: Permission denied" in out["stderr"]
        assert summary(out["stderr"]) == (3, 0, 0, 0, 1)
        record("bad inputs", **{"permission-denied file and folder (as uid nobody)": 2})
    finally:
        os.chmod(root / "locked", 0o755)
        shutil.rmtree(base, ignore_errors=True)


BOMB_PROBE = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
from imgfind.decode import open_for_hash
from imgfind.errors import DecodeError
open_for_hash(sys.argv[2])  # warm-up: a small valid picture
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {}
for path in sys.argv[3:]:
    try:
        open_for_hash(path)
        out[path] = "decoded"
    except DecodeError as exc:
        out[path] = str(exc)
    out[path + ":rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(__import__("json").dumps(out))
"""


def test_decompression_bombs_keep_memory_bounded(corpus, tmp_path):
    root, _ = corpus
    from torture_corpus import png_raw

    # Just under Pillow's limit (9000x9000 grey): decoded, or refused as truncated, but the
    # memory it may take is bounded by the limit itself.
    (tmp_path / "under.png").write_bytes(png_raw(9000, 9000, 8, 0))
    bombs = sorted(str(p) for p in (root / "bombs").iterdir())
    probe = subprocess.run(
        [sys.executable, "-c", BOMB_PROBE, str(Path(__file__).parent.parent),
         str(root / "tiny" / "1x1.png"), *bombs, str(tmp_path / "under.png")],
        capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    out = json.loads(probe.stdout)
    for bomb in bombs:
        assert out[bomb].startswith("refused"), out[bomb]
        assert out[bomb + ":rss_kb"] < 20_000, (bomb, out[bomb + ":rss_kb"])
    under_mb = out[str(tmp_path / "under.png") + ":rss_kb"] // 1024
    assert under_mb < 200, under_mb
    record("bad inputs", **{
        "decompression bombs refused at the header (peak RSS growth)":
        ", ".join(f"{Path(b).name} +{out[b + ':rss_kb']} KiB" for b in bombs),
        "9000x9000 grey PNG just under the limit (peak RSS growth)": f"+{under_mb} MiB"})


@pytest.mark.slow
def test_bounded_address_space_turns_out_of_memory_into_a_reason(tmp_path):
    """With the address space capped, a large picture is a one-line 'out of memory', no crash."""
    from torture_corpus import png_flat

    path = tmp_path / "big.png"
    path.write_bytes(png_flat(9000, 9000))  # 81 Mpx RGB: ~320 MB once decoded
    code = ("import resource, sys; sys.path.insert(0, sys.argv[1]);"
            "from imgfind.analyse import analyse; from imgfind.model import FileStat;"
            "analyse(FileStat(b'/nonexistent', 0, 0));"
            "soft = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
            "vm = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0]) * 1024;"
            "resource.setrlimit(resource.RLIMIT_AS, (vm + 150 * 2**20, resource.RLIM_INFINITY));"
            "r = analyse(FileStat(sys.argv[2].encode(), 0, 0)); print(r.error)")
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent.parent),
                           str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "out of memory while decoding", done.stdout


def test_cli_entry_point_handles_non_utf8_output(tmp_path, capfd):
    root = tmp_path / "r"
    root.mkdir()
    (root / os.fsdecode(b"\xff-bad.jpg")).write_bytes(b"junk")
    code, _, err = _main(capfd, "--db", str(tmp_path / "i.db"), "-v", "index", str(root))
    assert code == 0
    assert "-bad.jpg: not an image" in err


@pytest.mark.slow
def test_resource_limit_for_open_files_is_not_needed(corpus, tmp_path):
    """Indexing the corpus with only 64 descriptors allowed still works: none are leaked."""
    root, _ = corpus
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64));"
            "sys.path.insert(0, sys.argv[1]); from imgfind.cli import main;"
            "main(['--db', sys.argv[2], 'index', '-j', '1', sys.argv[3]])")
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent.parent),
                           str(tmp_path / "i.db"), str(root)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    new, _, _, _, unreadable = summary(done.stderr)
    assert new + unreadable > 50  # the whole corpus went through, readable or not
    lim = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert lim[0] > 64  # the parent's own limit is untouched
