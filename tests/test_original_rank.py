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
