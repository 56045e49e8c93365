"""Every file is in at most one group of a dedupe (new-user trial of session 9, R1): a photo,
its 70% centre crop and a phone screenshot of it were two groups headed by the photo (the
crop's group, promoted to its source, and the photo's own group around the screenshot), the
photo and the screenshot printed twice and ``dedupe --plan`` refused by ``apply`` ("is in
the plan twice"). The copies are made older than the photo too (the trial's second case):
the photo still heads the one group. Pictures are generated with Pillow."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from helpers import invoke, invoke_json
from test_canvas_copies import phone, turned
from test_partial_whole import photo_like

OLD, NEW = 1577836800, 1704067200  # 2020-01-01, 2024-01-01 (UTC)


def _library(tmp_path, seed: int, size: tuple[int, int], copies_older: bool, with_turn: bool):
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = photo_like(seed, *size)
    w, h = size
    photo.save(lib / "photo.jpg", quality=92)
    photo.crop((w * 15 // 100, h * 15 // 100, w * 85 // 100, h * 85 // 100)).save(
        lib / "crop70.jpg", quality=92)
    phone(photo).save(lib / "screenshot.png")
    names = ["crop70.jpg", "screenshot.png"]
    if with_turn:
        turned(photo, 10, "black").save(lib / "turned.jpg", quality=92)
        names.append("turned.jpg")
    photo_like(seed + 100, *size).save(lib / "other.jpg", quality=92)
    os.utime(lib / "photo.jpg", (NEW, NEW))
    for n in names:
        t = OLD if copies_older else NEW + 3600
        os.utime(lib / n, (t, t))
    return lib


# Each failed on main 9225bc5: the photo (and the screenshot) in two groups, the plan refused.
@pytest.mark.parametrize("seed,size,copies_older,with_turn", [
    (31, (1200, 675), False, False),
    (32, (960, 720), False, False),
    (33, (1200, 675), True, False),
    (34, (1024, 768), True, True),
])
def test_a_photo_its_crop_and_screenshot_make_one_group_that_applies(runner, tmp_path, seed,
                                                                     size, copies_older,
                                                                     with_turn):
    lib = _library(tmp_path, seed, size, copies_older, with_turn)
    db = str(tmp_path / "i.db")
    doc = invoke_json(runner, db, "dedupe", str(lib))
    names = [[f["path"].rsplit("/", 1)[1] for f in g["files"]] for g in doc["groups"]]
    counts = Counter(n for g in names for n in g)
    assert all(c == 1 for c in counts.values()), names
    group = next(g for g in names if "photo.jpg" in g)
    assert group[0] == "photo.jpg", names
    assert {"crop70.jpg", "screenshot.png"} <= set(group), names
    text = invoke(runner, db, "dedupe", str(lib)).stdout
    listed = [p for line in text.splitlines() if str(lib) in line
              for p in line.split() if p.startswith(str(lib))]
    assert len(listed) == len(set(listed)), text
    plan = tmp_path / "plan.json"
    invoke(runner, db, "dedupe", str(lib), "--plan", str(plan))
    out = invoke(runner, db, "apply", str(plan))  # a dry run without --yes
    assert "twice" not in out.stdout + out.stderr
    assert sorted(os.listdir(lib)) == sorted(["photo.jpg", "other.jpg", "crop70.jpg",
                                              "screenshot.png", *(["turned.jpg"] * with_turn)])


def test_once_shows_no_picture_twice_but_a_collage_of_two_groups():
    from imgfind.model import Partial
    from imgfind.partial_groups import once

    p = Partial(1.0, 0.25, (0, 0, 1, 1), (0, 0, .5, .5), 0.5, 0.0, "similarity", 30)
    # one first file, two new groups (the crop's, shown from the photo; the photo's own)
    assert once([], {}, [(0, [(1, p), (2, p)]), (0, [(2, p)])], {}, lambda a, b: p) \
        == ({}, [(0, [(1, p), (2, p)])], {})
    # a new group whose first is a member of another: its members join that one, verified
    # against its first; one that does not verify is left out
    verify = {(0, 3): p}.get
    assert once([], {}, [(0, [(1, p), (2, p)]), (1, [(3, p), (4, p)])], {},
                lambda a, b: verify((a, b))) == ({}, [(0, [(1, p), (2, p), (3, p)])], {})
    # ... or a partial member of a global group: they join it
    assert once([[0, 1]], {0: [(4, p)]}, [(4, [(5, p)])], {}, lambda a, b: p) \
        == ({0: [(4, p), (5, p)]}, [], {})
    # a collage (4) of two groups' photos stays in both; so does one of two lone photos (6, 7)
    joins = {0: [(4, p)], 1: [(4, p)]}
    assert once([[0, 1], [2, 3]], joins, [(6, [(8, p)]), (7, [(8, p)])], {}, lambda a, b: p) \
        == (joins, [(6, [(8, p)]), (7, [(8, p)])], {})


def test_a_collage_of_two_groups_photos_is_planned_once(runner, tmp_path):
    # A collage is a partial member of each of its photos' groups; a plan lists it once
    # (kept), so apply reads it (main 9225bc5: "is in the plan twice").
    from PIL import Image

    lib = tmp_path / "lib"
    lib.mkdir()
    photos = [photo_like(s, 800, 600) for s in (41, 42)]
    for k, im in enumerate(photos):
        im.save(lib / f"p{k}.jpg", quality=92)
        im.resize((600, 450)).save(lib / f"p{k}-small.jpg", quality=85)
    collage = Image.new("RGB", (1600, 600))
    for k, im in enumerate(photos):
        collage.paste(im, (800 * k, 0))
    collage.save(lib / "collage.jpg", quality=92)
    db = str(tmp_path / "i.db")
    doc = invoke_json(runner, db, "dedupe", str(lib))
    names = [[f["path"].rsplit("/", 1)[1] for f in g["files"]] for g in doc["groups"]]
    assert sum("collage.jpg" in g for g in names) == 2, names
    plan = tmp_path / "plan.json"
    invoke(runner, db, "dedupe", str(lib), "--plan", str(plan))
    invoke(runner, db, "apply", str(plan))
    import json
    listed = [f["path"] for g in json.loads(plan.read_text())["groups"] for f in g["files"]]
    assert len(listed) == len(set(listed)) and sum(p.endswith("collage.jpg") for p in listed) == 1
