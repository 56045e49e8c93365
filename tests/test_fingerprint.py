"""Fingerprints: imagehash equivalence, orientation algebra, borders, flat pictures."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from helpers import make_image
from PIL import Image, ImageOps

from imgfind import fingerprint as F
from imgfind.bits import hamming
from imgfind.layout import N_HASHES, N_PHASH, ORIENTATION_NAMES
from imgfind.recipe import THUMB_SIZE


def gray(seed: int = 0, size=(320, 240)) -> np.ndarray:
    return np.asarray(make_image(None, seed=seed, size=size).convert("L"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_upright_phash_is_imagehash_phash(seed):
    g = gray(seed)
    expected = int(str(imagehash.phash(Image.fromarray(g))), 16)
    assert F.phashes(g)[0] == expected


def test_upright_dhash_is_imagehash_dhash():
    g = gray(5)
    assert F.dhashes(g)[0] == int(str(imagehash.dhash(Image.fromarray(g))), 16)


@pytest.mark.parametrize("k", range(8))
def test_orientation_hashes_match_hashing_the_oriented_picture(k):
    """Deriving an orientation from the one DCT equals hashing the rotated/flipped pixels."""
    g = gray(7)
    derived = F.phashes(g)[k]
    direct = F.phashes(F.orient(g, k))[0]
    assert hamming(derived, direct) <= 2
    assert hamming(F.dhashes(g)[k], F.dhashes(F.orient(g, k))[0]) <= 4


def test_named_orientations_are_what_pillow_calls_them():
    g = gray(3)
    pil = Image.fromarray(g)
    cases = {
        "mirrored": Image.Transpose.FLIP_LEFT_RIGHT,
        "rotated 180°": Image.Transpose.ROTATE_180,
        "rotated 90° counter-clockwise": Image.Transpose.ROTATE_90,
        "rotated 90° clockwise": Image.Transpose.ROTATE_270,
    }
    for name, op in cases.items():
        k = ORIENTATION_NAMES.index(name)
        assert np.array_equal(F.orient(g, k), np.asarray(pil.transpose(op))), name


def test_small_change_small_distance_large_change_large_distance():
    im = make_image(None, seed=11)
    g = np.asarray(im.convert("L"))
    small = np.asarray(im.resize((160, 120)).convert("L"))
    other = gray(12)
    assert hamming(F.phashes(g)[0], F.phashes(small)[0]) <= 4
    assert hamming(F.phashes(g)[0], F.phashes(other)[0]) > 12


@pytest.mark.parametrize("fill", [0, 255, 128])
def test_uniform_border_is_trimmed(fill):
    im = make_image(None, seed=4)
    bordered = np.asarray(ImageOps.expand(im, border=(30, 20), fill=(fill,) * 3).convert("L"))
    left, top, right, bottom = F.trim_box(bordered)
    assert abs(left - 30) <= 2 and abs(top - 20) <= 2
    assert abs(bordered.shape[1] - right - 30) <= 2 and abs(bordered.shape[0] - bottom - 20) <= 2


def test_dark_edge_that_is_part_of_the_picture_is_kept():
    g = gray(8).copy()
    g[: int(g.shape[0] * 0.45)] = 0  # a black sky over almost half the picture
    left, top, right, bottom = F.trim_box(g)
    assert top == 0 and (left, right, bottom) == (0, g.shape[1], g.shape[0])


def test_no_border_no_trim():
    g = gray(9)
    assert F.trim_box(g) == (0, 0, g.shape[1], g.shape[0])


def test_flat_pictures_are_flagged():
    assert F.compute(np.full((100, 100), 200, np.uint8)).flat
    assert not F.compute(gray(1)).flat


def test_fingerprint_layout():
    fp = F.compute(gray(2))
    assert fp.hashes.dtype == np.uint64 and fp.hashes.shape == (N_HASHES,)
    assert int(fp.hashes[0]) == fp.phash and int(fp.hashes[N_PHASH]) == fp.dhash
    assert len(fp.thumb) == THUMB_SIZE ** 2
