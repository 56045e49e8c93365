"""Perceptual fingerprints of a decoded picture: pure functions over numpy arrays, no I/O.

A fingerprint is a set of 64-bit integers. pHash and dHash follow imagehash's definitions
(``imagehash.phash`` / ``imagehash.dhash`` on the same picture give the same bits; a test
checks it), but pHash is computed here from the DCT directly so that the hashes of all eight
rotations and mirror images come from one DCT: a horizontal flip negates the odd-column
coefficients, a vertical flip the odd-row ones, and a transpose transposes the block.

Each picture gets one or more *views*: the whole picture, and the picture with uniform borders
(black bars, letterboxing, a white mat) trimmed away when it has any. Two files match when any
view of one is near any view of the other, in any orientation.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .layout import (CROP_VIEWS, apply_orientation, N_HASHES, N_ORIENT, N_PHASH, ORIENTATIONS, PRIMARY_VIEWS,
                     view_boxes)
from .model import Fingerprint
from .recipe import (BORDER_MAX, BORDER_MIN, BORDER_OUTLIERS, BORDER_STEP, BORDER_TOLERANCE,
                     COLOUR_SIZE, FLAT_STD, HASH_SIZE, PHASH_SIZE, THUMB_SIZE, THUMB_STEP_BLOCK,
                     THUMB_STEP_DETAIL, THUMB_STEP_MAX)

_ROW_SIGN = np.where(np.arange(HASH_SIZE) % 2, -1.0, 1.0)[:, None]  # (-1)^u
_COL_SIGN = _ROW_SIGN.T  # (-1)^v
_BITS = 1 << np.arange(63, -1, -1, dtype=np.uint64)  # MSB first, as imagehash's hex

__all__ = ["Fingerprint", "CROP_VIEWS", "N_HASHES", "N_PHASH", "THUMB_SIZE", "compute", "crop",
           "dct_block", "dhash", "dhashes", "orient", "phashes", "quantize_thumb", "stored_thumb",
           "thumb_parts", "thumb_step", "trim_box"]


def bits_to_int(bits: np.ndarray) -> int:
    """Pack a boolean array into an int, first element as the most significant bit."""
    flat = np.asarray(bits, dtype=bool).ravel()
    return int(np.bitwise_or.reduce(_BITS[-flat.size:][flat], initial=np.uint64(0)))


def resample(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 grey array with LANCZOS, as imagehash does (size is (width, height))."""
    return np.asarray(Image.fromarray(gray, "L").resize(size, Image.Resampling.LANCZOS))


#: The first HASH_SIZE rows of the unnormalised DCT-II matrix (scipy.fftpack.dct's default):
#: only the low frequencies are ever used, so two small products replace a full 2-D DCT, and
#: scipy's import (a fifth of a second at every start) is not needed.
_DCT = 2.0 * np.cos(np.pi * np.arange(HASH_SIZE)[:, None] * (2 * np.arange(PHASH_SIZE) + 1)
                    / (2 * PHASH_SIZE))


def dct_block(gray: np.ndarray) -> np.ndarray:
    """Return the low-frequency HASH_SIZE x HASH_SIZE block of the picture's 32x32 DCT."""
    pixels = resample(gray, (PHASH_SIZE, PHASH_SIZE)).astype(np.float64)
    return _DCT @ pixels @ _DCT.T


def oriented_blocks(block: np.ndarray) -> list[np.ndarray]:
    """Return the DCT block of the picture in each of the 8 ORIENTATIONS."""
    out = []
    for transpose, flip_lr, flip_ud in ORIENTATIONS:
        b = block.T if transpose else block
        if flip_lr:
            b = b * _COL_SIGN
        if flip_ud:
            b = b * _ROW_SIGN
        out.append(b)
    return out


def _phash_rows(rows: np.ndarray) -> np.ndarray:
    """The pHash of each row of DCT blocks (k, HASH_SIZE**2), float64: its bits above the
    row's median, as uint64. The median is np.median's value (mean of the two middle values,
    the same float), taken from one sort of all rows instead of k calls of np.median."""
    n = rows.shape[1]
    ordered = np.sort(rows, axis=1)
    median = (ordered[:, (n - 1) // 2] + ordered[:, n // 2]) / 2
    return np.bitwise_or.reduce(np.where(rows > median[:, None], _BITS[-n:], np.uint64(0)),
                                axis=1)


def phashes(gray: np.ndarray) -> tuple[int, ...]:
    """Return the pHash of the picture in each of the 8 ORIENTATIONS, from one DCT."""
    return tuple(int(h) for h in _oriented_phashes(dct_block(gray)))


def _oriented_phashes(block: np.ndarray) -> np.ndarray:
    return _phash_rows(np.stack([b.ravel() for b in oriented_blocks(block)]))


def dhash(gray: np.ndarray) -> int:
    pixels = resample(gray, (HASH_SIZE + 1, HASH_SIZE)).astype(np.int16)
    return bits_to_int(pixels[:, 1:] > pixels[:, :-1])


def dhashes(gray: np.ndarray) -> tuple[int, ...]:
    """Return the dHash of the picture in each of the 8 ORIENTATIONS.

    dHash has no transform-domain shortcut, so each orientation is hashed from a small
    oriented copy (the 8 resamples of a <=256 px picture cost well under a millisecond).
    """
    small = resample(gray, (4 * (HASH_SIZE + 1), 4 * (HASH_SIZE + 1))) if max(gray.shape) > 64 else gray
    return (dhash(gray),) + tuple(dhash(orient(small, k)) for k in range(1, N_ORIENT))


def orient(gray: np.ndarray, k: int) -> np.ndarray:
    """Apply ORIENTATIONS[k] to a picture (the pixel-space twin of oriented_blocks)."""
    return np.ascontiguousarray(apply_orientation(gray, k))


# ----------------------------------------------------------------------------- borders
def trim_box(gray: np.ndarray) -> tuple[int, int, int, int]:
    """Return the (left, top, right, bottom) box left after removing uniform borders.

    A border is a run of edge rows or columns that are all (but a few outlier pixels) within
    BORDER_TOLERANCE of one colour; runs of different colours are peeled one after another
    (a black frame inside a white mat). A side is left alone when trimming it would remove
    more than BORDER_MAX of the picture: a legitimately dark sky stays part of the picture.
    """
    rows, cols = gray.shape
    top, bottom, left, right = 0, rows, 0, cols
    g = gray.astype(np.int16)
    for _ in range(4):  # a few peels: frame inside a mat inside a letterbox
        changed = False
        region = g[top:bottom, left:right]
        n_top = _uniform_run(region)
        n_bottom = _uniform_run(region[::-1])
        n_left = _uniform_run(region.T)
        n_right = _uniform_run(region.T[::-1])
        if n_top + n_bottom < region.shape[0] - 8 and (n_top or n_bottom):
            top, bottom = top + n_top, bottom - n_bottom
            changed = True
        if n_left + n_right < region.shape[1] - 8 and (n_left or n_right):
            left, right = left + n_left, right - n_right
            changed = True
        if not changed:
            break
    if top > rows * BORDER_MAX or rows - bottom > rows * BORDER_MAX:
        top, bottom = 0, rows
    if left > cols * BORDER_MAX or cols - right > cols * BORDER_MAX:
        left, right = 0, cols
    if max(top, rows - bottom) < rows * BORDER_MIN:
        top, bottom = 0, rows
    if max(left, cols - right) < cols * BORDER_MIN:
        left, right = 0, cols
    return left, top, right, bottom


def _uniform_run(a: np.ndarray) -> int:
    """Count leading rows of *a* that are uniform and of the first row's colour.

    The run counts as a border only if it ends in a step: the picture after it must differ
    clearly from the border colour. A sky or a wall that fades out towards the edge is
    uniform too, but it is part of the picture and has no such edge.
    """
    if a.shape[0] == 0 or a.shape[1] == 0:
        return 0
    colour = np.median(a[0])
    limit = int(a.shape[0] * BORDER_MAX) + 1
    close = np.abs(a[:limit] - colour) <= BORDER_TOLERANCE
    good = close.mean(axis=1) >= 1.0 - BORDER_OUTLIERS
    if not good[0]:
        return 0
    bad = np.flatnonzero(~good)
    run = int(bad[0]) if bad.size else int(good.size)
    after = a[run:run + 3]
    if after.shape[0] == 0:
        return 0
    step = (np.abs(after - colour) > BORDER_TOLERANCE).mean(axis=1).max()
    return run if step >= BORDER_STEP else 0


def _pixel_box(box: tuple[float, float, float, float], rows: int, cols: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    l, t = int(round(left * cols)), int(round(top * rows))
    r, b = max(l + 1, int(round(right * cols))), max(t + 1, int(round(bottom * rows)))
    return l, t, r, b


def crop(gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Cut a fractional box out of a picture (at least one pixel)."""
    l, t, r, b = _pixel_box(box, *gray.shape)
    return gray[t:b, l:r]


def thumb_step(thumb: np.ndarray) -> int:
    """The grey step a THUMB_SIZE square thumbnail (uint8) is kept in (1: every level).

    The mean absolute 2-D difference ``x[i,j] - x[i-1,j] - x[i,j-1] + x[i-1,j-1]`` (the fine
    detail a planar predictor leaves; the first row and column take their neighbour's) of each
    THUMB_STEP_BLOCK square, the least detailed block's divided by THUMB_STEP_DETAIL, floored,
    between 1 and THUMB_STEP_MAX (recipe.py says why). A linear gradient has no 2-D difference
    at all, so it keeps every level; a picture textured everywhere is kept coarser, with a
    rounding error (at most step / 2) below its own detail in every block.
    """
    x = np.asarray(thumb, dtype=np.int16)
    side = THUMB_STEP_BLOCK
    if x.ndim != 2 or x.shape[0] % side or x.shape[1] % side or x.shape[0] < 2 or x.shape[1] < 2:
        return 1
    r = np.empty_like(x)
    r[1:, 1:] = np.abs(x[1:, 1:] - x[:-1, 1:] - x[1:, :-1] + x[:-1, :-1])
    r[0, 1:] = r[1, 1:]
    r[:, 0] = r[:, 1]
    rows, cols = x.shape[0] // side, x.shape[1] // side
    detail = r.reshape(rows, side, cols, side).mean(axis=(1, 3)).min()
    return int(min(max(detail // THUMB_STEP_DETAIL, 1), THUMB_STEP_MAX))


def quantize_thumb(thumb: np.ndarray, step: int | None = None) -> np.ndarray:
    """Grey levels (uint8, any shape) kept in steps of *step* (default: thumb_step(thumb)):
    v -> (v // step) * step + step // 2 (uint8, same shape; the array itself when step is 1).
    Not idempotent in general with the default step (a quantized thumbnail has other detail);
    with a given step it is."""
    step = thumb_step(thumb) if step is None else step
    if step == 1:
        return thumb
    q = np.asarray(thumb, dtype=np.uint8) // step
    return np.minimum(q.astype(np.uint16) * step + step // 2, 255).astype(np.uint8)


def stored_thumb(fp: Fingerprint) -> bytes:
    """The thumbnail blob as stored: the grey rows, then the colour signature (if any)."""
    return fp.thumb + fp.colour


def thumb_parts(blob: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split a stored thumbnail (rows x THUMB_SIZE, uint8) into the grey thumbnail
    (THUMB_SIZE square) and the (2, COLOUR_SIZE, COLOUR_SIZE) colour signature (None when
    the picture had no colour, or was stored before it had one)."""
    grey = blob[:THUMB_SIZE]
    rest = blob[THUMB_SIZE:].reshape(-1)
    if rest.size < 2 * COLOUR_SIZE * COLOUR_SIZE:
        return grey, None
    return grey, rest[:2 * COLOUR_SIZE * COLOUR_SIZE].reshape(2, COLOUR_SIZE, COLOUR_SIZE)


def compute(gray: np.ndarray, chroma: np.ndarray | None = None) -> Fingerprint:
    """Fingerprint an upright greyscale picture (uint8, rows x cols); *chroma* is its colour
    signature (uint8 (2, COLOUR_SIZE, COLOUR_SIZE): Cb, Cr) when it has colour.

    Every view is cut from one Pillow image of *gray* (a crop is the same pixels as the
    array's slice) and the crop views' pHashes share one median sort: the bits are those of
    phashes/dhashes/dct_block on the arrays, with less per-view overhead.
    """
    rows, cols = gray.shape
    left, top, right, bottom = trim_box(gray)
    trim = (left / cols, top / rows, right / cols, bottom / rows)
    hashes = np.zeros(N_HASHES, dtype=np.uint64)
    boxes = view_boxes(trim)
    im = Image.fromarray(np.ascontiguousarray(gray, dtype=np.uint8), "L")
    whole = _oriented_phashes(_block(im))
    hashes[:N_ORIENT] = whole
    untrimmed = trim == (0.0, 0.0, 1.0, 1.0)
    if untrimmed:
        trimmed_im, trimmed = im, gray
    else:
        l, t, r, b = _pixel_box(trim, rows, cols)
        trimmed_im, trimmed = im.crop((l, t, r, b)), gray[t:b, l:r]
    hashes[N_ORIENT:2 * N_ORIENT] = whole if untrimmed else _oriented_phashes(_block(trimmed_im))
    crops = [_block(im.crop(_pixel_box(box, rows, cols))).ravel() for box in boxes[PRIMARY_VIEWS:]]
    if crops:
        hashes[2 * N_ORIENT:2 * N_ORIENT + len(crops)] = _phash_rows(np.stack(crops))
    dwhole = _dhashes(im, gray)
    hashes[N_PHASH:N_PHASH + N_ORIENT] = dwhole
    hashes[N_PHASH + N_ORIENT:] = dwhole if untrimmed else _dhashes(trimmed_im, trimmed)
    thumb = np.asarray(im.resize((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS))
    flat = float(crop(thumb, trim).std()) < FLAT_STD
    thumb = quantize_thumb(thumb)
    colour = b"" if chroma is None else np.ascontiguousarray(chroma, dtype=np.uint8).tobytes()
    return Fingerprint(int(whole[0]), int(dwhole[0]), hashes, trim, thumb.tobytes(), flat, colour)


def _block(im: Image.Image) -> np.ndarray:
    """dct_block of a Pillow "L" image."""
    pixels = np.asarray(im.resize((PHASH_SIZE, PHASH_SIZE), Image.Resampling.LANCZOS),
                        dtype=np.float64)
    return _DCT @ pixels @ _DCT.T


def _dhashes(im: Image.Image, gray: np.ndarray) -> tuple[int, ...]:
    """dhashes(gray), *im* being the Pillow "L" image of *gray*."""
    pixels = np.asarray(im.resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.LANCZOS),
                        dtype=np.int16)
    first = bits_to_int(pixels[:, 1:] > pixels[:, :-1])
    side = 4 * (HASH_SIZE + 1)
    small = (np.asarray(im.resize((side, side), Image.Resampling.LANCZOS))
             if max(gray.shape) > 64 else gray)
    return (first,) + tuple(dhash(orient(small, k)) for k in range(1, N_ORIENT))
