"""Issue 11, section 4: pictures read as well as they can be.

A large JPEG is decoded at reduced scale, not refused; memory per decode is bounded; a JPEG
or PNG missing its last bytes is decoded as far as it goes and matched; an animation is
fingerprinted by a representative picture, not by a black first frame; transparency is
composited so that a drawing survives whatever its colour; a lossless copy of a JPEG is the
same picture (same pixels, distance 0) at --threshold 0.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from faults_support import cli_run, group_names, groups_of, json_doc, ok, photo, text
from PIL import Image, ImageDraw


# ----------------------------------------------------------------------------- big pictures
@pytest.mark.slow
def test_100_megapixel_jpeg_panorama_is_indexed_not_refused(tmp_path):
    """A 20000x5000 JPEG decodes cheaply at 1/8 scale: it is indexed and grouped with its
    downscaled copy, the panorama as the larger file."""
    folder = tmp_path / "pano"
    folder.mkdir()
    small = photo(None, seed=5, size=(2000, 500)).convert("L")
    small.save(folder / "pano-small.jpg", quality=80)
    big = small.resize((20000, 5000), Image.Resampling.BILINEAR)
    big.save(folder / "pano-100mp.jpg", quality=30)
    del big
    db = str(tmp_path / "i.db")
    run = cli_run("--db", db, "-v", "index", str(folder))
    ok(run)
    assert "0 unreadable" in run.stderr, f"the panorama was refused: {run.stderr}"
    doc = json_doc(cli_run("--db", db, "dedupe", "--format", "json"))
    assert group_names(doc) == [["pano-100mp.jpg", "pano-small.jpg"]], group_names(doc)
    assert os.path.basename(groups_of(doc)[0][0]["path"]) == "pano-100mp.jpg"


_MEASURE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.slow
def test_palette_png_just_under_the_limit_decodes_in_bounded_memory(tmp_path):
    """A 9400x9400 palette PNG (88 MP) took 1.5 GB in its worker. Decoding one picture must stay
    within a bound that does not grow with its expansion to RGBA (here: 640 MiB peak)."""
    folder = tmp_path / "big"
    folder.mkdir()
    im = Image.new("P", (9400, 9400), 0)
    im.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    draw = ImageDraw.Draw(im)
    for i in range(40):
        draw.rectangle((i * 200, i * 150, i * 200 + 1500, i * 150 + 900), fill=(i * 37) % 256)
    im.info["transparency"] = 0
    im.save(folder / "palette.png", transparency=0)
    del im, draw
    db = str(tmp_path / "i.db")
    done = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "imgfind",
                           "--db", db, "-v", "index", "-j", "1", str(folder)],
                          capture_output=True, timeout=600)
    peak_kib = int(text(done.stdout).split()[-1])
    assert peak_kib < 640 * 1024, f"decoding one 88 MP palette PNG peaked at {peak_kib // 1024} MiB"


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that claims width x height (IHDR) with a token of data: a hostile header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_bomb_messages_quote_the_limit_that_is_applied(tmp_path):
    """Two headers over the limit (1.9x and 4.5x today's) are refused with the same quoted limit,
    a number below their pixel counts (today one quotes Pillow's 2x limit instead)."""
    folder = tmp_path / "bombs"
    folder.mkdir()
    sizes = {"png-13000.png": (13000, 13000), "png-20000.png": (20000, 20000)}
    for name, (w, h) in sizes.items():
        _png_header_only(folder / name, w, h)
    db = str(tmp_path / "i.db")
    run = cli_run("--db", db, "-v", "index", str(folder))
    ok(run)
    limits = {}
    for name, (w, h) in sizes.items():
        line = next((ln for ln in run.stderr.splitlines() if name in ln), "")
        assert re.search(r"refused|too many|too large|bomb", line, re.I), f"{name}: {line!r}"
        numbers = [int(n.replace(",", "").replace("_", "")) for n in re.findall(r"\d[\d,_]{5,}", line)]
        quoted = [n for n in numbers if n >= 1_000_000 and n != w * h]
        assert quoted, f"{name}: no limit quoted: {line!r}"
        limits[name] = quoted[-1]
        assert limits[name] < w * h, line
    assert len(set(limits.values())) == 1, f"different limits quoted: {limits}"


# ----------------------------------------------------------------------------- truncated files
def _cut(src: Path, dst: Path, keep: float) -> None:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("kind", ["jpeg", "progressive-jpeg", "png"])
def test_file_missing_its_last_2_percent_is_matched_with_its_original(tmp_path, kind):
    """dupeGuru#262: a file every viewer still shows (the last 2% of its bytes gone) is decoded,
    marked as truncated, and grouped with its intact original."""
    folder = tmp_path / "recovered"
    folder.mkdir()
    ext = "png" if kind == "png" else "jpg"
    save = {"png": {}, "jpeg": {"quality": 92},
            "progressive-jpeg": {"quality": 92, "progressive": True}}[kind]
    photo(folder / f"orig.{ext}", seed=9, size=(640, 480), **save)
    _cut(folder / f"orig.{ext}", folder / f"cut-98.{ext}", 0.98)
    photo(folder / "other.jpg", seed=10, size=(640, 480))
    # the damaged copy looks older (recovered files often keep an old time): still not the
    # likely original, nor the file a keep rule keeps
    hour_ago = os.stat(folder / f"orig.{ext}").st_mtime_ns - 3600 * 10**9
    os.utime(folder / f"cut-98.{ext}", ns=(hour_ago, hour_ago))
    db = str(tmp_path / "i.db")
    run = cli_run("--db", db, "-v", "index", str(folder))
    ok(run)
    notes = [ln for ln in run.stderr.splitlines() if f"cut-98.{ext}" in ln]
    assert any("truncated" in ln.lower() for ln in notes), f"not marked as truncated: {run.stderr}"
    doc = json_doc(cli_run("--db", db, "dedupe", "--format", "json"))
    assert [f"cut-98.{ext}", f"orig.{ext}"] in group_names(doc), group_names(doc)
    group = next(g for g in groups_of(doc) if len(g) == 2)
    assert os.path.basename(group[0]["path"]) == f"orig.{ext}", [f["path"] for f in group]
    q = json_doc(cli_run("--db", db, "query", str(folder / f"orig.{ext}"), "--format", "json"))
    assert "is read only in part (damaged)" in json.dumps(q), q  # the original's reasons
    text = cli_run("--db", db, "dedupe").stdout
    line = next(ln for ln in text.splitlines() if f"cut-98.{ext}" in ln)
    assert "[damaged: truncated" in line, text


def test_a_damaged_copy_is_never_kept_over_an_intact_one():
    """keep.choose: whatever the rules say (oldest, smallest...), a file read only in part
    (FileRecord.warning) comes after every intact file."""
    from imgfind.keep import choose
    from imgfind.model import DAMAGED, FileRecord

    intact = FileRecord(1, "/p/orig.jpg", 1000, 2 * 10**18, 640, 480, "JPEG", {}, 1.0)
    cut = FileRecord(2, "/p/a.jpg", 900, 10**18, 640, 480, "JPEG",
                     {DAMAGED: "truncated: 97% of the rows decoded"}, 1.0)
    for rules in (("oldest",), ("size",), ("resolution", "oldest")):
        decision = choose([cut, intact], rules)
        assert decision.kept is intact and decision.rule == "intact file", (rules, decision)


def test_file_missing_most_of_its_bytes_is_not_matched(tmp_path):
    """The other side of 'decode what is there': a file cut at 30% is not the same picture."""
    folder = tmp_path / "recovered"
    folder.mkdir()
    photo(folder / "orig.jpg", seed=9, size=(640, 480), quality=92)
    _cut(folder / "orig.jpg", folder / "cut-30.jpg", 0.30)
    db = str(tmp_path / "i.db")
    doc = json_doc(cli_run("--db", db, "dedupe", str(folder), "--format", "json"))
    assert group_names(doc) == [], group_names(doc)


# ----------------------------------------------------------------------------- animations
def _pan(seed: int, n: int = 12, fade: bool = False, size=(320, 240)) -> list[Image.Image]:
    src = photo(None, seed=seed, size=(960, 480))
    frames = []
    for i in range(n):
        x = int((src.width - 640) * i / (n - 1))
        f = src.crop((x, 0, x + 640, 480)).resize(size)
        if fade and i < 4:
            f = Image.blend(Image.new("RGB", size, "black"), f, i / 4)
        frames.append(f)
    return frames


@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
def test_different_animations_fading_in_from_black_are_not_grouped(tmp_path, fmt):
    """czkawka#1918 kind: two different animations that both open on a black frame are two
    pictures; a byte copy of an animation is still its duplicate."""
    if fmt == "webp" and not Image.registered_extensions().get(".webp"):
        pytest.skip("Pillow built without WebP")
    folder = tmp_path / "anim"
    folder.mkdir()
    for name, seed in (("fade-B", 21), ("fade-C", 22)):
        frames = _pan(seed, fade=True)
        frames[0].save(folder / f"{name}.{fmt}", save_all=True, append_images=frames[1:],
                       duration=80, loop=0)
    (folder / f"fade-B-copy.{fmt}").write_bytes((folder / f"fade-B.{fmt}").read_bytes())
    db = str(tmp_path / "i.db")
    doc = json_doc(cli_run("--db", db, "dedupe", str(folder), "--format", "json"))
    assert group_names(doc) == [[f"fade-B-copy.{fmt}", f"fade-B.{fmt}"]], group_names(doc)


# ----------------------------------------------------------------------------- transparency
def _drawing(shape: str, ink: int) -> Image.Image:
    im = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    fill = (ink, ink, ink, 255)
    if shape == "circle":
        d.ellipse((60, 60, 340, 340), outline=fill, width=12)
    elif shape == "star":
        pts = [(200, 30), (240, 150), (370, 150), (265, 225), (305, 355), (200, 275),
               (95, 355), (135, 225), (30, 150), (160, 150)]
        d.line(pts + [pts[0]], fill=fill, width=12)
    elif shape == "house":
        d.rectangle((90, 180, 310, 360), outline=fill, width=12)
        d.line([(70, 190), (200, 50), (330, 190)], fill=fill, width=12)
    elif shape == "zigzag":
        d.line([(30, 350), (100, 60), (170, 350), (240, 60), (310, 350), (370, 60)], fill=fill, width=12)
    else:
        for i, y in enumerate(range(60, 360, 50)):
            d.line([(40, y), (360 - 37 * (i % 4), y)], fill=fill, width=14)
    return im


SHAPES = ["circle", "star", "house", "zigzag", "text"]


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
@pytest.mark.parametrize("ink", [255, 0], ids=["white", "black"])
def test_line_drawings_on_transparent_background_stay_apart(tmp_path, mode, ink):
    """Duplicate-Image-Finder#30 / czkawka#832 kind: five different drawings on a transparent
    background are five pictures whatever the colour of the ink and the mode of the file."""
    folder = tmp_path / "art"
    folder.mkdir()
    for s in SHAPES:
        im = _drawing(s, ink)
        if mode == "LA":
            im = im.convert("LA")
            im.save(folder / f"{s}.png")
        elif mode == "P":
            alpha = np.asarray(im.getchannel("A"))
            pal = Image.new("P", im.size, 0)
            pal.putpalette([0, 0, 0, ink, ink, ink] + [0] * 762)
            pal.putdata([1 if a else 0 for a in alpha.ravel()])
            pal.save(folder / f"{s}.png", transparency=0)
        else:
            im.save(folder / f"{s}.png")
    db = str(tmp_path / "i.db")
    doc = json_doc(cli_run("--db", db, "dedupe", str(folder), "--format", "json"))
    assert group_names(doc) == [], f"different drawings grouped: {group_names(doc)}"


# ----------------------------------------------------------------------------- decode paths
#: (seed, size, quality, subsampling) of JPEGs whose lossless copies are fingerprinted from
#: another decode (the JPEG at reduced scale, the copy whole): 4:2:0 and 4:4:4, small to large.
LOSSLESS_CASES = [(0, (1024, 768), 95, 2), (1, (1600, 1200), 75, 2), (3, (2400, 1600), 90, 0),
                  (4, (320, 240), 85, 0)]


@pytest.mark.parametrize("fmt", ["png", "bmp", "tiff", "webp"])
def test_lossless_copy_of_a_jpeg_is_distance_0(tmp_path, fmt):
    """A PNG (or other lossless file) saved from a JPEG holds the JPEG's pixels: at
    --threshold 0 each JPEG and its copy are one group at distance 0, "same pixels", the JPEG
    the original; query --threshold 0 of the copy finds the JPEG at distance 0.

    This test first asked for equal fingerprints (fingerprint_file bits equal). That cannot be
    had without changing every JPEG's bits (decoding JPEGs whole costs 40% decode CPU and 196
    false pairs on the smooth bench pool: benchmarks/RESULTS.md, "Lossless copies of JPEGs"),
    so the fix finds pixel-identical files at decision time (same_pixels.py) and the test
    asks for what the user sees instead."""
    if fmt == "webp" and not Image.registered_extensions().get(".webp"):
        pytest.skip("Pillow built without WebP")
    folder = tmp_path / "photos"
    folder.mkdir()
    expected = []
    for seed, size, quality, subsampling in LOSSLESS_CASES:
        stem = f"s{seed}-{size[0]}"
        photo(folder / f"{stem}.jpg", seed=seed, size=size, quality=quality,
              subsampling=subsampling)
        with Image.open(folder / f"{stem}.jpg") as im:
            extra = {"lossless": True} if fmt == "webp" else {}
            im.save(folder / f"{stem}-lossless.{fmt}", **extra)
        expected.append([f"{stem}-lossless.{fmt}", f"{stem}.jpg"])
    db = str(tmp_path / "i.db")
    doc = json_doc(cli_run("--db", db, "dedupe", str(folder), "--threshold", "0", "--format", "json"))
    assert group_names(doc) == sorted(expected), group_names(doc)
    for files in groups_of(doc):
        first, copy = files
        assert first["path"].endswith(".jpg"), f"the JPEG is the original: {files}"
        assert copy["distance"] == 0 and copy["relation"] == "same pixels", copy
        assert copy["same_pixels"] is True and copy["same_pixels_as"] == first["path"]
    shown = cli_run("--db", db, "dedupe", "--threshold", "0")
    ok(shown)
    assert shown.stdout.count("(same pixels)") == len(LOSSLESS_CASES), shown.stdout
    for stem in ("s0-1024", "s3-2400"):
        q = json_doc(cli_run("--db", db, "query", str(folder / f"{stem}-lossless.{fmt}"),
                             "--threshold", "0", "--format", "json"))
        found = [(os.path.basename(m["path"]), m["distance"], m["relation"]) for m in q["matches"]]
        assert found == [(f"{stem}.jpg", 0, "same pixels")], found
        assert os.path.basename(q["queries"][0]["original"]) == f"{stem}.jpg"
    said = cli_run("--db", db, "query", str(folder / f"s1-1600-lossless.{fmt}"), "--threshold", "0")
    ok(said)
    assert "same pixels" in said.stdout and "s1-1600.jpg" in said.stdout, said.stdout


@pytest.mark.parametrize("orientation", [3, 6])
def test_tiff_with_an_orientation_tag_is_turned_once(tmp_path, orientation):
    """Pillow's TIFF reader applies the EXIF Orientation itself while loading: imgfind turned
    such a TIFF a second time (a 160x120 TIFF tagged 6 was fingerprinted upside down and
    reported 160 wide). It must read as its PNG twin does: upright size, same picture."""
    from imgfind import fingerprint_file
    from imgfind.decode import open_for_hash

    im = photo(None, seed=4, size=(160, 120))
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.save(tmp_path / "a.tif", exif=exif.tobytes())
    im.save(tmp_path / "a.png", exif=exif.tobytes())
    tif, png = open_for_hash(str(tmp_path / "a.tif")), open_for_hash(str(tmp_path / "a.png"))
    upright = (120, 160) if orientation == 6 else (160, 120)
    assert (tif.width, tif.height) == (png.width, png.height) == upright
    assert tif.orientation == png.orientation == orientation
    a, b = fingerprint_file(tmp_path / "a.tif"), fingerprint_file(tmp_path / "a.png")
    # Turned before the reductions (by Pillow) or after them (the PNG): a few bits apart at
    # most (turned twice, the TIFF was 1258 of 2752 bits away); the same upright pHash.
    apart = int(np.unpackbits((a.hashes ^ b.hashes).view(np.uint8)).sum())
    assert a.phash == b.phash and apart <= 32, apart
