"""Every format people have (issue 14): each read file is the same picture as its PNG, by
fingerprint; optional decoders (extras heic, raw, jxl) are tested when installed (the test
extra installs them) and skipped with the extra's name otherwise."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from formats_support import write_dng, write_psd
from helpers import invoke, make_image
from PIL import Image, features

from imgfind import fingerprint_file
from imgfind.crawl import CrawlOptions, walk
from imgfind.decode import open_for_hash
from imgfind.decoders import REGISTRY, Missing, Registry
from imgfind.decoders.pillow import PILLOW, PillowDecoder
from imgfind.decoders.raw import PREVIEW_MIN_SIDE, preview_fits


def _needs(module: str, extra: str):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"{module} not installed: imgfind's {extra} extra")


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
    with pytest.raises(DecodeError, match="cannot decode raw file") as err:
        open_for_hash(tmp_path / "bad.nef")
    assert "b'" not in str(err.value) and 'b"' not in str(err.value)  # words, not a bytes repr


def test_skipped_formats_name_the_extra_that_reads_them(tmp_path, monkeypatch, runner):
    """Without a decoder, files of a known format are counted and named in the summary, with
    the extra to install; never skipped silently."""
    import imgfind.cli
    import imgfind.crawl
    import imgfind.decode

    bare = Registry([PILLOW], [Missing(frozenset({".heic"}), (), "pip install pillow-heif (imgfind's 'heic' extra)"),
                               Missing(frozenset({".nef", ".dng"}), (), "pip install rawpy (imgfind's 'raw' extra)")])
    monkeypatch.setattr(imgfind.crawl, "REGISTRY", bare)
    monkeypatch.setattr(imgfind.decode, "REGISTRY", bare)
    make_image(tmp_path / "a.jpg", seed=1)
    for name in ("b.heic", "c.nef", "d.dng", "notes.txt"):
        (tmp_path / name).write_bytes(b"\0" * 64)
    skipped = []
    found = list(walk([os.fsencode(tmp_path)], CrawlOptions(), skip=lambda p, why: skipped.append(why)))
    assert [os.path.basename(s.path) for s in found] == [b"a.jpg"]
    assert sorted(skipped) == ["no decoder for .dng (pip install rawpy (imgfind's 'raw' extra))",
                               "no decoder for .heic (pip install pillow-heif (imgfind's 'heic' extra))",
                               "no decoder for .nef (pip install rawpy (imgfind's 'raw' extra))"]
    run = runner.invoke(imgfind.cli.cli, ["--db", str(tmp_path / "i.db"), "index", str(tmp_path)])
    assert run.exit_code == 0, run.output
    assert ("; 3 skipped: no decoder for .dng (pip install rawpy (imgfind's 'raw' extra)); no decoder for .heic "
            "(pip install pillow-heif (imgfind's 'heic' extra)); no decoder for .nef (pip install rawpy (imgfind's 'raw' extra))") in run.stderr


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


@_needs("pillow_heif", "heic")
@_needs("rawpy", "raw")
def test_files_without_decoder_are_read_once_the_extra_is_installed(tmp_path, monkeypatch, runner):
    """A HEIC named .jpg is recorded as unreadable ("no decoder ... inside") while its extra
    is missing and read by the next index run once it is installed; a .dng is skipped with
    its reason whether it is in a folder or named directly, and indexed once rawpy is."""
    import pillow_heif

    import imgfind.crawl
    import imgfind.decode
    from imgfind.decoders import HEIF_EXTENSIONS, HEIF_MAGIC, RAW_EXTENSIONS, RAW_MAGIC

    pillow_heif.register_heif_opener()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    im = make_image(None, seed=71, size=(640, 480))
    im.save(tmp_path / "query.png")
    im.save(mixed / "phone.jpg", format="HEIF", quality=90)  # an iPhone photo renamed .jpg
    write_dng(mixed / "b.dng", im)
    write_dng(tmp_path / "named.dng", im)
    bare = Registry([PILLOW], [Missing(HEIF_EXTENSIONS, HEIF_MAGIC, "install x-heic"),
                               Missing(RAW_EXTENSIONS, RAW_MAGIC, "install x-raw")])
    for module in (imgfind.crawl, imgfind.decode):
        monkeypatch.setattr(module, "REGISTRY", bare)
    db = str(tmp_path / "i.db")
    run = invoke(runner, db, "index", str(mixed), str(tmp_path / "named.dng"))
    assert "0 new" in run.stderr and "1 unreadable" in run.stderr, run.stderr
    assert "2 skipped: no decoder for .dng (install x-raw)" in run.stderr, run.stderr
    run = invoke(runner, db, "index", str(tmp_path / "named.dng"))  # alone: the same form
    assert "0 new" in run.stderr and "1 skipped: no decoder for .dng" in run.stderr, run.stderr
    status = invoke(runner, db, "-v", "status").stdout
    assert "no decoder for this format" in status, status

    for module in (imgfind.crawl, imgfind.decode):  # the extras are installed now
        monkeypatch.setattr(module, "REGISTRY", REGISTRY)
    run = invoke(runner, db, "index", str(mixed), str(tmp_path / "named.dng"))
    assert "2 new, 1 changed" in run.stderr and "0 unreadable" in run.stderr, run.stderr
    assert "no decoder" not in invoke(runner, db, "-v", "status").stdout
    out = json.loads(invoke(runner, db, "query", str(tmp_path / "query.png"), "--format", "json").stdout)
    assert sorted(os.path.basename(m["path"]) for m in out["matches"]) == ["b.dng", "named.dng", "phone.jpg"]
    run = invoke(runner, db, "index", str(mixed))
    assert "0 new, 0 changed" in run.stderr, run.stderr  # read once, not at every run


def test_only_no_decoder_errors_for_a_format_read_now_are_retried():
    bare = Registry([PILLOW], [Missing(frozenset({".heic"}), (), "x")])
    assert REGISTRY.resolves("no decoder for .heic (pip install x)") == (".heic" in REGISTRY.extensions())
    assert not bare.resolves("no decoder for .heic (x)")
    assert bare.resolves("no decoder for this format (.png inside) (x)")
    assert not bare.resolves("no decoder for this format (.heic .heif inside) (x)")
    assert not bare.resolves("cannot identify image file") and not bare.resolves("truncated")


@pytest.mark.parametrize("preview", [False, True])
def test_a_dng_under_another_name_is_told_by_its_content(tmp_path, monkeypatch, preview):
    """A DNG named .jpg names the raw format inside without rawpy (as a HEIC or JXL does)
    and is read by rawpy when it is installed; a plain TIFF is not taken for raw."""
    import imgfind.decode
    from imgfind.decoders import RAW_EXTENSIONS, RAW_KIND, RAW_MAGIC, is_tiff_raw
    from imgfind.errors import DecodeError

    im = make_image(None, seed=72, size=(640, 480))
    write_dng(tmp_path / "photo.jpg", im, preview=preview)
    im.save(tmp_path / "plain.tif")
    head = (tmp_path / "photo.jpg").read_bytes()[:4096]
    assert is_tiff_raw(head) and not is_tiff_raw((tmp_path / "plain.tif").read_bytes()[:4096])
    assert is_tiff_raw(b"II*\x00\x10\x00\x00\x00CR\x02\x00" + bytes(50))  # a CR2 header
    bare = Registry([PILLOW], [Missing(RAW_EXTENSIONS, RAW_MAGIC, "install x-raw", is_tiff_raw, RAW_KIND)])
    monkeypatch.setattr(imgfind.decode, "REGISTRY", bare)
    with pytest.raises(DecodeError, match=r"no decoder for this format \(camera raw: \.dng .* inside\) \(install x-raw\)") as err:
        open_for_hash(tmp_path / "photo.jpg")
    assert REGISTRY.resolves(str(err.value)) == (".dng" in REGISTRY.extensions())  # retried then
    assert not bare.resolves(str(err.value))
    assert open_for_hash(tmp_path / "plain.tif").format == "TIFF"
    if importlib.util.find_spec("rawpy") is not None:
        monkeypatch.setattr(imgfind.decode, "REGISTRY", REGISTRY)
        d = open_for_hash(tmp_path / "photo.jpg")
        assert (d.width, d.height) == (640, 480)


def test_qoi_is_read_and_other_picture_formats_are_named_not_passed_over(tmp_path, runner):
    """Every picture format is either read (QOI: Pillow reads it) or counted in the summary
    with its reason (SVG, EPS, XCF, EXR): none is passed over without a word."""
    make_image(None, seed=3).save(tmp_path / "a.qoi")
    for name in ("b.svg", "c.eps", "d.xcf", "e.exr"):
        (tmp_path / name).write_bytes(b"\0" * 64)
    run = invoke(runner, str(tmp_path / "i.db"), "index", str(tmp_path))
    assert "1 new" in run.stderr and "4 skipped" in run.stderr, run.stderr
    for ext, why in ((".svg", "a vector drawing"), (".eps", "PostScript"),
                     (".xcf", "layered document"), (".exr", "high dynamic range")):
        assert f"no decoder for {ext} (" in run.stderr and why in run.stderr, run.stderr


def test_a_file_skipped_after_its_extra_is_uninstalled_stays_in_the_index(tmp_path, monkeypatch,
                                                                           runner):
    """Uninstalling an extra makes its files unreadable for now, not gone: the next index run
    keeps them (with their fingerprints) instead of reporting them removed."""
    import imgfind.crawl
    import imgfind.decode

    make_image(tmp_path / "a.jpg", seed=5)
    make_image(tmp_path / "b.qoi", seed=6, fmt="QOI")
    db = str(tmp_path / "i.db")
    assert "2 new" in invoke(runner, db, "index", str(tmp_path)).stderr
    without = Registry([PillowDecoder(name="pillow-no-qoi")],
                       [Missing(frozenset({".qoi"}), (), "install the QOI extra")])
    without.decoders[0]._extensions = PILLOW.extensions() - {".qoi"}
    for module in (imgfind.crawl, imgfind.decode):
        monkeypatch.setattr(module, "REGISTRY", without)
    run = invoke(runner, db, "index", str(tmp_path))
    assert "0 removed" in run.stderr and "1 skipped: no decoder for .qoi" in run.stderr, run.stderr
    import sqlite3

    with sqlite3.connect(db) as con:
        kept = con.execute("SELECT count(*) FROM files f JOIN prints p ON p.file_id = f.id"
                           " WHERE CAST(f.path AS TEXT) LIKE '%b.qoi'").fetchone()[0]
    assert kept == 1


@pytest.mark.parametrize("head", [b"II*\x00", b"II*\x00\x08", b"MM\x00*\x00\x00\x00", b"II*\x00\xff\xff\xff\xff"])
def test_a_file_cut_inside_its_tiff_header_is_unreadable_not_a_crash(tmp_path, head):
    """The fuzz loop's mutant (session 8 CI): a TIFF cut to 4-7 bytes raised struct.error in
    the camera-raw probe, a traceback out of the crawl; it is simply not a raw file, and the
    index records it as unreadable."""
    from imgfind.decoders import is_tiff_raw
    from imgfind.errors import DecodeError

    assert is_tiff_raw(head) is False
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "cut.tif").write_bytes(head)
    with pytest.raises(DecodeError):  # what the fuzz loop asks of every mutant
        open_for_hash(tmp_path / "lib" / "cut.tif")
    make_image(tmp_path / "lib" / "ok.jpg", seed=5)
    run = subprocess.run([sys.executable, "-m", "imgfind", "--db", str(tmp_path / "i.db"),
                          "index", str(tmp_path / "lib")], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "1 new" in run.stderr and "1 unreadable" in run.stderr, run.stderr
