"""Soft pictures inside a frame (issue 12): a gradient or soft abstract wallpaper shown at
about half its size inside an application window has no keypoints of its own, and the window
is most of the screenshot's pixels. The picture's box inside the frame (inner_box.py) is cut
out of the stored thumbnail and matched by the global stages (part_views.inner_print); two
screenshots whose frames agree are one picture only when the pictures inside them match too
(index._inner_differ)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import group_names, invoke, invoke_json, textured
from PIL import Image, ImageDraw, ImageFilter
from test_partial import window

from imgfind import keypoints
from imgfind.fingerprint import thumb_parts
from imgfind.inner_box import inner_box
from imgfind.part_views import inner_print


def gradient(seed: int, w: int = 960, h: int = 600) -> Image.Image:
    """A linear two-colour gradient at a random angle: no corners at all."""
    r = np.random.default_rng(1000 + seed)
    angle = r.uniform(0, np.pi)
    x, y = np.meshgrid(np.linspace(-1, 1, w), np.linspace(-1, 1, h))
    t = np.cos(angle) * x + np.sin(angle) * y
    t = (t - t.min()) / (t.max() - t.min())
    c0, c1 = r.integers(0, 255, 3), r.integers(0, 255, 3)
    return Image.fromarray((c0 + t[..., None] * (c1 - c0)).astype(np.uint8), "RGB")


def radial(seed: int, w: int = 960, h: int = 600) -> Image.Image:
    """Four soft colour glows blended: a soft abstract wallpaper without corners."""
    r = np.random.default_rng(2000 + seed)
    x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
    acc, weight = np.zeros((h, w, 3)), np.zeros((h, w))
    for colour in r.integers(0, 255, (4, 3)):
        cx, cy, s = r.uniform(0, 1), r.uniform(0, 1), r.uniform(0.2, 0.6)
        g = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
        acc += g[..., None] * colour
        weight += g
    return Image.fromarray(np.clip(acc / weight[..., None], 0, 255).astype(np.uint8), "RGB")


def blobs(seed: int, w: int = 960, h: int = 600) -> Image.Image:
    """gradient(seed) with large blurred blobs over it: another picture, alike at 24 px."""
    r = np.random.default_rng(3000 + seed)
    base = gradient(seed, w, h)
    layer, mask = Image.new("RGB", (w, h)), Image.new("L", (w, h), 0)
    d, dm = ImageDraw.Draw(layer), ImageDraw.Draw(mask)
    for _ in range(5):
        cx, cy, rad = int(r.integers(0, w)), int(r.integers(0, h)), int(r.integers(60, 250))
        d.ellipse((cx - rad, cy - rad, cx + rad, cy + rad),
                  fill=tuple(int(v) for v in r.integers(0, 255, 3)))
        dm.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=int(r.integers(60, 140)))
    return Image.composite(layer, base, mask.filter(ImageFilter.GaussianBlur(30)))


def _thumb(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("L").resize((48, 48), Image.Resampling.LANCZOS))


def test_inner_box_is_the_picture_inside_the_window():
    # window(): the picture at 60% of 960x600, pasted at (335, 170) of 1056x660
    box = inner_box(_thumb(window(gradient(1))))
    assert box is not None
    assert np.allclose(box, (335 / 1056, 170 / 660, 911 / 1056, 530 / 660), atol=0.01), box


@pytest.mark.parametrize("picture", [gradient(1), radial(2), textured(3, 960, 600)],
                         ids=["gradient", "radial", "textured"])
def test_a_picture_without_a_frame_has_no_inner_box(picture):
    assert inner_box(_thumb(picture)) is None


def test_noise_has_no_inner_box():
    noise = np.random.default_rng(0).integers(0, 256, (48, 48)).astype(np.uint8)
    assert inner_box(noise) is None


def test_inner_view_of_a_soft_picture_is_kept_even_when_flat():
    # the halves of a flat picture are dropped (they would match any flat picture); the
    # picture inside a window is checked as flat pictures are, so it is kept
    shot = window(gradient(2).point(lambda v: 100 + v // 16))
    blob = np.asarray(shot.convert("L").resize((48, 48), Image.Resampling.LANCZOS))
    found = inner_print(blob)
    assert found is not None and found[1].flat
    grey, _ = thumb_parts(blob)
    assert grey.shape == (48, 48)


@pytest.fixture(scope="module")
def soft_library(tmp_path_factory):
    """Soft wallpapers without keypoints, their screenshots in one window, a picture alike
    at 24 px (blobs over the same gradient) and its screenshot, and textured photos."""
    root = tmp_path_factory.mktemp("inner")
    lib = root / "lib"
    lib.mkdir()
    gradient(1).save(lib / "grad1.jpg", quality=95)
    window(gradient(1)).save(lib / "grad1_shot.png")
    radial(2).save(lib / "radial2.jpg", quality=95)
    window(radial(2)).save(lib / "radial2_shot.jpg", quality=95)
    blobs(1).save(lib / "blobs1.jpg", quality=95)
    window(blobs(1)).save(lib / "blobs1_shot.png")
    for s in range(4):
        textured(40 + s, 960, 600).save(lib / f"photo{s}.jpg", quality=92)
    db = str(root / "i.db")
    invoke(CliRunner(), db, "index", str(lib))
    return db, lib


def test_soft_pictures_have_no_local_features():
    # the kind this is about: the keypoints cannot find these inside a window
    for im in (gradient(1), radial(2)):
        g = np.asarray(im.convert("L").resize((384, 240), Image.Resampling.BOX))
        assert keypoints.extract(g) is None


def test_query_finds_a_soft_picture_inside_a_screenshot(soft_library, runner):
    db, lib = soft_library
    for shot, original in (("grad1_shot.png", "grad1.jpg"), ("radial2_shot.jpg", "radial2.jpg")):
        doc = invoke_json(runner, db, "query", str(lib / shot))
        names = {m["path"].rsplit("/", 1)[-1]: m for m in doc["matches"]}
        assert original in names, (shot, sorted(names))
        # the original is inside the query, about 30% of it (576x360 of 1056x660)
        assert "inside the query" in names[original]["relation"], names[original]
        assert {"blobs1.jpg", "photo0.jpg", "radial2.jpg" if original == "grad1.jpg"
                else "grad1.jpg"}.isdisjoint(names), (shot, sorted(names))


def test_dedupe_relates_each_soft_screenshot_to_its_picture_only(soft_library, runner):
    db, lib = soft_library
    groups = group_names(invoke_json(runner, db, "dedupe"))
    assert ["grad1.jpg", "grad1_shot.png"] in groups, groups
    assert ["radial2.jpg", "radial2_shot.jpg"] in groups, groups
    # two screenshots of the window around different pictures, alike at 24 px: never one group
    assert not any({"grad1_shot.png", "blobs1_shot.png"} <= set(g) for g in groups), groups
    assert not any({"grad1.jpg", "blobs1.jpg"} <= set(g) for g in groups), groups
