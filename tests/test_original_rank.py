"""Which copy is the likely original when one copy only contains the picture (a screenshot, a
collage, the picture a crop was cut from) or stores less colour (new-user trial, session 8):
a picture that merely shows the query small inside it never outranks a whole copy, a crop's
group starts with the picture it was cut from, and colour ranks before grey and bilevel."""

from __future__ import annotations

import os

from helpers import invoke, invoke_json, textured
from PIL import Image, ImageDraw


def _files(doc: dict) -> list[dict]:
    (group,) = doc["groups"]
    return group["files"]


def test_colour_ranks_before_grey_and_bilevel_copies_of_one_picture(tmp_path, runner, db):
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = textured(31, 900, 700)
    # Names and formats that won every later tie before: "a-" sorts first, PNG is lossless.
    photo.convert("1").save(lib / "a-bilevel.png")
    photo.convert("L").save(lib / "a-grey.png")
    photo.convert("RGBA").save(lib / "b-rgba.png")
    photo.convert("CMYK").save(lib / "b-cmyk.tif")
    invoke(runner, db, "index", str(lib))
    names = [os.path.basename(f["path"]) for f in _files(invoke_json(runner, db, "dedupe"))]
    assert sorted(names[:2]) == ["b-cmyk.tif", "b-rgba.png"], names
    assert names[2:] == ["a-grey.png", "a-bilevel.png"], names
    # the same order for a query: its likely original is a colour copy
    doc = invoke_json(runner, db, "query", str(lib / "a-bilevel.png"))
    assert os.path.basename(doc["queries"][0]["original"]) in ("b-cmyk.tif", "b-rgba.png"), doc


def _screenshot(photo: Image.Image) -> Image.Image:
    """A phone screenshot (720x1480) that shows *photo* shrunk to 700 px wide."""
    shot = Image.new("RGB", (720, 1480), (240, 240, 240))
    ImageDraw.Draw(shot).rectangle((0, 0, 720, 120), fill=(30, 60, 200))
    w = 700
    shot.paste(photo.resize((w, round(photo.height * w / photo.width)), Image.LANCZOS), (10, 400))
    return shot


def _collage(photo: Image.Image) -> Image.Image:
    col = Image.new("RGB", (1400, 1100), "white")
    for i, (x, y) in enumerate([(10, 10), (700, 10), (10, 560), (700, 560)]):
        col.paste((photo if i == 0 else textured(60 + i, 900, 700)).resize((680, 529)), (x, y))
    return col


def test_a_picture_that_merely_contains_the_query_is_not_its_original(tmp_path, runner, db):
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = textured(11, 900, 700)
    query = tmp_path / "photo1.jpg"
    photo.save(query, quality=92)
    photo.save(lib / "photo1-copy.png")  # the same pixels
    photo.resize((720, 560), Image.LANCZOS).save(lib / "photo1-small.jpg", quality=90)
    _screenshot(photo).save(lib / "screenshot.png")
    _collage(photo).save(lib / "collage.jpg", quality=90)
    invoke(runner, db, "index", str(lib))
    doc = invoke_json(runner, db, "query", str(query))
    q = doc["queries"][0]
    partial = {os.path.basename(m["path"]) for m in doc["matches"] if m["partial"]}
    assert partial == {"screenshot.png", "collage.jpg"}, doc["matches"]  # found, as partial
    assert os.path.basename(q["original"]) in ("photo1.jpg", "photo1-copy.png"), q
    # the biggest copy is one that shows the photo at 900x700, not a container's canvas
    biggest = q["answer"]["biggest"]
    assert (biggest["width"], biggest["height"]) == (900, 700), biggest
    assert not any("contains the query" in r for r in q["answer"]["original"]["reasons"])
    assert not any(m["original"] for m in doc["matches"] if m["partial"])
    text = invoke(runner, db, "query", str(query)).stdout
    assert "screenshot.png (720x1480" not in text and "collage.jpg (1400x1100" not in text, text


def _names(doc: dict) -> list[str]:
    return [os.path.basename(f["path"]) for f in _files(doc)]


def test_a_crop_group_starts_with_the_picture_it_was_cut_from(tmp_path, runner, db):
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = textured(21, 900, 700)
    photo.save(lib / "photo.jpg", quality=92)
    photo.crop((135, 105, 765, 595)).save(lib / "photo-crop70.jpg", quality=92)  # 49% of it
    invoke(runner, db, "index", str(lib))
    doc = invoke_json(runner, db, "dedupe")
    assert _names(doc) == ["photo.jpg", "photo-crop70.jpg"], doc
    first, crop = _files(doc)
    assert first["original"] is True and crop["original"] is False
    assert crop["relation"].startswith("inside the first file, 49%"), crop["relation"]
    # what a keep-the-first script reads: the whole picture first
    paths = invoke(runner, db, "dedupe", "--format", "paths").stdout.splitlines()
    assert [os.path.basename(p) for p in paths if p] == ["photo.jpg", "photo-crop70.jpg"], paths
    # the same when the crop has a whole copy of its own (the crop's group is found first,
    # and the picture it was cut from joins it): that picture is shown first, every file kept
    Image.open(lib / "photo-crop70.jpg").save(lib / "photo-crop70.png")
    invoke(runner, db, "index", str(lib))
    names = _names(invoke_json(runner, db, "dedupe"))
    assert names[0] == "photo.jpg" and sorted(names[1:]) == ["photo-crop70.jpg", "photo-crop70.png"]


def test_a_screenshot_group_still_starts_with_the_photo(tmp_path, runner, db):
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = textured(11, 900, 700)
    photo.save(lib / "photo.jpg", quality=92)
    _screenshot(photo).save(lib / "screenshot.png")
    invoke(runner, db, "index", str(lib))
    assert _names(invoke_json(runner, db, "dedupe")) == ["photo.jpg", "screenshot.png"]


def test_a_turned_copy_of_even_cover_comes_after_the_photo(tmp_path, runner, db):
    # Rotated 15 degrees without expanding (black corners): each picture holds about 90% of
    # the other, so neither lies inside the other; the pair is ordered as whole copies are
    # (here: the name the other extends).
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = textured(52, 800, 800)
    photo.save(lib / "photo.jpg", quality=92)
    photo.rotate(15, resample=Image.BICUBIC).save(lib / "photo-rot15.jpg", quality=92)
    invoke(runner, db, "index", str(lib))
    doc = invoke_json(runner, db, "dedupe")
    assert _names(doc) == ["photo.jpg", "photo-rot15.jpg"], doc
    assert _files(doc)[1]["partial"] is not None
