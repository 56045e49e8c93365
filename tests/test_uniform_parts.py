"""A uniform fill is no part of another picture (outside case 22: a burst of black lens-cap
shots and unrelated drawings). A drawing with a dark rectangle inside a flat one reads as a
picture shown in a frame (inner_box.py); its view (part_views.inner_print) is then a flat
black picture, and the flat rule matched it to every black frame: the drawing became a
partial member of the black frames' group. A uniform picture says nothing but its colour, so
a part view never matches one, nor is one (part_views.uniform)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import group_names, invoke, invoke_json
from PIL import Image, ImageDraw
from test_inner_views import gradient, radial
from test_partial import window

from imgfind.analyse import fingerprint_file
from imgfind.fingerprint import stored_thumb, thumb_parts
from imgfind.inner_box import inner_box
from imgfind.part_views import uniform
from imgfind.recipe import THUMB_SIZE


def black_frame(seed: int) -> Image.Image:
    """A lens-cap shot: black with faint sensor noise (0..3 grey levels)."""
    noise = np.random.default_rng(seed).integers(0, 4, (300, 400, 3)).astype(np.uint8)
    return Image.fromarray(noise, "RGB")


def drawing(seed: int) -> Image.Image:
    """A soft colour field (a bicubic-upscaled 4x5 grid) with a flat rectangle holding a dark
    one: the dark rectangle has a flat frame around it, like a picture in a window."""
    r = np.random.default_rng(seed)
    im = Image.fromarray(r.integers(0, 256, (4, 5, 3), dtype=np.uint8), "RGB").resize(
        (320, 240), Image.Resampling.BICUBIC)
    d = ImageDraw.Draw(im)
    d.rectangle((110, 50, 250, 190), fill=(80, 110, 150))
    d.rectangle((150, 90, 240, 150), fill=(0, 0, 10))
    return im


def _blob(im: Image.Image, tmp_path) -> np.ndarray:
    """The stored thumbnail of *im* (saved as PNG), as Store.thumbs gives it."""
    path = tmp_path / f"{id(im)}.png"
    im.save(path)
    return np.frombuffer(stored_thumb(fingerprint_file(str(path))), np.uint8).reshape(
        -1, THUMB_SIZE)


def test_the_dark_rectangle_reads_as_a_picture_in_a_frame(tmp_path):
    # the kind this is about: the drawing has an inner box, and it is the dark rectangle
    grey, _ = thumb_parts(_blob(drawing(1), tmp_path))
    box = inner_box(grey)
    assert box is not None
    assert np.allclose(box, (150 / 320, 90 / 240, 241 / 320, 151 / 240), atol=0.03), box


def test_uniform_tells_fills_from_soft_pictures(tmp_path):
    assert uniform(_blob(black_frame(0), tmp_path))
    assert uniform(_blob(Image.new("RGB", (200, 150), (200, 30, 30)), tmp_path))
    for soft in (gradient(2), radial(2), gradient(1).point(lambda v: 100 + v // 4)):
        assert not uniform(_blob(soft, tmp_path))


@pytest.fixture(scope="module")
def fills_library(tmp_path_factory):
    root = tmp_path_factory.mktemp("fills")
    lib = root / "lib"
    lib.mkdir()
    for k in range(3):
        black_frame(k).save(lib / f"black{k}.jpg", quality=90)
    for k in range(3):
        drawing(10 + k).save(lib / f"drawing{k}.jpg", quality=85)
    gradient(1).save(lib / "grad1.jpg", quality=95)
    window(gradient(1)).save(lib / "grad1_shot.png")
    db = str(root / "i.db")
    invoke(CliRunner(), db, "index", str(lib))
    return db, lib


def test_dedupe_keeps_drawings_out_of_the_black_frames(fills_library, runner):
    db, lib = fills_library
    groups = group_names(invoke_json(runner, db, "dedupe"))
    assert ["black0.jpg", "black1.jpg", "black2.jpg"] in groups, groups
    assert not any(name.startswith("drawing") for g in groups for name in g), groups
    # a soft picture inside a window is still found (the kind part views exist for)
    assert ["grad1.jpg", "grad1_shot.png"] in groups, groups


def test_query_of_a_drawing_does_not_find_black_frames(fills_library, runner):
    db, lib = fills_library
    doc = invoke_json(runner, db, "query", str(lib / "drawing0.jpg"))
    names = {m["path"].rsplit("/", 1)[-1] for m in doc["matches"]}
    assert not any(n.startswith("black") for n in names), sorted(names)


def blocks(seed: int) -> Image.Image:
    """A soft colour field with six flat rectangles of random colours over it (the unrelated
    drawings of outside case 22, generated anew)."""
    r = np.random.default_rng(seed)
    im = Image.fromarray(r.integers(0, 256, (4, 5, 3), dtype=np.uint8), "RGB").resize(
        (320, 240), Image.Resampling.BICUBIC)
    d = ImageDraw.Draw(im)
    for _ in range(6):
        x0, y0 = int(r.integers(-40, 300)), int(r.integers(-40, 220))
        d.rectangle((x0, y0, x0 + int(r.integers(20, 160)), y0 + int(r.integers(20, 120))),
                    fill=tuple(int(v) for v in r.integers(0, 256, 3)))
    return im


def _analysed(im: Image.Image, path):
    """Local features, size and grey thumbnail of *im* saved at *path*, as dedupe reads them."""
    from imgfind.analyse import analyse
    from imgfind.crawl import file_stat

    im.save(path, quality=85)
    r = analyse(file_stat(bytes(path), path.stat()))
    blob = np.frombuffer(stored_thumb(r.fingerprint), np.uint8).reshape(-1, THUMB_SIZE)
    return r.local, (r.info.width, r.info.height), thumb_parts(blob)[0]


@pytest.mark.parametrize("pair", [(1116, 1129), (1174, 1250)])
def test_unrelated_drawings_of_flat_shapes_are_no_partial_pair(pair, tmp_path):
    # Found by searching 400 generated drawings (seeds 1000-1399) with partial.verify: two
    # of about 3,000 candidate pairs verified, one picture wholly "inside" the other at 7-14%
    # of it, turned 19 and 57 degrees, first model 10 ratio-test inliers grown to 26-35 by the
    # guided pass: the corners of flat shapes are alike at every scale and turn. Their
    # thumbnails do not agree over the overlap (0.0), which few keypoints must be borne out
    # by (partial_groups.FEW_INLIERS). Outside case 22 (K=500) had four such pairs.
    from imgfind.partial_groups import groupable
    from imgfind.verify_threads import both_ways

    (la, sa, ta), (lb, sb, tb) = (_analysed(blocks(s), tmp_path / f"d{s}.jpg") for s in pair)
    found = both_ways(la, lb, sa, sb, (ta, tb))
    assert found is None or not groupable(found), found


def test_a_drawing_shown_small_inside_a_photo_is_still_a_partial_pair(tmp_path):
    # The other side of FEW_INLIERS: the same kind of drawing really shown inside another
    # picture, turned, verifies on a few dozen keypoints too (44 here), and its thumbnails agree.
    from helpers import make_image

    from imgfind.partial_groups import groupable
    from imgfind.verify_threads import both_ways

    drawing = blocks(1116)
    page = make_image(seed=5, size=(800, 600))
    page.paste(drawing.rotate(12, expand=True, fillcolor=(255, 255, 255)), (300, 200))
    (la, sa, ta), (lb, sb, tb) = (_analysed(im, tmp_path / name)
                                  for im, name in ((drawing, "d.jpg"), (page, "page.jpg")))
    found = both_ways(la, lb, sa, sb, (ta, tb))
    assert found is not None and groupable(found), found
    assert found.cover_a >= 0.9 and abs(found.rotation - 12) < 3, found
