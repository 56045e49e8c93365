"""Undo of link applies judged on the link itself (the kept file may have moved or gone since),
and undo's exit status when some step cannot be undone; real files, real subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import invoke, make_image


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def imgfind(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "imgfind", "--db", db, *args], env=env,
                          capture_output=True, text=True, timeout=300)


def two_groups(root: Path) -> Path:
    """Two pictures, each with a byte-identical copy."""
    d = root / "p"
    d.mkdir()
    for seed in (1, 2):
        make_image(d / f"a{seed}.jpg", seed=seed, size=(320, 240), quality=90)
        shutil.copy2(d / f"a{seed}.jpg", d / f"a{seed}-copy.jpg")
    return d


def kept_and_removed(plan: Path) -> list[tuple[Path, Path]]:
    doc = json.loads(plan.read_text())
    out = []
    for g in doc["groups"]:
        removed = [f["path"] for f in g["files"] if f["action"] == "remove"]
        assert len(removed) == 1
        out.append((Path(g["kept"]), Path(removed[0])))
    return sorted(out)


@pytest.mark.parametrize("method", ["--symlink", "--hardlink"])
@pytest.mark.parametrize("fate", ["moved", "deleted"])
def test_undo_restores_link_after_kept_file_moved_or_deleted(db, tmp_path, method, fate) -> None:
    d = two_groups(tmp_path)
    before = {p.name: sha(p) for p in d.iterdir()}
    plan = tmp_path / "plan.json"
    assert imgfind(db, "dedupe", "-q", str(d), "--plan", str(plan)).returncode == 0
    assert imgfind(db, "apply", str(plan), method, "--yes").returncode == 0
    (kept, removed), _ = kept_and_removed(plan)
    assert removed.is_symlink() == (method == "--symlink")
    if fate == "moved":
        kept.rename(tmp_path / kept.name)
    else:
        kept.unlink()
    r = imgfind(db, "undo")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("restored") == 2 and "cannot" not in r.stdout
    assert not removed.is_symlink() and sha(removed) == before[removed.name]
    assert removed.stat().st_nlink == 1
    holding = Path(db + ".act") / "holding"
    assert not [p for p in holding.rglob("*") if p.is_file()]


@pytest.mark.parametrize("replacement", ["file", "other-symlink"])
def test_undo_refuses_a_path_replaced_since_and_exits_1_after_undoing_the_rest(
        db, tmp_path, replacement) -> None:
    d = two_groups(tmp_path)
    before = {p.name: sha(p) for p in d.iterdir()}
    plan = tmp_path / "plan.json"
    assert imgfind(db, "dedupe", "-q", str(d), "--plan", str(plan)).returncode == 0
    assert imgfind(db, "apply", str(plan), "--symlink", "--yes").returncode == 0
    (kept1, removed1), (kept2, removed2) = kept_and_removed(plan)
    removed1.unlink()
    if replacement == "file":
        removed1.write_bytes(b"the user's own file")
    else:
        removed1.symlink_to(kept2)  # a link, but not the one imgfind made
    r = imgfind(db, "undo")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"cannot undo: {removed1} was replaced after the apply" in r.stdout
    assert "1 could not be undone" in r.stderr and "Traceback" not in r.stderr
    assert sha(removed2) == before[removed2.name] and not removed2.is_symlink()  # the rest undone
    held = [p for p in (Path(db + ".act") / "holding").rglob("*") if p.is_file()]
    assert [sha(p) for p in held] == [before[removed1.name]]  # the original is still held
    assert removed1.is_symlink() == (replacement == "other-symlink")


def test_undo_of_a_delete_exits_1(runner, db, tmp_path) -> None:
    d = two_groups(tmp_path)
    invoke(runner, db, "dedupe", str(d), "--plan", str(tmp_path / "plan.json"))
    invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--delete", "--yes")
    r = invoke(runner, db, "undo", ok=False)
    assert r.exit_code == 1 and r.stdout.count("deleted for good") == 2
    assert "undone: 0 steps, 2 could not be undone" in r.stderr
