"""What is on disk now, for the few files a result shows: present, missing or unavailable.

The index remembers files; results must not present one that is gone as if it were there.
Only result files are looked at (one ``stat`` each), at the moment the result is made.
"""

from __future__ import annotations

import os
import stat as statmod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PRESENT, MISSING, UNAVAILABLE = "present", "missing", "unavailable"


#: Words for the kinds of file that are not regular files, tested in this order.
_KINDS = ((statmod.S_ISDIR, "a folder"), (statmod.S_ISFIFO, "a FIFO (named pipe)"),
          (statmod.S_ISCHR, "a character device"), (statmod.S_ISBLK, "a block device"),
          (statmod.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """What a file of *mode* (``st_mode``) is, in words, when it is not a regular file: "a
    folder", "a FIFO (named pipe)", ... or "not a regular file"."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


@dataclass(frozen=True, slots=True)
class OnDisk:
    """One path as it is now: its state, and the (device, inode) it names when present."""

    state: str  # PRESENT, MISSING (deleted, or no longer a regular file), UNAVAILABLE
    identity: tuple[int, int] | None = None


def look(paths: Iterable[bytes], roots: Mapping[bytes, int]) -> dict[bytes, OnDisk]:
    """Stat every path (following symbolic links, as the crawl does).

    A path that is not a regular file now is UNAVAILABLE when the indexed root holding it
    (the longest of *roots*, {root path: st_dev when indexed}, that contains it) is not
    there now or is on another device (an unplugged drive, an empty mount point), else
    MISSING.
    """
    out: dict[bytes, OnDisk] = {}
    root_now: dict[bytes, bool] = {}
    for path in paths:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            st = None
        if st is not None and statmod.S_ISREG(st.st_mode):
            out[path] = OnDisk(PRESENT, (st.st_dev, st.st_ino))
            continue
        root = _root_of(path, roots)
        if root is None:
            out[path] = OnDisk(MISSING)
            continue
        if root not in root_now:
            root_now[root] = _root_there(root, roots[root])
        out[path] = OnDisk(MISSING if root_now[root] else UNAVAILABLE)
    return out


def _root_of(path: bytes, roots: Mapping[bytes, int]) -> bytes | None:
    best = None
    for root in roots:
        if path == root or path.startswith(root.rstrip(b"/") + b"/"):
            if best is None or len(root) > len(best):
                best = root
    return best


def _root_there(root: bytes, dev: int) -> bool:
    try:
        return os.stat(root).st_dev == dev
    except OSError:
        return False


def link_how(path: bytes, other: bytes) -> str:
    """How *path* and *other*, two names of one file, are linked: "symbolic link" when a
    symbolic link is involved (either name is one, or both lead to one real path), else
    "hard link"."""
    try:
        if os.path.islink(path) or os.path.islink(other) \
                or os.path.realpath(path) == os.path.realpath(other):
            return "symbolic link"
    except (OSError, ValueError):
        pass
    return "hard link"


def link_kind(path: bytes, other: bytes) -> str:
    """The relation of *path* to *other*, two names of one file, in words: "same file
    (symbolic link)" or "same file (hard link)" (link_how)."""
    return f"same file ({link_how(path, other)})"
