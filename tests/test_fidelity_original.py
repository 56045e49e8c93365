"""A visibly degraded JPEG re-encode is never the likely original, nor the kept file, beside a
finer JPEG of the same picture, whatever its file time, name or copied EXIF say (new-user
trial, session 10: a quality-35 copy that was older, or had the shorter name, was named the
original and the default plan removed the quality-92 file)."""

from __future__ import annotations

import json
import os

import pytest
from helpers import invoke, invoke_json, make_image
from PIL import Image

from imgfind.group import CLEAR_STEP, clearly_degraded, order_members
from imgfind.model import DAMAGED, FileRecord
from imgfind.quality import ijg_scale

MINUTE = 60 * 10**9
T0 = 1_700_000_000 * 10**9


def _jpeg(i: int, quality: int, *, name: str | None = None, mtime: int = 0, w: int = 800,
          h: int = 600, meta: dict | None = None) -> FileRecord:
    return FileRecord(i, f"/p/{name or i}.jpg", 10_000, mtime, w, h, "JPEG",
                      {"jpeg_quality": str(quality), **(meta or {})})


def test_a_heavier_re_encode_ranks_after_the_finer_copy_whatever_its_time_name_or_camera():
    fine = _jpeg(1, 92, name="photo-hq", mtime=T0 + 30 * MINUTE)
    coarse = _jpeg(2, 35, name="photo", mtime=T0)  # older, and the name the other extends
    assert order_members([coarse, fine])[0] is fine
    with_exif = _jpeg(3, 35, name="photo", mtime=T0, meta={"camera_model": "X"})
    assert order_members([with_exif, fine])[0] is fine  # EXIF is copied along with a re-encode


def test_a_gap_that_is_not_clear_leaves_time_and_name_to_decide():
    # 92 against 88 quantises 1.5x as coarsely: not a visible loss; the older file wins.
    older = _jpeg(1, 88, mtime=T0)
    newer = _jpeg(2, 92, mtime=T0 + 30 * MINUTE)
    assert ijg_scale(88) < CLEAR_STEP * ijg_scale(92)
    assert order_members([newer, older])[0] is older
    # and from twice as coarse on, the finer copy wins
    assert ijg_scale(84) >= CLEAR_STEP * ijg_scale(92)
    assert order_members([newer, _jpeg(3, 84, mtime=T0)])[0] is newer


def test_earlier_rules_still_come_first():
    fine = _jpeg(1, 92, mtime=T0 + 30 * MINUTE)
    # most picture first: a larger copy at quality 35 is not a re-encode of the smaller one
    big = _jpeg(2, 35, mtime=T0, w=1600, h=1200)
    assert order_members([fine, big])[0] is big
    # colour first: a grey copy is made from a colour one, however finely it was saved
    grey = _jpeg(3, 92, mtime=T0, meta={"colour": "grey"})
    colour = _jpeg(4, 35, mtime=T0 + 30 * MINUTE)
    assert order_members([grey, colour])[0] is colour
    assert clearly_degraded([grey, colour]) == [False, False]
    # a damaged copy last, however fine its tables
    damaged = _jpeg(5, 95, mtime=T0, meta={DAMAGED: "truncated: 90% of the rows decoded"})
    assert order_members([damaged, colour])[0] is colour
    assert clearly_degraded([damaged, colour]) == [False, False]


def _save(photo: Image.Image, path, quality: int, mtime_ns: int, exif: bytes = b"") -> None:
    photo.save(path, quality=quality, **({"exif": exif} if exif else {}))
    os.utime(path, ns=(mtime_ns, mtime_ns))


def _exif(when: str) -> bytes:
    exif = Image.Exif()
    exif[0x8769] = {0x9003: when}  # DateTimeOriginal in the Exif IFD
    return exif.tobytes()


@pytest.mark.parametrize("size,low,high", [((800, 600), 35, 92), ((1280, 960), 50, 90),
                                           ((640, 480), 40, 85)])
def test_plan_and_query_keep_the_finer_jpeg_when_the_coarse_one_is_older(
        tmp_path, runner, db, size, low, high):
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = make_image(None, seed=sum(size) + low, size=size)
    # The coarse copy is older, has the shorter name and the capture time: every old tie-break
    # pointed at it.
    _save(photo, lib / "photo.jpg", low, T0, _exif("2020:05:01 10:00:00"))
    _save(photo, lib / "photo-hq.jpg", high, T0 + 90 * MINUTE)
    invoke(runner, db, "index", str(lib))
    doc = invoke_json(runner, db, "dedupe")
    (group,) = doc["groups"]
    assert os.path.basename(group["files"][0]["path"]) == "photo-hq.jpg", group
    plan_path = tmp_path / "plan.json"
    invoke(runner, db, "dedupe", "--plan", str(plan_path))
    plan = json.loads(plan_path.read_text())
    (g,) = plan["groups"]
    assert g["kept"] == str(lib / "photo-hq.jpg"), g
    assert [f["action"] for f in g["files"] if f["path"] == str(lib / "photo.jpg")] == ["remove"]
    assert g["rule"].startswith("original: least compressed"), g["rule"]
    # the query names the same original, and says why
    q = invoke_json(runner, db, "query", str(lib / "photo.jpg"))["queries"][0]
    assert q["original"] == str(lib / "photo-hq.jpg"), q
    reasons = q["answer"]["original"]["reasons"]
    assert any(r.startswith(f"least compressed: JPEG quality {high}; photo.jpg (quality {low})")
               for r in reasons), reasons
    assert not any("earliest" in r for r in reasons), reasons
    text = invoke(runner, db, "query", str(lib / "photo.jpg")).stdout
    assert f"likely original: {lib / 'photo-hq.jpg'}" in text and "least compressed" in text, text
