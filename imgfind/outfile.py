"""Files imgfind writes for the user (export, report, plan, html): checked, then replaced atomically.

Every such file goes through ``replacing`` (or ``write_text``), so the rules are the same for
all of them:

* an existing target that is not a regular file (a FIFO, a device, a socket, a directory) is
  refused with ``ImgfindError`` before anything is written: replacing it would swap the named
  pipe or device node for a plain file (``export --parquet /dev/full`` as root did that);
* a symbolic link is written through, as a shell's ``>`` does: the file it points to is
  replaced and the link stays (a dangling link creates its target). The target must itself
  be a regular file or absent;
* the bytes go to a temporary file beside the target, which is renamed over it only when
  complete, so a failed write leaves the old file as it was. An existing file keeps its
  permission bits.

The check and the rename are not one atomic step: a FIFO made at the same name in between is
still replaced. That race needs another process working against the user; the rule guards
against the user's own slip.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

from .errors import ImgfindError
from .presence import kind_of



def target(path: str | os.PathLike[str]) -> tuple[str, int | None]:
    """Return (the file to replace, its permission bits or None when absent) for writing the
    user's output file *path*: *path* itself, or the file a symbolic link at *path* points to.

    Raises:
        ImgfindError: the target exists and is not a regular file, or cannot be examined.
    """
    shown = os.fspath(path)
    real = os.path.realpath(shown) if os.path.islink(shown) else shown
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, None
    except OSError as exc:
        raise ImgfindError(f"cannot write {shown}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        via = f" (the symbolic link points to {real})" if real != shown else ""
        raise ImgfindError(f"cannot write {shown}: it is {kind_of(st.st_mode)}{via}, not a regular "
                           "file; give the name of a file to create or replace")
    return real, stat.S_IMODE(st.st_mode)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path to write the whole of *path*'s new content to; on a normal exit
    rename it over the target (see ``target``), on an exception remove it.

    Raises:
        ImgfindError: the target is not a regular file, or writing or renaming fails (OSError).
    """
    shown = os.fspath(path)
    real, mode = target(shown)
    folder, name = os.path.split(real)
    tmp = os.path.join(folder, f".{name}.imgfind-{os.getpid()}.tmp")
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ImgfindError(f"cannot write {shown}: {exc.strerror or exc}") from None
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write *text* (UTF-8; undecodable name bytes kept as they were) to the user's file *path*
    through ``replacing``."""
    with replacing(path) as tmp:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
