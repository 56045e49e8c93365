"""How many CPU cores this process may use: the one count every default of imgfind starts from.

``os.cpu_count()`` counts the machine's cores, not the ones this process may run on: under
``taskset -c 0`` or in a container given two of a 64-core host, a default of "one worker per
core" would start 64 workers that share two cores. The count here is the smallest of:

- the CPUs this process may be scheduled on: ``os.process_cpu_count()`` (Python 3.13+, which
  also honours ``-X cpu_count`` / ``PYTHON_CPU_COUNT``), else ``os.sched_getaffinity(0)``
  (Linux and some BSDs), else ``os.cpu_count()``;
- the CPU bandwidth quota of this process's cgroup and its ancestors, rounded up (cgroup v2
  ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; a quota of 1.5 CPUs is 2): what
  ``docker run --cpus`` and Kubernetes CPU limits set. Python does not expose it; it is read
  from /proc/self/cgroup and the cgroup file system, and ignored where either is missing.

At least 1, always.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["usable_cores", "affinity_cores", "cgroup_quota_cores"]

#: Where the cgroup file systems are mounted.
CGROUP_ROOT = "/sys/fs/cgroup"


def usable_cores() -> int:
    """The cores this process may use (see the module docstring): >= 1."""
    cores = affinity_cores()
    quota = cgroup_quota_cores()
    return max(1, min(cores, quota) if quota is not None else cores)


def affinity_cores() -> int:
    """The CPUs this process may be scheduled on (its affinity mask where the OS has one)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        return counter() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cgroup_quota_cores(root: str | os.PathLike[str] = CGROUP_ROOT,
                       membership: str | None = None) -> int | None:
    """The smallest CPU quota of this process's cgroup and its ancestors, in whole CPUs
    (rounded up), or None when there is none (or no cgroup file system to read).

    *membership* is the text of /proc/self/cgroup (read when None); *root* the mount point of
    the cgroup file systems (v2 unified at *root*, v1 controllers at *root*/cpu or
    *root*/cpu,cpuacct). Never raises: an unreadable or malformed file counts as no quota.
    """
    if membership is None:
        try:
            membership = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    best: float | None = None
    for line in membership.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2: one hierarchy, cpu.max = "QUOTA PERIOD" or "max PERIOD"
            bases, read = [Path(root)], _v2_quota
        elif "cpu" in controllers.split(","):
            bases = [Path(root) / controllers, Path(root) / "cpu"]
            read = _v1_quota
        else:
            continue
        for base in bases:
            for quota in _along(base, path, read):
                best = quota if best is None else min(best, quota)
    if best is None:
        return None
    return max(1, math.ceil(best))


def _along(base: Path, path: str, read):  # type: ignore[no-untyped-def]
    """The quotas read in the cgroup *path* under *base* and each of its ancestors."""
    rel = Path(path.strip().lstrip("/"))
    for part in [rel, *rel.parents]:
        quota = read(base / part)
        if quota is not None:
            yield quota


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return int(quota) / int(period) if quota != "max" and int(period) > 0 else None
    except (OSError, ValueError):
        return None


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None
