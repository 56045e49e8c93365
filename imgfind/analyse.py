"""Turn one file into a Fingerprinted record: the pure, picklable unit of indexing work.

The function here runs in worker processes; it never touches the index and never raises for
a bad file, so any executor (a process pool today, a Dask cluster tomorrow) can map it.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import fingerprint
from .decode import open_for_hash
from .errors import DecodeError
from .model import FileStat, Fingerprinted, ImageInfo

#: Pictures smaller than this on either side carry too little to fingerprint usefully.
MIN_SIDE = 8


def analyse(stat: FileStat) -> Fingerprinted:
    """Decode and fingerprint one file; a file that cannot be read gets its reason instead."""
    try:
        decoded = open_for_hash(stat.path)
    except DecodeError as exc:
        return Fingerprinted(stat, None, None, str(exc))
    info = ImageInfo(decoded.format, decoded.width, decoded.height, decoded.mode,
                     decoded.frames, decoded.orientation, decoded.metadata)
    if min(decoded.gray.shape) < 1:
        return Fingerprinted(stat, info, None, "image has no pixels")
    fp = fingerprint.compute(decoded.gray)
    if min(decoded.width, decoded.height) < MIN_SIDE and not fp.flat:
        fp = fingerprint.Fingerprint(fp.phash, fp.dhash, fp.hashes, fp.trim, fp.thumb, True)
    return Fingerprinted(stat, info, fp, None)


def analyse_batch(stats: Sequence[FileStat]) -> list[Fingerprinted]:
    """Analyse a batch of files in order (one task per batch keeps pickling overhead low)."""
    return [analyse(s) for s in stats]


def fingerprint_file(path: str | bytes) -> fingerprint.Fingerprint:
    """Fingerprint one image file (nothing is stored).

    Raises:
        DecodeError: the file cannot be read as an image.
    """
    return fingerprint.compute(open_for_hash(path).gray)
