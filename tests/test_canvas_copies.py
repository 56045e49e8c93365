"""Copies shown on a canvas of fill (issue 12, new-user trial of session 8): a photo turned in
place (same canvas, corners black, white or blurred) or skewed in perspective on its own
canvas, and a photo letterboxed in a phone-style screenshot. The upright picture is the
group's first file and the query's likely original, never its turned or skewed copy nor the
screenshot; a copy turned 15 degrees in place (89% of each picture shared) is grouped.
Pictures are generated with Pillow (tests/test_partial_whole.photo_like)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import invoke, invoke_json
from PIL import Image, ImageDraw, ImageFilter
from test_partial_whole import photo_like, skewed

from imgfind.model import Partial
from imgfind.partial_groups import is_source


def turned(im: Image.Image, degrees: float, fill: str) -> Image.Image:
    """*im* turned in place (Pillow's rotate without expand): corners black, white or the
    picture itself blurred."""
    if fill == "blur":
        t = im.rotate(degrees, resample=Image.Resampling.BICUBIC)
        mask = Image.new("L", im.size, 255).rotate(degrees, resample=Image.Resampling.BICUBIC)
        return Image.composite(t, im.filter(ImageFilter.GaussianBlur(25)), mask)
    colour = (0, 0, 0) if fill == "black" else (255, 255, 255)
    return im.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=colour)


def phone(im: Image.Image, w: int = 1080, h: int = 2340) -> Image.Image:
    """*im* letterboxed across a phone screenshot's width (1.125x for a 960 px picture):
    status bar with clock and icons, black bars, navigation bar with three buttons."""
    shot = Image.new("RGB", (w, h), (0, 0, 0))
    d = ImageDraw.Draw(shot)
    d.rectangle((0, 0, w, 90), fill=(20, 20, 20))
    d.text((30, 30), "12:34", fill=(255, 255, 255))
    for k in range(4):
        d.rectangle((w - 60 - 40 * k, 35, w - 35 - 40 * k, 60), fill=(230, 230, 230))
    t = im.resize((w, round(im.size[1] * w / im.size[0])), Image.Resampling.LANCZOS)
    shot.paste(t, (0, (h - t.size[1]) // 2))
    d.rectangle((0, h - 130, w, h), fill=(30, 30, 30))
    for k in range(3):
        x = w / 4 * (k + 1)
        d.ellipse((x - 25, h - 90, x + 25, h - 40), outline=(200, 200, 200), width=4)
    return shot


def _library(tmp_path, picture: Image.Image, copy: Image.Image, copy_name: str, seed: int):
    lib = tmp_path / "lib"
    lib.mkdir()
    picture.save(lib / "photo.jpg", quality=92)
    if copy_name.endswith(".png"):
        copy.save(lib / copy_name)
    else:
        copy.save(lib / copy_name, quality=92)
    photo_like(seed + 100, *picture.size).save(lib / "other.jpg", quality=92)
    return lib


def _groups(runner, db: str, lib) -> list[list[str]]:
    doc = invoke_json(runner, db, "dedupe", str(lib), "--format", "json")
    return [[f["path"].rsplit("/", 1)[1] for f in g["files"]] for g in doc["groups"]]


def _original(runner, db: str, path) -> str:
    doc = invoke_json(runner, db, "query", str(path), "--format", "json")
    return doc["queries"][0]["original"].rsplit("/", 1)[1]


# Each failed on main 6147c4c: the turned copy first (900x700 white, 1200x675 blurred: the
# covers of a turned copy are even, and which came first was left to file details), or no
# group at all (a 15-degree turn keeps 89% of each picture, under the 90% a pair needed).
@pytest.mark.parametrize("seed,size,degrees,fill", [
    (11, (800, 600), 15, "black"),
    (12, (900, 700), 10, "white"),
    (13, (1200, 675), 15, "white"),
    (14, (600, 800), 12, "black"),
    (15, (1024, 768), 10, "blur"),
])
def test_a_copy_turned_in_place_is_grouped_after_its_upright_picture(runner, tmp_path, seed, size,
                                                                      degrees, fill):
    photo = photo_like(seed, *size)
    lib = _library(tmp_path, photo, turned(photo, degrees, fill), "turned.jpg", seed)
    db = str(tmp_path / "i.db")
    assert _groups(runner, db, lib) == [["photo.jpg", "turned.jpg"]]
    assert _original(runner, db, lib / "turned.jpg") == "photo.jpg"
    text = invoke(runner, db, "query", str(lib / "turned.jpg")).stdout
    assert "likely original" in text and "canvas of fill" in text, text


# A skewed copy fitted as a similarity reads as a 94% crop: on main it was named the group's
# first file (the photo's "source") and the query's original. Fixed by the fill it has
# outside the shared region (8% skews); a 5-6% skew's fill is too thin to see at 48 px and
# the pair covers 90% or more of both, read as two pictures in one window (same_frame): open.
# A homography chosen in place of the similarity (by the residuals) grouped them, but cost
# the bench dev pool a false pair (benchmarks/RESULTS.md, session 9).
_MILD = pytest.mark.xfail(strict=True, reason="open: mild skews on their own canvas")


@pytest.mark.parametrize("seed,size,k", [
    (21, (800, 600), 0.08),
    (22, (900, 700), 0.08),
    pytest.param(23, (600, 800), 0.06, marks=_MILD),
    pytest.param(24, (1024, 768), 0.05, marks=_MILD),
])
def test_a_copy_skewed_on_its_own_canvas_comes_after_its_picture(runner, tmp_path, seed, size, k):
    photo = photo_like(seed, *size)
    lib = _library(tmp_path, photo, skewed(photo, k), "skewed.jpg", seed)
    db = str(tmp_path / "i.db")
    assert _groups(runner, db, lib) == [["photo.jpg", "skewed.jpg"]]
    doc = invoke_json(runner, db, "dedupe", str(lib), "--format", "json")
    assert "perspective" in doc["groups"][0]["files"][1]["relation"]
    for name in ("photo.jpg", "skewed.jpg"):
        assert _original(runner, db, lib / name) == "photo.jpg", name


# The wallpaper fills the phone's width, so the screenshot shows it 1.125x as large: on main
# the screenshot was its "source" (a crop's picture), first in dedupe and the query's original.
@pytest.mark.parametrize("seed", [0, 8, 9])
def test_a_phone_screenshot_is_never_the_original_of_the_picture_it_shows(runner, tmp_path, seed):
    wallpaper = photo_like(seed, 960, 600)
    lib = _library(tmp_path, wallpaper, phone(wallpaper), "screenshot.png", seed)
    db = str(tmp_path / "i.db")
    assert _groups(runner, db, lib) == [["photo.jpg", "screenshot.png"]]
    for name in ("photo.jpg", "screenshot.png"):
        assert _original(runner, db, lib / name) == "photo.jpg", name
    text = invoke(runner, db, "query", str(lib / "photo.jpg")).stdout
    assert "screenshot.png" in text


def test_a_part_view_is_never_a_crops_source():
    # A part view (a collage's half, a window's inner picture) matched whole: the picture
    # with the view is no source of the picture it shows, however large it shows it.
    seen = Partial(1.0, 0.3, (0.0, 0.0, 1.0, 1.0), (0.0, 0.35, 1.0, 0.65), 1.2, 0.0,
                   "part view", 0)
    assert not is_source(seen)
    assert is_source(Partial(1.0, 0.5, (0.0, 0.0, 1.0, 1.0), (0.1, 0.1, 0.8, 0.8), 1.0, 0.0,
                             "similarity", 80))


def _whole_copy(photo: Image.Image, kind: str, path) -> None:
    """Save a whole copy of *photo* at *path*: recompressed at quality 35, or half its size."""
    if kind == "half":
        photo = photo.resize((photo.size[0] // 2, photo.size[1] // 2), Image.Resampling.LANCZOS)
    photo.save(path, quality=35 if kind == "q35" else 90)


# New-user trial, session 9: with a photo and its copy on a canvas of fill indexed, the query of
# a whole copy of the photo (recompressed, half size) named the copy on the canvas its likely
# original, "the query shows it on a canvas of fill": a 10-degree turn's covers are even and
# a query outside the library was ranked against that copy alone, not against the photo it
# matches whole (9225bc5). Dedupe puts the photo first, and so does query.
@pytest.mark.parametrize("seed,size,degrees,fill", [
    (31, (800, 600), 10, "black"),
    (32, (900, 700), 10, "white"),
    (33, (700, 700), 10, "black"),
    (34, (1024, 768), 12, "white"),
])
@pytest.mark.parametrize("kind", ["q35", "half"])
def test_a_whole_copy_of_the_photo_never_names_its_turned_copy(runner, tmp_path, seed, size,
                                                               degrees, fill, kind):
    photo = photo_like(seed, *size)
    lib = _library(tmp_path, photo, turned(photo, degrees, fill), "turned.jpg", seed)
    _whole_copy(photo, kind, tmp_path / f"query-{kind}.jpg")
    db = str(tmp_path / "i.db")
    assert _groups(runner, db, lib) == [["photo.jpg", "turned.jpg"]]
    assert _original(runner, db, tmp_path / f"query-{kind}.jpg") == "photo.jpg"
    text = invoke(runner, db, "query", str(tmp_path / f"query-{kind}.jpg")).stdout
    assert "canvas of fill" not in text, text
    assert _original(runner, db, lib / "turned.jpg") == "photo.jpg"


@pytest.mark.parametrize("seed", [0, 8])
@pytest.mark.parametrize("kind", ["q35", "half"])
def test_a_whole_copy_of_a_wallpaper_never_names_its_screenshot(runner, tmp_path, seed, kind):
    wallpaper = photo_like(seed, 960, 600)
    lib = _library(tmp_path, wallpaper, phone(wallpaper), "screenshot.png", seed)
    _whole_copy(wallpaper, kind, tmp_path / f"query-{kind}.jpg")
    db = str(tmp_path / "i.db")
    assert _groups(runner, db, lib) == [["photo.jpg", "screenshot.png"]]
    assert _original(runner, db, tmp_path / f"query-{kind}.jpg") == "photo.jpg"


def soft_photo(seed: int, w: int, h: int) -> Image.Image:
    """A soft photo-like picture: value noise of six octaves per channel, a gradient, a few
    shapes, blurred, with sensor noise; its corners have little fine detail at 48 px."""
    r = np.random.default_rng(seed)
    acc = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        amp = 1.0
        for octave in range(6):
            n = 2 ** (octave + 1) + 1
            grid = Image.fromarray((r.random((n, n)) * 255).astype(np.uint8))
            acc[..., c] += amp * np.asarray(grid.resize((w, h), Image.Resampling.BICUBIC),
                                            np.float32) / 255
            amp *= 0.55
    acc = (acc - acc.min()) / (acc.max() - acc.min())
    acc = 0.7 * acc + 0.3 * np.linspace(0, 1, h)[:, None, None] * r.random(3)[None, None, :]
    im = Image.fromarray((acc * 255).clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(int(r.integers(6, 15))):
        x, y = int(r.integers(0, w)), int(r.integers(0, h))
        s = int(r.integers(min(w, h) // 20, min(w, h) // 4))
        d.ellipse((x - s, y - s, x + s, y + s), fill=tuple(int(v) for v in r.integers(0, 256, 3)))
    noisy = np.asarray(im.filter(ImageFilter.GaussianBlur(1.2)), np.float32) \
        + r.normal(0, 6, (h, w, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8))


# New-user trial, session 9 (R6): a soft photo's copy turned 10 degrees in place has corners a
# few thumbnail pixels deep, all in the ring along the fill's edge; its fine detail outweighed
# the photo's soft lost corners, so dedupe and query put the turned copy first (9225bc5).
@pytest.mark.parametrize("seed,size,fill", [
    (9, (1000, 1000), "black"),
    (11, (1000, 1000), "black"),
    (11, (900, 900), "white"),
    (5, (1200, 900), "black"),
])
def test_a_soft_photo_comes_before_its_turned_copy(runner, tmp_path, seed, size, fill):
    photo = soft_photo(seed, *size)
    lib = _library(tmp_path, photo, turned(photo, 10, fill), "turned.jpg", seed)
    db = str(tmp_path / "i.db")
    assert _groups(runner, db, lib) == [["photo.jpg", "turned.jpg"]]
    for name in ("photo.jpg", "turned.jpg"):
        assert _original(runner, db, lib / name) == "photo.jpg", name


# New-user trial, session 10: the query of a whole copy of a turned copy (a recompressed copy
# outside the library, or one indexed beside it) named itself or the turned copy: with a whole
# copy of the query in the library, query never looked for the upright picture (cbc7d04),
# though dedupe shows the group {turned, its copy} from the photo (source_first).
@pytest.mark.parametrize("seed,size,degrees,fill", [
    (31, (800, 600), 10, "black"),
    (32, (900, 700), 10, "white"),
    (15, (1024, 768), 10, "blur"),
    (34, (1024, 768), 12, "white"),
])
@pytest.mark.parametrize("where", ["outside", "indexed"])
def test_a_copy_of_a_turned_copy_names_the_upright_picture(runner, tmp_path, seed, size,
                                                          degrees, fill, where):
    photo = photo_like(seed, *size)
    copy = turned(photo, degrees, fill)
    lib = _library(tmp_path, photo, copy, "turned.jpg", seed)
    query = (lib if where == "indexed" else tmp_path) / "turned-copy.jpg"
    copy.save(query, quality=40)
    db = str(tmp_path / "i.db")
    groups = _groups(runner, db, lib)
    assert groups[0][0] == "photo.jpg", groups
    assert _original(runner, db, query) == "photo.jpg"
