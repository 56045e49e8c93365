"""Verification scores on stacks of views: what they must say, and that batching changes nothing."""

from __future__ import annotations

import numpy as np
from helpers import make_image
from PIL import Image

from imgfind import verify


def views(seed: int, size: int, *, frame: bool = False) -> np.ndarray:
    """A photo-like view as float32 grey levels; with *frame*, inside a fixed grey frame."""
    im = make_image(None, seed=seed, size=(size * 4, size * 4)).convert("L")
    if frame:
        canvas = Image.new("L", im.size, 90)
        canvas.paste(im.resize((im.width // 2, im.height // 2)), (im.width // 4, im.height // 4))
        im = canvas
    return np.asarray(im.resize((size, size), Image.Resampling.BILINEAR), np.float32)


def test_same_picture_scores_one_and_others_score_low():
    a, b = views(1, 24), views(2, 24)
    sims = verify.similarity(np.stack([a, a]), np.stack([a, b]))
    assert sims[0] > 0.999
    assert sims[1] < 0.5


def test_brightness_edit_is_undone_even_when_highlights_clip():
    a = views(3, 24)
    brighter = np.clip(a * 1.4 + 10, 0, 255).astype(np.float32)
    assert verify.similarity(a[None], brighter[None])[0] > 0.9


def test_different_picture_in_the_same_frame_fails_locally():
    a, b = views(4, 48, frame=True), views(5, 48, frame=True)
    local = verify.window_similarity(np.stack([a, a]), np.stack([a, b]))
    assert local[0] > 0.99
    assert local[1] < 0.4


def test_a_batch_scores_each_pair_as_alone():
    rng = np.random.default_rng(0)
    xs = [views(s, 48) for s in range(6)] + [np.full((48, 48), 128, np.float32)]
    ys = [np.clip(x * rng.uniform(0.7, 1.3) + rng.normal(0, 4, x.shape), 0, 255).astype(np.float32)
          for x in xs[:3]] + xs[3:5][::-1] + [xs[5], np.full((48, 48), 250, np.float32)]
    x, y = np.stack(xs), np.stack(ys)
    small = np.stack([np.asarray(Image.fromarray(v.astype(np.uint8)).resize((24, 24))) for v in xs])
    small_y = np.stack([np.asarray(Image.fromarray(v.astype(np.uint8)).resize((24, 24))) for v in ys])
    small, small_y = small.astype(np.float32), small_y.astype(np.float32)
    together = verify.similarity(small, small_y)
    alone = [verify.similarity(small[i:i + 1], small_y[i:i + 1])[0] for i in range(len(xs))]
    assert np.allclose(together, alone, atol=1e-6)
    together = verify.window_similarity(x, y)
    alone = [verify.window_similarity(x[i:i + 1], y[i:i + 1])[0] for i in range(len(xs))]
    assert np.allclose(together, alone, atol=1e-6)
