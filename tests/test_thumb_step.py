"""Thumbnail grey steps follow the picture (fingerprint.thumb_step, recipe 10, issue 15).

A smooth picture (a gradient, or any picture with one smooth block) keeps every grey level, so
its brightness, contrast and gamma edits still verify; a picture textured everywhere is kept in
coarser steps, its rounding error below its own detail, and packs smaller.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from helpers import make_image
from PIL import Image, ImageEnhance, ImageFilter

from imgfind import Index, Settings
from imgfind.fingerprint import compute, quantize_thumb, resample, stored_thumb, thumb_step
from imgfind.recipe import THUMB_SIZE, THUMB_STEP_BLOCK, THUMB_STEP_MAX
from imgfind.thumbcodec import pack, unpack


def gradient(w: int = 640, h: int = 480, seed: int = 0) -> Image.Image:
    """A soft wallpaper: a diagonal ramp bent by two wide, faint bumps (no edge anywhere)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    v = 50 + 140 * (xx / w * 0.6 + yy / h * 0.4)
    for _ in range(2):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(w / 4, w / 2)
        v += 25 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    grey = np.clip(v, 0, 255).astype(np.uint8)
    return Image.merge("RGB", [Image.fromarray(grey), Image.fromarray(grey[::-1].copy()),
                               Image.fromarray(grey)])


def texture(w: int = 640, h: int = 480, seed: int = 0) -> Image.Image:
    """Grass-like texture: coarse noise at the thumbnail's own scale, everywhere."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(30, 226, (h // 8, w // 8, 3)).astype(np.uint8)
    im = Image.fromarray(cells, "RGB").resize((w, h), Image.Resampling.BICUBIC)
    return im.filter(ImageFilter.GaussianBlur(1.5))


def _thumb(im: Image.Image) -> np.ndarray:
    """The thumbnail before any step: the Lanczos resample fingerprint.compute makes."""
    return resample(np.asarray(im.convert("L")), (THUMB_SIZE, THUMB_SIZE))


def gamma(im: Image.Image, g: float) -> Image.Image:
    lut = [min(255, round(255 * (i / 255) ** g)) for i in range(256)] * 3
    return im.point(lut)


def test_a_smooth_gradient_keeps_every_grey_level():
    for seed in range(3):
        im = gradient(seed=seed)
        raw = _thumb(im)
        assert thumb_step(raw) == 1
        fp = compute(np.asarray(im.convert("L")))
        assert fp.thumb == raw.tobytes()  # every level, bit for bit
    yy, xx = np.mgrid[0:THUMB_SIZE, 0:THUMB_SIZE]
    assert thumb_step((40 + 3 * xx + 2 * yy).astype(np.uint8)) == 1  # a plane: no 2-D detail


def test_one_smooth_block_keeps_a_textured_picture_at_every_level():
    thumb = _thumb(texture()).copy()
    assert thumb_step(thumb) > 1
    side = 2 * THUMB_STEP_BLOCK  # a patch of sky that holds one whole block and its edges
    thumb[8:8 + side, 16:16 + side] = 120
    assert thumb_step(thumb) == 1
    assert (quantize_thumb(thumb) == thumb).all()


def test_a_textured_picture_is_kept_coarser_below_its_own_detail_and_packs_smaller():
    for seed in range(3):
        im = texture(seed=seed)
        raw = _thumb(im)
        step = thumb_step(raw)
        assert 1 < step <= THUMB_STEP_MAX
        fp = compute(np.asarray(im.convert("L")))
        q = np.frombuffer(fp.thumb, np.uint8).reshape(THUMB_SIZE, THUMB_SIZE)
        err = raw.astype(int) - q.astype(int)
        assert err.min() >= -(step // 2) and err.max() <= step - 1 - step // 2
        assert (q % step == step // 2).all() or (q == 255).any()  # on the step's lattice
        assert (quantize_thumb(q, step) == q).all()
        kept, every = pack(stored_thumb(fp)), pack(raw.tobytes())
        assert len(kept) < 0.85 * len(every)
        assert unpack(kept) == fp.thumb  # exact: the quantized levels are what is stored


def test_make_image_photos_with_a_smooth_part_keep_every_level():
    """The tests' photo-like pictures have smooth shapes: every level, as before recipe 10."""
    for seed in range(4):
        im = make_image(seed=seed)
        assert compute(np.asarray(im.convert("L"))).thumb == _thumb(im).tobytes()


def _groups(tmp_path: Path, folder: Path) -> list[set[str]]:
    with Index.open(str(tmp_path / "i.db"), Settings(jobs=1)) as index:
        index.update([str(folder)])
        return [{os.path.basename(m.file.path) for m in g.members} for g in index.groups()]


def test_brightness_and_gamma_edits_of_smooth_and_textured_pictures_still_verify(tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    expected = []
    for stem, im in (("wall", gradient(seed=4)), ("grass", texture(seed=5))):
        im.save(folder / f"{stem}.jpg", quality=92)
        ImageEnhance.Brightness(im).enhance(1.25).save(folder / f"{stem}-bright.jpg", quality=92)
        ImageEnhance.Brightness(im).enhance(0.8).save(folder / f"{stem}-dark.jpg", quality=92)
        gamma(im, 0.7).save(folder / f"{stem}-gamma.jpg", quality=92)
        ImageEnhance.Contrast(im).enhance(1.3).save(folder / f"{stem}-contrast.jpg", quality=92)
        expected.append({f"{stem}{s}.jpg" for s in ("", "-bright", "-dark", "-gamma", "-contrast")})
    steps = {p.name: thumb_step(_thumb(Image.open(p))) for p in folder.iterdir()}
    assert all(steps[n] == 1 for n in expected[0]), steps  # the wallpaper: every level
    assert all(steps[n] > 1 for n in expected[1]), steps  # the grass: coarser, copies too
    groups = _groups(tmp_path, folder)
    assert sorted(groups, key=sorted) == sorted(expected, key=sorted), groups
