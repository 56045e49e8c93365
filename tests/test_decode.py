"""Decoding: every Pillow mode becomes upright 8-bit grey; bad files become DecodeError."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_image, save_exif_rotated
from PIL import Image, ImageOps

from imgfind.decode import WORK_SIZE, open_for_hash
from imgfind.errors import DecodeError


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
    im = make_image(None, seed=1, size=(120, 72))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    im.save(path, exif=exif.tobytes())
    decoded = open_for_hash(path)
    with Image.open(path) as raw:
        upright = ImageOps.exif_transpose(raw).convert("L")
    assert decoded.gray.shape == (upright.height, upright.width)
    assert (decoded.width, decoded.height) == upright.size
    assert np.abs(decoded.gray.astype(int) - np.asarray(upright, dtype=int)).mean() < 2


def test_exif_rotated_jpeg_is_upright(tmp_path):
    im = make_image(None, seed=2, size=(300, 200))
    save_exif_rotated(im, tmp_path / "r.jpg")
    d = open_for_hash(tmp_path / "r.jpg")
    assert d.orientation == 6 and (d.width, d.height) == (300, 200)


def test_large_jpeg_is_decoded_small(tmp_path):
    make_image(tmp_path / "big.jpg", seed=3, size=(2400, 1600))
    d = open_for_hash(tmp_path / "big.jpg")
    assert (d.width, d.height) == (2400, 1600)
    assert max(d.gray.shape) <= WORK_SIZE


def _modes():
    rgb = make_image(None, seed=4, size=(64, 48))
    l8 = rgb.convert("L")
    arr16 = (np.asarray(l8, dtype=np.uint16) * 257)
    yield "RGB", rgb, "png"
    yield "L", l8, "png"
    yield "CMYK", rgb.convert("CMYK"), "jpeg"
    yield "P+transparency", rgb.convert("P"), "png"
    yield "RGBA", rgb.convert("RGBA"), "png"
    yield "LA", l8.convert("LA"), "png"
    yield "I;16", Image.frombytes("I;16", (64, 48), arr16.astype("<u2").tobytes()), "png"
    yield "I", Image.fromarray(arr16.astype(np.int32)), "tiff"
    yield "F", Image.fromarray(np.asarray(l8, dtype=np.float32) / 255.0), "tiff"
    yield "1", l8.convert("1"), "png"
    yield "LAB", rgb.convert("LAB"), "tiff"


@pytest.mark.parametrize("name,im,fmt", list(_modes()), ids=[m[0] for m in _modes()])
def test_every_mode_decodes_to_similar_grey(tmp_path, name, im, fmt):
    path = tmp_path / f"img.{fmt}"
    if name == "P+transparency":
        im.info["transparency"] = 0
        im.save(path, transparency=0)
    else:
        im.save(path)
    d = open_for_hash(path)
    assert d.gray.dtype == np.uint8 and d.gray.shape == (48, 64)
    if name not in ("1", "P+transparency"):
        reference = np.asarray(make_image(None, seed=4, size=(64, 48)).convert("L"), dtype=int)
        # same picture up to a contrast change (wide modes are scaled to 8 bits)
        assert np.corrcoef(d.gray.ravel(), reference.ravel())[0, 1] > 0.9, name


def test_animated_gif_is_the_mean_of_its_frames(tmp_path):
    # Was test_animated_gif_uses_first_frame: issue 11 section 4 asks for a representative
    # picture instead (two animations fading in from black were one group).
    frames = [make_image(None, seed=s, size=(64, 48)).convert("P") for s in (5, 6)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    d = open_for_hash(tmp_path / "a.gif")
    assert d.frames == 2
    first, second = (np.asarray(f.convert("L"), dtype=float) for f in frames)
    assert np.abs(d.gray.astype(int) - (first + second) / 2).mean() < 3
    assert np.abs(d.gray.astype(int) - first).mean() > 10


def test_png_named_jpg_is_read_by_content(tmp_path):
    make_image(tmp_path / "really-a-png.jpg", seed=7, fmt="PNG")
    assert open_for_hash(tmp_path / "really-a-png.jpg").format == "PNG"


def test_exif_metadata_is_collected(tmp_path):
    exif = Image.Exif()
    exif[0x013B] = "Ada Lovelace"
    exif[0x8298] = "(c) 2024 Ada"
    exif[0x0110] = "Camera X"
    make_image(tmp_path / "m.jpg", seed=8, exif=exif.tobytes())
    meta = open_for_hash(tmp_path / "m.jpg").metadata
    assert meta["artist"] == "Ada Lovelace" and meta["copyright"] == "(c) 2024 Ada"
    assert meta["camera_model"] == "Camera X"


@pytest.mark.parametrize("content,reason", [
    (b"", "not an image"),
    (b"hello, this is text", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "cannot decode"),
])
def test_bad_files_raise_decode_error(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(DecodeError) as err:
        open_for_hash(path)
    assert "\n" not in str(err.value)


def test_truncated_jpeg_raises(tmp_path):
    make_image(tmp_path / "t.jpg", seed=9, size=(400, 300))
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(DecodeError):
        open_for_hash(tmp_path / "t.jpg")


def test_missing_file_raises(tmp_path):
    with pytest.raises(DecodeError, match="not found"):
        open_for_hash(tmp_path / "nope.jpg")


def test_banded_conversion_is_the_same_as_converting_the_whole_picture(monkeypatch):
    from imgfind.decoders import pillow

    im = make_image(None, seed=11, size=(1000, 700)).convert("P")
    whole = pillow.working_gray(im)
    monkeypatch.setattr(pillow, "BAND_PIXELS", 1000 * 7)  # bands of a few rows
    assert (pillow.working_gray(im) == whole).all()
    reference = np.asarray(im.convert("L").reduce(3), dtype=np.uint8)  # factor 1000 // 256
    small = Image.fromarray(reference)
    small.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BOX)
    assert np.abs(whole.astype(int) - np.asarray(small, dtype=int)).max() <= 1


@pytest.mark.parametrize("ink,background", [(255, 0), (0, 255), (40, 255)])
def test_transparency_is_composited_against_the_ink(tmp_path, ink, background):
    im = Image.new("LA", (200, 200), (0, 0))
    im.paste((ink, 255), (50, 50, 150, 150))
    im.save(tmp_path / "a.png")
    gray = open_for_hash(tmp_path / "a.png").gray
    assert gray[0, 0] == background and abs(int(gray[64, 64]) - ink) <= 1


def test_bomb_is_refused_quoting_the_limit_on_decoded_pixels(tmp_path):
    from imgfind.decoders.pillow import MAX_PIXELS

    Image.new("L", (1, 1)).save(tmp_path / "x.png")
    data = bytearray((tmp_path / "x.png").read_bytes())
    import struct
    import zlib

    data[16:24] = struct.pack(">II", 10000, 10000)  # IHDR width, height: 100 MP
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    (tmp_path / "x.png").write_bytes(bytes(data))
    with pytest.raises(DecodeError, match=f"refused: more than the limit of {MAX_PIXELS:,}"):
        open_for_hash(tmp_path / "x.png")


def test_truncated_file_with_most_rows_is_read_with_a_warning(tmp_path):
    make_image(tmp_path / "t.jpg", seed=9, size=(400, 300))
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: int(len(data) * 0.97)])
    d = open_for_hash(tmp_path / "t.jpg")
    assert d.warning is not None and d.warning.startswith("truncated: ")
    assert open_for_hash(_intact(tmp_path)).warning is None


def _intact(tmp_path):
    make_image(tmp_path / "i.jpg", seed=9, size=(400, 300))
    return tmp_path / "i.jpg"
