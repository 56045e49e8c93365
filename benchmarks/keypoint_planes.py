"""Which descriptor bit plane keypointcodec XORs with which: the table behind its REFERENCE.

ORB's tests compare pixels of overlapping pairs, so some of the stored 64 bits nearly copy or
invert others. Over every stored descriptor of an index, each bit's plane is paired with the
root plane whose XOR with it has the lowest zeroth-order entropy, greedily by gain: a plane
that references another is no root and references no other (one XOR undoes it). Prints the
table (-1: a root) and the entropy and DEFLATE sizes per picture with and without it, on the
calibration index and on held-out ones.

    python3 benchmarks/keypoint_planes.py CALIBRATION.db [HELD_OUT.db ...]

Run with the checkout to measure first on PYTHONPATH (its store reads both row layouts).
"""

from __future__ import annotations

import sys
import zlib

import numpy as np

from imgfind.store import Store


def bits_of(path: str) -> list[np.ndarray]:
    with Store(path, readonly=True) as store:
        feats = store.local_features()
    return [np.unpackbits(np.frombuffer(f.desc, np.uint8).reshape(f.n, 8), axis=1,
                          bitorder="little").astype(bool) for f in feats.values()]


def entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def table(pictures: list[np.ndarray]) -> np.ndarray:
    b = np.concatenate(pictures)
    own = entropy(b.mean(0))
    pair = np.array([[entropy((b[:, j] ^ b[:, k]).mean()) for k in range(64)] for j in range(64)])
    gain = own[:, None] - pair
    np.fill_diagonal(gain, -np.inf)
    ref = np.full(64, -1)
    while True:
        j, k = np.unravel_index(np.argmax(gain), gain.shape)
        if gain[j, k] <= 0:
            return ref
        ref[j] = k
        gain[j, :] = gain[:, j] = gain[k, :] = -np.inf  # j is no root now; k stays one


def sizes(pictures: list[np.ndarray], ref: np.ndarray) -> tuple[float, float]:
    """Mean zeroth-order entropy and DEFLATE bytes (Z_FILTERED, planes inverted when mostly
    set, plus the 8-byte mask) of the planes after the XORs of *ref*."""
    h = z = 0.0
    has = ref >= 0
    for b in pictures:
        t = b.copy()
        t[:, has] ^= b[:, ref[has]]
        h += entropy(t.mean(0)).sum() * len(t) / 8
        t ^= t.mean(0) > 0.5
        c = zlib.compressobj(9, zlib.DEFLATED, -12, 8, zlib.Z_FILTERED)
        z += 8 + len(c.compress(np.packbits(t.T, axis=1).tobytes()) + c.flush())
    return h / len(pictures), z / len(pictures)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cal = bits_of(sys.argv[1])
    ref = table(cal)
    print("REFERENCE =", tuple(int(r) for r in ref))
    for path, pics in [(sys.argv[1], cal)] + [(p, bits_of(p)) for p in sys.argv[2:]]:
        (h0, z0), (h1, z1) = sizes(pics, np.full(64, -1)), sizes(pics, ref)
        print(f"{path}: {len(pics):,} pictures; bytes a picture: entropy {h0:,.1f} -> {h1:,.1f}, "
              f"DEFLATE {z0:,.1f} -> {z1:,.1f}")


if __name__ == "__main__":
    main()
