"""Whole copies of a picture stay whole copies, whatever file heads their group (new-user trial
of session 10, issue 12: 12 of 157 whole-copy pairs lost). A crop or a phone screenshot that
partial matching ranks before a photo must not turn the photo's PNG, JPEG and q35 copies into
"partial members" of itself: the plan keeps one of them and removes the others, and keeps the
crop or screenshot (another picture). Pictures are generated with Pillow: a sharp subject on a
blurred background (a "bokeh" photo) with a crop around the subject, and a 1200x800 photo with a
phone screenshot that shows it at 0.9x."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import invoke, invoke_json
from PIL import Image, ImageFilter
from test_canvas_copies import phone
from test_partial_whole import photo_like

from imgfind.model import Partial
from imgfind.partial_groups import UNIFORM, is_source, on_canvas

COPIES = ("photo.png", "photo.jpg", "photo-q35.jpg")


def bokeh(seed: int, w: int = 1200, h: int = 900) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A photo-like subject (45% x 50% of the frame) pasted sharp on a blurred photo-like
    background with faint sensor noise, and the box of a crop just around the subject."""
    bg = photo_like(seed, w, h).filter(ImageFilter.GaussianBlur(14))
    a = np.asarray(bg, np.float32) + np.random.default_rng(seed).normal(0, 4, (h, w, 3))
    bg = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    sw, sh = w * 9 // 20, h // 2
    bg.paste(photo_like(seed + 50, sw, sh), ((w - sw) // 2, (h - sh) // 2))
    return bg, ((w - sw) // 2 - w // 40, (h - sh) // 2 - h // 30,
                (w + sw) // 2 + w // 40, (h + sh) // 2 + h // 30)


def _copies(lib, im: Image.Image) -> None:
    im.save(lib / "photo.png")
    im.save(lib / "photo.jpg", quality=92)
    im.save(lib / "photo-q35.jpg", quality=35)


def _library(tmp_path, kind: str, seed: int):
    lib = tmp_path / "lib"
    lib.mkdir()
    if kind == "bokeh":
        im, box = bokeh(seed)
        _copies(lib, im)
        im.crop(box).save(lib / "crop.jpg", quality=90)
        return lib, "crop.jpg"
    im = photo_like(seed, 1200, 800)
    _copies(lib, im)
    phone(im).save(lib / "screenshot.png")  # the photo across 1080 px: shown at 0.9x
    return lib, "screenshot.png"


def _dedupe(runner, tmp_path, lib):
    db = str(tmp_path / "i.db")
    invoke(runner, db, "index", str(lib))
    doc = invoke_json(runner, db, "dedupe", str(lib))
    plan_path = tmp_path / "plan.json"
    invoke(runner, db, "dedupe", str(lib), "--plan", str(plan_path))
    return doc, json.loads(plan_path.read_text())


def _name(path: str) -> str:
    return path.rsplit("/", 1)[1]


# Each failed on main eea020f: the crop or screenshot headed the group ("partial matches
# only") and the plan kept all three copies of the photo, q35 beside q92 and PNG.
@pytest.mark.parametrize("kind,seed", [("bokeh", 1), ("bokeh", 2), ("bokeh", 3), ("phone", 3)])
def test_whole_copies_stay_whole_copies_whatever_heads_the_group(runner, tmp_path, kind, seed):
    lib, other = _library(tmp_path, kind, seed)
    doc, plan = _dedupe(runner, tmp_path, lib)
    (g,) = doc["groups"]
    files = {_name(f["path"]): f for f in g["files"]}
    assert set(files) == {*COPIES, other}
    for name in COPIES:
        assert files[name]["partial"] is None, (name, files[name]["relation"])
    (pg,) = plan["groups"]
    action = {_name(f["path"]): f["action"] for f in pg["files"]}
    assert action[other] == "keep"
    assert sorted(action[n] for n in COPIES) == ["keep", "remove", "remove"]
    assert action["photo-q35.jpg"] == "remove"


# Each failed on main eea020f: the crop (the photo read as the crop "on a canvas" of its
# blurred background) or the screenshot (showing the photo at 0.9x, within SAME_DENSITY) was
# the likely original.
@pytest.mark.parametrize("kind,seed", [("bokeh", 1), ("bokeh", 2), ("bokeh", 3), ("phone", 3)])
def test_a_crop_or_screenshot_never_heads_the_photos_copies(runner, tmp_path, kind, seed):
    lib, other = _library(tmp_path, kind, seed)
    doc, _ = _dedupe(runner, tmp_path, lib)
    (g,) = doc["groups"]
    assert _name(g["files"][0]["path"]) in COPIES
    assert g["first_partial"] is False
    (part,) = [f for f in g["files"] if f["partial"] is not None]
    assert _name(part["path"]) == other


def _seen(scale: float, beyond_b: float, spread_b: float, rotation: float = 0.0) -> Partial:
    """A picture a lying wholly inside b (b's view of the rest: beyond_b, spread_b)."""
    return Partial(1.0, 0.3, (0.0, 0.0, 1.0, 1.0), (0.2, 0.2, 0.7, 0.7), scale, rotation,
                   "similarity", 100, beyond_a=1.0, beyond_b=beyond_b, spread_b=spread_b)


def test_a_canvas_fill_is_near_uniform_unless_the_copy_is_turned():
    assert on_canvas(_seen(1.0, 0.2, 0.0))  # letterbox bars
    assert not on_canvas(_seen(1.0, 0.2, UNIFORM + 6))  # a blurred background: a picture
    assert is_source(_seen(1.0, 0.2, UNIFORM + 6))
    assert on_canvas(_seen(1.0, 0.15, UNIFORM + 6, rotation=12.0))  # blurred turned corners


def test_a_picture_shown_smaller_on_a_uniform_rest_is_not_its_source():
    assert not is_source(_seen(0.9, 1.0, 0.0))  # a phone screenshot, too smooth to tell
    assert is_source(_seen(0.9, 1.0, UNIFORM + 6))  # an enlarged crop's picture goes on
    assert is_source(_seen(1.0, 1.0, 0.0))  # a crop of a picture with a plain rest
