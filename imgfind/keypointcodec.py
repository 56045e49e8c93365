"""Lossless packing of stored local features (keypoints.extract's positions and descriptors). Pure.

A picture's local features are stored raw as n (x, y) uint16 fractions and n uint64 ORB
descriptors: 12 bytes a point, 3.0 KB for 253 points (bench dev pool, session 9). Packed
(format 1, ours: issue 15, an index of at most 1.5 KB per file), the same bytes come back bit
for bit, in the same order (the order is kept: matching breaks ties by it, and sorting the
points would cost a permutation, about 210 bytes at 256 points):

- **Positions on the pyramid's grid.** ORB finds a corner at integer pixels (i, j) of one
  level of its image pyramid and reports it at ``float32(i) * float32(GRID_SCALE ** level)``
  pixels of the detail picture (OpenCV's ``ORB::detectAndCompute``); keypoints.extract then
  stores ``rint(x / width * 65535)``. Such a point is stored as its level (one byte, deflated:
  the points come grouped by level) and i and j in just the bits the level's side needs
  (``_width_bits``): 9 + 8 bits at level 0 of a 384 x 192 detail picture instead of 32. A
  point that this does not give back exactly (0.3% on the dev pool) is stored as its two
  uint16 values (level ESCAPE): ``pack`` checks every point, so the grid is an assumption
  about compression only, never about correctness.
- **Descriptors as bit planes.** ORB's first 64 tests are far from fair coins on photos (on
  the dev pool's 558,000 descriptors bit 20 is set in 0.4%, bit 11 in 94%), and a byte of a
  descriptor mixes eight of them. Each bit position's n bits are stored together as one
  plane (``np.packbits``). ORB's tests compare pixels of overlapping pairs, so some bits
  nearly copy or invert others: 35 planes are stored XORed with the plane of another bit
  (REFERENCE; that one is stored as it is, so one XOR undoes them all). Then the planes whose
  bit is mostly set are inverted (an 8-byte mask), and the planes are deflated with the levels.

Measured on the bench dev pool (2,204 pictures with keypoints, mean 253 points; session 10,
benchmarks/RESULTS.md "Index size per file, session 10"): positions 1,013 -> about 500 bytes,
descriptors 2,026 -> 1,537 as bit planes, 1,418 with REFERENCE's XORs (their zeroth-order
entropy 1,361 -> 1,230; LZMA took 1,498 without the XORs, at seven times DEFLATE's decoding
cost).

Blob (format 1): the format byte, n (uint16 LE), the inversion mask (uint64 LE), a raw
DEFLATE stream of the n level bytes then 64 planes of ceil(n / 8) bytes (XORed by REFERENCE,
then inverted by the mask), then the position
bits (``np.packbits``, big-endian bits, each point's x then y in its level's widths).
"""

from __future__ import annotations

import functools
import zlib

import numpy as np

__all__ = ["pack", "unpack", "unpack_many", "unpack_descriptors", "unpack_descriptors_many",
           "PACKED", "GRID_SCALE", "GRID_LEVELS", "REFERENCE"]

#: First byte of a packed keypoints blob (format 1 of this module).
PACKED = 1
#: The pyramid of format 1's grid: recipe.ORB_SCALE and recipe.ORB_LEVELS when it was made
#: (recipe 8). Fixed here, not read from the recipe: a blob must decode the same whatever the
#: recipe becomes (with another pyramid, points would escape, still exact, only larger).
GRID_SCALE = 1.3
GRID_LEVELS = 6
#: Level byte of a point stored as its two uint16 values.
ESCAPE = GRID_LEVELS
#: Which bit's plane each bit's plane is stored XORed with (-1: stored as it is; each
#: referenced plane is itself stored as it is). Ours, made by benchmarks/keypoint_planes.py
#: on the bench smooth pool's 1,485 pictures with keypoints (greedy pairing by the entropy
#: gain over all their descriptors); held out, the dev pool's planes deflate to 1,417.5 bytes
#: a picture with it against 1,416 with a table made on the dev pool itself (1,537 without).
#: Part of format 1: never change it (another table needs another format byte).
REFERENCE = (30, 7, 25, 36, 23, 36, 29, -1, -1, 46, 49, -1, -1, -1, -1, 13, 56, 7, 30, 23, -1, -1,
             -1, -1, 31, -1, 12, 21, -1, -1, -1, -1, 8, 41, 59, 56, -1, 43, -1, -1, 56, -1, -1,
             -1, 58, -1, -1, 45, -1, -1, -1, 22, 50, 58, 41, 56, -1, 14, -1, -1, 45, 13, 42, 8)
_XORED = np.array([j for j, k in enumerate(REFERENCE) if k >= 0])
_BY = np.array([k for k in REFERENCE if k >= 0])
_SCALES = np.array([np.float32(GRID_SCALE ** level) for level in range(GRID_LEVELS)], np.float32)
_BITS = 64
_HEAD = 11  # format byte, n, mask
#: DEFLATE of the levels and planes: Z_FILTERED in a 4 KiB window (a blob's 2.4 KB fit in it):
#: on the dev pool the same sizes as the best of Z_FILTERED, the default strategy and
#: Huffman only (2,081.6 against 2,081.5 bytes a picture) at 0.3 instead of 0.8 ms a pack.
_STRATEGY = zlib.Z_FILTERED
_WINDOW_BITS = -12
#: Rows unpacked together by the *_many functions (bounds their arrays' memory).
_CHUNK = 256
#: At most this many points in a blob (n is stored as uint16).
MAX_POINTS = 65535


@functools.lru_cache(maxsize=1024)
def _width_bits(side: int) -> np.ndarray:
    """Bits of a grid index along a side of *side* pixels, per level, then 16 for ESCAPE."""
    top = np.floor(side / _SCALES.astype(np.float64)).astype(np.int64) + 1
    bits = np.append(np.array([int(t).bit_length() for t in top], np.int64), 16)
    bits.flags.writeable = False  # shared by the cache
    return bits


def _on_grid(index: np.ndarray, level: np.ndarray, side: int | np.ndarray) -> np.ndarray:
    """The uint16 fractions of grid points: ``rint(float32(i) * scale[level] / side * 65535)``."""
    pixels = (index.astype(np.float32) * _SCALES[level]).astype(np.float64)
    return np.clip(np.rint(pixels / side * 65535.0), 0, 65535).astype(np.int64)


def _levels(q: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Each point's lowest grid level that gives back both its values exactly (ESCAPE when
    none does) and its grid indices (i, j) there (its raw values for ESCAPE): int64 (n,), (n, 2)."""
    sides = np.array([width, height], np.float64)
    scales = _SCALES[:, None, None]
    at = np.rint(q[None] / 65535.0 * sides / scales.astype(np.float64)).astype(np.int64)  # (L, n, 2)
    back = np.clip(np.rint((at.astype(np.float32) * scales).astype(np.float64) / sides * 65535.0),
                   0, 65535)
    bits = np.stack([_width_bits(width), _width_bits(height)], axis=1)[:GRID_LEVELS, None, :]
    fits = ((back == q[None]) & (at < (1 << bits))).all(axis=2)  # (L, n)
    level = np.where(fits.any(axis=0), fits.argmax(axis=0), ESCAPE)
    index = np.where((level < ESCAPE)[:, None], at[np.minimum(level, GRID_LEVELS - 1), np.arange(len(q))], q)
    return level, index


def _bit_matrix(values: np.ndarray) -> np.ndarray:
    """(m,) int64 below 2^16 -> (m, 16) uint8 bits, most significant first."""
    return ((values[:, None] >> np.arange(15, -1, -1)) & 1).astype(np.uint8)


def pack(width: int, height: int, xy: bytes, desc: bytes) -> bytes:
    """The packed blob of local features (model.LocalFeatures' fields: the detail picture's
    pixels, n x 2 uint16 LE fractions, n uint64 LE descriptors).

    Raises:
        ValueError: the fields do not describe n points (n from 1 to MAX_POINTS), or a side is
            not positive.
    """
    n = len(desc) // 8
    if len(desc) % 8 or len(xy) != 4 * n or not 0 < n <= MAX_POINTS or width <= 0 or height <= 0:
        raise ValueError(f"not local features: {len(xy)} + {len(desc)} bytes, {width} x {height}")
    q = np.frombuffer(xy, dtype="<u2").reshape(n, 2).astype(np.int64)
    level, index = _levels(q, width, height)
    bits = np.stack([_width_bits(width)[level], _width_bits(height)[level]], axis=1).ravel()
    keep = np.arange(16)[None, :] >= (16 - bits)[:, None]
    position_bits = np.packbits(_bit_matrix(index.ravel())[keep]).tobytes()
    planes = np.unpackbits(np.frombuffer(desc, np.uint8).reshape(n, 8), axis=1, bitorder="little")
    planes[:, _XORED] ^= planes[:, _BY]  # the referenced planes are roots: left as they are
    invert = planes.sum(axis=0) * 2 > n
    planes ^= invert.astype(np.uint8)
    mask = np.packbits(invert, bitorder="little").tobytes()
    data = level.astype(np.uint8).tobytes() + np.packbits(planes.T, axis=1).tobytes()
    z = zlib.compressobj(9, zlib.DEFLATED, _WINDOW_BITS, 8, _STRATEGY)
    stream = z.compress(data) + z.flush()
    return bytes([PACKED]) + n.to_bytes(2, "little") + mask + stream + position_bits


def _open(blob: bytes) -> tuple[int, np.ndarray, bytes, bytes]:
    """n, the inversion mask (64,) uint8, the inflated levels and planes, and the position bits."""
    if len(blob) < _HEAD or blob[0] != PACKED:
        raise ValueError(f"unknown keypoints format {bytes(blob[:1])!r}")
    n = int.from_bytes(blob[1:3], "little")
    invert = np.unpackbits(np.frombuffer(blob[3:11], np.uint8), bitorder="little")
    z = zlib.decompressobj(-15)
    try:
        data = z.decompress(bytes(blob[_HEAD:]))
    except zlib.error as exc:
        raise ValueError(f"damaged keypoints: {exc}") from None
    if not z.eof or len(data) != n + _BITS * ((n + 7) // 8) or n == 0:
        raise ValueError(f"damaged keypoints: {len(data)} bytes unpacked for {n} points")
    if max(data[:n]) > ESCAPE:
        raise ValueError("damaged keypoints: a level out of range")
    return n, invert, data, z.unused_data


def _descriptors_many(opened: list[tuple[int, np.ndarray, bytes, bytes]]) -> list[bytes]:
    """The raw descriptors of opened blobs, undone together for the blobs of one n."""
    out: list[bytes] = [b""] * len(opened)
    groups: dict[int, list[int]] = {}
    for i, (n, _, _, _) in enumerate(opened):
        groups.setdefault(n, []).append(i)
    for n, members in groups.items():
        row = (n + 7) // 8
        stacked = np.frombuffer(b"".join(opened[i][2][n:] for i in members), np.uint8)
        planes = np.unpackbits(stacked.reshape(len(members), _BITS, row), axis=2, count=n)
        planes ^= np.stack([opened[i][1] for i in members])[:, :, None]
        planes[:, _XORED] ^= planes[:, _BY]
        desc = np.packbits(planes.transpose(0, 2, 1).reshape(len(members), -1), axis=1,
                           bitorder="little")
        for k, i in enumerate(members):
            out[i] = desc[k].tobytes()
    return out


def unpack_descriptors(blob: bytes) -> bytes:
    """The n uint64 LE descriptors of a packed blob (without decoding the positions).

    Raises:
        ValueError: *blob* is damaged or of an unknown format.
    """
    return _descriptors_many([_open(blob)])[0]


def unpack_descriptors_many(blobs: list[bytes]) -> list[bytes]:
    """``unpack_descriptors`` of each blob, _CHUNK at a time undone together (ValueError as it)."""
    return [d for start in range(0, len(blobs), _CHUNK)
            for d in _descriptors_many([_open(blob) for blob in blobs[start:start + _CHUNK]])]


def unpack(width: int, height: int, blob: bytes) -> tuple[bytes, bytes]:
    """The raw fields (xy, desc) of a packed blob: n x 2 uint16 LE, n uint64 LE, exactly
    those given to ``pack``.

    Raises:
        ValueError: *blob* is damaged, of an unknown format, or packed for another size.
    """
    return unpack_many([(width, height, blob)])[0]


def unpack_many(rows: list[tuple[int, int, bytes]]) -> list[tuple[bytes, bytes]]:
    """``unpack`` of each (width, height, blob), the positions and the descriptors of
    _CHUNK rows at a time undone together: 46-72 us a picture of CPU against 103-112 one by one
    (dev pool, load 13-14), and the memory of one chunk's arrays whatever the number of rows.

    Raises:
        ValueError: a blob is damaged, of an unknown format, or packed for another size (as
            ``unpack``).
    """
    if len(rows) > _CHUNK:
        return [f for start in range(0, len(rows), _CHUNK) for f in unpack_many(rows[start:start + _CHUNK])]
    if not rows:
        return []
    opened = [_open(blob) for _, _, blob in rows]
    if any(w <= 0 or h <= 0 for w, h, _ in rows):
        raise ValueError("damaged keypoints: a detail picture without pixels")
    ns = np.array([o[0] for o in opened], np.int64)
    pic = np.repeat(np.arange(len(rows)), ns)  # each point's picture
    lv = np.frombuffer(b"".join(o[2][:o[0]] for o in opened), np.uint8).astype(np.int64)
    sides = np.array([(w, h) for w, h, _ in rows], np.int64)
    widths = np.stack([np.stack([_width_bits(int(w)), _width_bits(int(h))], axis=1)
                       for w, h in sides])  # (pictures, levels + 1, 2)
    bits = widths[pic, lv].ravel()  # each value's bits: x then y of each point
    rests = [o[3] for o in opened]
    sizes = np.array([len(r) for r in rests], np.int64)
    per_pic = np.bincount(np.repeat(pic, 2), weights=bits, minlength=len(rows)).astype(np.int64)
    if ((per_pic + 7) // 8 != sizes).any():
        raise ValueError("damaged keypoints: the position bits do not fit the points")
    # each picture's bits start on a byte of their own; a value (at most 16 bits) is the low
    # bits[k] of the 24-bit word of the three bytes up to its last bit (two zero bytes ahead)
    first_bit = 8 * (np.cumsum(sizes) - sizes) - (np.cumsum(per_pic) - per_pic)
    last = np.cumsum(bits) + np.repeat(first_bit, 2 * ns) + 15  # its last bit, 2 bytes ahead
    data = np.concatenate([np.zeros(2, np.uint8), np.frombuffer(b"".join(rests), np.uint8)]).astype(np.int64)
    byte = last >> 3
    word = (data[byte - 2] << 16) | (data[byte - 1] << 8) | data[byte]
    values = (word >> (7 - (last & 7))) & ((1 << bits) - 1)
    index = values.reshape(-1, 2)
    on = np.minimum(lv, GRID_LEVELS - 1)
    q = np.where((lv == ESCAPE)[:, None], index,
                 np.stack([_on_grid(index[:, 0], on, sides[pic, 0]),
                           _on_grid(index[:, 1], on, sides[pic, 1])], axis=1)).astype("<u2")
    descs = _descriptors_many(opened)
    cut = np.cumsum(ns)[:-1]
    return [(part.tobytes(), d) for part, d in zip(np.split(q, cut), descs)]
