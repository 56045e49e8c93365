"""The decoder registry: which files imgfind can read, and who reads them.

Each decoder names the file extensions it reads and recognises its formats by their first
bytes (magic); the crawler asks :data:`REGISTRY` which extensions to pick up, and
:func:`imgfind.decode.open_for_hash` asks it which decoder reads a given file. Pillow is the
default decoder (it also reads by content whatever the name). An optional decoder is a
drop-in: a module here with a :class:`Decoder` registered in :func:`_default_registry` when
its library is installed (pillow-heif today; rawpy would be the same).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ..errors import DecodeError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded picture: the greyscale working image plus what the file said about itself."""

    gray: np.ndarray  # uint8, (rows, cols), upright, long side <= recipe.WORK_SIZE
    width: int  # of the full-size upright image
    height: int
    format: str
    mode: str
    orientation: int  # EXIF Orientation as stored (1 when absent or invalid)
    frames: int
    metadata: dict[str, str]  # who made it and when, as the file says (EXIF, PNG text)
    size: int = -1  # bytes and mtime of the file actually read (fstat of the open file)
    mtime_ns: int = -1
    warning: str | None = None  # read, but not entirely (e.g. "truncated: 97% of rows decoded")
    #: uint8 (2, recipe.COLOUR_SIZE, recipe.COLOUR_SIZE): Cb and Cr of the upright picture
    #: squashed to a square (box-averaged); None for pictures stored without colour.
    chroma: np.ndarray | None = None
    #: uint8 (rows, cols), upright, long side <= recipe.DETAIL_SIZE: the greyscale picture
    #: local features are found in (keypoints.py); None where there is none (animations).
    detail: np.ndarray | None = None


class Decoder(Protocol):
    """What a decoder gives the registry."""

    name: str

    def extensions(self) -> frozenset[str]:
        """Lower-case extensions with the dot (".jpg") that the crawler picks up for it."""

    def sniff(self, head: bytes) -> bool:
        """True when the file's first bytes (up to 64) are a format it reads."""

    def decode(self, fp: BinaryIO, st: os.stat_result) -> Decoded:
        """Decode the open regular file *fp* (positioned at 0; *st* is its fstat).

        Raises:
            DecodeError: corrupt, truncated beyond use, too large, or not this format.
        """


@dataclass(frozen=True, slots=True)
class Missing:
    """A format imgfind knows but has no decoder for: its files are skipped, with a reason."""

    extensions: frozenset[str]
    magic: tuple[tuple[int, bytes], ...]  # (offset, bytes) any of which identifies it
    hint: str  # what to install

    def sniff(self, head: bytes) -> bool:
        return any(head[o:o + len(m)] == m for o, m in self.magic)


class Registry:
    """Decoders in priority order; the last one is the default (reads by content)."""

    def __init__(self, decoders: list[Decoder], missing: list[Missing] = ()):  # type: ignore[assignment]
        if not decoders:
            raise ValueError("a registry needs at least one decoder")
        self.decoders = list(decoders)
        self.missing = list(missing)

    def register(self, decoder: Decoder) -> None:
        """Add *decoder* ahead of the ones already registered (so ahead of the default)."""
        self.decoders.insert(0, decoder)

    def extensions(self) -> frozenset[str]:
        """Every extension some decoder reads: what the crawler picks up."""
        out: set[str] = set()
        for d in self.decoders:
            out |= d.extensions()
        return frozenset(out)

    def skip_reason(self, ext: str) -> str | None:
        """Why a file with this extension is not picked up (a known format with no decoder),
        or None when it is readable or not an image extension at all."""
        ext = ext.lower()
        if ext in self.extensions():
            return None
        for m in self.missing:
            if ext in m.extensions:
                return f"no decoder for {ext} ({m.hint})"
        return None

    def pick(self, name: str | bytes, head: bytes) -> Decoder:
        """The decoder for a file named *name* whose first bytes are *head*.

        By content first (a PNG named .jpg is a PNG), then by extension, then the default.

        Raises:
            DecodeError: the file is a known format with no decoder installed.
        """
        for d in self.decoders:
            if d.sniff(head):
                return d
        ext = os.fsdecode(os.path.splitext(os.fsencode(name))[1]).lower()
        for m in self.missing:
            if m.sniff(head) or ext in m.extensions:
                return _refuse(f"no decoder for {ext or 'this format'} ({m.hint})")
        for d in self.decoders:
            if ext in d.extensions():
                return d
        return self.decoders[-1]


def _refuse(message: str) -> Decoder:
    raise DecodeError(message)


#: HEIF/HEIC/AVIF brands ("ftyp" box at offset 4).
HEIF_MAGIC = tuple((4, b"ftyp" + brand) for brand in
                   (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"))
RAW_EXTENSIONS = frozenset({".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2", ".raf",
                            ".pef", ".srw"})


def _default_registry() -> Registry:
    from .pillow import PILLOW, heif_decoder

    registry = Registry([PILLOW], [
        Missing(frozenset({".heic", ".heif", ".hif"}), HEIF_MAGIC, "install pillow-heif"),
        Missing(RAW_EXTENSIONS, (), "camera raw files are not read yet"),
    ])
    heif = heif_decoder()  # None unless pillow-heif is installed
    if heif is not None:
        registry.register(heif)
    return registry


#: The registry imgfind uses.
REGISTRY = _default_registry()
