"""A file too small for the picture its header declares is unreadable, and cheaply so.

A 700-byte JPEG whose header declares 65000x65000 was decoded (1/8 scale: 66 MP, ~300 MB) into
a flat picture and indexed as one. The bound is the entropy coder's best case (derived in
imgfind/decoders/declared_size.py): forged and cut headers of JPEG, PNG and GIF are refused
before any pixel is allocated; a real, large, flat (so small) picture still passes.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from faults_support import cli_run, ok
from helpers import make_image
from PIL import Image

from imgfind.decode import open_for_hash
from imgfind.decoders.declared_size import MARGIN, check_declared_size, jpeg_min_bits
from imgfind.errors import DecodeError

FORGED = "forged or cut header"


def _segments(data: bytes):
    """(offset, marker) of each JPEG segment up to the first scan."""
    i = 2
    while True:
        marker = data[i + 1]
        yield i, marker
        if marker == 0xDA:
            return
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]


def forged_jpeg(width: int, height: int, mode: str = "RGB", sof: int | None = None,
                **save: object) -> bytes:
    """A real 16x16 JPEG whose frame header is rewritten to declare width x height (and, when
    *sof* is given, another frame type)."""
    buf = io.BytesIO()
    Image.new(mode, (16, 16), 90).save(buf, "JPEG", **save)
    data = bytearray(buf.getvalue())
    for i, marker in _segments(bytes(data)):
        if 0xC0 <= marker <= 0xC2:
            struct.pack_into(">HH", data, i + 5, height, width)
            if sof is not None:
                data[i + 1] = sof
            return bytes(data)
    raise AssertionError("no frame header")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def forged_png(width: int, height: int, depth: int = 8, colour: int = 6) -> bytes:
    """A PNG declaring width x height whose image data is one zlib stream of 16 zero bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16)) + _png_chunk(b"IEND", b""))


def forged_gif(width: int, height: int) -> bytes:
    """A GIF whose screen and first frame are width x height, with a few bytes of LZW data."""
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
            + b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
            + b"\x02\x05\x84\x1d\x81\x7a\x50\x00;")


@pytest.mark.parametrize("name,data", [
    ("colour baseline", forged_jpeg(65000, 65000)),
    ("grey baseline", forged_jpeg(30000, 20000, "L")),
    ("colour progressive", forged_jpeg(65000, 40000, progressive=True)),
    ("4:4:4", forged_jpeg(40000, 40000, subsampling=0)),
    ("png rgba", forged_png(9000, 9000)),
    ("png grey 16-bit", forged_png(9000, 9000, 16, 0)),
    ("png bilevel", forged_png(9000, 9000, 1, 0)),
    ("gif", forged_gif(9000, 9000)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_forged_header_is_refused_as_forged(tmp_path, name, data):
    path = tmp_path / "forged.img"
    path.write_bytes(data)
    with pytest.raises(DecodeError, match=FORGED) as err:
        open_for_hash(path)
    assert "\n" not in str(err.value)


def test_jpeg_cut_after_its_headers_is_refused(tmp_path):
    """A 3000x2000 photo of which only the headers and a few hundred bytes of data arrived."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (2000, 3000), np.uint8)).save(
        buf, "JPEG", quality=90)
    data = buf.getvalue()
    sos = max(i for i, _ in _segments(data))
    (tmp_path / "cut.jpg").write_bytes(data[:sos + 400])
    with pytest.raises(DecodeError, match=FORGED):
        open_for_hash(tmp_path / "cut.jpg")


# VmHWM, not ru_maxrss: Linux carries a process's peak RSS across execve, so a child of a big
# pytest process would report its parent's size.
_PEAK = """
import re, sys
from imgfind.decode import open_for_hash
from imgfind.errors import DecodeError
try:
    open_for_hash(sys.argv[1])
    print("decoded")
except DecodeError as exc:
    print(exc)
print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
"""


def test_forged_jpeg_is_refused_in_small_memory(tmp_path):
    """65000x65000 in 700 bytes: refused before its 66 MP reduced decode (~300 MB peak on the
    old code). The bound: the interpreter with numpy and Pillow, plus a small allowance."""
    path = tmp_path / "forged.jpg"
    path.write_bytes(forged_jpeg(65000, 65000))
    assert path.stat().st_size < 1000
    run = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    reason, peak_kb = run.stdout.splitlines()
    assert FORGED in reason
    assert int(peak_kb) < 150 * 1024, f"peak {int(peak_kb) // 1024} MiB"


def test_big_flat_jpeg_is_read(tmp_path):
    """12000x9000 (108 MP) of one grey, Huffman tables optimised: the smallest a real JPEG of
    that size gets (a few hundred KB). It is read, at full declared size."""
    path = tmp_path / "flat.jpg"
    Image.new("L", (12000, 9000), 120).save(path, "JPEG", quality=75, optimize=True)
    d = open_for_hash(path)
    assert (d.width, d.height) == (12000, 9000)
    assert d.warning is None


def _open(data: bytes):
    fp = io.BytesIO(data)
    return Image.open(fp), fp


def _declaring(data: bytes, fmt: str, factor: int) -> bytes:
    """*data* with its header declaring *factor* times the width and the height."""
    out = bytearray(data)
    if fmt == "JPEG":
        i = next(i for i, m in _segments(data) if 0xC0 <= m <= 0xC2)
        h, w = struct.unpack(">HH", data[i + 5:i + 9])
        struct.pack_into(">HH", out, i + 5, h * factor, w * factor)
    elif fmt == "PNG":
        w, h = struct.unpack(">II", data[16:24])
        struct.pack_into(">II", out, 16, w * factor, h * factor)
        struct.pack_into(">I", out, 29, zlib.crc32(bytes(out[12:29])))
    else:  # GIF: the logical screen and the first frame
        w, h = struct.unpack("<HH", data[6:10])
        struct.pack_into("<HH", out, 6, w * factor, h * factor)
        i = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
        while data[i] == 0x21:  # extensions: label, then sub-blocks up to an empty one
            i += 2
            while data[i]:
                i += data[i] + 1
            i += 1
        assert data[i] == 0x2C
        struct.pack_into("<HH", out, i + 5, w * factor, h * factor)
    return bytes(out)


@pytest.mark.parametrize("fmt,mode,save", [
    ("JPEG", "L", {"optimize": True}),
    ("JPEG", "L", {"progressive": True, "optimize": True}),
    ("JPEG", "RGB", {"subsampling": 0, "optimize": True}),
    ("JPEG", "RGB", {"subsampling": 2, "optimize": True}),
    ("JPEG", "RGB", {"subsampling": 2, "progressive": True}),
    ("JPEG", "CMYK", {}),
    ("PNG", "1", {"compress_level": 9}),
    ("PNG", "L", {"compress_level": 9}),
    ("PNG", "RGBA", {"compress_level": 9}),
    ("PNG", "P", {"compress_level": 9}),
    ("GIF", "P", {}),
])
def test_flat_pictures_the_coder_compresses_best_stay_within_the_bound(monkeypatch, fmt, mode,
                                                                         save):
    """The best case of each coder: one flat colour, at several sizes (odd ones too). None is
    refused; the same bytes declaring 8 times the width and height are."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # the lies are huge
    for size in ((1, 1), (17, 9), (1000, 700), (3001, 2003)):
        buf = io.BytesIO()
        Image.new(mode, size, 1 if mode in ("1", "P") else 200).save(buf, fmt, **save)
        data = buf.getvalue()
        im, fp = _open(data)
        check_declared_size(im, fp, len(data))
        if min(size) >= 1000:
            lie = _declaring(data, fmt, 8)
            im, fp = _open(lie)
            assert im.size == (size[0] * 8, size[1] * 8)
            with pytest.raises(DecodeError, match=FORGED):
                check_declared_size(im, fp, len(lie))


def test_bound_is_the_fewest_blocks_of_any_component():
    assert jpeg_min_bits(16, 16, [(1, 1)]) == 4
    assert jpeg_min_bits(17, 9, [(1, 1)]) == 3 * 2
    assert jpeg_min_bits(64, 64, [(2, 2), (1, 1), (1, 1)]) == 16  # 4:2:0 chroma: 32x32
    assert jpeg_min_bits(64, 64, [(4, 4), (1, 1)]) == 4


def test_arithmetic_coded_jpeg_is_not_checked(monkeypatch):
    """The QM coder codes a flat block in ~1e-4 bit: a small arithmetic JPEG may be huge."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    data = forged_jpeg(65000, 65000, sof=0xC9)
    im, fp = _open(data)
    check_declared_size(im, fp, len(data))  # no bound to hold it to


def test_index_records_the_forged_file_as_unreadable(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    make_image(folder / "real.jpg", seed=1)
    (folder / "forged.jpg").write_bytes(forged_jpeg(65000, 65000))
    db = str(tmp_path / "i.db")
    run = cli_run("--db", db, "-v", "index", str(folder))
    ok(run)
    assert "1 new" in run.stderr and "1 unreadable" in run.stderr, run.stderr
    assert "forged.jpg" in run.stderr and FORGED in run.stderr, run.stderr
