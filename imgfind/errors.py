"""imgfind's exceptions: the library raises these, the CLI turns them into one-line errors."""

from __future__ import annotations

import os
import stat as statmod


class ImgfindError(Exception):
    """Base class for every error imgfind raises on purpose; its message is for the user."""


class DecodeError(ImgfindError):
    """A file could not be read as an image (missing, unreadable, corrupt, not an image)."""


class StoreError(ImgfindError):
    """The index database cannot be opened, read or written."""


class SchemaError(StoreError):
    """The index database was written by a newer imgfind, or is not an imgfind index."""


def extra_hint(library: str, extra: str) -> str:
    """What to install for an optional feature: the library itself, by its PyPI name, and
    the extra of imgfind that pulls it in ("pip install pillow-heif (imgfind's 'heic'
    extra)"). Never ``pip install imgfind[...]``: "imgfind" on PyPI is an unrelated project."""
    return f"pip install {library} (imgfind's '{extra}' extra)"


def not_regular(mode: int) -> str:
    """Why a path with this ``st_mode`` is never opened as a file: "not a regular file (a
    FIFO); not read" (a FIFO would block a reader; a device or socket is no picture)."""
    kind = ("a FIFO" if statmod.S_ISFIFO(mode) else "a socket" if statmod.S_ISSOCK(mode)
            else "a device" if statmod.S_ISCHR(mode) or statmod.S_ISBLK(mode) else "special")
    return f"not a regular file ({kind}); not read"


def missing(path: str | bytes, default: str) -> str:
    """Why *path* could not be opened (FileNotFoundError): "a broken symbolic link (to
    TARGET, which does not exist)" when it is a link whose target is gone, else *default*."""
    try:
        target = os.fsdecode(os.readlink(path))
    except OSError:  # not a link (or gone itself)
        return default
    return f"a broken symbolic link (to {target}, which does not exist)"
