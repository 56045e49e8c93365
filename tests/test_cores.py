"""One count of usable cores (imgfind.cores), respected by every default that counts cores.

Run under ``taskset -c 0`` on a many-core machine, the index's worker pool, the dedupe's
verification threads and its helper process all counted the machine's cores (os.cpu_count);
only the verification threads looked at the affinity mask.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import imgfind
from imgfind.cores import cgroup_quota_cores, usable_cores

PACKAGE = Path(imgfind.__file__).parent

_PROBE = """
import json, os
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from imgfind.cores import usable_cores
from imgfind.indexer import default_executor
from imgfind.dask_executor import DaskExecutor
from imgfind import verify_helper, verify_threads
print(json.dumps({
    "usable": usable_cores(),
    "machine": os.cpu_count(),
    "index_executor": type(default_executor(None, 1000)).__name__,
    "verify_threads": verify_threads.default_threads(),
    "helper": verify_helper.enabled(),
}))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
@pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda _: [])(0)) < 2,
                    reason="one CPU: pinning to one changes nothing")
def test_pinned_to_one_cpu_every_default_uses_one(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("IMGFIND_VERIFY_THREADS", "IMGFIND_HELPER")}
    run = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["machine"] >= 2
    assert got == {**got, "usable": 1, "index_executor": "InlineExecutor",
                   "verify_threads": 1, "helper": False}


def test_usable_cores_is_at_least_one_and_at_most_the_machines():
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


def test_no_module_counts_cores_its_own_way():
    """os.cpu_count / sched_getaffinity / process_cpu_count appear in imgfind/cores.py only."""
    pattern = re.compile(r"\b(cpu_count|sched_getaffinity|process_cpu_count)\b")
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.name != "cores.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def _cgroup(root: Path, rel: str, files: dict[str, str]) -> None:
    folder = root / rel
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def test_cgroup_v2_quota_rounds_up_and_the_smallest_ancestor_wins(tmp_path):
    _cgroup(tmp_path, "", {"cpu.max": "max 100000\n"})
    _cgroup(tmp_path, "box", {"cpu.max": "350000 100000\n"})  # 3.5 CPUs
    _cgroup(tmp_path, "box/job", {"cpu.max": "max 100000\n"})
    assert cgroup_quota_cores(tmp_path, "0::/box/job\n") == 4
    _cgroup(tmp_path, "box/job", {"cpu.max": "50000 100000\n"})  # half a CPU
    assert cgroup_quota_cores(tmp_path, "0::/box/job\n") == 1
    _cgroup(tmp_path, "box", {"cpu.max": "max 100000\n"})
    _cgroup(tmp_path, "box/job", {"cpu.max": "max 100000\n"})
    assert cgroup_quota_cores(tmp_path, "0::/box/job\n") is None


def test_cgroup_v1_quota(tmp_path):
    _cgroup(tmp_path, "cpu,cpuacct/docker/abc",
            {"cpu.cfs_quota_us": "200000\n", "cpu.cfs_period_us": "100000\n"})
    membership = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"
    assert cgroup_quota_cores(tmp_path, membership) == 2
    _cgroup(tmp_path, "cpu,cpuacct/docker/abc", {"cpu.cfs_quota_us": "-1\n"})  # no quota
    assert cgroup_quota_cores(tmp_path, membership) is None


def test_missing_or_malformed_cgroup_files_mean_no_quota(tmp_path):
    assert cgroup_quota_cores(tmp_path / "absent", "0::/x\n") is None
    _cgroup(tmp_path, "x", {"cpu.max": "garbage\n"})
    assert cgroup_quota_cores(tmp_path, "0::/x\n") is None
    assert cgroup_quota_cores(tmp_path, "not a cgroup line\n") is None
