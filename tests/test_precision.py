"""Precision on pictures the default rule was not tuned on (issue 10), on generated images.

Three kinds of fault: smooth pictures of different colour layouts verified as one picture;
different pictures inside one shared frame; groups that chain through one weak link.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers import invoke, invoke_json, make_image
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from imgfind import Index, Settings


def _groups(tmp_path: Path, folder: Path) -> list[set[str]]:
    with Index.open(str(tmp_path / "i.db"), Settings(jobs=1)) as index:
        index.update([str(folder)])
        return [{os.path.basename(m.file.path) for m in g.members} for g in index.groups()]


def diagonal(size: tuple[int, int], a: tuple[int, int, int], b: tuple[int, int, int]) -> Image.Image:
    """A smooth diagonal gradient from colour *a* (bottom left) to *b* (top right)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (xx / w + (h - yy) / h) / 2
    rgb = np.asarray(a, np.float32) * (1 - t[..., None]) + np.asarray(b, np.float32) * t[..., None]
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def copies(im: Image.Image, stem: str, folder: Path) -> None:
    """The picture and its colour-preserving and colour-changing legitimate edits."""
    im.save(folder / f"{stem}.jpg", quality=95)
    im.resize((im.width // 2, im.height // 2)).save(folder / f"{stem}-half.jpg", quality=70)
    im.convert("L").save(folder / f"{stem}-grey.jpg")
    ImageEnhance.Color(im).enhance(0.4).save(folder / f"{stem}-sat.jpg")
    ImageEnhance.Brightness(im).enhance(1.25).save(folder / f"{stem}-bright.jpg")
    hsv = np.asarray(im.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + 10) % 256
    Image.fromarray(hsv, "HSV").convert("RGB").save(folder / f"{stem}-hue.jpg")


# ----------------------------------------------------------------------------- kind 1
def test_smooth_gradients_of_different_colours_are_not_one_picture(tmp_path):
    folder = tmp_path / "walls"
    folder.mkdir()
    navy = diagonal((1600, 1200), (10, 20, 90), (0, 230, 240))
    ImageDraw.Draw(navy).ellipse((1380, 1000, 1500, 1120), fill=(255, 255, 255))  # the logo
    copies(navy, "navy", folder)
    copies(diagonal((1600, 1000), (120, 20, 140), (250, 150, 20)), "sunset", folder)
    groups = _groups(tmp_path, folder)
    for g in groups:
        assert len({name.split("-")[0].split(".")[0] for name in g}) == 1, groups
    # ... and every copy, greyscale, desaturated, brightened or hue-shifted, is still found,
    # except the greyscale copy of the pure gradient: with no detail and no colour there is no
    # evidence it is this gradient rather than another of the same direction.
    navy = {f"navy{s}.jpg" for s in ("", "-half", "-grey", "-sat", "-bright", "-hue")}
    sunset = {f"sunset{s}.jpg" for s in ("", "-half", "-sat", "-bright", "-hue")}
    assert navy in groups and (sunset in groups or sunset | {"sunset-grey.jpg"} in groups), groups


def test_flat_fills_of_equal_grey_but_different_colour_stay_apart(tmp_path):
    folder = tmp_path / "fills"
    folder.mkdir()
    for name, rgb in {"red": (255, 0, 0), "green": (0, 130, 0), "grey76": (76, 76, 76),
                      "blue": (0, 0, 254)}.items():
        Image.new("RGB", (640, 360), rgb).save(folder / f"{name}.png")
    Image.new("RGB", (1280, 720), (255, 0, 0)).save(folder / "red-big.jpg", quality=90)
    Image.new("RGB", (640, 360), (0, 0, 0)).save(folder / "black.png")
    Image.new("RGB", (1920, 1080), (0, 0, 0)).save(folder / "black-big.jpg", quality=90)
    groups = _groups(tmp_path, folder)
    assert sorted(map(sorted, groups)) == [["black-big.jpg", "black.png"], ["red-big.jpg", "red.png"]]


# ----------------------------------------------------------------------------- kind 2
def window_screenshot(photo: Image.Image, size: tuple[int, int] = (1280, 800)) -> Image.Image:
    """An application window (title bar, side panel with entries, status bar: ~40% of the
    area) showing *photo* in its content area."""
    w, h = size
    im = Image.new("RGB", size, (236, 236, 236))
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, w, 48), fill=(45, 52, 64))  # title bar
    for i, c in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        d.ellipse((16 + 28 * i, 16, 32 + 28 * i, 32), fill=c)
    d.rectangle((0, 48, 330, h), fill=(250, 250, 250))  # side panel
    for i in range(14):
        y = 80 + 46 * i
        d.rectangle((24, y, 56, y + 28), fill=(90 + 9 * i, 140, 200))
        d.rectangle((70, y + 8, 70 + 120 + 37 * (i % 4), y + 20), fill=(150, 150, 150))
    d.rectangle((0, h - 40, w, h), fill=(210, 214, 220))  # status bar
    d.rectangle((20, h - 28, 300, h - 14), fill=(120, 120, 120))
    box = (350, 64, w - 20, h - 56)
    im.paste(photo.resize((box[2] - box[0], box[3] - box[1])), box[:2])
    return im


def test_different_photos_in_one_window_chrome_are_not_one_picture(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(14):
        # Soft pictures (wallpapers, skies): the kind whose content alone correlates highly.
        rng = np.random.default_rng(100 + i)
        photo = diagonal((640, 480), tuple(rng.integers(0, 120, 3)), tuple(rng.integers(120, 256, 3)))
        x, y = int(rng.integers(0, 440)), int(rng.integers(0, 280))
        ImageDraw.Draw(photo).ellipse((x, y, x + 200, y + 200), fill=tuple(rng.integers(0, 256, 3)))
        photo = photo.filter(ImageFilter.GaussianBlur(30))
        window_screenshot(photo).save(folder / f"shot{i:02}.png")
    # The same screenshot recompressed is still a copy.
    Image.open(folder / "shot00.png").convert("RGB").save(folder / "shot00-copy.jpg", quality=80)
    groups = _groups(tmp_path, folder)
    assert groups == [{"shot00.png", "shot00-copy.jpg"}], groups


# ----------------------------------------------------------------------------- kind 3
def test_a_chain_of_small_steps_does_not_merge_two_pictures(tmp_path):
    """Pictures stepping from A to B by 8% blends: each is near its neighbours, so connected
    components would put A and B in one group. Every member must be verified against its
    group's first file instead, and its similarity to it shown."""
    folder = tmp_path / "chain"
    folder.mkdir()
    a, b = make_image(seed=7, size=(480, 360)), make_image(seed=8, size=(480, 360))
    for k in range(13):
        Image.blend(a, b, min(1.0, k * 0.08)).save(folder / f"step{k:02}.png")
    with Index.open(str(tmp_path / "i.db"), Settings(jobs=1)) as index:
        index.update([str(folder)])
        groups = index.groups()
    names = [{os.path.basename(m.file.path) for m in g.members} for g in groups]
    assert not any({"step00.png", "step12.png"} <= g for g in names), names
    for g in groups:
        for m in g.members[1:]:
            assert m.similarity is not None and m.similarity >= 0.8, (g.members[0].file.path, m)
            assert "similarity" in m.checks


# ----------------------------------------------------------------------------- evidence
def test_json_shows_each_members_own_evidence_against_the_first(runner, db, photo_dir):
    invoke(runner, db, "index", str(photo_dir), ok=False)  # broken.jpg: exit code 1 or 2
    doc = invoke_json(runner, db, "dedupe")
    files = doc["groups"][0]["files"]
    assert files[0]["evidence"] is None and files[0]["similarity"] is None
    for f in files[1:]:
        assert f["path"] and f["similarity"] >= 0.8
        ev = f["evidence"]
        assert ev["against"] == "first file" and ev["similarity"] == f["similarity"]
        assert {"similarity", "window"} <= set(ev["checks"]) and ev["relation"] == f["relation"]
    q = invoke_json(runner, db, "query", str(photo_dir / "a.jpg"))
    assert q["matches"] and all(m["path"] and "similarity" in m["evidence"]["checks"]
                                for m in q["matches"])


def test_a_star_member_is_verified_only_through_hashes_the_search_accepts(tmp_path):
    """Checking a member against its group's first file is verification as for any pair: the
    hash test included. Two files whose hashes are far apart (an unrelated wallpaper of the same
    soft layout) must not be verified through alignments the search would never propose."""
    from dataclasses import replace

    from imgfind.analyse import fingerprint_file
    from imgfind.index import default_rule, query_side
    from imgfind.decide import verify_pairs

    a = tmp_path / "a.png"
    make_image(a, seed=3, size=(400, 300)).convert("RGB").save(tmp_path / "b.jpg", quality=85)
    fa, fb = fingerprint_file(str(a)), fingerprint_file(str(tmp_path / "b.jpg"))
    rule = default_rule()
    assert (0, 1) in verify_pairs(query_side([fa, fb]), rule, [(0, 1)])
    # The same pictures, every hash of one moved 16 bits away (beyond the rule's threshold, yet
    # still the nearest alignment): no candidate, no verification.
    far = replace(fb, hashes=fb.hashes ^ np.uint64(0xFFFF))
    assert verify_pairs(query_side([fa, far]), rule, [(0, 1)]) == {}


def vertical(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
             ) -> Image.Image:
    """A sky-like vertical gradient from *top* to *bottom*, with faint JPEG-survivable grain."""
    w, h = size
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    rgb = (1 - t) * np.array(top, float) + t * np.array(bottom, float)
    rgb = np.repeat(rgb, w, axis=1) + np.random.default_rng(0).normal(0, 1.0, (h, w, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def test_pure_gradients_that_differ_by_a_hue_turn_are_not_one_picture(tmp_path):
    """A blue sky and an orange one of the same course: colour is their only evidence, and a
    hue-rotation-invariant colour check cannot tell them apart, so hue itself must agree. A
    brightened copy of the blue sky still matches it."""
    folder = tmp_path / "skies"
    folder.mkdir()
    blue = vertical((800, 600), (40, 90, 200), (235, 240, 250))
    blue.save(folder / "sky-blue.jpg", quality=90)
    vertical((800, 600), (200, 110, 30), (250, 240, 225)).save(folder / "sky-orange.jpg", quality=90)
    ImageEnhance.Brightness(blue).enhance(1.1).save(folder / "sky-blue-bright.jpg", quality=90)
    groups = _groups(tmp_path, folder)
    assert not any({"sky-blue.jpg", "sky-orange.jpg"} <= g for g in groups), groups
    assert any({"sky-blue.jpg", "sky-blue-bright.jpg"} <= g for g in groups), groups


# ----------------------------------------------------------------------------- kind 4
def horizontal(size: tuple[int, int], a: tuple[int, int, int], b: tuple[int, int, int]) -> Image.Image:
    """A smooth horizontal gradient from colour *a* (left) to *b* (right)."""
    w, h = size
    t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    rgb = np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t
    return Image.fromarray(np.repeat(rgb, h, axis=0).astype(np.uint8), "RGB")


def test_half_of_one_gradient_is_not_another_gradient(tmp_path):
    # A new-user trial's false partial group: two different smooth gradients, one "inside" the
    # other through a part view (a half of it matched the other whole), no keypoint in
    # either. Half a ramp is a ramp: nothing tells it from any other ramp of its direction and
    # colours (part_views.ramp). Found among 40 random gradients; these two are that pair.
    folder = tmp_path / "ramps"
    folder.mkdir()
    horizontal((1099, 611), (33, 114, 117), (95, 252, 123)).save(folder / "teal.jpg", quality=90)
    diagonal((937, 848), (36, 66, 77), (18, 229, 65)).save(folder / "green.jpg", quality=90)
    assert _groups(tmp_path, folder) == []


# ----------------------------------------------------------------------------- kind 5
def phone_app(photo: Image.Image, w: int = 1080, h: int = 2340) -> Image.Image:
    """A phone screenshot of a photo app: status bar (clock, icons), app bar (back arrow,
    title, buttons), *photo* across the width, toolbar (four labelled buttons)."""
    from PIL import ImageFont

    shot = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(shot)
    font = ImageFont.load_default(size=36)
    d.rectangle((0, 0, w, 90), fill=(245, 245, 245))
    d.text((40, 25), "12:34", fill=(0, 0, 0), font=font)
    for k in range(4):
        d.rectangle((w - 70 - 50 * k, 30, w - 40 - 50 * k, 62), fill=(40, 40, 40))
    d.polygon([(40, 170), (80, 130), (80, 210)], fill=(30, 30, 30))
    d.text((120, 145), "Photos  Album  2024", fill=(20, 20, 20), font=font)
    for k in range(3):
        d.ellipse((w - 90 - 90 * k, 140, w - 50 - 90 * k, 180), fill=(60, 60, 60))
    t = photo.resize((w, round(photo.size[1] * w / photo.size[0])), Image.Resampling.LANCZOS)
    shot.paste(t, (0, (h - t.size[1]) // 2))
    d.rectangle((0, h - 260, w, h), fill=(250, 250, 250))
    for k, word in enumerate(("Share", "Edit", "Like", "Delete")):
        x = 60 + k * 260
        d.rectangle((x + 40, h - 230, x + 100, h - 170), outline=(30, 30, 30), width=6)
        d.text((x + 20, h - 150), word, fill=(30, 30, 30), font=font)
    return shot


@pytest.mark.xfail(strict=True, reason="open (session 11): the shared app chrome carries the "
                   "keypoint model (69-105 inliers) and most of the thumbnail, so neither the "
                   "inlier count nor the quarters' agreement (0.70-0.99) tells the photos apart")
def test_screenshots_of_different_photos_in_one_app_are_no_partial_pair(tmp_path):
    # A new-user trial's false partial group ("33% of it, rotated 12 degrees"): two phone
    # screenshots of different photos in the same app, one of them turned. The keypoints
    # match the status bar, app bar and toolbar; the photos between them differ.
    from test_partial_whole import photo_like
    from test_uniform_parts import _analysed

    from imgfind.partial_groups import groupable
    from imgfind.verify_threads import both_ways

    a = phone_app(photo_like(300, 960, 640))
    b = phone_app(photo_like(400, 960, 640)).rotate(12, expand=True, fillcolor=(20, 20, 20))
    (la, sa, ta), (lb, sb, tb) = (_analysed(im, tmp_path / n) for im, n in ((a, "a.jpg"), (b, "b.jpg")))
    found = both_ways(la, lb, sa, sb, (ta, tb))
    assert found is None or not groupable(found), found
