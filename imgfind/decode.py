"""Open an image file and return a small, upright, greyscale picture ready to fingerprint.

This module opens the file (regular files only, never blocking) and hands it to the decoder
the registry picks (imgfind.decoders: Pillow by default). Decoding is almost the whole cost
of indexing; how each format is asked for as few pixels as it can give is the decoder's
business (see imgfind.decoders.pillow).
"""

from __future__ import annotations

import os

from .decoders import HEAD_BYTES, REGISTRY, Decoded
from .errors import DecodeError, missing
from .recipe import WORK_SIZE
from .regular import NotRegular, open_regular

__all__ = ["Decoded", "WORK_SIZE", "open_for_hash"]

#: Bytes read to recognise a format by its content: decoders.HEAD_BYTES.


def open_for_hash(path: str | os.PathLike[str] | bytes) -> Decoded:
    """Decode *path* into a :class:`Decoded`.

    Only a regular file is ever read: a FIFO, socket or device (say a file replaced by one
    between the crawl and the decode) is refused before it is opened, and the descriptor is
    opened non-blocking and checked again, so a decode can never hang on a pipe.

    Raises:
        DecodeError: the file is missing, unreadable, not an image, a format with no decoder,
            corrupt, truncated beyond use or too large to decode safely. The message is one
            line, fit for a log.
    """
    try:
        with open_regular(path) as fp:
            st = os.fstat(fp.fileno())
            if st.st_size == 0:  # Pillow would call it "not an image": say what it is
                raise DecodeError("empty file")
            head = fp.read(HEAD_BYTES)
            fp.seek(0)
            return REGISTRY.pick(os.fspath(path), head).decode(fp, st)
    except NotRegular as exc:  # never opened: opening a device can act
        raise DecodeError("is a directory" if exc.is_dir else str(exc)) from None
    except FileNotFoundError:
        raise DecodeError(missing(path, "file not found")) from None
    except PermissionError:
        raise DecodeError("permission denied") from None
    except IsADirectoryError:
        raise DecodeError("is a directory") from None
    except MemoryError:
        raise DecodeError("out of memory while decoding") from None
    except OSError as exc:
        raise DecodeError(f"cannot read: {exc.strerror or exc}") from None

