"""A writable folder for numba's on-disk cache of compiled kernels, whoever runs imgfind.

The compiled kernels (search/_kernels.py, search/_local_kernels.py, _consensus_kernels.py) are
cached on disk (numba's ``cache=True``): beside their module (``__pycache__``) or in the user's
cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``). When neither can be written (an installed
copy run by an account without a writable home: a service, a cron job as nobody, a container),
numba raises while the kernel module is imported. :func:`prepare` then points numba at a
private folder under the system's temporary folder instead (``NUMBA_CACHE_DIR``, numba's own
setting), so the kernels compile and cache there. A ``NUMBA_CACHE_DIR`` the user set is kept.
"""

from __future__ import annotations

import os
import stat
import tempfile

#: numba's setting for its cache folder (numba.core.config.CACHE_DIR).
ENV = "NUMBA_CACHE_DIR"
#: The folders holding imgfind's cached kernels.
_KERNEL_DIRS = (os.path.dirname(os.path.abspath(__file__)),
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "search"))


def _can_make(path: str) -> bool:
    """True when *path* is a writable folder, or could be made in a writable parent."""
    while True:
        if os.path.isdir(path):
            return os.access(path, os.W_OK | os.X_OK)
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def _private_folder() -> str:
    """A folder under the temporary folder that only this user owns and writes."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = os.path.join(tempfile.gettempdir(), f"imgfind-numba-{uid}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == uid and os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="imgfind-numba-")  # someone else's, or not a folder


def prepare() -> None:
    """Set NUMBA_CACHE_DIR to a private temporary folder when numba could write neither beside
    imgfind's kernels nor in the user's cache folder; otherwise change nothing. Call before
    numba is imported (it reads the setting then). Never raises."""
    try:
        if os.environ.get(ENV):
            return
        if all(_can_make(os.path.join(d, "__pycache__")) for d in _KERNEL_DIRS):
            return
        home_cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        if os.path.isabs(home_cache) and _can_make(os.path.join(home_cache, "numba")):
            return
        os.environ[ENV] = _private_folder()
    except OSError:
        return
