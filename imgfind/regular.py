"""Open a user's file for reading only when it is a regular file, never blocking.

Between the crawl and the read, a picture or a page can be replaced by a FIFO (a reader would
block for good), a socket or a device (opening one can act). Every reader of a user's file
goes through :func:`open_regular`: the type is checked before opening (a special file is
never opened), the descriptor is opened non-blocking and checked again (the path may have
changed in between).
"""

from __future__ import annotations

import io
import os
import stat as statmod

from .errors import not_regular

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class NotRegular(ValueError):
    """*path* is a folder, FIFO, socket or device; never opened (``mode``: its st_mode)."""

    def __init__(self, mode: int):
        super().__init__(not_regular(mode))
        self.mode = mode

    @property
    def is_dir(self) -> bool:
        return statmod.S_ISDIR(self.mode)


def open_regular(path: str | os.PathLike[str] | bytes) -> io.BufferedReader:
    """A binary reader of *path*, a regular file (checked before and after opening).

    Raises:
        NotRegular: *path* is not a regular file.
        OSError: it cannot be opened (FileNotFoundError, PermissionError, ...).
    """
    mode = os.stat(path).st_mode
    if not statmod.S_ISREG(mode):
        raise NotRegular(mode)
    fd = os.open(path, _FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not statmod.S_ISREG(mode):
            raise NotRegular(mode)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
