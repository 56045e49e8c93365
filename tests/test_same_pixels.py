"""Pixel-identical files (same_pixels.py, issue 11: "a lossless PNG saved from a JPEG is 2 bits
away from it at --threshold 0"): each member of the kind is "same pixels" at distance 0, the
files that are not are never called so, and only candidates of one size and a near pHash are
ever decoded."""

from __future__ import annotations

import os

import numpy as np
import pytest
from faults_support import cli_run, group_names, groups_of, json_doc, no_crash, ok, photo
from PIL import Image, ImageOps

from imgfind import same_pixels
from imgfind.index import Index
from imgfind.model import Rule

T0 = ("--threshold", "0")


def _same_pixel_pairs(doc: dict) -> list[list[str]]:
    """[first, member] basenames of every member the dedupe calls "same pixels"."""
    return sorted([os.path.basename(files[0]["path"]), os.path.basename(f["path"])]
                  for files in groups_of(doc) for f in files[1:] if f["relation"] == "same pixels")


def _dedupe0(tmp_path, folder) -> dict:
    return json_doc(cli_run("--db", str(tmp_path / "i.db"), "dedupe", str(folder), *T0,
                            "--format", "json"))


def test_greyscale_jpeg_and_its_copies(tmp_path):
    """A greyscale JPEG (mode L) and its PNG (grey) and BMP (as RGB) copies."""
    folder = tmp_path / "p"
    folder.mkdir()
    photo(None, seed=7, size=(1200, 900)).convert("L").save(folder / "grey.jpg", quality=88)
    with Image.open(folder / "grey.jpg") as im:
        im.save(folder / "grey.png")
        im.convert("RGB").save(folder / "grey-rgb.bmp")
    doc = _dedupe0(tmp_path, folder)
    assert _same_pixel_pairs(doc) == [["grey.jpg", "grey-rgb.bmp"], ["grey.jpg", "grey.png"]], doc


@pytest.mark.parametrize("subsampling", [0, 2])
def test_exif_oriented_jpeg_and_its_upright_copy(tmp_path, subsampling):
    """A JPEG stored sideways with EXIF Orientation 6, its copy saved upright (pixels equal
    after orientation) and a copy of the stored pixels that keeps the tag."""
    folder = tmp_path / "p"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6
    photo(None, seed=8, size=(1600, 1000)).save(folder / "turned.jpg", quality=90,
                                                 subsampling=subsampling, exif=exif.tobytes())
    with Image.open(folder / "turned.jpg") as im:
        im.save(folder / "stored-tagged.png", exif=exif.tobytes())
        ImageOps.exif_transpose(im).save(folder / "upright.png")
    doc = _dedupe0(tmp_path, folder)
    assert _same_pixel_pairs(doc) == [["turned.jpg", "stored-tagged.png"],
                                      ["turned.jpg", "upright.png"]], doc
    assert {(f["width"], f["height"]) for f in groups_of(doc)[0]} == {(1000, 1600)}


def test_changed_block_lossy_resave_and_lossy_webp_are_not_same_pixels(tmp_path):
    """A PNG of the same size with one 16x16 block changed, a JPEG q=90 re-save and a lossy
    WebP of the JPEG: copies at the default rule, never "same pixels" nor distance 0 by it."""
    folder = tmp_path / "p"
    folder.mkdir()
    photo(folder / "a.jpg", seed=9, size=(1600, 1200), quality=92)
    with Image.open(folder / "a.jpg") as im:
        im.load()
        edited = im.copy()
        im.save(folder / "a-q90.jpg", quality=90)
        if Image.registered_extensions().get(".webp"):
            im.save(folder / "a-lossy.webp", quality=90)
    edited.paste((255, 0, 0), (800, 600, 816, 616))
    edited.save(folder / "a-edited.png")
    db = str(tmp_path / "i.db")
    strict = json_doc(cli_run("--db", db, "dedupe", str(folder), *T0, "--format", "json"))
    assert _same_pixel_pairs(strict) == [], strict
    assert not any(f["same_pixels"] for files in groups_of(strict) for f in files)
    default = json_doc(cli_run("--db", db, "dedupe", "--format", "json"))
    assert "a-edited.png" in {os.path.basename(f["path"]) for files in groups_of(default)
                              for f in files}, "the edited copy is still a near-duplicate"
    assert _same_pixel_pairs(default) == [], default
    q = json_doc(cli_run("--db", db, "query", str(folder / "a-edited.png"), *T0, "--format", "json"))
    assert all(m["relation"] != "same pixels" for m in q["matches"]), q["matches"]


def _counting(monkeypatch) -> list[bytes]:
    """Record every whole-picture decode same_pixels makes."""
    calls: list[bytes] = []
    real = same_pixels.full_pixels

    def counted(path, expect=None):
        calls.append(os.fsencode(path))
        return real(path, expect)

    monkeypatch.setattr(same_pixels, "full_pixels", counted)
    return calls


def test_only_candidates_are_decoded_and_answers_are_remembered(tmp_path, monkeypatch):
    """Two different photos of one size (a JPEG and a PNG) are never decoded as a pair; a JPEG
    and its PNG copy are decoded once: a second dedupe answers from the decision cache; when
    the copy is replaced by an edited picture and indexed again, the pair is checked again."""
    folder = tmp_path / "p"
    folder.mkdir()
    photo(folder / "x.jpg", seed=10, size=(1024, 768), quality=90)
    photo(folder / "y.png", seed=11, size=(1024, 768))
    db = str(tmp_path / "i.db")
    calls = _counting(monkeypatch)
    with Index.open(db) as ix:
        ix.update([folder])
        assert ix.groups(Rule(0, None)) == []
        assert calls == [], "two different pictures of one size were decoded"
        with Image.open(folder / "x.jpg") as im:
            im.save(folder / "x-copy.png")
        ix.update([folder])
        groups = ix.groups(Rule(0, None))
        assert [[os.path.basename(m.file.path) for m in g.members] for g in groups] == \
            [["x.jpg", "x-copy.png"]]
        assert groups[0].members[1].relation == "same pixels"
        assert sorted(os.path.basename(c) for c in calls) == [b"x-copy.png", b"x.jpg"]
        calls.clear()
        assert ix.groups(Rule(0, None)) == groups
        assert ix.groups() and calls == [], "a warm dedupe decoded again"
        with Image.open(folder / "x.jpg") as im:
            im.load()
            edited = im.copy()
        edited.paste((0, 0, 0), (500, 400, 516, 416))
        os.utime(folder / "x.jpg")
        edited.save(folder / "x-copy.png")
        st = os.stat(folder / "x-copy.png")
        os.utime(folder / "x-copy.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        ix.update([folder])
        calls.clear()
        again = ix.groups(Rule(0, None))
        assert calls, "a changed file was not checked again"
        assert all(m.relation != "same pixels" for g in again for m in g.members)


def test_files_deleted_after_indexing_no_traceback(tmp_path):
    """dedupe --threshold 0 of the whole index and query --threshold 0 when the files of a
    pixel-identical pair were deleted after indexing: no traceback, nothing called "same
    pixels" that cannot be checked."""
    folder = tmp_path / "p"
    folder.mkdir()
    photo(folder / "a.jpg", seed=12, size=(800, 600), quality=90)
    with Image.open(folder / "a.jpg") as im:
        im.save(folder / "a.png")
        im.save(folder / "b.png")
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "index", str(folder)))
    (folder / "a.jpg").unlink()
    run = cli_run("--db", db, "dedupe", *T0, "--format", "json")
    ok(run)
    q = cli_run("--db", db, "query", str(folder / "a.png"), *T0)
    ok(q)
    gone_line = next(ln for ln in q.stdout.splitlines() if ln.rstrip().endswith("]") and "a.jpg" in ln)
    assert "same pixels" not in gone_line, q.stdout  # b.png, present, may say it: it is true
    for name in ("a.png", "b.png"):
        (folder / name).unlink()
    no_crash(cli_run("--db", db, "dedupe", *T0))
    gone = cli_run("--db", db, "dedupe", str(folder), *T0)
    ok(gone)


def test_candidate_pairs_equal_brute_force():
    """The slice join finds exactly the pairs a brute-force scan does: a drafted JPEG and a
    file of another format, same size, pHash within the radius (random data with planted
    near pairs, sizes shared by many files)."""
    rng = np.random.default_rng(0)
    n = 3000
    phash = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) \
        + rng.integers(0, 2, n).astype(np.uint64)
    for i in range(0, n - 1, 3):  # plant near twins: 0..6 bits flipped
        flips = rng.choice(64, int(rng.integers(0, 7)), replace=False)
        phash[i + 1] = phash[i] ^ np.uint64(sum(1 << int(b) for b in flips))
    sizes = rng.integers(0, 4, n)
    width, height = 100 + sizes, 80 + sizes * 0
    jpeg = rng.random(n) < 0.5
    other = ~jpeg & (rng.random(n) < 0.9)
    for radius in (0, 2, 4, 6):
        a, b = same_pixels.candidate_pairs(phash, width, height, jpeg, other, radius)
        dist = np.bitwise_count(phash[:, None] ^ phash[None, :])
        want = np.argwhere((dist <= radius) & jpeg[:, None] & other[None, :]
                           & (width[:, None] == width[None, :]))
        assert sorted(zip(a.tolist(), b.tolist())) == sorted(map(tuple, want.tolist())), radius
        assert len(want) > 0


def test_group_of_copies_keeps_the_jpeg_first_and_dedupe_paths(tmp_path):
    """--format paths and csv of a same-pixels group: the JPEG first, the copy listed."""
    folder = tmp_path / "p"
    folder.mkdir()
    photo(folder / "z.jpg", seed=13, size=(640, 480), quality=80)
    with Image.open(folder / "z.jpg") as im:
        im.save(folder / "z.png")
    db = str(tmp_path / "i.db")
    paths = cli_run("--db", db, "dedupe", str(folder), *T0, "--format", "paths")
    ok(paths)
    assert [os.path.basename(p) for p in paths.stdout.split()] == ["z.jpg", "z.png"], paths.stdout
    csv = cli_run("--db", db, "dedupe", *T0, "--format", "csv")
    ok(csv)
    assert "same pixels" in csv.stdout, csv.stdout
    assert group_names(json_doc(cli_run("--db", db, "dedupe", *T0, "--format", "json"))) == \
        [["z.jpg", "z.png"]]


def test_keep_rules_weigh_the_jpeg_for_its_lossless_copy():
    """keep.choose: a PNG that shows exactly a JPEG's pixels is not "lossless", not of better
    quality and not bigger than that JPEG: the default rules keep the JPEG; an unrelated PNG
    still wins by lossless-format."""
    from imgfind.keep import DEFAULT_KEEP, choose
    from imgfind.model import FileRecord

    jpeg = FileRecord(1, "/p/a.jpg", 80_000, 10, 1600, 1200, "JPEG", {"jpeg_quality": "75"})
    copy = FileRecord(2, "/p/a.png", 700_000, 20, 1600, 1200, "PNG", {}, pixels_of="/p/a.jpg")
    decision = choose([copy, jpeg], DEFAULT_KEEP, quality={"/p/a.jpg": 75})
    assert decision.kept.path == "/p/a.jpg", decision
    other = FileRecord(3, "/p/b.png", 700_000, 20, 1600, 1200, "PNG", {})
    assert choose([other, jpeg], DEFAULT_KEEP, quality={"/p/a.jpg": 75}).kept.path == "/p/b.png"


def test_query_of_one_lossless_copy_names_the_jpeg_beside_its_other_copies(tmp_path):
    """New-user trial: querying copy.png with photo.jpg and copy.bmp indexed (all one file
    time, as after cp) named copy.bmp the likely original: only the query's pair with the
    JPEG was checked. Every lossless file showing the query's pixels is its twin too, and
    the JPEG they were saved from is the original."""
    folder = tmp_path / "p"
    folder.mkdir()
    photo(folder / "photo.jpg", seed=3, size=(1600, 1200), quality=85)
    with Image.open(folder / "photo.jpg") as im:
        im.save(folder / "copy.png")
        im.save(folder / "copy.bmp")
    for name in ("photo.jpg", "copy.png", "copy.bmp"):
        os.utime(folder / name, ns=(1_700_000_000 * 10**9,) * 2)
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "index", str(folder)))
    q = json_doc(cli_run("--db", db, "query", str(folder / "copy.png"), "--format", "json"))
    by_name = {os.path.basename(m["path"]): m for m in q["matches"]}
    assert set(by_name) == {"photo.jpg", "copy.bmp"}, by_name
    assert by_name["copy.bmp"]["same_pixels"] and by_name["photo.jpg"]["same_pixels"], by_name
    originals = [n for n, m in by_name.items() if m["original"]]
    assert originals == ["photo.jpg"], q


def test_same_pixels_never_contradicts_same_pixels_as(tmp_path):
    """New-user trial (issue 11, "output says what it means"): when a group's first file is
    not the JPEG (here a bigger copy of it is), the JPEG's lossless copies said
    ``"same_pixels": false`` beside ``"same_pixels_as": "...jpg"``. A file that names the
    file whose pixels it shows is "same pixels"; no other file of the group is."""
    folder = tmp_path / "p"
    folder.mkdir()
    pic = photo(None, seed=21, size=(1200, 900))
    pic.save(folder / "a.jpg", quality=85)
    pic.resize((1800, 1350), Image.Resampling.LANCZOS).save(folder / "big.jpg", quality=95)
    with Image.open(folder / "a.jpg") as im:
        im.save(folder / "a.png")
    doc = json_doc(cli_run("--db", str(tmp_path / "i.db"), "dedupe", str(folder),
                           "--format", "json"))
    (files,) = groups_of(doc)
    by_name = {os.path.basename(f["path"]): f for f in files}
    assert os.path.basename(files[0]["path"]) == "big.jpg", [f["path"] for f in files]
    copy = by_name["a.png"]
    assert copy["same_pixels_as"].endswith("a.jpg"), copy
    assert copy["same_pixels"] is True, copy
    assert by_name["big.jpg"]["same_pixels"] is False and by_name["a.jpg"]["same_pixels"] is False
    for f in files:  # never the one without the other on a copy
        assert f["same_pixels"] == ("same_pixels_as" in f or (
            f is not files[0] and f["relation"] == "same pixels")), f
