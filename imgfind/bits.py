"""64-bit hash values as Python ints, numpy arrays and SQLite integers: one set of conversions.

Hashes are unsigned 64-bit values. SQLite stores integers as signed 64-bit (two's
complement), so the store converts with :func:`to_signed` on write and :func:`to_unsigned`
on read; numpy code works on ``uint64`` arrays (:func:`as_uint64`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MASK64 = 0xFFFF_FFFF_FFFF_FFFF


def to_signed(value: int) -> int:
    """Map an unsigned 64-bit int onto SQLite's signed 64-bit range (-2**63 .. 2**63 - 1)."""
    value &= MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    """Map a signed (or any) int onto 0 .. 2**64 - 1, the inverse of :func:`to_signed`."""
    return value & MASK64


def to_hex(value: int) -> str:
    """Return a 64-bit value as 16 lower-case hex digits (imagehash's str() of a hash)."""
    return f"{value & MASK64:016x}"


def hamming(a: int, b: int) -> int:
    """Return the number of differing bits in the low 64 bits of ``a`` and ``b``.

    Masking makes a signed value (as SQLite stores it) and its unsigned twin the same.

    >>> hamming(0b1010, 0b0110)
    2
    >>> hamming(-1, (1 << 64) - 1)
    0
    """
    return ((a ^ b) & MASK64).bit_count()


def as_uint64(values: np.ndarray | Iterable[int]) -> np.ndarray:
    """Return ``values`` as a contiguous ``uint64`` array.

    Signed 64-bit arrays are reinterpreted (two's complement, as SQLite stores them), and
    Python ints are masked to 64 bits, so a value and its signed twin are the same hash.

    Raises:
        TypeError: ``values`` is an array of a non-integer dtype.
    """
    if isinstance(values, np.ndarray):
        if values.dtype == np.uint64:
            return np.ascontiguousarray(values)
        if values.dtype == np.int64:
            return np.ascontiguousarray(values).view(np.uint64)
        if values.dtype.kind in "iu":
            return values.astype(np.int64).view(np.uint64)
        raise TypeError(f"fingerprints must be an integer array, not {values.dtype}")
    return np.fromiter((int(v) & MASK64 for v in values), dtype=np.uint64)
