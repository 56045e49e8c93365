"""The decoder registry: which files imgfind can read, and who reads them.

Each decoder names the file extensions it reads and recognises its formats by their first
bytes (magic); the crawler asks :data:`REGISTRY` which extensions to pick up, and
:func:`imgfind.decode.open_for_hash` asks it which decoder reads a given file. Pillow is the
default decoder (it also reads by content whatever the name). An optional decoder is a
drop-in: a :class:`Decoder` registered in :func:`_default_registry` when its library is
installed. Heavy decoders are extras of the package (``pip install ".[heic,raw,jxl]"`` from
a checkout; the name "imgfind" on PyPI is another project, so hints name the library itself):

==========  ===================  =========================================================
extra       library              reads
==========  ===================  =========================================================
``heic``    pillow-heif          HEIC/HEIF (iPhone photos): .heic .heif .hif
``raw``     rawpy (LibRaw)       camera RAW and DNG: .dng .cr2 .cr3 .nef .arw .orf .rw2 ...
``jxl``     pillow-jxl-plugin    JPEG XL: .jxl
==========  ===================  =========================================================

AVIF, WebP, TIFF, GIF, APNG, ICO, BMP and PSD are read by Pillow itself (AVIF by Pillow >=
11.3's wheels). A format that is known but has no decoder installed is a :class:`Missing`:
its files are counted and skipped with a reason that names the extra that would read them.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ..errors import DecodeError, extra_hint

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
        """True when the file's first bytes (up to HEAD_BYTES) are a format it reads."""

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
    hint: str  # what to install, e.g. extra_hint("pillow-heif", "heic")
    #: Recognises the format where a fixed magic cannot (a DNG is a TIFF with a DNG tag).
    probe: Callable[[bytes], bool] | None = None
    #: How a file of this format found under another name is described: its extensions
    #: (the commonest first), "" for all of them sorted.
    kind: str = ""

    def sniff(self, head: bytes) -> bool:
        return any(head[o:o + len(m)] == m for o, m in self.magic) or \
            (self.probe is not None and self.probe(head))


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

    def resolves(self, error: str) -> bool:
        """True when *error*, recorded for a file that could not be read, says no decoder
        read its format ("no decoder for .heic (...)", "no decoder for this format (.heic
        .heif inside) (...)") and some decoder of this registry reads that format now (its
        extra was installed since): the file is worth reading again. Other errors: False."""
        named = _NO_DECODER.match(error)
        if named is None:
            return False
        exts = (named.group(1) or named.group(2) or "").split()
        return any(e.lower() in self.extensions() for e in exts)

    def known_extensions(self) -> frozenset[str]:
        """Extensions of every image format imgfind knows: read by a decoder or not."""
        out: set[str] = set(self.extensions())
        for m in self.missing:
            out |= m.extensions
        return frozenset(out)

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
            if ext in m.extensions:
                return _refuse(f"no decoder for {ext} ({m.hint})")
            if m.sniff(head):  # by content, whatever the name says
                kind = m.kind or " ".join(sorted(m.extensions))
                return _refuse(f"no decoder for this format ({kind} inside) ({m.hint})")
        for d in self.decoders:
            if ext in d.extensions():
                return d
        return self.decoders[-1]


#: The messages of pick and skip_reason for a format without decoder: group 1 the extension,
#: group 2 the extensions of the format found inside.
_NO_DECODER = re.compile(r"no decoder for (?:this format \(([^)]*) inside\)|(\.\S+))")


def _refuse(message: str) -> Decoder:
    raise DecodeError(message)


#: HEIF/HEIC brands ("ftyp" box at offset 4). AVIF ("ftypavif") is Pillow's own.
HEIF_MAGIC = tuple((4, b"ftyp" + brand) for brand in
                   (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"))
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
#: JPEG XL: a bare codestream or the ISO BMFF container.
JXL_MAGIC = ((0, b"\xff\x0a"), (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n"))
JXL_EXTENSIONS = frozenset({".jxl"})
#: Camera raw files LibRaw reads (most are TIFF inside, so they are told by name, not magic;
#: Canon's CR3 is ISO BMFF with the "crx " brand).
RAW_EXTENSIONS = frozenset({".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf",
                            ".sr2", ".orf", ".rw2", ".raf", ".pef", ".srw", ".x3f", ".3fr",
                            ".iiq", ".mos", ".mrw", ".erf", ".kdc", ".dcr", ".rwl"})
RAW_MAGIC = ((4, b"ftypcrx "),  # Canon CR3
             (0, b"IIRO"), (0, b"IIRS"), (0, b"MMOR"),  # Olympus ORF
             (0, b"IIU\x00"),  # Panasonic RW2
             (0, b"FUJIFILMCCD-RAW"))  # Fujifilm RAF
RAW_KIND = "camera raw: .dng .cr2 .cr3 .nef .arw ..."
#: Bytes of a file's start that decoders sniff (enough for a TIFF's first directory).
HEAD_BYTES = 4096
_DNG_VERSION = 50706  # TIFF tag of DNG files (DNG specification 1.4, "DNGVersion")


def is_tiff_raw(head: bytes) -> bool:
    """True when *head* (a file's first bytes) is a TIFF-based camera raw file: a Canon CR2
    ("CR" after the TIFF header) or a DNG (its first directory, when it lies within *head*,
    has the DNGVersion tag). Nikon, Sony and other TIFF raws carry no such mark here: they
    are told by their extension. Ours, from the TIFF 6.0 and DNG 1.4 layouts."""
    if head[:4] == b"II*\x00":
        order = "<"
    elif head[:4] == b"MM\x00*":
        order = ">"
    else:
        return False
    if head[8:10] == b"CR":
        return True
    if len(head) < 8:  # a file cut inside its TIFF header (found by the fuzz loop)
        return False
    (ifd,) = struct.unpack(order + "I", head[4:8])
    if ifd + 2 > len(head):
        return False
    (count,) = struct.unpack(order + "H", head[ifd:ifd + 2])
    for i in range(count):
        at = ifd + 2 + 12 * i
        if at + 2 > len(head):
            return False
        (tag,) = struct.unpack(order + "H", head[at:at + 2])
        if tag == _DNG_VERSION:
            return True
        if tag > _DNG_VERSION:  # tags are sorted
            return False
    return False


#: Picture formats no decoder here reads: their files are counted and skipped with the reason
#: (the index summary names them), never passed over silently.
NOT_RASTER = (
    Missing(frozenset({".svg", ".svgz"}), (),
            "a vector drawing: imgfind compares raster images; export it to PNG"),
    Missing(frozenset({".eps", ".ai"}), (),
            "PostScript/Illustrator: imgfind does not run Ghostscript; export it to PNG"),
    Missing(frozenset({".xcf", ".kra", ".ora"}), (),
            "an editor's layered document: export it to PNG"),
    Missing(frozenset({".exr", ".hdr"}), (), "high dynamic range: no decoder for it here"),
)


def _default_registry() -> Registry:
    from .pillow import PILLOW, plugin_decoder, unreadable_by_pillow
    from .raw import raw_decoder

    registry = Registry([PILLOW], list(unreadable_by_pillow()) + list(NOT_RASTER))
    optional = [
        (plugin_decoder("pillow_heif", HEIF_EXTENSIONS, HEIF_MAGIC, "pillow-heif"),
         Missing(HEIF_EXTENSIONS, HEIF_MAGIC, extra_hint("pillow-heif", "heic"))),
        (plugin_decoder("pillow_jxl", JXL_EXTENSIONS, JXL_MAGIC, "pillow-jxl-plugin"),
         Missing(JXL_EXTENSIONS, JXL_MAGIC, extra_hint("pillow-jxl-plugin", "jxl"))),
        (raw_decoder(RAW_EXTENSIONS, RAW_MAGIC, is_tiff_raw),
         Missing(RAW_EXTENSIONS, RAW_MAGIC, extra_hint("rawpy", "raw"), is_tiff_raw, RAW_KIND)),
    ]
    for decoder, missing in optional:
        if decoder is not None:  # None unless its library is installed
            registry.register(decoder)
        else:
            registry.missing.append(missing)
    return registry


#: The registry imgfind uses.
REGISTRY = _default_registry()
