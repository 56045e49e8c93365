"""An index in a folder this user cannot write (SQLite cannot make its -wal/-shm there):
reading commands work, a writing command says why in one line. Real subprocess; as root the
DAC override capabilities are dropped (setpriv), so the folder's permissions apply."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_image


def _prefix(folder: Path) -> list[str]:
    """A command prefix under which *folder* (mode 555) cannot be written; skip if none."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner",
                  "--inh-caps=-all"]
    probe = subprocess.run([*prefix, "touch", str(folder / "probe")], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("the folder is writable whatever its mode here")
    return prefix


def test_reading_commands_work_on_an_index_in_an_unwritable_folder(tmp_path) -> None:
    photos, folder = tmp_path / "p", tmp_path / "idx"
    photos.mkdir()
    folder.mkdir()
    im = make_image(photos / "a.png", seed=3, size=(320, 240))
    im.save(photos / "a-copy.jpg", quality=85)
    make_image(photos / "b.png", seed=4, size=(320, 240))
    db = str(folder / "i.db")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def run(*args: str, prefix: list[str] = []) -> subprocess.CompletedProcess[str]:  # noqa: B006
        return subprocess.run([*prefix, sys.executable, "-m", "imgfind", "--db", db, *args],
                              env=env, capture_output=True, text=True, timeout=300)

    assert run("index", "-q", str(photos)).returncode == 0
    assert not os.path.exists(db + "-wal") and not os.path.exists(db + "-shm")
    folder.chmod(0o555)
    try:
        prefix = _prefix(folder)
        status = run("status", prefix=prefix)
        assert status.returncode == 0 and "files:         3" in status.stdout, status.stderr
        query = run("query", str(photos / "a.png"), "--format", "paths", prefix=prefix)
        assert query.returncode == 0, query.stderr
        assert query.stdout.split() == [str(photos / "a-copy.jpg")]
        dedupe = run("dedupe", "--format", "paths", prefix=prefix)
        assert dedupe.returncode == 0, dedupe.stderr
        assert sorted(dedupe.stdout.split()) == [str(photos / "a-copy.jpg"), str(photos / "a.png")]
        index = run("index", str(photos), prefix=prefix)
        assert index.returncode == 1 and "Traceback" not in index.stderr
        [line] = index.stderr.strip().splitlines()
        assert f"you cannot write its folder {folder}" in line, line
        assert "dedupe without paths" in line, line  # dedupe PATHS indexes them first: it writes
        fresh = subprocess.run([*prefix, sys.executable, "-m", "imgfind", "--db", str(folder / "new.db"),
                                "index", str(photos)], env=env, capture_output=True, text=True,
                               timeout=300)
        assert fresh.returncode == 1 and "Traceback" not in fresh.stderr
        [line] = fresh.stderr.strip().splitlines()
        assert "still work" not in line, line  # no index there to read
        assert sorted(os.listdir(folder)) == ["i.db"]
    finally:
        folder.chmod(0o755)
