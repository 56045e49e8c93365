"""Compact storage of a fingerprint's hash row and trim box (the prints table). Pure.

A hash row (layout.N_HASHES uint64 columns) holds each primary view's hashes twice over for
a picture without a border: the trimmed view (layout.TRIMMED) is then the whole picture, so
its N_ORIENT pHash and N_ORIENT dHash columns equal the whole picture's. Stored, those 2 x
N_ORIENT columns (128 bytes of 344) are left out when they equal the whole picture's, and
put back when read; a trim box of (0, 0, 1, 1) is stored as no bytes (16 saved). Which
layout a blob has is told by its length alone, so rows written before (the full layout) read
as they are. Ours (issue 15: an index of at most 1.5 KB per file).
"""

from __future__ import annotations

import numpy as np

from .layout import N_HASHES, N_ORIENT, N_PHASH

__all__ = ["pack_hashes", "unpack_hashes", "pack_trim", "FULL_BYTES", "SHORT_BYTES"]

#: Columns of the trimmed view (pHash block, then dHash block) and the whole-picture ones
#: they repeat for a picture without a border.
_TRIMMED = np.r_[N_ORIENT:2 * N_ORIENT, N_PHASH + N_ORIENT:N_PHASH + 2 * N_ORIENT]
_WHOLE = _TRIMMED - N_ORIENT
_KEPT = np.setdiff1d(np.arange(N_HASHES), _TRIMMED)
#: Bytes of a full row and of one stored without its repeated columns.
FULL_BYTES = 8 * N_HASHES
SHORT_BYTES = 8 * len(_KEPT)
_UNTRIMMED = np.array((0.0, 0.0, 1.0, 1.0), dtype="<f4").tobytes()


def pack_hashes(row: np.ndarray) -> bytes:
    """The stored blob of one hash row ((N_HASHES,) uint64): little-endian uint64, without the
    trimmed view's columns when they equal the whole picture's (SHORT_BYTES, else FULL_BYTES)."""
    row = np.asarray(row, dtype="<u8")
    if np.array_equal(row[_TRIMMED], row[_WHOLE]):
        return row[_KEPT].tobytes()
    return row.tobytes()


def unpack_hashes(blobs: list[bytes]) -> np.ndarray:
    """The hash rows ((len(blobs), N_HASHES) uint64) of stored blobs of either layout.

    Raises:
        ValueError: a blob of neither FULL_BYTES nor SHORT_BYTES (a damaged row).
    """
    out = np.empty((len(blobs), N_HASHES), dtype=np.uint64)
    if not blobs:
        return out
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
    full = lengths == FULL_BYTES
    short = lengths == SHORT_BYTES
    if not (full | short).all():
        bad = int(lengths[~(full | short)][0])
        raise ValueError(f"a stored hash row of {bad} bytes (want {FULL_BYTES} or {SHORT_BYTES})")
    if full.any():
        out[full] = np.frombuffer(b"".join(b for b, f in zip(blobs, full) if f),
                                  dtype="<u8").reshape(-1, N_HASHES)
    if short.any():
        rows = np.frombuffer(b"".join(b for b, s in zip(blobs, short) if s),
                             dtype="<u8").reshape(-1, len(_KEPT))
        part = np.empty((len(rows), N_HASHES), dtype=np.uint64)
        part[:, _KEPT] = rows
        part[:, _TRIMMED] = part[:, _WHOLE]
        out[short] = part
    return out


def pack_trim(trim: bytes) -> bytes:
    """The stored trim box: 4 little-endian float32 (left, top, right, bottom), or no bytes for
    the whole picture (0, 0, 1, 1); store._content and unpack_trim read both."""
    return b"" if bytes(trim) == _UNTRIMMED else bytes(trim)


def unpack_trim(blob: bytes) -> bytes:
    """The 16-byte trim box of a stored one (pack_trim's inverse)."""
    return bytes(blob) if blob else _UNTRIMMED
