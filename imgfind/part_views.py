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


def view_prints(blob: np.ndarray) -> list[tuple[tuple[float, float, float, float], Fingerprint]]:
    """Fingerprint each of VIEWS of a stored thumbnail (rows x THUMB_SIZE uint8, as
    Store.thumbs gives it): (box, Fingerprint) per view; none for a flat picture's views."""
    grey, colour = thumb_parts(blob)
    out = []
    for box in VIEWS:
        g = _cut(grey, box, THUMB_SIZE)
        c = None if colour is None else np.stack([_cut(p, box, COLOUR_SIZE) for p in colour])
        fp = compute(g, c)
        if not fp.flat:
            out.append((box, fp))
    return out


def area(box: Sequence[float]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])
