"""Which folders to index again so that files fingerprinted by another recipe are searched. Pure.

An index written by an older imgfind (or before a Pillow upgrade) holds fingerprints that
searches leave out until an index run of their folders makes them again. The note that says so
names the folders to give that run: the indexed roots (the folders given to 'imgfind index',
store.roots) that hold such files, and for files under no recorded root (an index from before
roots were recorded, or merged from one) their own folders, or those folders' common folder
when there are many of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

#: How many folders a note names before "and N more".
SHOWN = 3


def folders_to_index(parents: Iterable[bytes], roots: Iterable[bytes],
                     shown: int = SHOWN) -> tuple[list[str], int]:
    """The folders whose index runs fingerprint again every file in folders *parents* (the
    folders holding stale files, absolute, as stored), given the indexed *roots*: at most
    *shown* of them (sorted), and how many more there are.

    A folder inside an indexed root is covered by that root (the deepest one); folders under
    no root are named themselves, or by their common folder when there are more than *shown*
    of them and it is not the file system's root. A folder inside another named one is
    dropped (the outer run covers it)."""
    root_set = {r.rstrip(b"/") or b"/" for r in roots}
    owned: set[bytes] = set()
    loose: set[bytes] = set()
    for d in set(parents):
        d = d.rstrip(b"/") or b"/"
        up = d
        while up not in root_set:
            parent = os.path.dirname(up)
            if parent == up:
                break
            up = parent
        (owned if up in root_set else loose).add(up if up in root_set else d)
    if len(loose) > shown:
        common = os.path.commonpath(sorted(loose))
        if common not in (b"/", b""):
            loose = {common}
    folders = owned | loose

    def inside_another(f: bytes) -> bool:
        up = os.path.dirname(f)
        while True:
            if up in folders:
                return True
            parent = os.path.dirname(up)
            if parent == up:
                return False
            up = parent

    named = sorted(f for f in folders if f == b"/" or not inside_another(f))
    return [os.fsdecode(f) for f in named[:shown]], max(0, len(named) - shown)
