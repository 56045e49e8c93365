"""The default decoder: Pillow, asked for as few pixels as each format can give.

Cost model (what "too large" means): a decode is refused when the picture it must hold in
memory, after any reduction the format does while decoding, has more than
:data:`MAX_PIXELS` pixels. A JPEG is decoded at up to 1/8 scale in the DCT domain
(``Image.draft``), so a 100-megapixel JPEG costs 1.6 MP; a PNG has to be decoded at full
size. At most 4 bytes a pixel, one decode holds at most ~340 MiB of pixels; everything after
the decode (conversion, compositing) works on bands of rows or on the reduced picture. A
decode above :data:`BIG_DECODE_BYTES` also takes a machine-wide lock (``flock``), so however
many workers run (and however many runs), one big picture is decoded at a time.

Other steps: transparency is composited at working size from premultiplied planes, on a
background chosen against the ink (recipe.ALPHA_LIGHT_INK); an animation is the mean of a few
sampled frames (recipe.ANIMATION_SAMPLES); a file whose data ends early is decoded as far as it
goes and accepted, with a warning, when at least :data:`TRUNCATED_MIN_ROWS` of its rows
are there. A file too small for the picture its header declares (a forged or cut header) is
refused before any pixel is allocated (declared_size.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib
import importlib.util
import os
import struct
import tempfile
import warnings
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from ..errors import DecodeError
from ..quality import quality_from_tables
from .. import provenance
from ..recipe import (ALPHA_LIGHT_INK, ANIMATION_SAMPLES, COLOUR_SIZE, DETAIL_SIZE,
                      DRAFT_SIZE, FLAT_STD, JPEG_EXACT_PIXELS, WORK_SIZE)
from ..model import COLOUR, JPEG_HEAD
from . import Decoded, Missing
from .declared_size import check_declared_size

#: EXIF Orientation tag.
ORIENTATION_TAG = 0x0112
#: Most pixels one decode may hold (after a JPEG's reduced-scale decode): Pillow's own default.
MAX_PIXELS = 89_478_485
#: Decodes holding more bytes than this take the machine-wide big-decode lock.
BIG_DECODE_BYTES = 64 * 2**20
#: Rows handled at once when compositing or converting a large picture (bounds the copies).
BAND_PIXELS = 2**21
#: A truncated file is read when at least this fraction of its rows was decoded.
TRUNCATED_MIN_ROWS = 0.90
#: Bytes at the start of a JPEG whose digest the index keeps (metadata JPEG_HEAD, jpeg_head):
#: the headers of a photo (its own dates among them) or, for a file without much metadata,
#: its headers and the top of its picture (ours: a damaged copy is found when its damage lies
#: beyond them; one damaged within them is garbage from the top).
HEAD_BYTES = 4096
#: Formats whose multi-frame files are animations (not pages or stereo pairs).
ANIMATED = frozenset({"GIF", "PNG", "WEBP", "AVIF", "FLI"})

#: Extensions read by Pillow when its build reads the format (the content decides the format).
WANTED_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".bmp", ".dib", ".tif",
    ".tiff", ".webp", ".ico", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".jp2", ".j2k",
    ".jpf", ".jpx", ".pcx", ".sgi", ".dds", ".icns", ".psd", ".avif", ".qoi",
})

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
#: Modes of one channel of grey levels (model.COLOUR "grey"; mode 1 is "bilevel").
GREY_MODES = frozenset({"L", "LA", "La"}) | _WIDE_MODES


class PillowDecoder:
    """Pillow's formats; also the registry's default (it reads by content)."""

    name = "pillow"

    def __init__(self, extra_extensions: frozenset[str] = frozenset(), name: str = "pillow"):
        self.name = name
        self._extra = extra_extensions
        self._extensions: frozenset[str] | None = None

    def extensions(self) -> frozenset[str]:
        if self._extensions is None:
            Image.init()
            readable = {e for e, f in Image.registered_extensions().items() if f in Image.OPEN}
            self._extensions = frozenset(WANTED_EXTENSIONS & readable) | self._extra
        return self._extensions

    def sniff(self, head: bytes) -> bool:
        return False  # the default: chosen by extension or as the last resort, never first

    def decode(self, fp: BinaryIO, st: os.stat_result) -> Decoded:
        try:
            try:
                return _decode_file(fp, st, truncated=False)
            except (OSError, SyntaxError, EOFError) as exc:
                if not _is_truncation(exc):
                    raise
            fp.seek(0)
            return _decode_file(fp, st, truncated=True)
        except DecodeError:
            raise
        except Image.DecompressionBombError:
            raise DecodeError(f"refused: more than the limit of {MAX_PIXELS:,} decoded pixels"
                              " (decompression bomb?)") from None
        except UnidentifiedImageError:
            raise DecodeError("not an image, or a format Pillow cannot read") from None
        except MemoryError:
            raise DecodeError("out of memory while decoding") from None
        except RecursionError:
            raise DecodeError("cannot decode: structure nested too deeply") from None
        except (PermissionError, FileNotFoundError, IsADirectoryError):
            raise
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError,
                ArithmeticError, struct.error, NotImplementedError) as exc:
            # Pillow's plugins raise all of these for corrupt or truncated files (the DDS plugin
            # raises NotImplementedError for unknown pixel formats: found by the torture fuzzer).
            raise DecodeError(_one_line(exc)) from None


PILLOW = PillowDecoder()


class PluginDecoder(PillowDecoder):
    """A format read through a Pillow plugin that registers itself on import (pillow-heif's
    ``register_heif_opener``, pillow-jxl-plugin's ``import pillow_jxl``): Pillow's pipeline
    after the plugin has opened the file."""

    def __init__(self, module: str, extensions: frozenset[str],
                 magic: tuple[tuple[int, bytes], ...], name: str):
        super().__init__(extensions, name)
        self._module = module
        self._magic = magic

    def extensions(self) -> frozenset[str]:
        return self._extra

    def sniff(self, head: bytes) -> bool:
        return any(head[o:o + len(m)] == m for o, m in self._magic)

    def decode(self, fp: BinaryIO, st: os.stat_result) -> Decoded:
        _register_plugin(self._module)
        return super().decode(fp, st)


@functools.cache
def _register_plugin(module: str) -> None:
    """Import the plugin *module* once per process (workers too): it registers with Pillow."""
    mod = importlib.import_module(module)
    register = getattr(mod, "register_heif_opener", None)
    if register is not None:
        register()


def plugin_decoder(module: str, extensions: frozenset[str], magic: tuple[tuple[int, bytes], ...],
                   name: str) -> PluginDecoder | None:
    """A decoder through the Pillow plugin *module*, or None when it is not installed."""
    if importlib.util.find_spec(module) is None:
        return None
    return PluginDecoder(module, extensions, magic, name)


#: Why Pillow may not read a format it usually reads: its build lacks the library.
_PILLOW_FEATURES = {
    "AVIF": ("avif", "Pillow built without AVIF: pip install -U 'Pillow>=11.3'"),
    "WEBP": ("webp", "Pillow built without WebP"),
    "JPEG2000": ("jpg_2000", "Pillow built without OpenJPEG"),
}


def unreadable_by_pillow() -> list[Missing]:
    """The wanted extensions this Pillow cannot read, each with the reason (for the crawl's
    summary: such files are counted and named, not skipped silently)."""
    Image.init()
    registered = Image.registered_extensions()
    readable = PILLOW.extensions()
    out = []
    by_format: dict[str, set[str]] = {}
    for ext in sorted(WANTED_EXTENSIONS - readable):
        by_format.setdefault(registered.get(ext, ext.lstrip(".").upper()), set()).add(ext)
    for fmt, exts in sorted(by_format.items()):
        hint = _PILLOW_FEATURES.get(fmt, (None, f"this Pillow cannot read {fmt}"))[1]
        out.append(Missing(frozenset(exts), (), hint))
    return out


# ----------------------------------------------------------------------------- decoding
@contextlib.contextmanager
def _pillow_limits(truncated: bool, scale: int) -> Iterator[None]:
    """Pillow's own bomb check at our limit times *scale*, truncated loads as asked.

    Pillow refuses (DecompressionBombError) above twice MAX_IMAGE_PIXELS, at open and for
    every frame a plugin sets up; it is set so that it refuses above MAX_PIXELS * scale, where
    *scale* is the most a format reduces while decoding (64 for a JPEG's 1/8 draft, else 1):
    our own check on the pixels really decoded (check_cost) does the rest. Both settings are
    module globals of Pillow: set for the decode and restored after it.
    """
    saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS = (MAX_PIXELS * scale + 1) // 2
    ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    try:
        with warnings.catch_warnings():
            # Pillow's own warnings (odd EXIF, ...) would reach stderr unattributed.
            warnings.simplefilter("ignore")
            yield
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _is_truncation(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "truncated" in text or "broken data stream" in text or isinstance(exc, EOFError)


def _decode_file(fp: BinaryIO, st: os.stat_result, truncated: bool) -> Decoded:
    scale = 64 if fp.read(2) == b"\xff\xd8" else 1  # a JPEG can be decoded at 1/8 scale
    fp.seek(0)
    with _pillow_limits(truncated, scale), Image.open(fp) as im:
        fmt = im.format or "?"
        mode = im.mode
        frames = getattr(im, "n_frames", 1) or 1
        width, height = im.size
        if width < 1 or height < 1:
            raise DecodeError("image has no pixels")
        check_declared_size(im, fp, st.st_size)  # before any pixel is allocated
        orientation = _orientation(im)
        metadata = _metadata(im)
        second_draft = False
        if fmt == "JPEG" and width * height > JPEG_EXACT_PIXELS:
            # A colour JPEG is decoded to YCbCr (no colour conversion): Y is the grey picture
            # libjpeg's greyscale output would be, Cb and Cr give the colour signature.
            draft_mode = "L" if mode == "L" else "YCbCr" if mode in ("RGB", "YCbCr") else mode
            # The working picture's draft scale is the global recipe's (DRAFT_SIZE); the
            # detail picture needs DETAIL_SIZE. A 12 MP JPEG gives both at 1/8 (a long side of
            # 500): one decode. A smaller one is decoded at the detail's scale (both sides at
            # least DETAIL_SIZE), and the working picture again at its own, so that its bits
            # stay those of the global recipe.
            work = _draft_scale(im.size, DRAFT_SIZE)
            scale = (work if max(im.size) // work >= DETAIL_SIZE
                     else _draft_scale(im.size, (DETAIL_SIZE, DETAIL_SIZE)))
            second_draft = scale != work
            im.draft(draft_mode, (max(1, im.size[0] // scale), max(1, im.size[1] // scale)))
        cost = check_cost(im, width, height)
        pillow_turned = False  # Pillow turned the pixels upright (and gave the upright size)
        with _big_decode(cost):
            im.load()
            pillow_turned = _pillow_turned(im, orientation)
            warning = None
            if truncated:
                rows = _rows_present(im)
                if rows < TRUNCATED_MIN_ROWS:
                    raise DecodeError(f"corrupt or truncated: only {rows:.0%} of the rows are there")
                warning = f"truncated: {rows:.0%} of the rows decoded"
            detail = None  # an animation has no one picture to find keypoints in
            if frames > 1 and fmt in ANIMATED and getattr(im, "is_animated", False):
                gray, chroma = _animation(im, frames)
            else:
                detail = working_gray(im, DETAIL_SIZE)
                if second_draft:
                    fp.seek(0)
                    with Image.open(fp) as small:
                        small.draft(draft_mode, DRAFT_SIZE)
                        small.load()
                        gray, chroma = _working_pictures(small)
                else:
                    gray, chroma = _working_pictures(im)
    turn = 1 if pillow_turned else orientation
    if turn in (5, 6, 7, 8):
        width, height = height, width
    gray = _apply_orientation(gray, turn)
    if chroma is not None:
        chroma = np.stack([_apply_orientation(c, turn) for c in chroma])
    if detail is not None:
        detail = np.ascontiguousarray(_apply_orientation(detail, turn))
    return Decoded(gray, width, height, fmt, mode, orientation, frames, metadata,
                   st.st_size, st.st_mtime_ns, warning, chroma, detail)


def check_cost(im: Image.Image, width: int, height: int) -> int:
    """Bytes the decode of *im* (at its draft scale) will hold; refuse it above MAX_PIXELS.

    Raises:
        DecodeError: ``refused: WxH decodes to N pixels, more than the limit of MAX_PIXELS``.
    """
    w, h = im.size  # after draft(): the pixels the decoder will really produce
    if w * h > MAX_PIXELS:
        scaled = "" if (w, h) == (width, height) else f" (at {w}x{h})"
        raise DecodeError(f"refused: {width}x{height}{scaled} is more than the limit of "
                          f"{MAX_PIXELS:,} decoded pixels (decompression bomb?)")
    bpp = 1 if im.mode in ("1", "L", "P") else 2 if im.mode.startswith("I;16") else 4
    return w * h * bpp


@contextlib.contextmanager
def _big_decode(cost: int) -> Iterator[None]:
    """Hold the machine-wide big-decode lock while a decode above BIG_DECODE_BYTES runs."""
    if cost <= BIG_DECODE_BYTES:
        yield
        return
    path = os.path.join(tempfile.gettempdir(), f"imgfind-{os.getuid()}-big-decode.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError:  # no writable temp dir: decode unlocked rather than not at all
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
        yield
    finally:
        os.close(fd)


def _rows_present(im: Image.Image) -> float:
    """Fraction of rows a truncated decode filled: trailing rows that are all one value, the
    value of the last pixel (grey 128 for a JPEG, 0 for a PNG), are the ones never decoded."""
    w, h = im.size
    fill = np.asarray(im.crop((w - 1, h - 1, w, h)))[0, 0]
    band = max(1, BAND_PIXELS // max(w, 1))
    bottom = h
    while bottom > 0:
        top = max(0, bottom - band)
        rows = np.asarray(im.crop((0, top, w, bottom)))
        same = (rows == fill).reshape(rows.shape[0], -1).all(axis=1)
        if same.all():
            bottom = top
            continue
        last = int(np.flatnonzero(~same)[-1])
        return (top + last + 1) / h
    return 0.0


def _animation(im: Image.Image, frames: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The mean of ANIMATION_SAMPLES frames sampled evenly, near-uniform ones left out: grey,
    and the colour signature (the mean of the same frames' signatures; None if any is grey)."""
    picks = sorted({round(i * (frames - 1) / (ANIMATION_SAMPLES - 1)) for i in range(ANIMATION_SAMPLES)})
    sampled = []
    for i in picks:
        im.seek(i)
        im.load()
        sampled.append(_working_pictures(im))
    sampled = [gc for gc in sampled if gc[0].shape == sampled[0][0].shape]
    detailed = [gc for gc in sampled if gc[0].std() >= FLAT_STD] or sampled
    gray = np.rint(np.mean([g for g, _ in detailed], axis=0)).astype(np.uint8)
    chromas = [c for _, c in detailed]
    if any(c is None for c in chromas):
        return gray, None
    return gray, np.rint(np.mean(chromas, axis=0)).astype(np.uint8)


# ----------------------------------------------------------------------------- working picture
def _draft_scale(size: tuple[int, int], want: tuple[int, int]) -> int:
    """The scale (1, 2, 4 or 8) Pillow's JPEG draft picks for *want* (JpegImageFile.draft)."""
    scale = min(size[0] // want[0], size[1] // want[1])
    return next((s for s in (8, 4, 2) if scale >= s), 1)


def decode_picture(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The grey working picture and colour signature of an upright uint8 (rows, cols, 3)
    RGB array decoded by another library (rawpy): the same steps as a file Pillow reads."""
    return _working_pictures(Image.fromarray(np.ascontiguousarray(rgb), "RGB"))


def _working_pictures(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """The grey working picture and the colour signature, from one box reduction of *im*
    (both would otherwise reduce the full picture each; the result is the same, since after
    one reduction by max(size) // (2 * WORK_SIZE) no second one is due)."""
    factor = max(im.size) // (2 * WORK_SIZE)
    if factor >= 2 and im.mode not in ("P", "1") and im.mode not in _ALPHA_MODES:
        try:
            im = im.reduce(factor)
        except ValueError:  # modes reduce() does not support
            pass
    return working_gray(im), working_chroma(im)


def working_gray(im: Image.Image, size: int = WORK_SIZE) -> np.ndarray:
    """Flatten a loaded picture of any mode to 8-bit grey of long side <= *size*.

    Shape (rows, cols), uint8. Never holds a full-size copy of a picture in another mode:
    L/RGB/CMYK/... are box-reduced by Pillow first; palette, 1-bit and transparent pictures
    are converted band by band and box-reduced as they go.
    """
    factor = max(im.size) // (2 * size)
    mode = im.mode
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in im.info):
        gray = _composited(im, max(factor, 1))
    elif mode in ("P", "1"):
        grey = _banded(im, max(factor, 1), alpha=False)[0]
        gray = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), "L")
    else:
        if factor >= 2:
            try:
                im = im.reduce(factor)
            except ValueError:  # modes reduce() does not support
                pass
        gray = _simple_gray(im)
    if max(gray.size) > size:
        gray.thumbnail((size, size), Image.Resampling.BOX)
    return np.asarray(gray, dtype=np.uint8)


_F32_MAX = float(np.finfo(np.float32).max)


def _simple_gray(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode in _WIDE_MODES:
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
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if mode in ("LAB", "YCbCr"):
        return im.getchannel(0)  # YCbCr: a colour JPEG drafted without colour conversion
    if mode not in ("L", "RGB"):
        im = im.convert("RGB")
    return im.convert("L")


def _banded(im: Image.Image, factor: int, alpha: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey (premultiplied by alpha when *alpha*) and alpha, box-reduced by *factor*.

    Float32 arrays of shape (ceil(h/factor), ceil(w/factor)); grey in 0..255, alpha in 0..1.
    The picture is converted a band of rows at a time (bands are whole multiples of
    *factor*, so the reduction is the same as of the whole picture).
    """
    w, h = im.size
    band = max(factor, (BAND_PIXELS // max(w, 1)) // factor * factor)
    grays, alphas = [], []
    for top in range(0, h, band):
        part = im.crop((0, top, w, min(h, top + band)))
        if alpha:
            part = part.convert("RGBA")
            a = np.asarray(part.getchannel("A"), dtype=np.float32) / 255.0
            g = np.asarray(part.convert("L"), dtype=np.float32) * a
            alphas.append(_box(a, factor))
        else:
            g = np.asarray(part.convert("L"), dtype=np.float32)
        grays.append(_box(g, factor))
    return np.vstack(grays), (np.vstack(alphas) if alpha else None)


def _box(arr: np.ndarray, factor: int) -> np.ndarray:
    """Box-reduce a float32 plane by *factor* (Pillow's reduce: edge boxes are partial)."""
    if factor < 2:
        return arr
    return np.asarray(Image.fromarray(arr, "F").reduce(factor), dtype=np.float32)


def _composited(im: Image.Image, factor: int) -> Image.Image:
    """Composite a transparent picture at working size on a background against its ink.

    Box reduction is linear, so reducing premultiplied grey and alpha and compositing after
    is compositing at full size and reducing after, at a fraction of the memory.
    """
    gray, alpha = _banded(im, factor, alpha=True)
    covered = float(alpha.sum())
    ink = float(gray.sum()) / covered if covered > 0 else 0.0
    background = 0.0 if ink > ALPHA_LIGHT_INK else 255.0
    out = gray + background * (1.0 - alpha)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "L")


#: Modes that carry no colour: their pictures get no colour signature.
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


def working_chroma(im: Image.Image) -> np.ndarray | None:
    """Cb and Cr of a loaded picture at COLOUR_SIZE^2 (box-averaged), uint8 (2, n, n).

    None for a picture without colour (greyscale modes, a greyscale palette) or one whose
    mode Pillow cannot turn into colour. Transparency is composited on white: a grey background
    adds no chroma, so the signature is the same on the black background working_gray may pick.
    Like working_gray, never holds a full-size copy in another mode: L/RGB/CMYK/... are
    box-reduced by Pillow first, palette and transparent pictures converted band by band.
    """
    mode = im.mode
    if mode in _GREY_MODES or (mode == "P" and im.palette is not None and im.palette.mode == "L"):
        return None
    factor = max(im.size) // (2 * WORK_SIZE)
    try:
        if mode == "P" or mode in _ALPHA_MODES:
            im = _banded_rgb(im, max(factor, 1))
        else:
            if factor >= 2:
                try:
                    im = im.reduce(factor)
                except ValueError:  # modes reduce() does not support
                    pass
            if mode == "LAB":
                im = im.convert("RGB")  # Pillow's LAB->RGB is approximate; colour only
            elif mode not in ("RGB", "YCbCr"):
                im = im.convert("RGB")
        small = im.resize((COLOUR_SIZE, COLOUR_SIZE), Image.Resampling.BOX)
        ycc = np.asarray(small if small.mode == "YCbCr" else small.convert("YCbCr"), dtype=np.uint8)
    except (ValueError, OSError):
        return None
    return np.ascontiguousarray(ycc[:, :, 1:].transpose(2, 0, 1))


def _banded_rgb(im: Image.Image, factor: int) -> Image.Image:
    """A palette or transparent picture as RGB composited on white, box-reduced by *factor*,
    converted a band of rows at a time (bands are whole multiples of *factor*)."""
    w, h = im.size
    band = max(factor, (BAND_PIXELS // max(w, 1)) // factor * factor)
    parts = []
    for top in range(0, h, band):
        part = im.crop((0, top, w, min(h, top + band))).convert("RGBA")
        white = Image.new("RGBA", part.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, part).convert("RGB")
        parts.append(np.asarray(rgb.reduce(factor) if factor >= 2 else rgb, dtype=np.uint8))
    return Image.fromarray(np.ascontiguousarray(np.vstack(parts)), "RGB")


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


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:  # from the OS: no errno, no path in the text
        return f"cannot read: {exc.strerror}"
    text = str(exc).strip().splitlines()
    reason = text[0] if text else type(exc).__name__
    if "truncated" in reason.lower() or "broken data stream" in reason.lower():
        return f"corrupt or truncated: {reason}"
    return f"cannot decode: {reason}"


# ----------------------------------------------------------------------------- metadata
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
    try:
        out = exif_fields(im.getexif())
    except Exception:  # noqa: BLE001 - hostile EXIF must never stop a decode
        out = {}
    for key, name in PNG_TEXT_FIELDS.items():
        value = im.info.get(key) if isinstance(im.info, dict) else None
        if isinstance(value, (str, bytes)) and name not in out:
            out[name] = _clean(value)
    # XMP, IPTC, GPS and the capture time (provenance.py); EXIF fields above win.
    for key, value in provenance.read(im).items():
        out.setdefault(key, value)
    if im.mode == "1":
        out[COLOUR] = "bilevel"
    elif im.mode in GREY_MODES:
        out[COLOUR] = "grey"
    if im.format == "JPEG":
        # How much the picture was compressed, read from its tables (the likely original is
        # the least recompressed copy; file size would count metadata too).
        try:
            quality = quality_from_tables(getattr(im, "quantization", None) or {})
        except (TypeError, ValueError):
            quality = None
        if quality is not None:
            out["jpeg_quality"] = str(quality)
        head = jpeg_head(im)
        if head is not None:
            out[JPEG_HEAD] = head
    return {k: v for k, v in out.items() if v}


def jpeg_head(im: Image.Image) -> str | None:
    """A digest of the first HEAD_BYTES bytes of the file *im* was opened from (16 hex
    digits, BLAKE2b), or None for a file not longer than that or not seekable. Two files that
    share it are byte for byte the same up to there: a copy of a JPEG whose data was damaged
    further on (a bad sector, a bad transfer) shares its original's (damaged.py pairs them).
    The file's position is restored (Pillow reads the picture from it later)."""
    fp = getattr(im, "fp", None)
    if fp is None:
        return None
    try:
        pos = fp.tell()
        fp.seek(0)
        head = fp.read(HEAD_BYTES + 1)
        fp.seek(pos)
    except (OSError, ValueError, AttributeError):
        return None
    if len(head) <= HEAD_BYTES:
        return None
    return hashlib.blake2b(head[:HEAD_BYTES], digest_size=8).hexdigest()


def exif_fields(exif: Image.Exif) -> dict[str, str]:
    """Creator, copyright, camera and dates from an EXIF (or TIFF IFD0) table, never failing."""
    out: dict[str, str] = {}
    try:
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
    return {k: v for k, v in out.items() if v}


def header_metadata(path: bytes | str) -> dict[str, str] | None:
    """The metadata fields of the file at *path* as a decode records them (_metadata), read
    from its header without decoding the picture; None when Pillow cannot open it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                return _metadata(im)
    except Exception:  # noqa: BLE001 - any unreadable file: keep what the index has
        return None


def _clean(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = " ".join(str(value).replace("\x00", " ").split())
    return text[:MAX_FIELD]


def _pillow_turned(im: Image.Image, orientation: int) -> bool:
    """Whether Pillow turned the loaded pixels upright itself: its TIFF reader does so while
    loading (and drops the tag), so they must not be turned a second time."""
    return orientation != 1 and ORIENTATION_TAG not in getattr(im, "tag_v2", {ORIENTATION_TAG: 1})


# ----------------------------------------------------------------------------- full pixels
def upright_rgb(fp: BinaryIO) -> np.ndarray:
    """The picture of the open file *fp* at full size, as a viewer shows it: uint8 array of
    shape (height, width, 3), upright (EXIF Orientation applied once, as _decode_file does:
    Pillow's TIFF reader turns a TIFF itself), transparency composited on white, an
    animation's first frame. For telling pixel-identical files apart (same_pixels.py), not
    for fingerprints: a JPEG is decoded by libjpeg at full scale (islow IDCT, fancy
    upsampling), exactly as Pillow decodes it when a lossless copy is saved from it.

    Raises:
        DecodeError: not an image, corrupt or truncated, or more than MAX_PIXELS pixels (the
            whole picture is decoded, a JPEG too). Decodes above BIG_DECODE_BYTES take the
            machine-wide big-decode lock.
    """
    try:
        with _pillow_limits(False, 1), Image.open(fp) as im:
            width, height = im.size
            if width < 1 or height < 1:
                raise DecodeError("image has no pixels")
            orientation = _orientation(im)
            cost = check_cost(im, width, height)
            with _big_decode(cost * 2):
                im.load()
                turned = _pillow_turned(im, orientation)
                if im.mode in _ALPHA_MODES or (im.mode == "P" and "transparency" in im.info):
                    rgb = _banded_rgb(im, 1)
                elif im.mode == "RGB":
                    rgb = im
                else:
                    rgb = im.convert("RGB")
                arr = np.asarray(rgb, dtype=np.uint8)
    except DecodeError:
        raise
    except Image.DecompressionBombError:
        raise DecodeError(f"refused: more than the limit of {MAX_PIXELS:,} decoded pixels") from None
    except UnidentifiedImageError:
        raise DecodeError("not an image, or a format Pillow cannot read") from None
    except MemoryError:
        raise DecodeError("out of memory while decoding") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError,
            ArithmeticError, struct.error, NotImplementedError, RecursionError) as exc:
        raise DecodeError(_one_line(exc)) from None
    turn = 1 if turned else orientation
    if turn == 1:
        return arr
    return np.stack([_apply_orientation(arr[:, :, c], turn) for c in range(3)], axis=2)
