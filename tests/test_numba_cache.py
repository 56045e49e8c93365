"""The compiled kernels import whoever runs imgfind: with no writable folder beside the
installed package and no writable home (a service account, cron as nobody), numba's cache
goes to a private temporary folder (numba_cache.prepare) instead of numba raising "no locator
available" at import. Real subprocess as the unprivileged user nobody (setpriv), so that the
folders' permissions apply; skipped where that cannot be arranged."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import imgfind
from imgfind import numba_cache

from faults_support import as_nobody

pytest.importorskip("numba")

def _as_nobody(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*as_nobody(), sys.executable, "-c", code], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_kernels_import_without_a_writable_package_folder_or_home() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as nobody")
    site = Path(tempfile.mkdtemp(prefix="imgfind-ro-site-"))
    try:
        shutil.copytree(Path(imgfind.__file__).parent, site / "imgfind",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for root, dirs, files in os.walk(site):
            for f in files:
                os.chmod(os.path.join(root, f), 0o444)
            os.chmod(root, 0o555)
        env = {k: v for k, v in os.environ.items()
               if k not in ("XDG_CACHE_HOME", numba_cache.ENV, "PYTHONPATH")}
        others = [p for p in sys.path if p and not os.path.isdir(os.path.join(p, "imgfind"))]
        env.update(HOME="/nonexistent", PYTHONPATH=os.pathsep.join([str(site), *others]))
        probe = _as_nobody("import numpy, numba", env, site)
        if probe.returncode != 0:
            pytest.skip(f"nobody cannot import numba here: {probe.stderr.strip()[-200:]}")
        if _as_nobody(f"open({str(site / 'imgfind' / 'probe')!r}, 'w')", env, site).returncode == 0:
            pytest.skip("the copied package folder is writable by nobody")
        run = _as_nobody(
            "import os, imgfind\n"
            "from imgfind.search import _kernels, _local_kernels\n"
            "from imgfind import _consensus_kernels\n"
            "assert imgfind.__file__.startswith(" + repr(str(site)) + "), imgfind.__file__\n"
            "print(os.environ.get('NUMBA_CACHE_DIR', ''))\n", env, site)
        assert run.returncode == 0, run.stderr[-2000:]
        assert "no locator available" not in run.stderr
        cache = run.stdout.strip()
        assert cache and cache.startswith(tempfile.gettempdir())
    finally:
        for root, dirs, files in os.walk(site):
            os.chmod(root, 0o755)
        shutil.rmtree(site, ignore_errors=True)


def test_a_cache_folder_the_user_set_is_kept(monkeypatch) -> None:
    monkeypatch.setenv(numba_cache.ENV, "/somewhere/chosen")
    numba_cache.prepare()
    assert os.environ[numba_cache.ENV] == "/somewhere/chosen"


def test_nothing_is_set_when_numba_can_write_beside_the_kernels(monkeypatch) -> None:
    monkeypatch.delenv(numba_cache.ENV, raising=False)
    if not all(numba_cache._can_make(os.path.join(d, "__pycache__")) for d in numba_cache._KERNEL_DIRS):
        pytest.skip("this checkout's package folders are not writable")
    numba_cache.prepare()
    assert numba_cache.ENV not in os.environ
