#!/usr/bin/env python3
"""Make the near-duplicate variants in ``examples/photos/`` from its originals.

Run from the repository root::

    python examples/make_variants.py

The script reads the original photographs that already sit in
``examples/photos/`` (see ``examples/SOURCES.md`` for where they come from)
and writes each variant next to its original, named
``<original>-<edit>.<ext>``.  It needs only Pillow; it does not need the
Debian packages the originals were taken from.

Output is deterministic: the same originals and the same Pillow/libjpeg
give byte-identical files, so re-running the script is harmless.

Kinds of edit (``VARIANT_MAKERS`` below):

``small``         resized to 50 % with LANCZOS, JPEG quality 90
``q40``           decoded and re-encoded at JPEG quality 40
``rotated-exif``  pixels stored rotated 90 degrees counter-clockwise, with
                  EXIF Orientation = 6 so an orientation-aware viewer
                  (or ``PIL.ImageOps.exif_transpose``) shows it upright
``watermark``     white "(c) example" text with a dark drop shadow in the
                  bottom-right corner, JPEG quality 90
``mirrored``      horizontal flip, JPEG quality 90
``border``        black border of 6 % of the long side on every edge
                  (``ImageOps.expand``), saved as PNG

``forest-stream.jpg`` and ``fig-bowl.jpg`` deliberately get no variant: a
duplicate finder must not put them in any group.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

PHOTOS_DIR = Path(__file__).resolve().parent / "photos"

JPEG_QUALITY = 90
EXIF_ORIENTATION_TAG = 0x0112
WATERMARK_TEXT = "(c) example"

# original file name -> edits to apply to it (in this order).
PLAN: dict[str, tuple[str, ...]] = {
    "mountain-meadow.jpg": ("small", "q40", "watermark", "mirrored"),
    "nuthatch.jpg": ("rotated-exif", "q40", "small"),
    "dandelions.jpg": ("border", "watermark", "rotated-exif", "mirrored"),
    "sunset-hills.jpg": ("small", "q40", "mirrored"),
    # Singletons: no variants at all.
    "forest-stream.jpg": (),
    "fig-bowl.jpg": (),
}


def save_jpeg(
    img: Image.Image, path: Path, quality: int = JPEG_QUALITY, **extra
) -> None:
    """Save ``img`` as a baseline JPEG without EXIF (unless given in ``extra``)."""
    img.save(path, "JPEG", quality=quality, **extra)


def make_small(img: Image.Image, out: Path) -> None:
    """Half the width and height, LANCZOS resampling."""
    w, h = img.size
    save_jpeg(img.resize((w // 2, h // 2), Image.Resampling.LANCZOS), out)


def make_q40(img: Image.Image, out: Path) -> None:
    """Same pixels, recompressed at JPEG quality 40."""
    save_jpeg(img, out, quality=40)


def make_rotated_exif(img: Image.Image, out: Path) -> None:
    """Store the pixels rotated 90 degrees CCW and tag EXIF Orientation=6.

    Orientation 6 tells a viewer to rotate the stored pixels 90 degrees
    clockwise for display, which undoes the counter-clockwise rotation:
    the picture looks upright in an orientation-aware viewer, sideways
    in one that ignores EXIF.
    """
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = 6
    rotated = img.transpose(Image.Transpose.ROTATE_90)  # 90 degrees CCW
    save_jpeg(rotated, out, exif=exif.tobytes())


def _watermark_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled default font at ``size`` px (bitmap font if no FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def make_watermark(img: Image.Image, out: Path) -> None:
    """White "(c) example" with a dark shadow in the bottom-right corner."""
    marked = img.copy()
    draw = ImageDraw.Draw(marked)
    w, h = marked.size
    font = _watermark_font(max(12, h // 14))
    left, top, right, bottom = draw.textbbox((0, 0), WATERMARK_TEXT, font=font)
    margin = max(8, w // 40)
    x = w - (right - left) - margin - left
    y = h - (bottom - top) - margin - top
    shadow = max(2, h // 250)
    shadow_xy = (x + shadow, y + shadow)
    draw.text(shadow_xy, WATERMARK_TEXT, font=font, fill=(20, 20, 20))
    draw.text((x, y), WATERMARK_TEXT, font=font, fill=(255, 255, 255))
    save_jpeg(marked, out)


def make_mirrored(img: Image.Image, out: Path) -> None:
    """Horizontal flip (left <-> right)."""
    save_jpeg(ImageOps.mirror(img), out)


def make_border(img: Image.Image, out: Path) -> None:
    """Black border of 6 % of the long side on every edge, saved as PNG."""
    border = round(0.06 * max(img.size))
    ImageOps.expand(img, border=border, fill=(0, 0, 0)).save(out, "PNG", optimize=True)


# edit name -> (function, output extension)
VARIANT_MAKERS: dict[str, tuple[Callable[[Image.Image, Path], None], str]] = {
    "small": (make_small, ".jpg"),
    "q40": (make_q40, ".jpg"),
    "rotated-exif": (make_rotated_exif, ".jpg"),
    "watermark": (make_watermark, ".jpg"),
    "mirrored": (make_mirrored, ".jpg"),
    "border": (make_border, ".png"),
}


def main() -> int:
    missing = [name for name in PLAN if not (PHOTOS_DIR / name).is_file()]
    if missing:
        names = ", ".join(missing)
        print(f"missing originals in {PHOTOS_DIR}: {names}", file=sys.stderr)
        return 1

    for name, edits in PLAN.items():
        src = PHOTOS_DIR / name
        with Image.open(src) as opened:
            img = opened.convert("RGB")
        for edit in edits:
            maker, ext = VARIANT_MAKERS[edit]
            out = PHOTOS_DIR / f"{src.stem}-{edit}{ext}"
            maker(img, out)
            print(f"wrote {out.relative_to(PHOTOS_DIR.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
