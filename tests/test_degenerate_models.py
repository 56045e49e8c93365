"""False partial pairs of unrelated pictures from new-user trial 11b (issue 12), by kind, on
pictures generated here with Pillow:

* degenerate geometry: flat drawings that share one corner-to-corner line fit a similarity
  through dozens of keypoints on that line (partial.on_one_line);
* a few places: photos of random shapes on one kind of smooth colour field, where the rim of
  one alike shape (or a few alike corners), found at several pyramid levels, gives a model
  dozens of inliers on a few places, over pictures that do not agree (partial.FEW_PLACES).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import invoke_json
from PIL import Image, ImageDraw

from imgfind import partial


def drawing(seed: int, w: int = 1200, h: int = 900) -> Image.Image:
    """A flat drawing: five plain shapes on white and a black line from corner to corner."""
    r = np.random.default_rng(seed)
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    for _ in range(5):
        x0, y0 = int(r.integers(0, w - 200)), int(r.integers(0, h - 200))
        s = int(r.integers(60, 300))
        c = tuple(int(v) for v in r.integers(0, 256, 3))
        (d.ellipse if r.random() < 0.5 else d.rectangle)([x0, y0, x0 + s, y0 + s], fill=c)
    d.line([0, 0, w, h], fill=(0, 0, 0), width=5)
    return im


def shapes_on_field(seed: int, w: int = 800, h: int = 600, ring: tuple | None = None
                    ) -> Image.Image:
    """A photo-like picture: a smooth colour field whose blue channel every such picture
    shares, sensor noise, a dozen plain ellipses and rectangles of random colours, and
    *ring* (centre x, y, radii, colour): one more ellipse."""
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    a = np.stack([120 + 100 * np.sin(x * r.uniform(2, 6) + r.uniform(0, 6)),
                  120 + 90 * np.cos(y * r.uniform(2, 6) + x * 2), 80 + 100 * x * y], -1)
    a += r.normal(0, 12, a.shape)
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(12):
        x0, y0 = r.integers(0, w), r.integers(0, h)
        s = r.integers(30, w // 4)
        c = tuple(int(v) for v in r.integers(0, 256, 3))
        [d.ellipse, d.rectangle][r.integers(0, 2)](
            [x0, y0, x0 + s, y0 + int(s * r.uniform(.5, 1.5))], fill=c)
    if ring is not None:
        cx, cy, rx, ry, colour = ring
        d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=colour)
    return im


def _ring(i: int) -> tuple:
    """An ellipse, its size and colour alternating from picture to picture."""
    r = np.random.default_rng(500 + i)
    k = 0.82 if i % 2 else 1.0
    return (int(r.integers(150, 650)), int(r.integers(120, 480)), int(38 * k), int(26 * k),
            (245, 240, 245) if i % 2 else (90, 220, 90))


# Failed on main e142d20: 3 partial groups of two (70-86 inliers along the shared line).
def test_drawings_that_share_a_line_are_no_partial_pair(runner, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for seed in range(8):
        drawing(seed).save(lib / f"d{seed}.png")
    doc = invoke_json(runner, str(tmp_path / "i.db"), "dedupe", str(lib))
    assert doc["groups"] == [], [[f["path"] for f in g["files"]] for g in doc["groups"]]


def test_a_crop_of_a_drawing_with_a_line_is_still_a_partial_member(runner, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    im = drawing(3)
    im.save(lib / "d.png")
    im.crop((150, 100, 1050, 800)).save(lib / "crop.png")
    doc = invoke_json(runner, str(tmp_path / "i.db"), "dedupe", str(lib))
    assert sorted(f["path"].rsplit("/", 1)[1] for g in doc["groups"] for f in g["files"]) == [
        "crop.png", "d.png"], doc["groups"]


# Failed on main e142d20: one pair, "contains the first file, as 24% of it", 43 inliers on
# 16 places, agreement 0.0. partial.PLACES_RULE is off (it cost a perspective copy on the
# bench smooth pool), so this kind is open again.
@pytest.mark.xfail(strict=True, reason="partial.PLACES_RULE off: the bench lost a perspective copy")
def test_photos_of_shapes_on_one_colour_field_are_no_partial_pair(runner, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(12):
        shapes_on_field(2000 + i, ring=_ring(i)).save(lib / f"e{i}.jpg", quality=85)
    doc = invoke_json(runner, str(tmp_path / "i.db"), "dedupe", str(lib))
    assert doc["groups"] == [], [[f["path"] for f in g["files"]] for g in doc["groups"]]


def test_a_crop_of_a_photo_of_shapes_is_still_a_partial_member(runner, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    im = shapes_on_field(2003, 1200, 900, _ring(3))
    im.save(lib / "p.jpg", quality=90)
    im.crop((200, 150, 1000, 750)).save(lib / "crop.jpg", quality=90)
    doc = invoke_json(runner, str(tmp_path / "i.db"), "dedupe", str(lib))
    assert sorted(f["path"].rsplit("/", 1)[1] for g in doc["groups"] for f in g["files"]) == [
        "crop.jpg", "p.jpg"], doc["groups"]


def test_points_on_one_line_and_spread_points():
    t = np.linspace(0, 300, 60)
    line = np.stack([t, 0.75 * t + np.random.default_rng(1).normal(0, 1.5, 60)], axis=1)
    assert partial.on_one_line(line)
    few_off = np.vstack([line, [[20, 200], [250, 30], [100, 250]]])
    assert partial.on_one_line(few_off)  # a few coincident corners off it do not carry it
    grid = np.stack(np.meshgrid(np.arange(0, 300, 30), np.arange(0, 240, 30)), -1).reshape(-1, 2)
    assert not partial.on_one_line(grid.astype(float))
    assert not partial.on_one_line(np.vstack([line, grid]))  # a line in a real picture


@pytest.mark.parametrize("n,copies", [(1, 5), (8, 3)])
def test_places_counts_a_corner_found_at_several_levels_once(n, copies):
    spots = np.arange(n)[:, None] * np.array([[40.0, 25.0]])
    pts = np.repeat(spots, copies, axis=0) + np.random.default_rng(2).uniform(
        -1.5, 1.5, (n * copies, 2))
    assert partial.places(pts) == n
