"""Facts about the machine a benchmark ran on, recorded beside its figures."""

from __future__ import annotations

import os
import platform


def versions() -> dict:
    """Python, Pillow and numpy versions, core count, CPU model and architecture."""
    import numpy
    import PIL

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"python": platform.python_version(), "pillow": PIL.__version__,
            "numpy": numpy.__version__, "cpus": os.cpu_count(), "usable_cpus": _usable(),
            "cpu_model": cpu,
            "machine": platform.machine()}


def _usable() -> int | None:
    """The cores imgfind's defaults use here (imgfind.cores), or None without imgfind."""
    try:
        from imgfind.cores import usable_cores
    except ImportError:
        return None
    return usable_cores()
