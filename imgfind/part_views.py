"""Part views: the halves of a picture fingerprinted as pictures of their own, so
that a collage whose cells were squeezed to fit (a photo pasted at half its width) is found.

Local features (keypoints.py) find a photo inside a collage when it was pasted at its own
proportions, but not when a collage maker stretched it to fill its cell: ORB descriptors do
not survive a 2:1 squeeze. A global fingerprint does not care about proportions (pHash
resamples to 32x32 whatever the shape), so the fingerprint of a collage's left half is near
the fingerprint of the photo that fills it. The views are made from the stored thumbnail
(48x48 grey + colour signature) at search time: nothing more is stored, nothing is decoded
again. Each view then goes through the global matching stages (candidates, the rule's
verification with its colour, texture and frame checks) as a query of its own.

Pure: numpy and Pillow on arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from .fingerprint import compute, thumb_parts
from .inner_box import inner_box
from .model import Fingerprint
from .recipe import COLOUR_SIZE, THUMB_SIZE

#: The views, as fractions (left, top, right, bottom) of the picture: the four halves.
#: Quarters were tried and dropped: on the bench smooth pool a quarter of one soft wallpaper
#: passed for another whole one (a quarter's 24x24 pixels of thumbnail carry too little).
VIEWS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 1.0, 1.0),  # left and right halves
    (0.0, 0.0, 1.0, 0.5), (0.0, 0.5, 1.0, 1.0),  # top and bottom halves
)


def _cut(a: np.ndarray, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    rows, cols = a.shape
    l, t, r, b = (round(box[0] * cols), round(box[1] * rows), round(box[2] * cols),
                  round(box[3] * rows))
    part = Image.fromarray(np.ascontiguousarray(a[t:b, l:r]), "L")
    return np.asarray(part.resize((size, size), Image.Resampling.BICUBIC))


#: An inner picture's outer RIM pixels of the thumbnail (and RIM_COLOUR of the colour
#: signature) are the frame's and the picture's mixed by the thumbnail's resampling (a
#: Lanczos edge rings two or three pixels in): they are extrapolated from the picture's
#: next pixels instead. A picture whose box is small enough to need a view is soft, so the
#: straight-line guess is close.
RIM = 2.5
RIM_COLOUR = 1.0


def _inner_cut(a: np.ndarray, box: tuple[float, float, float, float], size: int,
               rim: float) -> np.ndarray:
    """The inner picture's *box* (fractions, sub-pixel) of *a* resampled to *size* square
    (uint8), its outer *rim* pixels of *a* extrapolated along the picture's slope inside them."""
    rows, cols = a.shape
    l, t, r, b = box[0] * cols, box[1] * rows, box[2] * cols, box[3] * rows
    whole = Image.fromarray(np.asarray(a, np.float32), "F")
    v = np.array(whole.resize((size, size), Image.Resampling.BICUBIC, box=(l, t, r, b)),
                 np.float32)
    nx = min(size // 3, int(np.ceil(rim * size / max(r - l, 1e-6))))
    ny = min(size // 3, int(np.ceil(rim * size / max(b - t, 1e-6))))
    for n, view in ((nx, v.T), (ny, v)):  # columns, then rows (views write through)
        if n < 1:
            continue
        k = np.arange(n, 0, -1, dtype=np.float32)[:, None]  # distance from the first kept
        # the slope over the next n lines (one line's step is mostly noise)
        view[:n] = view[n] + k * (view[n] - view[2 * n]) / n
        view[-n:] = view[-n - 1] + k[::-1] * (view[-n - 1] - view[-2 * n - 1]) / n
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def inner_print(blob: np.ndarray) -> tuple[tuple[float, float, float, float], Fingerprint] | None:
    """The view of the picture shown inside a frame in a stored thumbnail (inner_box.py):
    (box, Fingerprint), or None when it has no such picture. Unlike a half, a flat inner
    picture (a soft gradient in a window) is kept: flat pictures are checked against flat
    pictures only, pixel for pixel."""
    grey, colour = thumb_parts(blob)
    inner = inner_box(grey)
    if inner is None:
        return None
    c = None if colour is None else np.stack(
        [_inner_cut(p, inner, COLOUR_SIZE, RIM_COLOUR) for p in colour])
    return inner, compute(_inner_cut(grey, inner, THUMB_SIZE, RIM), c)


def view_prints(blob: np.ndarray) -> list[tuple[tuple[float, float, float, float], Fingerprint]]:
    """Fingerprint each of VIEWS of a stored thumbnail (rows x THUMB_SIZE uint8, as
    Store.thumbs gives it), and the box of a picture shown inside a frame (inner_box.py) when
    it has one: (box, Fingerprint) per view; none for a flat picture's halves."""
    grey, colour = thumb_parts(blob)
    out = []
    for box in VIEWS:
        g = _cut(grey, box, THUMB_SIZE)
        c = None if colour is None else np.stack([_cut(p, box, COLOUR_SIZE) for p in colour])
        fp = compute(g, c)
        if not fp.flat:
            out.append((box, fp))
    inner = inner_print(blob)  # a picture shown inside a frame (a screenshot's window)
    if inner is not None:
        out.append(inner)
    return out


#: A thumbnail whose grey levels and colour signature vary by less than this (standard
#: deviation, grey levels) is a uniform fill: a lens-cap shot, a blank page, a solid colour.
#: Such a picture says nothing but its colour, and any region of that colour in another
#: picture (a dark rectangle in a drawing, framed so that it reads as a picture in a window)
#: looks like it: a part view never matches it, nor is one (UNIFORM_STD). Measured on stored
#: thumbnails: black frames with sensor noise 0.4 (colour 0.0), the flat rectangles of
#: generated drawings 0.0-0.5 grey; the soft wallpapers a part view exists for, 2.96 (soft
#: facets) and 4.7 (a gradient) at their faintest.
UNIFORM_STD = 1.5


def uniform(blob: np.ndarray) -> bool:
    """Is the stored thumbnail *blob* (rows x THUMB_SIZE uint8, grey rows then the colour
    signature's, as Store.thumbs gives it) a uniform fill (UNIFORM_STD)?"""
    grey, colour = thumb_parts(blob)
    if float(np.asarray(grey, np.float32).std()) >= UNIFORM_STD:
        return False
    return colour is None or float(np.asarray(colour, np.float32).reshape(2, -1).std(axis=1).max()) < UNIFORM_STD


#: A thumbnail whose grey levels lie within this much (mean absolute deviation, grey levels) of
#: their best-fitting plane, and whose colour signature's channels within as much of theirs,
#: is a plain ramp: a smooth linear gradient. A ramp has no parts: each half of it is a ramp
#: again, so a half of one gradient matches the whole of any other gradient of that direction
#: and those colours, and no keypoint can tell them apart (a gradient has none): a ramp's
#: halves are not searched (index: its views). A gradient shown inside a window is still
#: found through the window's inner view: the screenshot as a whole is no ramp. Measured on
#: stored thumbnails: generated linear and diagonal gradients 0.28-0.37 grey (colour up to
#: 0.44); the bench's pictures whose halves part views match, 9.1 (smooth pool) and 13.5
#: (dev) at their plainest. Ours.
RAMP_RESIDUAL = 1.0


def _off_plane(a: np.ndarray) -> float:
    """Mean absolute deviation of the 2-D array *a* from its least-squares plane."""
    h, w = a.shape
    yy, xx = np.mgrid[0:h, 0:w]
    design = np.stack([np.ones(h * w), xx.ravel(), yy.ravel()], axis=1)
    values = np.asarray(a, np.float64).ravel()
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return float(np.abs(values - design @ coef).mean())


def ramp(blob: np.ndarray) -> bool:
    """Is the stored thumbnail *blob* (as uniform takes it) a plain ramp (RAMP_RESIDUAL): its
    grey levels, and each channel of its colour signature, a plane?"""
    grey, colour = thumb_parts(blob)
    if _off_plane(grey) >= RAMP_RESIDUAL:
        return False
    return colour is None or all(_off_plane(c) < RAMP_RESIDUAL for c in colour)


def area(box: Sequence[float]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])
