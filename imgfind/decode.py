"""Open an image file and return a small, upright, greyscale picture ready to fingerprint.

Decoding is almost the whole cost of indexing, so this module asks each format for as few
pixels as it can give: JPEG is decoded at reduced scale in the DCT domain (``Image.draft``),
everything else is box-reduced right after decoding. The result is never upsampled.
"""

from __future__ import annotations

import io
import os
import stat as statmod
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DecodeError
from .recipe import ALPHA_BACKGROUND, DRAFT_SIZE, WORK_SIZE

#: EXIF Orientation tag.
ORIENTATION_TAG = 0x0112

# Pillow raises DecompressionBombError beyond twice this many pixels; we keep its default
# limit but refuse at the limit itself, so that memory stays bounded on hostile headers.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded picture: the greyscale working image plus what the file said about itself."""

    gray: np.ndarray  # uint8, (rows, cols), upright, long side <= WORK_SIZE
    width: int  # of the full-size upright image
    height: int
    format: str
    mode: str
    orientation: int  # EXIF Orientation as stored (1 when absent or invalid)
    frames: int
    metadata: dict[str, str]  # who made it and when, as the file says (EXIF, PNG text)
    size: int = -1  # bytes and mtime of the file actually read (fstat of the open file)
    mtime_ns: int = -1


def open_for_hash(path: str | os.PathLike[str] | bytes) -> Decoded:
    """Decode *path* into a :class:`Decoded`.

    Only a regular file is ever read: a FIFO, socket or device (say a file replaced by one
    between the crawl and the decode) is refused before it is opened, and the descriptor is
    opened non-blocking and checked again, so a decode can never hang on a pipe.

    Raises:
        DecodeError: the file is missing, unreadable, not an image, corrupt, truncated or too
            large to decode safely. The message is one line, fit for a log.
    """
    try:
        with _open_regular(path) as fp, warnings.catch_warnings():
            # Pillow's own warnings (odd EXIF, ...) would reach stderr unattributed, once per
            # worker; the bomb warning is turned into a refusal instead.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            st = os.fstat(fp.fileno())
            if st.st_size == 0:  # Pillow would call it "not an image": say what it is
                raise DecodeError("empty file")
            with Image.open(fp) as im:
                return _decode(im, st.st_size, st.st_mtime_ns)
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"refused: too many pixels ({exc})") from None
    except Image.DecompressionBombWarning:
        raise DecodeError(
            f"refused: more than {MAX_PIXELS:,} pixels (decompression bomb?)") from None
    except UnidentifiedImageError:
        raise DecodeError("not an image, or a format Pillow cannot read") from None
    except FileNotFoundError:
        raise DecodeError("file not found") from None
    except PermissionError:
        raise DecodeError("permission denied") from None
    except IsADirectoryError:
        raise DecodeError("is a directory") from None
    except MemoryError:
        raise DecodeError("out of memory while decoding") from None
    except RecursionError:
        raise DecodeError("cannot decode: structure nested too deeply") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError,
            ArithmeticError, struct.error, NotImplementedError) as exc:
        # Pillow's plugins raise all of these for corrupt or truncated files (the DDS plugin
        # raises NotImplementedError for unknown pixel formats: found by the torture fuzzer).
        raise DecodeError(_one_line(exc)) from None


def _open_regular(path: str | os.PathLike[str] | bytes) -> io.BufferedReader:
    """Open *path* for reading only if it is a regular file (checked before and after open)."""
    mode = os.stat(path).st_mode
    if not statmod.S_ISREG(mode):
        raise DecodeError(_not_regular(mode))  # never opened: opening a device can act
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not statmod.S_ISREG(mode):
            raise DecodeError(_not_regular(mode))
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def _not_regular(mode: int) -> str:
    if statmod.S_ISDIR(mode):
        return "is a directory"
    kind = ("a FIFO" if statmod.S_ISFIFO(mode) else "a socket" if statmod.S_ISSOCK(mode)
            else "a device" if statmod.S_ISCHR(mode) or statmod.S_ISBLK(mode) else "special")
    return f"not a regular file ({kind}); not read"


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:  # from the OS: no errno, no path in the text
        return f"cannot read: {exc.strerror}"
    text = str(exc).strip().splitlines()
    reason = text[0] if text else type(exc).__name__
    if "truncated" in reason.lower() or "broken data stream" in reason.lower():
        return f"corrupt or truncated: {reason}"
    return f"cannot decode: {reason}"


def _decode(im: Image.Image, size: int = -1, mtime_ns: int = -1) -> Decoded:
    fmt = im.format or "?"
    mode = im.mode
    frames = getattr(im, "n_frames", 1) or 1
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise DecodeError(f"refused: {width}x{height} is more than {MAX_PIXELS:,} pixels")
    if width < 1 or height < 1:
        raise DecodeError("image has no pixels")
    orientation = _orientation(im)
    metadata = _metadata(im)
    if fmt == "JPEG":
        im.draft("L" if mode in ("L", "RGB", "YCbCr") else mode, DRAFT_SIZE)
    im.load()
    small = _reduce(im)
    gray = _to_gray(small)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    gray = _apply_orientation(gray, orientation)
    return Decoded(gray, width, height, fmt, mode, orientation, frames, metadata, size, mtime_ns)


def _orientation(im: Image.Image) -> int:
    """Read the EXIF Orientation; a missing, malformed or out-of-range tag counts as 1."""
    try:
        value = im.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - hostile EXIF must never stop a decode
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


#: EXIF tags worth showing: who made the picture, with what, and when.
EXIF_FIELDS = {
    0x013B: "artist", 0x8298: "copyright", 0x010F: "camera_make", 0x0110: "camera_model",
    0x0131: "software", 0x0132: "modified", 0x010E: "description",
}
EXIF_IFD_FIELDS = {0x9003: "taken", 0x9004: "digitized", 0xA430: "owner"}
EXIF_IFD = 0x8769
PNG_TEXT_FIELDS = {"Author": "artist", "Copyright": "copyright", "Creation Time": "taken",
                   "Software": "software", "Description": "description", "Title": "title"}
MAX_FIELD = 200


def _metadata(im: Image.Image) -> dict[str, str]:
    """Collect creator, copyright, camera and dates from EXIF or PNG text, never failing."""
    out: dict[str, str] = {}
    try:
        exif = im.getexif()
        items = [(EXIF_FIELDS, exif)]
        try:
            items.append((EXIF_IFD_FIELDS, exif.get_ifd(EXIF_IFD)))
        except Exception:  # noqa: BLE001 - a broken sub-IFD only loses these fields
            pass
        for fields, table in items:
            for tag, name in fields.items():
                value = table.get(tag)
                if value is not None:
                    out[name] = _clean(value)
    except Exception:  # noqa: BLE001 - hostile EXIF must never stop a decode
        pass
    for key, name in PNG_TEXT_FIELDS.items():
        value = im.info.get(key) if isinstance(im.info, dict) else None
        if isinstance(value, (str, bytes)) and name not in out:
            out[name] = _clean(value)
    return {k: v for k, v in out.items() if v}


def _clean(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = " ".join(str(value).replace("\x00", " ").split())
    return text[:MAX_FIELD]


def _reduce(im: Image.Image) -> Image.Image:
    """Box-reduce by an integer factor so that the long side is at most ~2x WORK_SIZE."""
    factor = max(im.size) // (2 * WORK_SIZE)
    if factor >= 2 and im.mode not in ("P", "1"):
        try:
            return im.reduce(factor)
        except ValueError:  # modes reduce() does not support
            pass
    return im


_F32_MAX = float(np.finfo(np.float32).max)


def _to_gray(im: Image.Image) -> np.ndarray:
    """Flatten any Pillow mode to 8-bit grey, compositing transparency on a fixed background."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # NaN and infinities (F) have no grey value: NaN counts as 0, infinities clip.
        arr = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=_F32_MAX, neginf=0.0)
        if mode.startswith("I;16"):
            arr = arr / 257.0
        else:
            top = float(arr.max()) if arr.size else 0.0
            if top > 255.0:
                arr = arr * (255.0 / top)
            elif mode == "F" and 0.0 < top <= 1.0:
                arr = arr * 255.0
        gray = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    else:
        if mode == "P" and "transparency" in im.info:
            im = im.convert("RGBA")
            mode = "RGBA"
        if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
            rgba = im.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (ALPHA_BACKGROUND,) * 3 + (255,))
            im = Image.alpha_composite(background, rgba)
        elif mode == "LAB":
            im = im.getchannel(0)
        elif mode not in ("L", "RGB"):
            im = im.convert("RGB")
        gray = im.convert("L")
    if max(gray.size) > WORK_SIZE:
        gray.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BOX)
    return np.asarray(gray, dtype=np.uint8)


def _apply_orientation(gray: np.ndarray, orientation: int) -> np.ndarray:
    """Turn the stored pixels upright as EXIF Orientation 1..8 says (same as exif_transpose)."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: a.T,
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].T,
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(gray)) if op else gray
