"""Every format people have (issue 14): each read file is the same picture as its PNG, by
fingerprint; optional decoders (extras heic, raw, jxl) are tested when installed (the test
extra installs them) and skipped with the extra's name otherwise."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest
from formats_support import write_dng, write_psd
from helpers import invoke, make_image
from PIL import Image, features

from imgfind import fingerprint_file
from imgfind.crawl import CrawlOptions, walk
from imgfind.decode import open_for_hash
from imgfind.decoders import REGISTRY, Missing, Registry
from imgfind.decoders.pillow import PILLOW
from imgfind.decoders.raw import PREVIEW_MIN_SIDE, preview_fits


def _needs(module: str, extra: str):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"{module} not installed: pip install imgfind[{extra}]")


def _distance(a, b) -> int:
    fa, fb = fingerprint_file(a), fingerprint_file(b)
    return (fa.phash ^ fb.phash).bit_count()


@pytest.fixture
def picture(tmp_path):
    im = make_image(tmp_path / "ref.png", seed=31, size=(640, 480))
    return im, tmp_path / "ref.png"


@pytest.mark.parametrize("fmt, save, max_d", [
    ("bmp", {}, 0), ("tiff", {}, 0), ("webp", {"lossless": True}, 0), ("psd", None, 0),
    ("ico", {"sizes": [(256, 192)]}, 4), ("webp", {"quality": 80}, 4), ("avif", {"quality": 80}, 4),
])
def test_pillow_formats_are_the_same_picture(tmp_path, picture, fmt, save, max_d):
    im, ref = picture
    if fmt == "avif" and not features.check("avif"):
        pytest.skip("this Pillow has no AVIF (Pillow >= 11.3 wheels read it)")
    path = tmp_path / f"copy.{fmt}"
    if save is None:
        write_psd(path, im)
    else:
        im.save(path, **save)
    assert path.suffix in REGISTRY.extensions()
    d = open_for_hash(path)
    assert d.format == {"tiff": "TIFF", "psd": "PSD", "ico": "ICO"}.get(fmt, fmt.upper())
    assert _distance(ref, path) <= max_d


def test_multipage_tiff_is_read_by_its_first_page(tmp_path):
    first = make_image(None, seed=32, size=(320, 240))
    second = make_image(None, seed=33, size=(320, 240))
    first.save(tmp_path / "pages.tiff", save_all=True, append_images=[second])
    first.save(tmp_path / "first.png")
    second.save(tmp_path / "second.png")
    assert open_for_hash(tmp_path / "pages.tiff").frames == 2
    assert _distance(tmp_path / "pages.tiff", tmp_path / "first.png") == 0
    assert _distance(tmp_path / "pages.tiff", tmp_path / "second.png") > 10


@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
def test_animations_are_one_picture_of_their_frames(tmp_path, fmt):
    """Animated GIF, APNG and WebP: a representative picture (the mean of sampled frames, as
    issue 11 asked, so that two animations opening on the same black frame differ), which for
    an animation of near-identical frames is its first frame."""
    base = make_image(None, seed=34, size=(320, 240))
    frames = [base] + [base.point(lambda v, k=k: min(255, v + k)) for k in (1, 2)]
    frames[0].save(tmp_path / f"a.{fmt}", save_all=True, append_images=frames[1:], duration=50,
                   loop=0, **({"lossless": True} if fmt == "webp" else {}))
    base.save(tmp_path / "first.png")
    d = open_for_hash(tmp_path / f"a.{fmt}")
    assert d.frames == 3
    assert _distance(tmp_path / f"a.{fmt}", tmp_path / "first.png") <= 2


@_needs("pillow_heif", "heic")
def test_heic_made_with_pillow_heif_is_read_and_found(tmp_path, picture, runner):
    import pillow_heif

    pillow_heif.register_heif_opener()
    im, ref = picture
    im.save(tmp_path / "phone.heic", quality=90)
    d = open_for_hash(tmp_path / "phone.heic")
    assert (d.format, d.width, d.height) == ("HEIF", 640, 480)
    assert _distance(ref, tmp_path / "phone.heic") <= 2
    db = str(tmp_path / "i.db")
    invoke(runner, db, "index", str(tmp_path / "phone.heic"))
    out = json.loads(invoke(runner, db, "query", str(ref), "--format", "json").stdout)
    assert [os.path.basename(m["path"]) for m in out["matches"]] == ["phone.heic"]


def test_avif_made_with_pillow_is_read(tmp_path, picture):
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF (Pillow >= 11.3 wheels read it)")
    im, ref = picture
    im.save(tmp_path / "web.avif", quality=85)
    d = open_for_hash(tmp_path / "web.avif")
    assert (d.format, d.width, d.height) == ("AVIF", 640, 480)
    assert _distance(ref, tmp_path / "web.avif") <= 2


@_needs("pillow_jxl", "jxl")
def test_jpeg_xl_is_read(tmp_path, picture):
    import pillow_jxl  # noqa: F401 - registers the plugin for saving

    im, ref = picture
    im.save(tmp_path / "a.jxl", quality=90)
    d = open_for_hash(tmp_path / "a.jxl")
    assert (d.format, d.width, d.height) == ("JXL", 640, 480)
    assert _distance(ref, tmp_path / "a.jxl") <= 2


@_needs("rawpy", "raw")
@_needs("tifffile", "test")
def test_dng_without_preview_is_demosaiced(tmp_path, picture):
    im, ref = picture
    write_dng(tmp_path / "shot.dng", im)
    d = open_for_hash(tmp_path / "shot.dng")
    assert (d.format, d.width, d.height) == ("RAW", 640, 480)
    assert d.metadata["raw_path"] == "demosaiced"
    assert d.metadata["camera_make"] == "imgfind" and d.metadata["camera_model"] == "test camera"
    assert _distance(ref, tmp_path / "shot.dng") <= 2


@_needs("rawpy", "raw")
@_needs("tifffile", "test")
def test_dng_with_a_large_preview_is_read_from_it(tmp_path, picture, runner):
    im, ref = picture
    write_dng(tmp_path / "shot.dng", im, preview=True)
    d = open_for_hash(tmp_path / "shot.dng")
    assert (d.format, d.width, d.height) == ("RAW", 640, 480)
    assert d.metadata["raw_path"] == "embedded preview"
    assert d.metadata["camera_model"] == "test camera"
    assert _distance(ref, tmp_path / "shot.dng") <= 2
    # an export of the raw is found by querying with it
    db = str(tmp_path / "i.db")
    invoke(runner, db, "index", str(tmp_path / "shot.dng"))
    im.save(tmp_path / "export.jpg", quality=85)
    out = json.loads(invoke(runner, db, "query", str(tmp_path / "export.jpg"), "--format", "json").stdout)
    assert [os.path.basename(m["path"]) for m in out["matches"]] == ["shot.dng"]


@_needs("rawpy", "raw")
@_needs("tifffile", "test")
def test_a_small_preview_is_not_used(tmp_path, picture):
    im, ref = picture
    small = im.resize((PREVIEW_MIN_SIDE // 2, PREVIEW_MIN_SIDE * 3 // 8))
    write_dng(tmp_path / "shot.dng", small, preview=True)
    assert open_for_hash(tmp_path / "shot.dng").metadata["raw_path"] == "demosaiced"


def test_preview_shape_rules():
    assert preview_fits((1024, 683), (6000, 4000))
    assert preview_fits((683, 1024), (6000, 4000))  # stored sideways
    assert not preview_fits((160, 120), (6000, 4000))  # too small
    assert not preview_fits((1920, 1080), (6000, 4000))  # 16:9 of a 3:2 sensor


@_needs("rawpy", "raw")
def test_a_corrupt_raw_file_is_one_clear_error(tmp_path):
    from imgfind.errors import DecodeError

    (tmp_path / "bad.nef").write_bytes(b"II*\x00" + os.urandom(2000))
    with pytest.raises(DecodeError, match="cannot decode raw file"):
        open_for_hash(tmp_path / "bad.nef")


def test_skipped_formats_name_the_extra_that_reads_them(tmp_path, monkeypatch, runner):
    """Without a decoder, files of a known format are counted and named in the summary, with
    the extra to install; never skipped silently."""
    import imgfind.cli
    import imgfind.crawl
    import imgfind.decode

    bare = Registry([PILLOW], [Missing(frozenset({".heic"}), (), "pip install imgfind[heic]"),
                               Missing(frozenset({".nef", ".dng"}), (), "pip install imgfind[raw]")])
    monkeypatch.setattr(imgfind.crawl, "REGISTRY", bare)
    monkeypatch.setattr(imgfind.decode, "REGISTRY", bare)
    make_image(tmp_path / "a.jpg", seed=1)
    for name in ("b.heic", "c.nef", "d.dng", "notes.txt"):
        (tmp_path / name).write_bytes(b"\0" * 64)
    skipped = []
    found = list(walk([os.fsencode(tmp_path)], CrawlOptions(), skip=lambda p, why: skipped.append(why)))
    assert [os.path.basename(s.path) for s in found] == [b"a.jpg"]
    assert sorted(skipped) == ["no decoder for .dng (pip install imgfind[raw])",
                               "no decoder for .heic (pip install imgfind[heic])",
                               "no decoder for .nef (pip install imgfind[raw])"]
    run = runner.invoke(imgfind.cli.cli, ["--db", str(tmp_path / "i.db"), "index", str(tmp_path)])
    assert run.exit_code == 0, run.output
    assert ("; 3 skipped: no decoder for .dng (pip install imgfind[raw]); no decoder for .heic "
            "(pip install imgfind[heic]); no decoder for .nef (pip install imgfind[raw])") in run.stderr


def test_pillow_formats_missing_from_this_build_are_named():
    from imgfind.decoders.pillow import WANTED_EXTENSIONS, unreadable_by_pillow

    missing = unreadable_by_pillow()
    named = set().union(*(m.extensions for m in missing)) if missing else set()
    assert named == set(WANTED_EXTENSIONS - PILLOW.extensions())
    assert all(m.hint for m in missing)


def test_the_crawl_reads_every_extension_a_decoder_reads(tmp_path):
    exts = REGISTRY.extensions()
    assert {".jpg", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp", ".ico", ".psd"} <= exts
    for module, ext in (("pillow_heif", ".heic"), ("rawpy", ".dng"), ("pillow_jxl", ".jxl")):
        assert (ext in exts) == (importlib.util.find_spec(module) is not None)
    assert (".avif" in exts) == features.check("avif")
    assert np.all([e == e.lower() and e.startswith(".") for e in exts])
