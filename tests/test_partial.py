"""Partial matches through local features (issue 12): a crop finds its source, a screenshot with
a frame and a collage of four find every picture inside them, a turned copy finds its
original, and a picture without keypoints falls back to the global path. Pictures are
generated with Pillow (shapes and texture: keypoints need corners)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from helpers import invoke, invoke_json, textured
from PIL import Image, ImageDraw

from imgfind import Index, keypoints, partial
from imgfind.model import Partial
from imgfind.partial_groups import groupable, place


def photo(seed: int, w: int = 800, h: int = 600) -> Image.Image:
    """A textured picture: many overlapping shapes give corners at every scale."""
    return textured(seed, w, h)


def photo_crop_and_other(lib, seed: int, other: int, crop_name: str) -> None:
    """In *lib*: photo *seed*, a 70% centre crop of it named *crop_name*, and photo *other*."""
    lib.mkdir()
    photo(seed).save(lib / f"p{seed}.jpg", quality=92)
    photo(seed).crop((120, 90, 680, 510)).save(lib / crop_name, quality=90)
    photo(other).save(lib / f"p{other}.jpg", quality=92)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("partial")
    lib, q = root / "lib", root / "q"
    lib.mkdir()
    q.mkdir()
    for i in range(8):
        photo(i).save(lib / f"p{i}.jpg", quality=92)
    photo(0).crop((120, 90, 680, 510)).save(q / "crop.jpg", quality=90)
    shot = Image.new("RGB", (900, 1600), (250, 250, 250))
    d = ImageDraw.Draw(shot)
    d.rectangle((0, 0, 900, 120), fill=(30, 30, 40))  # status and title bars
    d.rectangle((0, 1480, 900, 1600), fill=(220, 220, 220))
    shot.paste(photo(1).resize((840, 630)), (30, 300))
    shot.save(q / "screenshot.png")
    col = Image.new("RGB", (1000, 750), "white")
    for k, (x, y) in enumerate([(0, 0), (500, 0), (0, 375), (500, 375)]):
        col.paste(photo(2 + k).resize((490, 365)), (x + 5, y + 5))
    col.save(q / "collage.jpg", quality=90)
    photo(6).rotate(10, resample=Image.Resampling.BICUBIC, expand=True).save(q / "rot10.jpg")
    Image.new("RGB", (640, 480), (90, 120, 200)).save(q / "flat.png")
    db = str(root / "i.db")
    with Index.open(db) as idx:
        idx.update([lib])
    return root, db


def names(result):
    return sorted(m.file.path.rsplit("/", 1)[1] for m in result.matches)


def test_crop_finds_its_source_with_overlap(library):
    root, db = library
    with Index.open(db, readonly=True) as idx:
        r = idx.query(root / "q" / "crop.jpg")
        off = idx.query(root / "q" / "crop.jpg", partial=False)
    assert names(r) == ["p0.jpg"] and names(off) == []
    p = r.matches[0].partial
    assert p.cover_a > 0.9  # the whole query is in p0 ...
    assert 0.40 < p.cover_b < 0.60  # ... as 49% of it (560x420 of 800x600)
    left, top, right, bottom = p.box_b
    assert abs(left - 0.15) < 0.04 and abs(top - 0.15) < 0.04 and abs(right - 0.85) < 0.04
    assert abs(p.scale - 1.0) < 0.1 and abs(p.rotation) < 2
    assert r.matches[0].relation.startswith("contains the query, as 4")


def test_screenshot_with_frame_finds_the_photo_inside(library):
    root, db = library
    with Index.open(db, readonly=True) as idx:
        r = idx.query(root / "q" / "screenshot.png")
    assert names(r) == ["p1.jpg"]
    p = r.matches[0].partial
    assert p.cover_b > 0.9 and 0.25 < p.cover_a < 0.5  # 840x630 of 900x1600 = 37%
    assert p.box_a[1] > 0.15 and p.box_a[3] < 0.62  # below the bars
    assert r.matches[0].relation.startswith("inside the query, 3")


def test_collage_of_four_finds_each_photo(library):
    root, db = library
    with Index.open(db, readonly=True) as idx:
        r = idx.query(root / "q" / "collage.jpg")
    assert names(r) == ["p2.jpg", "p3.jpg", "p4.jpg", "p5.jpg"]
    quarters = sorted((round(m.partial.box_a[0] * 2), round(m.partial.box_a[1] * 2)) for m in r.matches)
    assert quarters == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(0.18 < m.partial.cover_a < 0.3 for m in r.matches)


def test_ten_degree_rotation_finds_original_and_says_the_angle(library):
    root, db = library
    with Index.open(db, readonly=True) as idx:
        r = idx.query(root / "q" / "rot10.jpg")
    assert names(r) == ["p6.jpg"]
    p = r.matches[0].partial
    assert abs(abs(p.rotation) - 10) < 1.5
    assert "rotated 10 degrees" in r.matches[0].relation


def test_keypoint_poor_picture_falls_back_without_error(library, tmp_path):
    root, db = library
    flat = np.full((480, 640), 120, np.uint8)
    assert keypoints.extract(flat) is None  # no corners at all
    assert keypoints.extract(np.zeros((20, 30), np.uint8)) is None  # tiny
    with Index.open(db, readonly=True) as idx:
        r = idx.query(root / "q" / "flat.png")
    assert r.matches == ()
    # a tiny copy of a picture still matches through the global path
    small = tmp_path / "tiny.png"
    photo(7).resize((40, 30)).save(small)
    with Index.open(db, readonly=True) as idx:
        r = idx.query(small)
    assert names(r) == ["p7.jpg"] and r.matches[0].partial is None


def test_different_pictures_do_not_verify():
    a = keypoints.extract(np.asarray(photo(10).convert("L").resize((384, 288))))
    b = keypoints.extract(np.asarray(photo(11).convert("L").resize((384, 288))))
    assert a is not None and b is not None
    assert partial.verify(a, b) is None
    assert partial.verify(a, a) is not None  # and the same one does


def test_dedupe_collage_joins_each_group_without_merging(library, runner, tmp_path):
    root, _ = library
    db = str(tmp_path / "d.db")
    lib2 = tmp_path / "lib2"
    lib2.mkdir()
    for i in (2, 3, 4, 5):  # each photo with an exact copy: four groups
        photo(i).save(lib2 / f"p{i}.jpg", quality=92)
        photo(i).resize((600, 450)).save(lib2 / f"p{i}-small.jpg", quality=85)
    Image.open(root / "q" / "collage.jpg").save(lib2 / "collage.jpg", quality=92)
    invoke(runner, db, "index", str(lib2))
    doc = invoke_json(runner, db, "dedupe", "--format", "json")
    groups = [[f["path"].rsplit("/", 1)[1] for f in g["files"]] for g in doc["groups"]]
    assert len(groups) == 4
    for g in groups:  # each photo's group: its two copies, never another photo's
        assert len({n.split("-")[0].split(".")[0] for n in g if n != "collage.jpg"}) == 1
        assert len(g) == 2 + ("collage.jpg" in g)
    # the collage is a partial member of several groups (its stored features hold 128
    # keypoints, about 32 per photo: most but not always all four verify; a query holds 512)
    assert sum("collage.jpg" in g for g in groups) >= 1
    member = next(f for g in doc["groups"] for f in g["files"] if f["path"].endswith("collage.jpg"))
    assert member["partial"]["overlap_first"] > 0.9 and member["partial"]["overlap_member"] < 0.35
    assert member["relation"].startswith("contains the first file")
    # seen from the group's first file (Partial.swapped): numbers as rounded as the query's
    assert member["partial"]["scale"] == round(member["partial"]["scale"], 4)
    plain = invoke_json(runner, db, "dedupe", "--format", "json", "--no-partial")
    assert all("collage.jpg" not in json.dumps(g) for g in plain["groups"])
    csv_out = invoke(runner, db, "dedupe", "--format", "csv").output
    assert "overlap_a" in csv_out.splitlines()[0]


def test_place_never_merges_groups_and_a_lone_pair_forms_a_group():
    p = Partial(1.0, 0.25, (0, 0, 1, 1), (0, 0, .5, .5), 0.5, 0.0, "similarity", 30)
    groups = [[0, 1], [2, 3]]
    pairs = [(4, 0, p.swapped()), (4, 2, p.swapped()), (1, 3, p), (5, 6, p)]
    joins, new, promoted = place(groups, pairs, lambda a, b: p)
    assert sorted(joins) == [0, 1] and joins[0][0][0] == 4 and joins[1][0][0] == 4
    assert 3 not in [r for adds in joins.values() for r, _ in adds]  # 1-3: two groups, left apart
    assert new == [(5, [(6, p)])] and promoted == {}  # 5 lies inside 6, shown at half size: 5 is the first


def test_collage_with_a_stretched_photo_is_found_through_its_half(library, tmp_path):
    root, db = library
    w, h = 800, 600
    canvas = Image.new("RGB", (w, h), "white")
    canvas.paste(photo(3).resize((w // 2, h), Image.Resampling.LANCZOS), (0, 0))  # squeezed 2:1
    canvas.paste(photo(12).crop((w // 4, 0, 3 * w // 4, h)), (w // 2, 0))  # not in the library
    canvas.save(tmp_path / "collage2.jpg", quality=90)
    with Index.open(db, readonly=True) as idx:
        r = idx.query(tmp_path / "collage2.jpg")
    assert names(r) == ["p3.jpg"]
    p = r.matches[0].partial
    # found by its left half (part view) or by keypoints under a homography (a 2:1 squeeze
    # is a plane-to-plane map too): either way the left half of the query, all of p3
    assert p.model in ("part view", "homography")
    assert p.box_a[0] < 0.05 and 0.45 < p.box_a[2] < 0.55 and p.cover_b > 0.9
    assert r.matches[0].relation.startswith("inside the query, ")


def _grey_thumb(im: Image.Image) -> np.ndarray:
    from imgfind.fingerprint import THUMB_SIZE
    return np.asarray(im.convert("L").resize((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BOX))


def test_two_collages_holding_one_photo_are_not_grouped_but_a_turned_copy_is():
    # The kind behind the bench smooth pool's false pairs: two collages whose right halves
    # show one photo (cut a little differently) and whose left halves differ. The keypoints
    # of the shared half fit a transform that lays one whole collage over the other, so both
    # covers read near-whole; the thumbnails disagree over the other halves, and dedupe must
    # not group them.
    from PIL import ImageFilter, ImageOps

    shared = photo(50, 480, 600)
    left = photo(51, 400, 600).filter(ImageFilter.GaussianBlur(3))  # few keypoints there
    one, two = Image.new("RGB", (800, 600)), Image.new("RGB", (800, 600))
    one.paste(left, (0, 0))
    two.paste(ImageOps.invert(left), (0, 0))
    one.paste(shared.crop((0, 0, 400, 600)), (400, 0))
    two.paste(shared.crop((60, 0, 460, 600)), (400, 0))
    fa = keypoints.extract(np.asarray(one.convert("L").resize((384, 288))), 128)
    fb = keypoints.extract(np.asarray(two.convert("L").resize((384, 288))), 128)
    p = partial.verify(fa, fb, thumbs=(_grey_thumb(one), _grey_thumb(two)))
    assert p is not None and 0.9 < min(p.cover_a, p.cover_b) < 0.95  # the frame claims both
    assert p.agree < 0.4
    assert not groupable(p)
    # both near-whole: two pictures in one frame (SAME_FRAME), whatever the thumbnails say
    assert not groupable(replace(p, agree=1.0))
    # a copy turned by 10 degrees: near-whole covers too, and its thumbnail agrees
    orig = photo(43)
    turned = orig.rotate(10, resample=Image.Resampling.BICUBIC)
    fo = keypoints.extract(np.asarray(orig.convert("L").resize((384, 288))), 128)
    ft = keypoints.extract(np.asarray(turned.convert("L").resize((384, 288))), 128)
    q = partial.verify(fo, ft, thumbs=(_grey_thumb(orig), _grey_thumb(turned)))
    assert q is not None and min(q.cover_a, q.cover_b) > 0.7
    assert q.agree > 0.6


def test_swapped_scale_is_rounded_like_a_verified_one():
    p = Partial(0.2, 1.0, (0.0, 0.15, 1.0, 0.47), (0.0, 0.0, 1.0, 1.0), 2.0397, -0.34,
                "similarity", 12)
    assert p.swapped().scale == 0.4903  # not 0.49026817...
    assert p.swapped().swapped().scale == 2.0396  # within 1e-4 of the original
    assert Partial(1.0, 1.0, (0, 0, 1, 1), (0, 0, 1, 1), 0.0, 0.0, "similarity", 4
                   ).swapped().scale == 0.0


def test_a_disagreeing_overlap_across_the_other_picture_is_not_grouped():
    # Two collages of different aspect ratios holding one photo (bench smooth pool): one
    # collage's frame, laid over the other, reaches across its full width; covers 0.98 and
    # 0.71, thumbnails disagreeing. A perspective copy inside its original's frame (covers
    # 0.99 and 0.79, the skew's background disagreeing) stays grouped: on as many inliers as
    # such copies have (bench dev pool: 97-197; on fewer than partial_groups.FEW_INLIERS a
    # disagreeing overlap is not believed at all).
    across = Partial(0.98, 0.71, (0.0, 0.0, 1.0, 1.0), (0.0, 0.15, 1.0, 0.88), 1.02, 0.9,
                     "similarity", 120, 0.2, 0.2, 0.0)
    inside = replace(across, box_b=(0.04, 0.0, 0.93, 0.89))
    assert not groupable(across) and not groupable(across.swapped())
    assert groupable(inside) and groupable(inside.swapped())
    assert groupable(replace(across, agree=0.5))


def test_partial_matching_is_off_by_default_above_the_size_limit(library, runner, tmp_path,
                                                                  monkeypatch):
    """On a large index the descriptor search is slow: by default it is skipped there, with a
    note on stderr; --partial still asks for it, and a small index has it on."""
    from imgfind import cli_common

    root, _ = library
    db = str(tmp_path / "d.db")
    invoke(runner, db, "index", str(root))
    crop = str(root / "q" / "collage.jpg")
    on = invoke(runner, db, "query", crop, "--format", "json")
    assert any(m.get("partial") for m in json.loads(on.stdout)["matches"])
    assert "partial matching" not in on.stderr
    monkeypatch.setattr(cli_common, "PARTIAL_QUERY_MAX", 1)
    monkeypatch.setattr(cli_common, "PARTIAL_DEDUPE_MAX", 1)
    off = invoke(runner, db, "query", crop, "--format", "json")
    assert not any(m.get("partial") for m in json.loads(off.stdout)["matches"])
    assert "partial matching (crops, screenshots, collages) is off" in off.stderr
    assert "--partial turns it on" in off.stderr and off.stderr.count("\n") == 1
    asked = invoke(runner, db, "query", crop, "--partial", "--format", "json")
    assert any(m.get("partial") for m in json.loads(asked.stdout)["matches"])
    grouped = invoke(runner, db, "dedupe", "--format", "json")
    assert "partial matching" in grouped.stderr
    assert "partial" not in grouped.stdout.replace('"partial": null', "")


def test_warm_dedupe_keeps_partial_members_without_verifying_again(library, tmp_path,
                                                                   monkeypatch):
    """A dedupe of an unchanged index remembers its partial members (decision_cache
    keep_stage): the same groups, without searching or verifying keypoints again; an index
    run that adds a file makes it look again."""
    root, _ = library
    lib = tmp_path / "lib"
    photo_crop_and_other(lib, 0, 1, "crop.jpg")
    db = str(tmp_path / "w.db")
    with Index.open(db) as idx:
        idx.update([lib])
        first = idx.groups()

    def listing(groups):
        return [[(m.file.path.rsplit("/", 1)[1], None if m.partial is None else
                  round(m.partial.cover_a, 4)) for m in g.members] for g in groups]

    assert any(m.partial is not None for g in first for m in g.members), listing(first)
    calls = []
    real = Index._place_partial
    monkeypatch.setattr(Index, "_place_partial",
                        lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    with Index.open(db) as idx:
        again = idx.groups()
    assert calls == [] and listing(again) == listing(first)
    shot = Image.new("RGB", (900, 1600), (250, 250, 250))
    shot.paste(photo(1).resize((840, 630)), (30, 300))
    shot.save(lib / "shot.png")
    with Index.open(db) as idx:
        idx.update([lib])
        changed = idx.groups()
    assert calls == [1]
    assert any("shot.png" in str(m.file.path) for g in changed for m in g.members), \
        listing(changed)


def soft(seed: int, w: int = 960, h: int = 600) -> Image.Image:
    """A soft wallpaper (the bench smooth pool's kind): a dark gradient with a few faint,
    blurred facets, so few corners that ORB at its FAST threshold keeps only 19-76."""
    from PIL import ImageFilter

    r = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, w)[None, :] * 0.5 + np.linspace(0, 1, h)[:, None] * 0.5
    c0, c1 = r.integers(20, 90, 3), r.integers(40, 140, 3)
    im = Image.fromarray((c0[None, None, :] + ramp[..., None] * (c1 - c0)[None, None, :])
                         .astype(np.uint8), "RGB")
    layer, mask = Image.new("RGB", (w, h)), Image.new("L", (w, h), 0)
    d, dm = ImageDraw.Draw(layer), ImageDraw.Draw(mask)
    for _ in range(14):
        cx, cy = int(r.integers(0, w)), int(r.integers(0, h))
        pts = [(cx + int(r.integers(-160, 160)), cy + int(r.integers(-120, 120))) for _ in range(3)]
        d.polygon(pts, fill=tuple(int(v) for v in r.integers(0, 255, 3)))
        dm.polygon(pts, fill=int(r.integers(25, 60)))
    return Image.composite(layer, im, mask.filter(ImageFilter.GaussianBlur(1.5)))


def window(im: Image.Image) -> Image.Image:
    """*im* at 60% inside an application window: title, tool and status bars, a side panel
    (high-contrast corners all around a soft picture)."""
    w, h = im.size
    W, H = round(w * 1.1), round(h * 1.1)
    shot = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(shot)
    bar, side = round(H * 0.06), round(W * 0.18)
    d.rectangle((0, 0, W, bar), fill=(60, 60, 64))
    d.rectangle((0, bar, W, 2 * bar), fill=(225, 225, 228))
    for k in range(5):
        d.rectangle((bar * (0.3 + 1.4 * k), bar * 1.2, bar * (1.3 + 1.4 * k), bar * 1.8),
                    fill=(170, 170, 175))
    d.rectangle((0, H - bar, W, H), fill=(200, 200, 204))
    d.rectangle((0, 2 * bar, side, H - bar), fill=(240, 240, 242))
    for k in range(8):
        y0 = 2 * bar + bar * (0.4 + 0.8 * k)
        d.rectangle((side * .1, y0, side * .85, y0 + bar * .35), fill=(190, 190, 195))
    t = im.resize((round(w * .6), round(h * .6)), Image.Resampling.LANCZOS)
    shot.paste(t, (side + (W - side - t.size[0]) // 2, 2 * bar + (H - 3 * bar - t.size[1]) // 2))
    return shot


def _detail(im: Image.Image) -> np.ndarray:
    g = im.convert("L")
    g.thumbnail((384, 384), Image.Resampling.BOX)
    return np.asarray(g)


def _either_way(a, b):
    p = partial.verify(a, b)
    if p is None:
        q = partial.verify(b, a)
        p = None if q is None else q.swapped()
    return p


@pytest.mark.parametrize("seed", [0, 8, 9])
def test_soft_wallpaper_in_a_window_and_turned_15_degrees_is_found(seed):
    # The bench smooth pool's misses: a soft wallpaper has few corners, and inside a window
    # or a rotated frame the window's or the black corners' edges take most of them. Fixed
    # by a lower FAST threshold for soft pictures (keypoints.extract) and verification's
    # guided second pass (partial.verify); before both, none of these three verified.
    original = soft(seed)
    fo = keypoints.extract(_detail(original))
    assert fo is not None and fo.n >= 90
    for copy in (window(original), original.rotate(15, resample=Image.Resampling.BICUBIC,
                                                   expand=True)):
        fc = keypoints.extract(_detail(copy))
        p = _either_way(fc, fo)
        assert p is not None and p.inliers >= 20 and groupable(p)
    shot = _either_way(keypoints.extract(_detail(window(original))), fo)
    assert shot.cover_b > 0.9 and 0.25 < shot.cover_a < 0.4  # the photo: 33% of the window


def test_soft_picture_keeps_its_keypoints_at_a_lower_fast_threshold(monkeypatch):
    detail = _detail(soft(8))
    assert keypoints.extract(detail).n >= 90
    monkeypatch.setattr(keypoints, "ORB_FAST_MIN", keypoints.ORB_FAST)  # no second search
    assert keypoints.extract(detail).n < 40


def test_two_windows_around_different_soft_wallpapers_are_not_grouped():
    # The same application window around two different pictures: the keypoints of the
    # window agree (guided matching finds dozens), the pictures do not; both covers read
    # near-whole, so dedupe must not group them (partial_groups.SAME_FRAME).
    for a, b in ((0, 1), (8, 9), (2, 5)):
        p = _either_way(keypoints.extract(_detail(window(soft(a)))),
                        keypoints.extract(_detail(window(soft(b)))))
        assert p is None or not groupable(p)
    assert _either_way(keypoints.extract(_detail(soft(0))),
                       keypoints.extract(_detail(soft(1)))) is None


def test_a_plan_keeps_a_whole_copy_and_never_removes_or_keeps_by_a_partial_member(tmp_path,
                                                                                  runner):
    # A turned copy (7 degrees, expanded: more pixels than the photo) is a partial member of
    # the photo's group. The resolution rule must not keep it over the photo (the photo's
    # copies then failed apply's strict check and stayed), and it is never removed.
    lib = tmp_path / "lib"
    lib.mkdir()
    photo(11).save(lib / "p.jpg", quality=92)
    photo(11).resize((400, 300)).save(lib / "p-small.jpg", quality=85)
    photo(11).rotate(7, resample=Image.Resampling.BICUBIC, expand=True,
                     fillcolor=(255, 255, 255)).save(lib / "p-rot7.jpg", quality=92)
    db = str(tmp_path / "i.db")
    doc = invoke_json(runner, db, "dedupe", str(lib), "--format", "json")
    (group,) = doc["groups"]
    assert [f["path"].rsplit("/", 1)[1] for f in group["files"] if f["partial"]] == ["p-rot7.jpg"]
    plan_path = tmp_path / "plan.json"
    invoke(runner, db, "dedupe", str(lib), "--plan", str(plan_path), "--keep", "resolution")
    (pg,) = json.loads(plan_path.read_text())["groups"]
    actions = {f["path"].rsplit("/", 1)[1]: f["action"] for f in pg["files"]}
    assert pg["kept"].endswith("/p.jpg")
    assert actions == {"p.jpg": "keep", "p-small.jpg": "remove", "p-rot7.jpg": "keep"}
    # --no-partial is honoured by the acting path too: the turned copy is not in the plan
    invoke(runner, db, "dedupe", str(lib), "--plan", str(plan_path), "--no-partial")
    (pg,) = json.loads(plan_path.read_text())["groups"]
    assert sorted(f["path"].rsplit("/", 1)[1] for f in pg["files"]) == ["p-small.jpg", "p.jpg"]


def test_report_takes_partial_and_no_partial(library, runner, tmp_path):
    root, db = library
    out = tmp_path / "r.html"
    assert "note: partial matching" not in invoke(runner, db, "report", "-o", str(out),
                                                   "--no-partial").stderr
    assert out.exists()
    invoke(runner, db, "report", "-o", str(out), "--partial")


def test_a_crop_query_finds_every_copy_of_its_source(tmp_path):
    """A picture with several copies in the library: their shared descriptors weigh less
    (tf-idf) and the copies fill the first candidates, which used to push the original itself
    out of the verified ones. Verification goes on down the ranking while most of what it
    checked verified (a family), so the query lists the source and all its copies."""
    lib = tmp_path / "lib"
    lib.mkdir()
    src = photo(0)
    src.save(lib / "photo0.jpg", quality=92)
    src.resize((640, 480)).save(lib / "photo0-small.jpg", quality=85)
    src.save(lib / "photo0-q60.jpg", quality=60)
    src.resize((560, 420)).save(lib / "photo0-web.png")
    src.resize((720, 540)).save(lib / "photo0-720.jpg", quality=80)
    for q in (50, 70, 75, 88, 95):  # more copies than the first candidates hold
        src.save(lib / f"photo0-q{q}.jpg", quality=q)
    for i in range(1, 6):
        photo(i).save(lib / f"other{i}.jpg", quality=92)
    src.crop((80, 60, 720, 540)).save(tmp_path / "crop80.jpg", quality=90)
    db = str(tmp_path / "i.db")
    with Index.open(db) as idx:
        idx.update([lib])
        found = names(idx.query(str(tmp_path / "crop80.jpg")))
    assert [n for n in found if n.startswith("photo0")] == sorted(
        ["photo0.jpg", "photo0-small.jpg", "photo0-q60.jpg", "photo0-web.png", "photo0-720.jpg"]
        + [f"photo0-q{q}.jpg" for q in (50, 70, 75, 88, 95)])
    assert not any(n.startswith("other") for n in found)


def test_a_group_of_partial_members_only_says_so_not_a_hash_distance(runner, tmp_path):
    """A photo and a crop of it (no whole copy): their group's spread is not a pHash distance
    between a picture and its crop, which means nothing; text says the group holds partial
    matches only and JSON's max_distance counts whole copies only (0 here)."""
    lib = tmp_path / "lib"
    photo_crop_and_other(lib, 7, 3, "p7-crop.jpg")
    db = str(tmp_path / "i.db")
    doc = invoke_json(runner, db, "dedupe", str(lib), "--format", "json")
    (group,) = doc["groups"]
    assert sorted(f["path"].rsplit("/", 1)[1] for f in group["files"]) == ["p7-crop.jpg", "p7.jpg"]
    assert group["files"][1]["partial"] is not None and group["max_distance"] == 0
    text = invoke(runner, db, "dedupe", str(lib)).output
    assert "group 1: 2 files, partial matches only, no whole copy" in text, text
    assert "max distance" not in text
    # the plan does not say "only file": no rule chose, the crop is another picture, kept
    plan_path = tmp_path / "plan.json"
    shown = invoke(runner, db, "dedupe", str(lib), "--plan", str(plan_path), "--format", "text")
    (pg,) = json.loads(plan_path.read_text())["groups"]
    assert pg["rule"] == "only whole copy (the others are partial matches: other pictures, kept)"
    assert [f["action"] for f in pg["files"]] == ["keep", "keep"]
    assert "kept by rule: only whole copy (the others are partial matches" in shown.stdout


def _fit_both(pa, pb, a, b, least):
    """partial._fit as it was: both models always fitted."""
    import cv2

    if len(pa) < max(least, 4):
        return None
    sim, inl_s = cv2.estimateAffinePartial2D(pa, pb, method=cv2.RANSAC,
                                             ransacReprojThreshold=partial.RANSAC_PIXELS,
                                             maxIters=1000, confidence=0.995)
    n_s = int(inl_s.sum()) if sim is not None and inl_s is not None else 0
    hom, inl_h = cv2.findHomography(pa, pb, cv2.RANSAC, partial.RANSAC_PIXELS, maxIters=1000,
                                    confidence=0.995)
    n_h = int(inl_h.sum()) if hom is not None and inl_h is not None else 0
    if hom is not None and n_h >= max(least, partial.HOMOGRAPHY_GAIN * n_s
                                      + partial.HOMOGRAPHY_EXTRA) \
            and partial._sane_homography(hom, a, b):
        return hom, inl_h.ravel().astype(bool), "homography"
    if sim is not None and n_s >= least:
        return np.vstack([sim, [0.0, 0.0, 1.0]]), inl_s.ravel().astype(bool), "similarity"
    return None


@pytest.mark.parametrize("seed", range(6))
def test_fit_skips_the_homography_only_where_it_cannot_be_the_answer(seed):
    """_fit does not fit a homography that could not win even with every match an inlier;
    its answer is the same as fitting both (similar, skewed and noisy matches)."""
    rng = np.random.default_rng(seed)
    a = b = keypoints.LocalFeatures(384, 288, b"", b"")
    models = 0
    for kind in ("similar", "skewed", "noise"):
        pa = (rng.random((60, 2)) * [384, 288]).astype(np.float32)
        if kind == "similar":
            t = np.deg2rad(rng.uniform(-20, 20))
            m = 0.8 * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
            pb = pa @ m.T + [30, 20]
        elif kind == "skewed":
            h = np.array([[0.9, 0.1, 10], [0.05, 1.0, 5], [0.0009, 0.0004, 1.0]])
            ph = np.hstack([pa, np.ones((len(pa), 1))]) @ h.T
            pb = ph[:, :2] / ph[:, 2:]
        else:
            pb = (rng.random((60, 2)) * [384, 288])
        wrong = rng.random(len(pa)) < 0.3
        pb = np.where(wrong[:, None], rng.random(pb.shape) * [384, 288], pb).astype(np.float32)
        for least in (partial.GUIDE_FROM, partial.MIN_INLIERS):
            got, want = partial._fit(pa, pb, a, b, least), _fit_both(pa, pb, a, b, least)
            assert (got is None) == (want is None)
            if got is not None:
                models += 1
                assert got[2] == want[2]
                assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert models >= 2


def test_ratio_matches_equal_a_full_sort_of_each_row():
    """partial._ratio_matches (argmin, then the minimum with it masked) gives what sorting
    every row gave: the same rows, nearest columns and distances, ties included (a tie of the
    two nearest never passes the ratio test)."""
    rng = np.random.default_rng(7)
    for trial in range(200):
        na, nb = rng.integers(1, 60, size=2)
        dist = rng.integers(0, 24 if trial % 2 else 6, size=(na, nb)).astype(np.int16)
        order = np.argsort(dist, axis=1, kind="stable")[:, :2]
        rows = np.arange(na)
        d1 = dist[rows, order[:, 0]]
        d2 = dist[rows, order[:, 1]] if nb > 1 else np.full(na, 64)
        good = (d1 <= partial.MATCH_BITS) & (d1 < partial.RATIO * d2)
        ia, ib, dd = partial._ratio_matches(dist)
        assert np.array_equal(ia, rows[good])
        assert np.array_equal(ib, order[good, 0])
        assert np.array_equal(dd, d1[good])
