"""Describe one image file: what `imgfind info` prints."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .decode import open_for_hash
from .keypoints import extract
from .errors import DecodeError
from .analyse import fingerprint_decoded
from .answers import credits_of
from .bits import to_hex

if TYPE_CHECKING:
    from .index import Index


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
        "credits": credits_of(decoded.metadata),
        **({"warning": decoded.warning} if decoded.warning else {}),
    }


def known(idx: Index, path: str | os.PathLike[str]) -> dict:
    """What the index knows about *path*: whether it is indexed (and when), its copies in the
    index (nearest first, default rule), the likely original and the biggest copy among them,
    who made it as the copies say, and the web pages that show it or a copy.

    Raises:
        DecodeError: *path* cannot be read as an image.
    """
    from .answers import credits_of, summarize  # noqa: PLC0415
    from .report.words import iso_time  # noqa: PLC0415

    result = idx.with_pages([idx.query(path)])[0]
    here = idx.store.indexed_at(os.fsencode(os.path.abspath(os.fsencode(path))))
    ans = summarize(result)
    return {
        "indexed": here is not None,
        **({"indexed_at": iso_time(int(here[0] * 1e9))} if here else {}),
        "copies": [{"path": m.file.path, "distance": m.distance, "relation": m.relation,
                    "width": m.file.width, "height": m.file.height, "bytes": m.file.size,
                    "state": m.file.state, "credits": credits_of(m.file.metadata)}
                   for m in result.matches],
        "original": ans.original,
        "original_reasons": list(ans.reasons),
        "biggest": ans.biggest,
        "biggest_factor": ans.factor,
        "pages": [{"url": p.url, "title": p.title, "how": p.how, "image_url": p.image_url,
                   "shows": shows} for p, shows in ans.pages],
    }
