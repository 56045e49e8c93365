"""resample.resize_many gives Pillow's bilinear pixels exactly, and Side.views / colour_views
(the batched views verification uses) give exactly the views Side.view / colour_view give one
by one, for generated pictures with and without borders."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from imgfind import resample
from imgfind.analyse import analyse
from imgfind.fingerprint import stored_thumb
from imgfind.layout import CROP_VIEWS, PRIMARY_VIEWS
from imgfind.model import FileStat
from imgfind.recipe import THUMB_SIZE
from imgfind.side import Side

from helpers import make_image


def pillow(picture: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(picture), "L")
                      .resize((size, size), Image.Resampling.BILINEAR))


@pytest.mark.parametrize("size,top", [(24, 48), (48, 48), (8, 12)])
def test_every_view_shape_resizes_as_pillow(size, top):
    """Every cut shape verification can meet (1..48 px each way to 24 and 48 px, 1..12 to 8
    for colour), down, up and mixed, random and two-level pictures."""
    rng = np.random.default_rng(size)
    for h in range(1, top + 1):
        for w in range(1, top + 1):
            pics = rng.integers(0, 256, (2, h, w), dtype=np.uint8)
            pics[1] = np.where(pics[1] > 127, 255, 0)
            got = resample.resize_many(pics, size)
            for p, g in zip(pics, got):
                assert np.array_equal(g, pillow(p, size)), (h, w, size)


@settings(max_examples=80, deadline=None)
@example(h=8, w=3, size=1, seed=3, n=1)  # three test pictures could not tell the orders apart
@given(h=st.integers(1, 70), w=st.integers(1, 70), size=st.integers(1, 64),
       seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4))
def test_resize_many_equals_pillow(h, w, size, seed, n):
    pics = np.random.default_rng(seed).integers(0, 256, (n, h, w), dtype=np.uint8)
    got = resample.resize_many(pics, size)
    assert got.shape == (n, size, size) and got.dtype == np.uint8
    for p, g in zip(pics, got):
        assert np.array_equal(g, pillow(p, size))


def test_a_shape_no_pass_order_reproduces_falls_back_to_pillow(monkeypatch):
    """If the installed Pillow resized some shape another way, that shape goes to Pillow."""
    resample.pass_order.cache_clear()
    monkeypatch.setattr(resample, "_passes", lambda x, size, vertical_first: x[:, :size, :size] * 0)
    pics = np.random.default_rng(1).integers(0, 256, (3, 40, 30), dtype=np.uint8)
    try:
        assert resample.pass_order(40, 30, 24) is None
        got = resample.resize_many(pics, 24)
    finally:
        resample.pass_order.cache_clear()
    assert all(np.array_equal(g, pillow(p, 24)) for p, g in zip(pics, got))


def test_bad_stacks_raise_value_error():
    with pytest.raises(ValueError):
        resample.resize_many(np.zeros((4, 4), np.uint8), 8)
    with pytest.raises(ValueError):
        resample.resize_many(np.zeros((1, 0, 4), np.uint8), 8)
    with pytest.raises(ValueError):
        resample.resize_many(np.zeros((1, 4, 4), np.uint8), 0)


def _side(tmp_path) -> Side:
    """A side of real fingerprints: photos-like pictures, grey and colour, some with borders."""
    fps = []
    for seed in range(6):
        im = make_image(seed=seed, size=(320 + 17 * seed, 240 - 9 * seed))
        if seed % 3 == 1:  # a bordered copy: its trimmed view differs from its whole view
            framed = Image.new("RGB", (im.width + 60, im.height + 24), (250, 250, 250))
            framed.paste(im, (30, 12))
            im = framed
        if seed == 4:
            im = im.convert("L")
        path = tmp_path / f"p{seed}.png"
        im.save(path)
        st_ = path.stat()
        fps.append(analyse(FileStat(bytes(path), st_.st_size, st_.st_mtime_ns)).fingerprint)
    ids = np.arange(1, len(fps) + 1, dtype=np.int64)
    blobs = {int(i): np.frombuffer(stored_thumb(fp), np.uint8).reshape(-1, THUMB_SIZE)
             for i, fp in zip(ids, fps)}
    return Side(ids, np.stack([fp.hashes for fp in fps]),
                np.array([fp.trim for fp in fps], dtype=np.float32),
                np.array([fp.flat for fp in fps]), lambda want: {int(i): blobs[int(i)] for i in want})


def test_batched_views_equal_views_one_by_one(tmp_path):
    one, many = _side(tmp_path), _side(tmp_path)
    rows = np.arange(len(one))
    one.prefetch(rows)
    many.prefetch(rows)
    assert any(one.trimmed(r) for r in rows)  # bordered pictures are among them
    keys = [(r, v) for r in range(len(one)) for v in range(PRIMARY_VIEWS + len(CROP_VIEWS))] * 2
    for size in (24, 48):
        got = many.views(keys, size)
        for (r, v), g in zip(keys, got):
            want = one.view(r, v, size)
            assert g.dtype == np.uint8 and want.dtype == np.float32
            assert np.array_equal(g.astype(np.float32), want), (r, v, size)
    colours = many.colour_views(keys, 8)
    assert any(c is None for c in colours) and any(c is not None for c in colours)
    for (r, v), c in zip(keys, colours):
        want = one.colour_view(r, v, 8)
        assert (c is None) == (want is None)
        if c is not None:
            assert np.array_equal(c, want), (r, v)


def test_round_clip_rounds_as_pillow_in_place():
    # A pass's fresh product is rounded where it lies (no temporaries at 10^5 views), to
    # Pillow's (sum + half) >> 22 clipped to 0..255, on both sides of each rounding step.
    one = float(1 << resample.PRECISION_BITS)
    sums = np.array([-one, -1.0, 0.0, one / 2 - 1, one / 2, 3 * one / 2 - 1, 3 * one / 2,
                     254.5 * one, 255.5 * one - 1, 255.5 * one, 300 * one])
    want = np.clip((sums.astype(np.int64) + (1 << (resample.PRECISION_BITS - 1)))
                   >> resample.PRECISION_BITS, 0, 255)
    x = sums.copy()
    out = resample._round_clip(x)
    assert out is x
    assert out.tolist() == want.astype(np.float64).tolist()
