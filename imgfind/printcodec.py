"""Compact storage of a fingerprint's hash row and trim box (the prints table). Pure.

A hash row (layout.N_HASHES uint64 columns) holds each primary view's hashes twice over for
a picture without a border: the trimmed view (layout.TRIMMED) is then the whole picture, so
its N_ORIENT pHash and N_ORIENT dHash columns equal the whole picture's. Stored, those 2 x
N_ORIENT columns (128 bytes of 344) are left out when they equal the whole picture's, and
put back when read; so are the whole picture's upright pHash and dHash columns, which the
prints row holds as its phash and dhash integers (16 bytes more); a trim box of (0, 0, 1, 1)
is stored as no bytes (16 saved). Which layout a blob has is told by its length alone
(FULL_BYTES: every column, rows written before schema 5; TRIMMED_BYTES; SHORT_BYTES), so
older rows read as they are. Ours (issue 15: an index of at most 1.5 KB per file).
"""

from __future__ import annotations

import numpy as np

from .layout import N_HASHES, N_ORIENT, N_PHASH

__all__ = ["pack_hashes", "unpack_hashes", "pack_trim", "unpack_trim", "FULL_BYTES",
           "TRIMMED_BYTES", "SHORT_BYTES"]

#: Columns of the trimmed view (pHash block, then dHash block) and the whole-picture ones
#: they repeat for a picture without a border.
_TRIMMED = np.r_[N_ORIENT:2 * N_ORIENT, N_PHASH + N_ORIENT:N_PHASH + 2 * N_ORIENT]
_WHOLE = _TRIMMED - N_ORIENT
#: The upright whole-picture pHash and dHash columns (the row's phash and dhash integers).
_UPRIGHT = np.array([0, N_PHASH])
_OTHERS = np.setdiff1d(np.arange(N_HASHES), _UPRIGHT)
_KEPT = np.setdiff1d(_OTHERS, _TRIMMED)
#: Bytes of a full row (before schema 5), of one without the upright columns, and of one
#: without the trimmed view's columns either.
FULL_BYTES = 8 * N_HASHES
TRIMMED_BYTES = 8 * len(_OTHERS)
SHORT_BYTES = 8 * len(_KEPT)
_UNTRIMMED = np.array((0.0, 0.0, 1.0, 1.0), dtype="<f4").tobytes()


def pack_hashes(row: np.ndarray, phash: int, dhash: int) -> bytes:
    """The stored blob of one hash row ((N_HASHES,) uint64) whose prints row holds *phash* and
    *dhash* (unsigned 64-bit): little-endian uint64 without the upright whole-picture columns
    (0 and N_PHASH) when they are *phash* and *dhash*, and then without the trimmed view's
    columns when they equal the whole picture's (SHORT_BYTES, else TRIMMED_BYTES); every
    column otherwise (FULL_BYTES)."""
    row = np.asarray(row, dtype="<u8")
    if int(row[_UPRIGHT[0]]) != phash or int(row[_UPRIGHT[1]]) != dhash:
        return row.tobytes()
    if np.array_equal(row[_TRIMMED], row[_WHOLE]):
        return row[_KEPT].tobytes()
    return row[_OTHERS].tobytes()


def unpack_hashes(blobs: list[bytes], phash: np.ndarray, dhash: np.ndarray) -> np.ndarray:
    """The hash rows ((len(blobs), N_HASHES) uint64) of stored blobs of any layout, given each
    row's phash and dhash ((len(blobs),) uint64, the prints row's integers as unsigned).

    Raises:
        ValueError: a blob of none of the layouts' lengths (a damaged row).
    """
    out = np.empty((len(blobs), N_HASHES), dtype=np.uint64)
    if not blobs:
        return out
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
    for size, cols in ((FULL_BYTES, None), (TRIMMED_BYTES, _OTHERS), (SHORT_BYTES, _KEPT)):
        these = lengths == size
        if not these.any():
            continue
        rows = np.frombuffer(b"".join(b for b, t in zip(blobs, these) if t),
                             dtype="<u8").reshape(int(these.sum()), -1).astype(np.uint64)
        if cols is None:
            out[these] = rows
            continue
        part = np.empty((len(rows), N_HASHES), dtype=np.uint64)
        part[:, cols] = rows
        part[:, _UPRIGHT[0]] = np.asarray(phash, dtype=np.uint64)[these]
        part[:, _UPRIGHT[1]] = np.asarray(dhash, dtype=np.uint64)[these]
        if size == SHORT_BYTES:
            part[:, _TRIMMED] = part[:, _WHOLE]
        out[these] = part
    known = np.isin(lengths, (FULL_BYTES, TRIMMED_BYTES, SHORT_BYTES))
    if not known.all():
        raise ValueError(f"a stored hash row of {int(lengths[~known][0])} bytes (want "
                         f"{FULL_BYTES}, {TRIMMED_BYTES} or {SHORT_BYTES})")
    return out


def pack_trim(trim: bytes) -> bytes:
    """The stored trim box: 4 little-endian float32 (left, top, right, bottom), or no bytes for
    the whole picture (0, 0, 1, 1); store._content and unpack_trim read both."""
    return b"" if bytes(trim) == _UNTRIMMED else bytes(trim)


def unpack_trim(blob: bytes) -> bytes:
    """The 16-byte trim box of a stored one (pack_trim's inverse)."""
    return bytes(blob) if blob else _UNTRIMMED
