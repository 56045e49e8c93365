"""What ``query`` was given, as image files: files, folders of query images, http(s) URLs and
standard input (``-``). A URL or standard input is saved to a file in a scratch folder first.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from .crawl import CrawlOptions, walk
from .errors import ImgfindError
from .fetch import MAX_BYTES, TIMEOUT, fetch, looks_like_url, size_text
from .model import display

#: How standard input is named in the results.
STDIN_NAME = "(stdin)"


@dataclass(frozen=True, slots=True)
class QueryImage:
    """One query image: the file to read and the name it has in the results (None: its path)."""

    path: str | bytes
    name: str | None = None
    in_folder: bool = False  # found in a folder given (not named by an argument)


@dataclass(frozen=True, slots=True)
class Gathered:
    """The query images found, and whether a folder was among the arguments (a batch)."""

    images: list[QueryImage]
    batch: bool


@contextmanager
def gathered(args: Sequence[str], *, stdin: BinaryIO | None = None, max_bytes: int = MAX_BYTES,
             timeout: float = TIMEOUT, options: CrawlOptions = CrawlOptions(),
             skip: Callable[[str, str], None] = lambda _name, _why: None,
             fail: Callable[[str], None] | None = None) -> Iterator[Gathered]:
    """The query images named by *args*, in order; scratch files are removed on exit.

    A folder gives the image files under it (as ``index`` would pick them, sorted); a URL is
    downloaded (imgfind.fetch); ``-`` reads standard input (*stdin*) up to *max_bytes*.
    Files a folder holds that no decoder reads, and second names of a file already taken
    (a hard link: "same file as NAME"), are reported to ``skip(name, reason)``.
    With *fail*, an argument that gives no image (a URL that cannot be fetched, empty
    standard input, a folder without image files) is reported to ``fail(message)`` and the
    other arguments are still gathered; without, it raises.

    Raises:
        ImgfindError: an argument is empty, a URL cannot be fetched or has another scheme,
            standard input is empty or too large, ``-`` is given twice, or a folder holds no
            image files.
    """
    with tempfile.TemporaryDirectory(prefix="imgfind-query-") as scratch:
        images: list[QueryImage] = []
        batch = False
        if args.count("-") > 1:
            raise ImgfindError("standard input (-) can be read only once")
        for arg in args:
            try:
                if not arg:
                    raise ImgfindError("an empty argument is not an image file, folder or URL")
                if arg == "-":
                    images.append(QueryImage(_save_stdin(stdin, scratch, max_bytes), STDIN_NAME))
                elif looks_like_url(arg) and not os.path.exists(arg):
                    got = fetch(arg, scratch, max_bytes=max_bytes, timeout=timeout)
                    images.append(QueryImage(got.path, arg))
                elif os.path.isdir(arg):
                    batch = True
                    found = [s.path for s in walk(
                        [os.fsencode(os.path.abspath(arg))], options,
                        skip=lambda p, why: skip(display(p), why),
                        same=lambda p, kept: skip(display(p), f"same file as {display(kept)}"))]
                    if not found:
                        raise ImgfindError(f"{arg}: no image files in this folder")
                    images.extend(QueryImage(p, in_folder=True) for p in sorted(found))
                else:
                    images.append(QueryImage(arg))
            except ImgfindError as exc:
                if fail is None:
                    raise
                fail(str(exc))
        yield Gathered(images, batch)


def _save_stdin(stdin: BinaryIO | None, scratch: str, max_bytes: int) -> str:
    if stdin is None:
        raise ImgfindError("no standard input to read the query image (-) from")
    data = stdin.read(max_bytes + 1)
    if not data:
        raise ImgfindError("standard input is empty: pipe an image into '-' "
                           "(for example: cat photo.jpg | imgfind query -)")
    if len(data) > max_bytes:
        raise ImgfindError(f"standard input: too large (more than {size_text(max_bytes)})")
    fd, path = tempfile.mkstemp(prefix="stdin-", dir=scratch)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path
