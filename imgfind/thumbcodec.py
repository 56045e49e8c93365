"""Lossless packing of the stored thumbnails (grey THUMB_SIZE square + colour signature).

A thumbnail is stored as the grey rows, then the colour signature's rows
(fingerprint.stored_thumb): 2,304 or 2,592 bytes. Packed, each plane (the grey square, then
each COLOUR_SIZE square of the colour signature) is replaced by its differences from a
predictor, and the planes are compressed together with raw DEFLATE (zlib). Three predictors,
each a format of its own (the first byte), all undone by cumulative sums (vectorised, exact):

- PACKED (format 1): the 2-D difference ``x[i, j] - x[i-1, j] - x[i, j-1] + x[i-1, j-1]``
  (mod 256; the first row and column are differenced against zeros): the planar predictor,
  best on smooth pictures;
- ROWS (format 3): ``x[i, j] - x[i, j-1]``, the first column differenced down it;
- COLUMNS (format 4): ``x[i, j] - x[i-1, j]``, the first row differenced along it.

Since session 9 ``pack`` tries each predictor with three DEFLATE strategies (Z_FILTERED,
Z_HUFFMAN_ONLY, Z_RLE; level 9, a 4 KiB window) and keeps the shortest: on a textured
picture the planar predictor adds up the noise of three neighbours, and one neighbour predicts better (LOCO-I's
median predictor, or Paeth, would too, but their decoding is a loop over pixels). Measured on
the thumbnails of the bench pools, quantized as recipe 10 keeps them (benchmarks/RESULTS.md,
"Index size per file, session 9"): dev grey 1,263 -> 1,219 bytes (mean), smooth 961 -> 926,
the synthetic index's thumbnail (d000-elephants, grey step 6) 1,081 -> 1,012. Decoding costs
the same tens of microseconds as before.

The grey levels themselves may be quantized (fingerprint.thumb_step): a step s keeps levels
q * s + s // 2, whose differences are multiples of s (the predictors are linear with
coefficients summing to 0 or 1), so DEFLATE codes them as cheaply as the codes q would be; the
levels are stored, not the codes, so the packing stays exact whatever the step.

Format 2 (QUANTIZED, written by session 7's recipe 9 only, read still): the grey plane's
codes q (one byte of step first, then the codes, then the colour planes' levels), differenced
and deflated as format 1; unpacking gives back q * step + step // 2 bit for bit.

Measured on the 1,089 first thumbnails of the bench dev pool (session 3): 2,588 bytes raw ->
1,570 mean with format 1; PNG of the grey plane alone took 1,459 + 164 for the colour, WebP
lossless 1,339 + 164 at 80 ms per encode.

A packed blob starts with its format (one byte) and is stored only when it is shorter than the
raw thumbnail; a raw blob's length is a multiple of THUMB_SIZE of at least THUMB_SIZE^2, which
a packed one never has, so ``unpack`` reads every layout (indexes written before schema 4).
"""

from __future__ import annotations

import zlib

import numpy as np

from .recipe import COLOUR_SIZE, THUMB_SIZE

__all__ = ["pack", "unpack", "unpack_many", "is_packed", "PACKED", "QUANTIZED", "ROWS", "COLUMNS"]

#: First byte of a thumbnail packed with the planar predictor (format 1 of this module).
PACKED = b"\x01"
#: First byte of a packed quantized thumbnail (format 2: step, then grey codes; read only).
QUANTIZED = b"\x02"
#: First byte of a thumbnail packed with the left neighbour as predictor (format 3).
ROWS = b"\x03"
#: First byte of a thumbnail packed with the upper neighbour as predictor (format 4).
COLUMNS = b"\x04"
_PREDICTED = (PACKED, ROWS, COLUMNS)
_STRATEGIES = (zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE)
#: A 4 KiB DEFLATE window (memory level 8) covers a whole 2.6 KB thumbnail: the same sizes as
#: the default 32 KiB window (dev pool thumbnails, session 9), at 0.42 ms instead of 1.18 ms of
#: CPU for the nine tries, most of the difference the kernel's (allocating the larger state
#: nine times). Inflating with the default window reads it, and every older blob.
_WINDOW_BITS = -12
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


def _diff(x: np.ndarray, fmt: bytes) -> np.ndarray:
    """The differences of one (side, side) uint8 plane from format *fmt*'s predictor."""
    if fmt == COLUMNS:
        return _diff(x.T, ROWS).T.copy()
    d = x.copy()
    if fmt == ROWS:
        d[:, 1:] -= x[:, :-1]
        d[1:, 0] -= x[:-1, 0]
        return d
    d[1:] -= x[:-1]
    e = d.copy()
    e[:, 1:] -= d[:, :-1]
    return e


def _undiff(d: np.ndarray, fmt: bytes) -> np.ndarray:
    """Planes (n, side, side) uint8 from their differences (_diff of each), exact."""
    if fmt == COLUMNS:
        return _undiff(d.transpose(0, 2, 1), ROWS).transpose(0, 2, 1)
    if fmt == ROWS:
        d = d.copy()
        d[:, :, 0] = np.cumsum(d[:, :, 0], axis=1, dtype=np.uint8)
        return np.cumsum(d, axis=2, dtype=np.uint8)
    return np.cumsum(np.cumsum(d, axis=2, dtype=np.uint8), axis=1, dtype=np.uint8)


def is_packed(blob: bytes) -> bool:
    """True when *blob* is a packed thumbnail (False: the raw layout)."""
    return not (len(blob) >= _GREY and len(blob) % THUMB_SIZE == 0)


def pack(raw: bytes) -> bytes:
    """Pack a raw thumbnail (grey THUMB_SIZE^2 bytes, then 0 or 2*COLOUR_SIZE^2 colour bytes).

    Returns the shortest of the three predictors' formats under three DEFLATE strategies, or
    *raw* itself when packing would not make it shorter.

    Raises:
        ValueError: *raw* is not a raw thumbnail (shorter than THUMB_SIZE^2 or not a multiple
            of THUMB_SIZE).
    """
    if is_packed(raw):
        raise ValueError(f"not a raw thumbnail ({len(raw)} bytes)")
    best = raw
    for fmt in _PREDICTED:
        data = _each_plane(raw, lambda x: _diff(x, fmt))  # noqa: B023 - used at once
        for strategy in _STRATEGIES:
            z = zlib.compressobj(9, zlib.DEFLATED, _WINDOW_BITS, 8, strategy)
            packed = fmt + z.compress(data) + z.flush()
            if len(packed) < len(best):
                best = packed
    return best if len(best) < _GREY else raw


def unpack(blob: bytes) -> bytes:
    """The raw thumbnail of a stored blob, packed or raw (returned as it is).

    Raises:
        ValueError: a packed blob that does not decompress to a raw thumbnail (damaged), or of
            an unknown format.
    """
    return unpack_many([blob])[0]


def _inflate(blob: bytes) -> bytes:
    """The planes of a packed blob, still differenced (ValueError when damaged)."""
    fmt = blob[:1]
    if fmt not in _PREDICTED + (QUANTIZED,) or (fmt == QUANTIZED and len(blob) > 1
                                                 and not 1 < blob[1] < 64):
        raise ValueError(f"unknown thumbnail format {blob[:2]!r}")
    try:
        data = zlib.decompress(bytes(blob[1 + (fmt == QUANTIZED):]), -15)
    except zlib.error as exc:
        raise ValueError(f"damaged thumbnail: {exc}") from None
    if is_packed(data):
        raise ValueError(f"damaged thumbnail: {len(data)} bytes unpacked")
    return data


def _each_plane(data: bytes, fn) -> bytes:  # noqa: ANN001 - a plane's _diff
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
    """``unpack`` of each blob, the packed ones undone together (the cumulative sums of each
    format and plane size for the whole batch, instead of per thumbnail: dedupe loads
    thousands).

    Raises:
        ValueError: a packed blob is damaged or of an unknown format (as ``unpack``).
    """
    out: list[bytes | None] = [None] * len(blobs)
    groups: dict[tuple[int, bytes, int], list[tuple[int, bytes]]] = {}
    for i, blob in enumerate(blobs):
        if not is_packed(blob):
            out[i] = bytes(blob)
            continue
        data = _inflate(blob)
        fmt = blob[:1]
        step = blob[1] if fmt == QUANTIZED else 0
        groups.setdefault((len(data), PACKED if step else fmt, step), []).append((i, data))
    for (size, fmt, step), items in groups.items():
        a = np.frombuffer(b"".join(d for _, d in items), dtype=np.uint8).reshape(len(items), size).copy()
        end = 0
        for offset, side in _planes(size):
            end = offset + side * side
            planes = a[:, offset:end].reshape(-1, side, side)
            a[:, offset:end] = _undiff(planes, fmt).reshape(len(items), -1)
        if step:
            a[:, :_GREY] = a[:, :_GREY] * step + step // 2
        for row, (i, _) in enumerate(items):
            out[i] = a[row].tobytes()
    return out  # type: ignore[return-value]
