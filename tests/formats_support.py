"""Writers for test files of formats Pillow cannot write itself: a DNG (camera raw) made from
a picture with tifffile, with or without an embedded JPEG preview, and a minimal PSD."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

#: XYZ (D65) -> linear sRGB, so that the "camera" of the DNG sees linear sRGB.
_XYZ_TO_SRGB = (32406, -15372, -4986, -9689, 18758, 415, 557, -2040, 10570)
WHITE = 4095


def write_dng(path: Path, im: Image.Image, preview: bool = False, make: str = "imgfind",
              model: str = "test camera") -> None:
    """Write *im* as a DNG 1.4 (RGGB Bayer mosaic of the picture's linear light, 12 bits).

    With *preview*, IFD0 is a full-size JPEG preview (NewSubfileType 1) and the mosaic is
    in a SubIFD, as cameras and Adobe's converter lay them out. tifffile has no JPEG encoder
    without imagecodecs, so the preview strip is written uncompressed-sized and its
    Compression and StripByteCounts tags are set to the JPEG's after.
    """
    import tifffile

    rgb = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    linear = np.rint((rgb ** 2.2) * WHITE).astype(np.uint16)
    h, w = linear.shape[:2]
    cfa = np.empty((h, w), np.uint16)
    cfa[0::2, 0::2] = linear[0::2, 0::2, 0]
    cfa[0::2, 1::2] = linear[0::2, 1::2, 1]
    cfa[1::2, 0::2] = linear[1::2, 0::2, 1]
    cfa[1::2, 1::2] = linear[1::2, 1::2, 2]
    ifd0 = [(50706, "B", 4, (1, 4, 0, 0)), (50707, "B", 4, (1, 1, 0, 0)),
            (50708, "s", 0, f"{make} {model}"), (271, "s", 0, make), (272, "s", 0, model),
            (50721, "2i", 9, tuple(v for x in _XYZ_TO_SRGB for v in (x, 10000))),
            (50778, "H", 1, 21), (50728, "2I", 3, (1, 1, 1, 1, 1, 1))]
    mosaic = [(33421, "H", 2, (2, 2)), (33422, "B", 4, (0, 1, 1, 2)), (50717, "I", 1, WHITE)]
    if not preview:
        tifffile.imwrite(path, cfa, photometric=32803, subfiletype=0, extratags=ifd0 + mosaic,
                         metadata=None)
        return
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=92)
    jpeg = buf.getvalue()
    with tifffile.TiffWriter(path) as tw:
        tw.write(iter([jpeg + bytes(h * w * 3 - len(jpeg))]), shape=(h, w, 3), dtype=np.uint8,
                 photometric="rgb", subfiletype=1, subifds=1, extratags=ifd0,
                 rowsperstrip=h, metadata=None)
        tw.write(cfa, photometric=32803, subfiletype=0, extratags=mosaic, metadata=None)
    with tifffile.TiffFile(path, mode="r+b") as tf:
        tf.pages[0].tags["Compression"].overwrite(7)  # JPEG
        tf.pages[0].tags["StripByteCounts"].overwrite((len(jpeg),))


def write_psd(path: Path, im: Image.Image) -> None:
    """A minimal Photoshop file: RGB, 8 bits, no layers, raw composite (planar)."""
    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    h, w = rgb.shape[:2]
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, h, w, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers
    data = struct.pack(">H", 0) + np.ascontiguousarray(rgb.transpose(2, 0, 1)).tobytes()
    path.write_bytes(head + sections + data)
