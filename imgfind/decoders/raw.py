"""Camera raw and DNG files through rawpy (LibRaw), an optional extra (``raw``).

Fast path: a raw file usually carries the camera's own JPEG rendering of the picture (the
preview a camera shows). When that preview is large enough (:data:`PREVIEW_MIN_SIDE` on its
long side) and has the sensor picture's shape (aspect within :data:`PREVIEW_ASPECT`), it is
decoded like any JPEG (at reduced scale), at a fraction of the cost of demosaicing. Otherwise
the sensor data is demosaiced by LibRaw at half size (one pixel per 2x2 Bayer block: no
interpolation, 4x fewer pixels) with the camera's white balance, 8 bits, sRGB, and the result
goes through the same working-picture steps as every other format. Width and height are the
full sensor picture's, upright.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import warnings
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from ..errors import DecodeError
from . import Decoded

#: The embedded JPEG preview is used when its long side is at least this: a copy exported
#: from the raw is then compared on what it shows, not on a postage stamp. Ours: 4x the
#: working picture's long side (recipe.WORK_SIZE), so the preview is reduced, never enlarged.
PREVIEW_MIN_SIDE = 512
#: ... and when its aspect ratio is within this of the sensor picture's (a 16:9 preview of a
#: 3:2 sensor has bars or a crop).
PREVIEW_ASPECT = 0.03
#: Most sensor pixels demosaiced at half size (4 bytes a pixel in LibRaw's buffers).
MAX_RAW_PIXELS = 4 * 89_478_485
#: Bytes read from the start of a TIFF-based raw to find its tags (they come before the data).
MAX_TAG_BYTES = 4 * 2**20
#: LibRaw's ``sizes.flip`` as the EXIF Orientation it means.
_FLIP_TO_EXIF = {0: 1, 3: 3, 5: 8, 6: 6}


class RawDecoder:
    """Camera raw and DNG files (rawpy)."""

    name = "rawpy"

    def __init__(self, extensions: frozenset[str], magic: tuple[tuple[int, bytes], ...],
                 probe: Callable[[bytes], bool] | None = None):
        self._extensions = extensions
        self._magic = magic
        self._probe = probe  # decoders.is_tiff_raw: a DNG or CR2 whatever its name

    def extensions(self) -> frozenset[str]:
        return self._extensions

    def sniff(self, head: bytes) -> bool:
        return any(head[o:o + len(m)] == m for o, m in self._magic) or \
            (self._probe is not None and self._probe(head))

    def decode(self, fp: BinaryIO, st: os.stat_result) -> Decoded:
        rawpy = _rawpy()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # the fork warning: see _rawpy
                raw = rawpy.imread(fp)
            with raw:
                return _decode_raw(raw, fp, st)
        except DecodeError:
            raise
        except (rawpy.LibRawError, OSError, ValueError, MemoryError) as exc:
            first = exc.args[0] if exc.args else ""
            if isinstance(first, bytes):  # LibRaw's messages come as bytes: b'Unsupported ...'
                first = first.decode("utf-8", "replace")
            text = (str(first) if first else str(exc)).strip().splitlines()
            raise DecodeError(f"cannot decode raw file: {text[0] if text else type(exc).__name__}"
                              ) from None


@functools.cache
def _rawpy():  # noqa: ANN202 - the rawpy module
    """Import rawpy with LibRaw's OpenMP held to one thread.

    imgfind decodes in forked worker processes, one file each: OpenMP threads inside one
    decode add nothing there, and an OpenMP pool started before a fork can deadlock the
    children (rawpy warns about this at its first imread in a forked process; the warning
    would reach stderr unattributed). OMP_NUM_THREADS is set only when the user has not set it.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        import rawpy
    return rawpy


def raw_decoder(extensions: frozenset[str], magic: tuple[tuple[int, bytes], ...],
                probe: Callable[[bytes], bool] | None = None) -> RawDecoder | None:
    """The raw decoder, or None when rawpy is not installed."""
    if importlib.util.find_spec("rawpy") is None:
        return None
    return RawDecoder(extensions, magic, probe)


def _decode_raw(raw, fp: BinaryIO, st: os.stat_result) -> Decoded:  # noqa: ANN001 - rawpy.RawPy
    from .pillow import _decode_file, decode_picture

    sizes = raw.sizes
    orientation = _FLIP_TO_EXIF.get(int(sizes.flip), 1)
    width, height = int(sizes.width), int(sizes.height)
    if orientation in (6, 8):
        width, height = height, width
    if width < 1 or height < 1:
        raise DecodeError("raw file has no picture")
    preview = _preview(raw, width, height)
    if preview is not None:
        decoded = _decode_file(io.BytesIO(preview), st, truncated=False)
        # The preview is stored as the sensor is (a camera turned upright says so in the raw).
        # Its own EXIF is LibRaw's making (dcraw's name, a 1970 date): the raw's tags are used.
        gray, chroma = decoded.gray, decoded.chroma
        if decoded.orientation == 1 and orientation != 1:
            from .pillow import _apply_orientation

            gray = _apply_orientation(gray, orientation)
            if chroma is not None:
                chroma = np.stack([_apply_orientation(c, orientation) for c in chroma])
        return Decoded(gray, width, height, "RAW", "RGB", orientation, 1,
                       {**_tiff_metadata(fp), "raw_path": "embedded preview"},
                       st.st_size, st.st_mtime_ns, None, chroma)
    if int(sizes.raw_width) * int(sizes.raw_height) > MAX_RAW_PIXELS:
        raise DecodeError(f"refused: {sizes.raw_width}x{sizes.raw_height} sensor pixels, more "
                          f"than the limit of {MAX_RAW_PIXELS:,}")
    rawpy = _rawpy()
    rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8,
                          output_color=rawpy.ColorSpace.sRGB, no_auto_bright=False)
    gray, chroma = decode_picture(rgb)  # already turned upright by LibRaw
    return Decoded(gray, width, height, "RAW", "RGB", orientation, 1,
                   {**_tiff_metadata(fp), "raw_path": "demosaiced"}, st.st_size, st.st_mtime_ns,
                   None, chroma)


def _tiff_metadata(fp: BinaryIO) -> dict[str, str]:
    """Camera, creator and dates from a TIFF-based raw's first IFD and its EXIF IFD (DNG,
    NEF, CR2, ARW...), with the XMP, IPTC and GPS fields a Pillow-read file gets
    (pillow._metadata, when Pillow opens the container as a TIFF), else from Pillow's EXIF
    reader alone; {} for other raws or broken tags."""
    from PIL import Image

    from .pillow import _metadata, exif_fields

    try:
        fp.seek(0)
        with Image.open(fp) as im:  # lazy: reads the tags, never the raw picture
            return _metadata(im)
    except Exception:  # noqa: BLE001 - not a TIFF Pillow opens: the tags alone below
        pass
    try:
        fp.seek(0)
        data = fp.read(MAX_TAG_BYTES)
        if data[:4] not in (b"II*\x00", b"MM\x00*"):
            return {}
        exif = Image.Exif()
        exif.load(data)
        return exif_fields(exif)
    except Exception:  # noqa: BLE001 - tags are extras: never a reason to refuse the file
        return {}


def _preview(raw, width: int, height: int) -> bytes | None:  # noqa: ANN001 - rawpy.RawPy
    """The embedded JPEG preview when it is large enough and of the picture's shape."""
    from PIL import Image

    rawpy = _rawpy()
    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawError:  # no preview, or one LibRaw cannot hand out
        return None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None
    data = bytes(thumb.data)
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            pw, ph = im.size
    except Exception:  # noqa: BLE001 - a broken preview: demosaic instead
        return None
    return data if preview_fits((pw, ph), (width, height)) else None


def preview_fits(preview: tuple[int, int], picture: tuple[int, int]) -> bool:
    """True when an embedded preview of size *preview* may stand for the *picture*: long side
    at least PREVIEW_MIN_SIDE, aspect within PREVIEW_ASPECT (either way round: a preview may
    be stored as the sensor while the picture is upright)."""
    pw, ph = preview
    w, h = picture
    if max(pw, ph) < PREVIEW_MIN_SIDE or min(pw, ph) < 1 or min(w, h) < 1:
        return False
    shape = max(w, h) / min(w, h)
    return abs((max(pw, ph) / min(pw, ph)) / shape - 1) <= PREVIEW_ASPECT
