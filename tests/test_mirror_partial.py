"""Partial matches through a mirror (issue 12, new-user trial of session 11): a crop or a turned
copy of a mirrored photo. Keypoints of textured pictures (symmetric shapes) match in mirror
image, and the homography RANSAC fits then reverses orientation: its rotation read as a turn
said "rotated 172 degrees" for a mirrored copy turned 8. Pictures are generated with Pillow."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest
from helpers import invoke, invoke_json, textured
from PIL import ImageOps
from test_canvas_copies import turned
from test_partial_whole import photo_like

from imgfind.model import Partial
from imgfind.partial import _turn_and_stretch, describe


def _turn(degrees: float) -> np.ndarray:
    """A turn counter-clockwise on screen, in pixel axes (y grows downwards)."""
    t = np.radians(degrees)
    return np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])


@pytest.mark.parametrize("degrees", [0.0, 8.0, -10.0, 90.0])
def test_a_mirrored_turn_reads_as_mirror_then_turn(degrees):
    mirror = np.diag([-1.0, 1.0])
    rotation, stretch, mirrored = _turn_and_stretch(1.3 * _turn(degrees) @ mirror)
    assert mirrored and rotation == pytest.approx(degrees, abs=1e-6)
    assert stretch == pytest.approx(1.0)
    rotation, _, mirrored = _turn_and_stretch(0.7 * _turn(degrees))
    assert not mirrored and rotation == pytest.approx(degrees, abs=1e-6)


def test_a_mirrored_turn_keeps_its_sign_seen_from_the_other_picture():
    p = Partial(0.9, 0.9, (0, 0, 1, 1), (0, 0, 1, 1), 1.0, 8.0, "homography", 50,
                mirrored=True)
    assert p.swapped().rotation == 8.0 and p.swapped().mirrored
    assert describe(p) == "same picture (local features), mirrored, rotated 8 degrees " \
                          "counter-clockwise"
    plain = Partial(0.9, 0.9, (0, 0, 1, 1), (0, 0, 1, 1), 1.0, 8.0, "similarity", 50)
    assert plain.swapped().rotation == -8.0 and not plain.swapped().mirrored


# Seed 1 is a picture whose keypoints match its mirror image through a homography (RANSAC
# finds none for seeds 2-5 with no mirrored whole copy beside it; seed 2 fits a spurious
# similarity turned 115 degrees instead).
@pytest.mark.parametrize("seed", [1])
def test_query_says_mirrored_and_the_turn_after_the_mirror(runner, tmp_path, seed):
    # Failed on main 2d71942: "rotated 171 degrees clockwise, perspective", no "mirrored".
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = textured(seed, 1024, 768)
    photo.save(lib / "photo.jpg", quality=92)
    turned(ImageOps.mirror(photo), 8, "black").save(lib / "mturned.jpg", quality=90)
    db = str(tmp_path / "i.db")
    invoke(runner, db, "index", str(lib))
    doc = invoke_json(runner, db, "query", str(lib / "photo.jpg"))
    (m,) = [m for m in doc["matches"] if m["path"].endswith("mturned.jpg")]
    assert m["partial"]["mirrored"] is True, m
    assert 6 <= m["partial"]["rotation"] <= 11, m
    assert re.search(r"mirrored, rotated (7|8|9|10) degrees counter-clockwise", m["relation"]), m
    text = invoke(runner, db, "query", str(lib / "photo.jpg")).stdout
    assert "mirrored, rotated" in text and "17" not in re.findall(r"rotated (\d+)", text)[0][:2]
    rows = list(csv.reader(io.StringIO(
        invoke(runner, db, "query", str(lib / "photo.jpg"), "--format", "csv").stdout)))
    row = next(r for r in rows[1:] if r[1].endswith("mturned.jpg"))
    assert row[rows[0].index("mirrored")] == "1" and 6 <= float(row[rows[0].index("rotation")]) <= 11


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("edited", ["photo", "mirrored"])
def test_query_finds_the_crop_and_turned_copy_of_its_mirror_image(runner, tmp_path, seed, edited):
    # On main 2d71942 neither was found: the query's keypoints do not match a mirror image.
    lib = tmp_path / "lib"
    lib.mkdir()
    w, h = 1024, 768
    photo = photo_like(seed, w, h)
    mirrored = ImageOps.mirror(photo)
    photo.save(lib / "photo.jpg", quality=92)
    mirrored.save(lib / "mirrored.jpg", quality=90)
    source = photo if edited == "photo" else mirrored
    source.crop((w * 15 // 100, h * 20 // 100, w * 80 // 100, h * 85 // 100)).save(
        lib / "crop.jpg", quality=90)
    turned(source, 8, "black").save(lib / "turned.jpg", quality=90)
    photo_like(seed + 100, w, h).save(lib / "other.jpg", quality=92)
    db = str(tmp_path / "i.db")
    invoke(runner, db, "index", str(lib))
    query = "mirrored.jpg" if edited == "photo" else "photo.jpg"
    doc = invoke_json(runner, db, "query", str(lib / query))
    found = {m["path"].rsplit("/", 1)[1]: m for m in doc["matches"]}
    assert {"crop.jpg", "turned.jpg"} <= set(found), sorted(found)
    crop, turn = found["crop.jpg"], found["turned.jpg"]
    assert crop["relation"].startswith("inside the query, ") and "mirrored" in crop["relation"]
    assert crop["partial"]["mirrored"] is True
    # the crop's box in the query, seen through the mirror: 20%-85% across, 20%-85% down
    assert crop["partial"]["box_query"] == pytest.approx([0.20, 0.20, 0.85, 0.85], abs=0.02)
    assert re.search(r"mirrored, rotated (7|8|9) degrees counter-clockwise", turn["relation"])
    assert "other.jpg" not in found


def test_a_partial_match_seen_through_a_whole_copy_in_another_orientation():
    from imgfind.layout import ORIENTATION_NAMES
    from imgfind.partial import through_orientation

    # b is a crop of c turned 8 degrees counter-clockwise; c is a whole copy of a in
    # orientation k, at half a's size
    p = Partial(0.49, 1.0, (0.10, 0.20, 0.80, 0.90), (0, 0, 1, 1), 1.0, 8.0, "similarity", 90)
    seen = {ORIENTATION_NAMES[k]: through_orientation(p, k, (2048, 1536), (1024, 768))
            for k in range(8)}
    assert seen["same orientation"].box_a == p.box_a and not seen["same orientation"].mirrored
    m = seen["mirrored"]
    assert m.box_a == (0.2, 0.2, 0.9, 0.9) and m.mirrored and m.rotation == 8.0
    assert m.scale == 0.5 and m.cover_a == 0.49
    r = seen["rotated 180°"]
    assert r.box_a == (0.2, 0.1, 0.9, 0.8) and not r.mirrored and r.rotation == -172.0
    t = seen["transposed"]  # a left-right mirror, then a quarter turn counter-clockwise
    assert t.box_a == (0.2, 0.1, 0.9, 0.8) and t.mirrored and t.rotation == 98.0
