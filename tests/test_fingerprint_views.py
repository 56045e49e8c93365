"""fingerprint.compute cuts every view from one Pillow image and takes the crop views'
medians in one sort: its bits must be exactly those of the plain definitions (np.median per
block, one array slice and one resample per view), on pictures with and without borders,
of any shape."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_image
from PIL import Image, ImageOps

from imgfind import fingerprint as F
from imgfind.layout import N_HASHES, N_ORIENT, N_PHASH, PRIMARY_VIEWS, view_boxes
from imgfind.recipe import THUMB_SIZE


def _plain_phash(block: np.ndarray) -> int:
    return F.bits_to_int(block > np.median(block))


def _plain_phashes(gray: np.ndarray) -> list[int]:
    return [_plain_phash(b) for b in F.oriented_blocks(F.dct_block(gray))]


def _plain_hashes(gray: np.ndarray) -> tuple[np.ndarray, tuple, bytes]:
    """The fingerprint's hash row, trim and thumbnail by the plain definitions."""
    rows, cols = gray.shape
    left, top, right, bottom = F.trim_box(gray)
    trim = (left / cols, top / rows, right / cols, bottom / rows)
    hashes = np.zeros(N_HASHES, dtype=np.uint64)
    whole = _plain_phashes(gray)
    trimmed = gray if trim == (0.0, 0.0, 1.0, 1.0) else F.crop(gray, trim)
    hashes[:N_ORIENT] = whole
    hashes[N_ORIENT:2 * N_ORIENT] = _plain_phashes(trimmed)
    for i, box in enumerate(view_boxes(trim)[PRIMARY_VIEWS:]):
        hashes[2 * N_ORIENT + i] = _plain_phash(F.dct_block(F.crop(gray, box)))
    hashes[N_PHASH:N_PHASH + N_ORIENT] = F.dhashes(gray)
    hashes[N_PHASH + N_ORIENT:] = F.dhashes(trimmed)
    thumb = F.quantize_thumb(F.resample(gray, (THUMB_SIZE, THUMB_SIZE))).tobytes()  # recipe 10: thumb_step
    return hashes, trim, thumb


def _pictures() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    out = []
    for seed, size in [(0, (128, 96)), (1, (96, 128)), (2, (128, 128)), (3, (128, 40)),
                       (4, (70, 128)), (5, (65, 64))]:
        im = make_image(None, seed=seed, size=size).convert("L")
        out.append(np.asarray(im))
        # the same picture inside a black mat and a white letterbox: trimmed views
        framed = ImageOps.expand(im.resize((size[0] * 3 // 4, size[1] * 3 // 4)),
                                 border=(size[0] // 8, size[1] // 8), fill=0)
        out.append(np.asarray(framed))
        boxed = Image.new("L", size, 255)
        boxed.paste(im.resize((size[0], size[1] * 2 // 3)), (0, size[1] // 6))
        out.append(np.asarray(boxed))
    for shape in [(1, 1), (3, 8), (8, 3), (9, 9), (64, 64), (128, 5)]:
        out.append(rng.integers(0, 256, shape, dtype=np.uint8))
        out.append(np.full(shape, 77, dtype=np.uint8))
    out.append(np.tile(np.arange(128, dtype=np.uint8), (96, 1)))  # a gradient: many ties
    return out


@pytest.mark.parametrize("i", range(len(_pictures())))
def test_compute_gives_the_bits_of_the_plain_definitions(i):
    gray = _pictures()[i]
    fp = F.compute(gray)
    hashes, trim, thumb = _plain_hashes(gray)
    assert fp.trim == trim
    assert fp.thumb == thumb
    differ = np.flatnonzero(fp.hashes != hashes)
    assert differ.size == 0, f"{gray.shape}: columns {differ.tolist()} differ"
    assert fp.phash == int(hashes[0]) and fp.dhash == int(hashes[N_PHASH])


def test_fast_median_is_numpys_median_on_ties_and_odd_sizes():
    rng = np.random.default_rng(3)
    rows = np.vstack([rng.integers(-3, 3, 64).astype(np.float64) for _ in range(50)]
                     + [rng.normal(size=64) for _ in range(50)])
    got = F._phash_rows(rows)
    assert [int(h) for h in got] == [_plain_phash(r) for r in rows]
    odd = rng.normal(size=(5, 63))
    assert [int(h) for h in F._phash_rows(odd)] == [_plain_phash(r) for r in odd]
