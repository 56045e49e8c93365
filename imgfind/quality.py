"""Estimate a JPEG's quality setting (1-100) from its quantisation tables.

Encoders scale the standard tables of the JPEG specification (Annex K) by the IJG formula:
scale = 5000 / q for q < 50, 200 - 2q otherwise, table = (base * scale + 50) / 100. Reading
the file's luminance table back and inverting the formula on its mean gives q within a point
or two for libjpeg-made files, and a fair ranking for the rest. Reads only the header.
"""

from __future__ import annotations

import os

from PIL import Image

#: Annex K.1 luminance table (natural order; the order does not matter for a mean).
_BASE_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
              14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
              18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
              49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


def jpeg_quality(path: str | os.PathLike[str]) -> int | None:
    """Return the estimated quality (1-100) of a JPEG file, or None for anything else
    (another format, an unreadable file, a file without tables)."""
    try:
        with Image.open(path) as im:
            if im.format != "JPEG":
                return None
            return quality_from_tables(getattr(im, "quantization", None) or {})
    except (OSError, ValueError, SyntaxError):
        return None


def ijg_scale(quality: int) -> float:
    """The IJG scaling (percent of Annex K's tables) that a quality setting (1-100) gives:
    5000 / q below 50, 200 - 2q from 50 up (floored at 1, as libjpeg does at 100). How
    coarsely a file quantises: twice the scale, steps twice as large."""
    q = max(1, min(100, quality))
    return max(1.0, 5000.0 / q if q < 50 else 200.0 - 2.0 * q)


def quality_from_tables(tables: dict) -> int | None:
    """The quality (1-100) whose IJG scaling of Annex K's luminance table is nearest the
    file's table 0 (Pillow's ``Image.quantization``), or None without one."""
    luma = tables.get(0)
    if not luma:
        return None
    scale = 100.0 * sum(luma) / sum(_BASE_LUMA)  # percent of the base table
    q = (200.0 - scale) / 2.0 if scale <= 100 else 5000.0 / scale
    return max(1, min(100, round(q)))
