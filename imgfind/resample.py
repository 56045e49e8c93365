"""Bilinear resizing of many small greyscale pictures at once, bit for bit as Pillow's.

Verification cuts every view it compares out of a 48 px thumbnail and brings it to a fixed
size with ``Image.resize(..., BILINEAR)`` (side.py). At 10^5 files that is about 10^5 small
resizes per dedupe, and nearly all of each one's cost is Pillow's per-call work in Python
(wrapping the array, a new image, converting back), not the resize. Here a stack of views of
one shape is resized with two matrix products.

The result equals Pillow's exactly: the same separable filter (horizontal pass, then
vertical), the same coefficients in the same 22-bit fixed point, each pass rounded and
clipped to 8 bits as Pillow's ``ImagingResample`` does, in the order of passes Pillow picks
for the shape. Every product and sum is an integer below 2**53, so float64 matrix products
hold them exactly. :func:`pass_order` checks each shape against the installed Pillow once per
process; a shape where neither order gives Pillow's pixels is resized by Pillow itself.

Source of the method: Pillow's libImaging/Resample.c (``precompute_coeffs``,
``normalize_coeffs_8bpc``, ``ImagingResampleHorizontal_8bpc``/``Vertical_8bpc``), re-derived
here in numpy; ours.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

#: Pillow's fixed point for 8-bit resampling: 32 bits less 8 for the value, 2 for overflow.
PRECISION_BITS = 32 - 8 - 2
_HALF = float(1 << (PRECISION_BITS - 1))
_ONE = float(1 << PRECISION_BITS)


def _bilinear(x: float) -> float:
    if x < 0.0:
        x = -x
    if x < 1.0:
        return 1.0 - x
    return 0.0


@functools.lru_cache(maxsize=256)
def coefficients(in_size: int, out_size: int) -> np.ndarray:
    """The (out_size, in_size) matrix of Pillow's fixed-point bilinear coefficients that
    resizes one axis of *in_size* pixels to *out_size* (float64 holding integers)."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, not {in_size} -> {out_size}")
    scale = filterscale = in_size / out_size
    if filterscale < 1.0:
        filterscale = 1.0
    support = 1.0 * filterscale
    ss = 1.0 / filterscale
    out = np.zeros((out_size, in_size), np.float64)
    for xx in range(out_size):
        center = 0.0 + (xx + 0.5) * scale
        xmin = int(center - support + 0.5)
        if xmin < 0:
            xmin = 0
        xmax = int(center + support + 0.5)
        if xmax > in_size:
            xmax = in_size
        xmax -= xmin
        weights = [_bilinear((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = 0.0
        for w in weights:
            ww += w
        for x, w in enumerate(weights):
            if ww != 0.0:
                w /= ww
            out[xx, xmin + x] = int(-0.5 + w * _ONE) if w < 0 else int(0.5 + w * _ONE)
    out.flags.writeable = False
    return out


#: 1 / _ONE: a power of two, so multiplying by it is the division, exactly.
_INV_ONE = 1.0 / _ONE


def _round_clip(x: np.ndarray) -> np.ndarray:
    """Pillow's clip8: (sum + half) >> PRECISION_BITS, clipped to 0..255 (exact in float64).
    Works in place on *x* (a pass's fresh product) and returns it."""
    x += _HALF
    x *= _INV_ONE
    np.floor(x, out=x)
    return np.clip(x, 0.0, 255.0, out=x)


def _passes(x: np.ndarray, size: int, vertical_first: bool) -> np.ndarray:
    """The two fixed-point passes over a float64 (n, h, w) stack, in the given order (a pass
    whose size does not change is skipped, as Pillow skips it: it would be the identity)."""
    h, w = x.shape[1:]
    for vertical in ((True, False) if vertical_first else (False, True)):
        if vertical and h != size:
            x = _round_clip(coefficients(h, size) @ x)
        elif not vertical and w != size:
            x = _round_clip(x @ coefficients(w, size).T)
    return x


def _pillow(picture: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(picture), "L")
                      .resize((size, size), Image.Resampling.BILINEAR))


#: Pictures a shape is tested on by pass_order when its first three cannot tell the two
#: orders apart (both give Pillow's pixels on them).
TEST_PICTURES = 64


@functools.lru_cache(maxsize=4096)
def pass_order(h: int, w: int, size: int) -> bool | None:
    """Which pass the installed Pillow runs first for an h x w picture resized to size x size:
    False horizontal, True vertical (Pillow picks by the shapes, e.g. a view that shrinks in
    height and grows in width goes vertical first); None when neither order gives Pillow's
    pixels (a Pillow whose resampling changed): then Pillow itself resizes that shape.
    Found once per shape per process on three test pictures (random, two-level, gradient);
    when both orders give Pillow's pixels on those, on TEST_PICTURES more random ones: on
    some shapes the orders round differently on a few pictures only (8x3 to 1x1: the three
    could not tell them apart, a fourth could)."""
    rng = np.random.default_rng(h * 1_000_003 + w * 1009 + size)
    tests = np.stack([rng.integers(0, 256, (h, w), dtype=np.uint8),
                      np.where(rng.random((h, w)) < 0.5, 0, 255).astype(np.uint8),
                      np.clip(np.add.outer(np.arange(h) * 11, np.arange(w) * 5), 0, 255)
                      .astype(np.uint8)])
    orders = _matching_orders(tests, size, (False, True))
    if len(orders) == 2:
        more = rng.integers(0, 256, (TEST_PICTURES, h, w), dtype=np.uint8)
        orders = _matching_orders(more, size, orders) or [False]  # equal on all: either
    return orders[0] if orders else None


def _matching_orders(tests: np.ndarray, size: int, orders) -> list[bool]:
    """The pass orders (of *orders*) whose result equals Pillow's on every test picture."""
    want = np.stack([_pillow(t, size) for t in tests])
    return [o for o in orders
            if np.array_equal(_passes(tests.astype(np.float64), size, o), want)]


def resize_many(stack: np.ndarray, size: int) -> np.ndarray:
    """Resize every picture of a (n, h, w) uint8 stack to size x size, as
    ``Image.fromarray(p, "L").resize((size, size), Image.Resampling.BILINEAR)`` does each.

    Returns (n, size, size) uint8. Raises ValueError for a stack that is not 3-dimensional,
    an empty picture or size < 1.
    """
    stack = np.asarray(stack)
    if stack.ndim != 3:
        raise ValueError(f"expected a (n, h, w) stack, not shape {stack.shape}")
    n, h, w = stack.shape
    if h < 1 or w < 1 or size < 1:
        raise ValueError(f"cannot resize {h}x{w} pictures to {size}x{size}")
    if h == size and w == size:
        return stack.astype(np.uint8, copy=True)
    order = pass_order(h, w, size)
    if order is None:
        return np.stack([_pillow(p, size) for p in stack]) if n else np.empty((0, size, size), np.uint8)
    return _passes(stack.astype(np.float64), size, order).astype(np.uint8)
