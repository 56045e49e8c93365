"""Lossless packing of the stored thumbnails (grey THUMB_SIZE square + colour signature).

A thumbnail is stored as the grey rows, then the colour signature's rows
(fingerprint.stored_thumb): 2,304 or 2,592 bytes. Packed, each plane (the grey square, then
each COLOUR_SIZE square of the colour signature) is replaced by its 2-D difference
``x[i, j] - x[i-1, j] - x[i, j-1] + x[i-1, j-1]`` (mod 256; the first row and column are
differenced against zeros), and the planes are compressed together with raw DEFLATE
(zlib, level 9, Z_FILTERED). Decoding is zlib plus two cumulative sums per plane, exact.

Measured on the 1,089 first thumbnails of the bench dev pool (ours, /tmp measurement
recorded in benchmarks/RESULTS.md): 2,588 bytes raw -> 1,570 mean (2,058 at the 90th
percentile); PNG of the grey plane alone took 1,459 + 164 for the colour, WebP lossless 1,339
+ 164 at 80 ms per encode. The decode here costs tens of microseconds.

Format 2 (issue 15), used when recipe.THUMB_STEP is above 1: a thumbnail whose grey levels
are all on the lattice of fingerprint.quantize_thumb (v = q * step + step // 2) is packed as
its step (one byte) and its codes q: the grey plane's codes, then the colour planes' levels,
differenced and deflated as above. Still exact: unpacking gives back the quantized thumbnail
bit for bit, whatever THUMB_STEP is when it is read. Measured on the 1,981 first colour
thumbnails of the dev pool (benchmarks/RESULTS.md, session 7): grey 1,407 bytes deflated with
every level, 813 with a step of 6; the bench index's synthetic thumbnail (d000-elephants)
1,815 -> 1,072. A step of 6 lost accuracy on the smooth pool, so THUMB_STEP is 1 and new
thumbnails are packed in format 1; a thumbnail not on the lattice is always format 1.

A packed blob starts with PACKED or QUANTIZED (one byte) and is stored only when it is shorter
than the raw thumbnail; a raw blob's length is a multiple of THUMB_SIZE of at least
THUMB_SIZE^2, which a packed one never has, so ``unpack`` reads every layout (indexes written
before schema 4).
"""

from __future__ import annotations

import zlib

import numpy as np

from .recipe import COLOUR_SIZE, THUMB_SIZE, THUMB_STEP

__all__ = ["pack", "unpack", "is_packed", "PACKED", "QUANTIZED"]

#: First byte of a packed thumbnail (format 1 of this module).
PACKED = b"\x01"
#: First byte of a packed quantized thumbnail (format 2: grey codes v // THUMB_STEP).
QUANTIZED = b"\x02"
_GREY = THUMB_SIZE * THUMB_SIZE
_PLANE = COLOUR_SIZE * COLOUR_SIZE


def _planes(n: int) -> list[tuple[int, int]]:
    """(offset, side) of each square plane of a raw blob of *n* bytes; the rest (if any) as is."""
    out = [(0, THUMB_SIZE)]
    offset = _GREY
    while n - offset >= _PLANE and len(out) < 3:
        out.append((offset, COLOUR_SIZE))
        offset += _PLANE
    return out


def _diff(x: np.ndarray) -> np.ndarray:
    d = x.copy()
    d[1:] -= x[:-1]
    e = d.copy()
    e[:, 1:] -= d[:, :-1]
    return e


def _undiff(d: np.ndarray) -> np.ndarray:
    return np.cumsum(np.cumsum(d, axis=1, dtype=np.uint8), axis=0, dtype=np.uint8)


def is_packed(blob: bytes) -> bool:
    """True when *blob* is a packed thumbnail (False: the raw layout)."""
    return not (len(blob) >= _GREY and len(blob) % THUMB_SIZE == 0)


def pack(raw: bytes) -> bytes:
    """Pack a raw thumbnail (grey THUMB_SIZE^2 bytes, then 0 or 2*COLOUR_SIZE^2 colour bytes).

    Returns the packed blob, or *raw* itself when packing would not make it shorter.

    Raises:
        ValueError: *raw* is not a raw thumbnail (shorter than THUMB_SIZE^2 or not a multiple
            of THUMB_SIZE).
    """
    if is_packed(raw):
        raise ValueError(f"not a raw thumbnail ({len(raw)} bytes)")
    step = THUMB_STEP
    head = PACKED
    data = raw
    if step > 1:
        grey = np.frombuffer(raw, dtype=np.uint8, count=_GREY)
        codes = grey // step
        if np.array_equal(codes * step + step // 2, grey):
            head = QUANTIZED + bytes([step])
            data = codes.astype(np.uint8).tobytes() + raw[_GREY:]
    z = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_FILTERED)
    packed = head + z.compress(_each_plane(data, _diff)) + z.flush()
    return packed if len(packed) < _GREY else raw


def _levels(data: bytes, step: int) -> bytes:
    """A raw thumbnail of format-2 data (grey codes -> grey levels; the rest as it is)."""
    codes = np.frombuffer(data, dtype=np.uint8, count=_GREY)
    return (codes * step + step // 2).astype(np.uint8).tobytes() + data[_GREY:]


def unpack(blob: bytes) -> bytes:
    """The raw thumbnail of a stored blob, packed or raw (returned as it is).

    Raises:
        ValueError: a packed blob that does not decompress to a raw thumbnail (damaged).
    """
    if not is_packed(blob):
        return bytes(blob)
    raw = _each_plane(_inflate(blob), _undiff)
    return _levels(raw, blob[1]) if blob[:1] == QUANTIZED else raw


def _inflate(blob: bytes) -> bytes:
    """The planes of a packed blob, still differenced (ValueError when damaged)."""
    if blob[:1] not in (PACKED, QUANTIZED) or (blob[:1] == QUANTIZED and len(blob) > 1
                                                and not 1 < blob[1] < 64):
        raise ValueError(f"unknown thumbnail format {blob[:2]!r}")
    try:
        data = zlib.decompress(bytes(blob[1 + (blob[:1] == QUANTIZED):]), -15)
    except zlib.error as exc:
        raise ValueError(f"damaged thumbnail: {exc}") from None
    if is_packed(data):
        raise ValueError(f"damaged thumbnail: {len(data)} bytes unpacked")
    return data


def _each_plane(data: bytes, fn) -> bytes:  # noqa: ANN001 - _diff or _undiff
    """*data* with *fn* applied to each square plane (_planes), the tail kept as it is."""
    a = np.frombuffer(data, dtype=np.uint8)
    parts = []
    end = 0
    for offset, side in _planes(len(data)):
        end = offset + side * side
        parts.append(fn(a[offset:end].reshape(side, side)).tobytes())
    parts.append(data[end:])
    return b"".join(parts)


def unpack_many(blobs: list[bytes]) -> list[bytes]:
    """``unpack`` of each blob, the packed ones undone together (two cumulative sums per
    plane size for the whole batch, instead of per thumbnail: dedupe loads thousands).

    Raises:
        ValueError: a packed blob is damaged (as ``unpack``).
    """
    out: list[bytes | None] = [None] * len(blobs)
    groups: dict[tuple[int, bool], list[tuple[int, bytes]]] = {}
    for i, blob in enumerate(blobs):
        if not is_packed(blob):
            out[i] = bytes(blob)
            continue
        data = _inflate(blob)
        groups.setdefault((len(data), blob[1] if blob[:1] == QUANTIZED else 0), []).append((i, data))
    for (size, step), items in groups.items():
        a = np.frombuffer(b"".join(d for _, d in items), dtype=np.uint8).reshape(len(items), size).copy()
        end = 0
        for offset, side in _planes(size):
            end = offset + side * side
            planes = a[:, offset:end].reshape(-1, side, side)
            a[:, offset:end] = np.cumsum(np.cumsum(planes, axis=2, dtype=np.uint8), axis=1,
                                         dtype=np.uint8).reshape(len(items), -1)
        if step:
            a[:, :_GREY] = a[:, :_GREY] * step + step // 2
        for row, (i, _) in enumerate(items):
            out[i] = a[row].tobytes()
    return out  # type: ignore[return-value]
