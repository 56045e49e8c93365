"""Describe one image file: what `imgfind info` prints."""

from __future__ import annotations

import os

from .decode import open_for_hash
from .keypoints import extract
from .errors import DecodeError
from .analyse import fingerprint_decoded
from .bits import to_hex


def describe(path: str | os.PathLike[str]) -> dict:
    """Return format, size, mode, dimensions, fingerprints (hex) and metadata of *path*.

    Raises:
        DecodeError: the file cannot be read as an image.
    """
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise DecodeError(f"{os.fsdecode(path)}: {exc.strerror or exc}") from None
    try:
        decoded = open_for_hash(path)
    except DecodeError as exc:
        raise DecodeError(f"{os.fsdecode(path)}: {exc}") from None
    fp = fingerprint_decoded(decoded)
    left, top, right, bottom = fp.trim
    return {
        "path": os.path.abspath(os.fsdecode(path)),
        "format": decoded.format,
        "bytes": size,  # key kept as printed since version 1
        "mode": decoded.mode,
        "width": decoded.width,
        "height": decoded.height,
        "frames": decoded.frames,
        "orientation": decoded.orientation,
        "phash": to_hex(fp.phash),
        "dhash": to_hex(fp.dhash),
        "borders": "none" if fp.trim == (0.0, 0.0, 1.0, 1.0) else
                   f"trimmed to {left:.3f} {top:.3f} {right:.3f} {bottom:.3f}",
        "flat": fp.flat,
        # local features (keypoints.py): 0 when too few for partial matching
        "keypoints": 0 if fp.flat or (local := extract(decoded.detail)) is None else local.n,
        "metadata": decoded.metadata,
        **({"warning": decoded.warning} if decoded.warning else {}),
    }
