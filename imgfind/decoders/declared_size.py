"""Whether a file holds enough data for the picture its header declares (forged or cut headers).

A header is a few bytes; the pixels it declares cost memory and time to decode. A 700-byte
JPEG whose header says 65000x65000 would otherwise be decoded (at 1/8 scale, 66 MP) into a
flat picture and indexed as one. A cap on declared pixels cannot tell it from a real 150 MP
camera JPEG (whose reduced decode is cheap); its size can. Each format's entropy coder has a
best case, so a picture of W x H needs at least some number of bytes whatever it shows:

JPEG, Huffman-coded (SOF0-3, SOF5-7; ITU-T T.81). The first scan of a frame codes every 8x8
block of each of its components, sequential and progressive alike (T.81 Annex G: a component's
DC coefficients are coded before any of its AC ones). Every block costs at least one Huffman
code, at least 1 bit (codes are 1 to 16 bits long; a sequential block costs two: its DC
difference and an EOB, or a 16-zero run): so the data holds at least ``min_c blocks_c`` bits,
the fewest blocks of any component (a component sampled at h_c/Hmax, v_c/Vmax of the frame
has ceil(ceil(W h_c / Hmax) / 8) x ceil(ceil(H v_c / Vmax) / 8) blocks). Lossless frames
(SOF3, SOF7) code every sample with at least 1 bit: the same bound holds, 64 times loose.
Arithmetic-coded frames (SOF9-11, SOF13-15) have no such floor: the QM coder codes a likely
decision in well under 1e-3 bit, so a legal flat arithmetic JPEG can be this small; they are
not checked.

PNG (RFC 2083 / ISO 15948). The image data is a zlib (deflate, RFC 1951) stream of H rows of
1 + ceil(W x bits per pixel / 8) bytes (an interlaced image has more filter bytes, never
fewer). Deflate's best case is a 258-byte match coded in 2 bits (a 1-bit length code and a
1-bit distance code), 1032:1: the file holds at least rows x row bytes / 1032 bytes.

GIF (GIF89a, LZW with codes of up to 12 bits). Each code adds at most one byte to the longest
string in the table, which holds 4096 entries: a code stands for at most 4096 pixels and takes
at least 12 bits once the table is full (fewer bits only while its strings are shorter: while
the table fills, its k-th code stands for at most k + 1 pixels), so at most 4096 x 8 / 12 ~ 2731
pixels per byte, plus the pixels of one full table's strings as slack (4096 x 4097 / 2). The
first frame's own rectangle is checked (the logical screen may be larger than any frame: that
is legal, and its background is not coded).

Not checked: WebP (VP8's boolean coder skips a macroblock in ~0.006 bit, and VP8L allows a
one-symbol code of 0 bits; WebP's own 16383-pixel side limit and MAX_PIXELS bound it), TIFF
(CCITT G4 codes an all-white row in 1 bit and strips may share their data), BMP (RLE's
end-of-bitmap escape leaves the rest undefined, legally).

Safety margin: a file passes when it holds at least half of the bound (:data:`MARGIN`). That
keeps every legal file and every truncated one the decoder would accept (at least
TRUNCATED_MIN_ROWS, 90%, of its rows are there), with room for a count off by one block.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from PIL import Image

from ..errors import DecodeError

#: A file must hold at least 1/MARGIN of the bytes its declared picture needs (see above).
MARGIN = 2
#: Deflate's best compression ratio (RFC 1951): a 258-byte match in 2 bits.
DEFLATE_MAX_RATIO = 258 * 8 // 2
#: GIF LZW's best ratio, pixels per byte: a 4096-pixel string in a 12-bit code.
LZW_MAX_RATIO = 4096 * 8 / 12
#: Pixels an LZW stream may yield beyond LZW_MAX_RATIO x bytes (one full table's strings).
LZW_SLACK = 4096 * 4097 // 2
#: Huffman-coded JPEG frames (SOF0-3, SOF5-7): every block of a scan costs at least 1 bit.
JPEG_HUFFMAN_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7})
#: All frame markers (SOF0-15 but DHT C4, JPG C8 and DAC CC).
JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Samples per pixel of each PNG colour type.
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: Segments read before giving up on finding a JPEG's frame header.
MAX_SEGMENTS = 4096
#: Fill bytes (0xFF) read before a marker before giving up.
MAX_FILL = 4096


def check_declared_size(im: Image.Image, fp: BinaryIO, file_size: int) -> None:
    """Refuse *im* (just opened from *fp*, not loaded) when the file is too small for the
    picture its header declares; return None otherwise, or for a format not checked.

    *file_size* is the file's length in bytes. *fp* is read (headers only, at most a few
    bytes per JPEG segment) and its position restored.

    Raises:
        DecodeError: ``refused: the header declares WxH, which needs at least N bytes of
            FORMAT data; the file has M (a forged or cut header)``.
    """
    fmt = im.format
    if fmt in ("JPEG", "MPO"):
        need = _jpeg_bytes(im, fp)
    elif fmt == "PNG":
        need = _png_bytes(fp)
    elif fmt == "GIF":
        need = _gif_bytes(im)
    else:
        return
    if need is not None and file_size * MARGIN < need:
        w, h = im.size
        raise DecodeError(f"refused: the header declares {w}x{h}, which needs at least "
                          f"{need // MARGIN:,} bytes of {fmt} data; the file has {file_size:,}"
                          " (a forged or cut header)")


def jpeg_min_bits(width: int, height: int, sampling: list[tuple[int, int]]) -> int:
    """Fewest bits a Huffman-coded scan of a width x height frame can take: the fewest 8x8
    blocks of any component, one bit each. *sampling* is each component's (h, v) factors."""
    hmax = max(h for h, _ in sampling)
    vmax = max(v for _, v in sampling)
    return min(_ceil(_ceil(width * h, hmax), 8) * _ceil(_ceil(height * v, vmax), 8)
               for h, v in sampling)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _jpeg_bytes(im: Image.Image, fp: BinaryIO) -> int | None:
    marker = _read_at(fp, _jpeg_sof_marker)
    layers = getattr(im, "layer", None)
    if marker not in JPEG_HUFFMAN_SOF or not layers:
        return None
    sampling = [(max(1, h), max(1, v)) for _, h, v, _ in layers]
    return _ceil(jpeg_min_bits(*im.size, sampling), 8)


def _png_bytes(fp: BinaryIO) -> int | None:
    head = _read_at(fp, lambda f: f.read(26))
    if len(head) < 26 or head[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    channels = PNG_CHANNELS.get(colour)
    if channels is None or depth == 0:
        return None
    raw = height * (1 + _ceil(width * depth * channels, 8))
    return raw // DEFLATE_MAX_RATIO


def _gif_bytes(im: Image.Image) -> int | None:
    tiles = getattr(im, "tile", None) or []
    if not tiles or tiles[0][0] != "gif":
        return None
    x0, y0, x1, y1 = tiles[0][1]
    pixels = max(0, x1 - x0) * max(0, y1 - y0)
    return max(0, int((pixels - LZW_SLACK) / LZW_MAX_RATIO))


def _read_at(fp: BinaryIO, read):  # type: ignore[no-untyped-def]
    """Call read(fp) from the start of the file, restoring fp's position after."""
    pos = fp.tell()
    try:
        fp.seek(0)
        return read(fp)
    finally:
        fp.seek(pos)


def _jpeg_sof_marker(fp: BinaryIO) -> int | None:
    """The marker of the first frame header (0xC0..0xCF), walking segments from SOI; None when
    the walk meets anything else first (a scan, the end, a malformed segment)."""
    if fp.read(2) != b"\xff\xd8":
        return None
    for _ in range(MAX_SEGMENTS):
        if fp.read(1) != b"\xff":
            return None
        byte = fp.read(1)
        for _ in range(MAX_FILL):  # fill bytes before a marker
            if byte != b"\xff":
                break
            byte = fp.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in JPEG_SOF:
            return marker
        if marker in (0xD9, 0xDA) or marker == 0x00:  # EOI or SOS before a frame: no frame
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            continue
        length = fp.read(2)
        if len(length) < 2 or struct.unpack(">H", length)[0] < 2:
            return None
        fp.seek(struct.unpack(">H", length)[0] - 2, 1)
    return None
