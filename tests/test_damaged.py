"""Issue 11, "pictures read as well as they can be": a copy of a JPEG whose compressed data was
damaged in the middle (a recovered disk, a bad transfer: dupeGuru#262). It decodes without an
error, but from some block on the picture is garbage (a glitch band). dedupe groups it with
its intact original as a damaged copy, marks it damaged (never the original, never kept),
and never pairs two different pictures that only begin alike (damaged.py).

Every picture is made here with Pillow; the damage is bytes overwritten in the file.
"""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from faults_support import cli_run, group_names, groups_of, json_doc
from helpers import make_image
from PIL import Image
from test_partial import soft, window

from imgfind import damaged
from imgfind.decoders.pillow import HEAD_BYTES


def _jpeg(im: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **save)
    return buf.getvalue()


def _zeroed(raw: bytes, at: float, n: int = 16) -> bytes:
    k = int(len(raw) * at)
    return raw[:k] + bytes(n) + raw[k + n:]


def _library(tmp_path, mode: str, progressive: bool, at: float, damage=_zeroed):
    folder = tmp_path / "recovered"
    folder.mkdir()
    pic = make_image(None, seed=3, size=(640, 480)).convert(mode)
    raw = _jpeg(pic, quality=92, progressive=progressive)
    (folder / "orig.jpg").write_bytes(raw)
    # the damaged copy looks older and its name sorts first: still not the likely original
    (folder / "a-copy.jpg").write_bytes(damage(raw, at))
    hour_ago = os.stat(folder / "orig.jpg").st_mtime_ns - 3600 * 10**9
    os.utime(folder / "a-copy.jpg", ns=(hour_ago, hour_ago))
    make_image(None, seed=4, size=(640, 480)).convert(mode).save(
        folder / "other.jpg", quality=92, progressive=progressive)
    return folder


@pytest.mark.parametrize("at", [0.35, 0.5, 0.7])
@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
@pytest.mark.parametrize("mode", ["RGB", "L"], ids=["colour", "grey"])
def test_a_copy_zeroed_mid_scan_is_grouped_with_its_original_and_marked_damaged(
        tmp_path, mode, progressive, at):
    """16 bytes zeroed at 35/50/70% of the file: Pillow decodes the copy without an error (a
    glitch band below the damage; in a progressive file a noisy band). It is grouped with
    its original, after it, marked damaged; the original is not; the other picture is alone."""
    folder = _library(tmp_path, mode, progressive, at)
    with Image.open(folder / "a-copy.jpg") as im:
        im.load()  # the kind: no error from Pillow
    db = str(tmp_path / "i.db")
    doc = json_doc(cli_run("--db", db, "dedupe", str(folder), "--format", "json"))
    assert group_names(doc) == [["a-copy.jpg", "orig.jpg"]], group_names(doc)
    first, copy = groups_of(doc)[0]
    assert os.path.basename(first["path"]) == "orig.jpg" and first["original"], first
    assert "damaged" not in first["metadata"], first
    assert copy["metadata"]["damaged"].lower().startswith("corrupt"), copy
    assert copy["relation"] == damaged.DAMAGED_COPY, copy
    text = cli_run("--db", db, "dedupe", str(folder)).stdout
    line = next(ln for ln in text.splitlines() if "a-copy.jpg" in ln)
    assert "[damaged: corrupt" in line.lower(), text


def test_random_garbage_mid_scan_is_found_by_libjpegs_warning(tmp_path):
    """64 random bytes where the picture data was (no fill run to see): libjpeg warns
    ("Corrupt JPEG data: premature end of data segment"), which Pillow never shows."""
    rng = np.random.default_rng(0)
    junk = bytes(rng.integers(0, 256, 64, dtype=np.uint8))
    assert damaged.longest_run(junk) < damaged.FILL_RUN

    def garble(raw: bytes, at: float) -> bytes:
        k = int(len(raw) * at)
        return raw[:k] + junk + raw[k + len(junk):]

    folder = _library(tmp_path, "RGB", False, 0.5, garble)
    reason, grey = damaged.check(str(folder / "a-copy.jpg"))
    assert reason is not None and reason.startswith("Corrupt JPEG data"), reason
    assert damaged.check(str(folder / "orig.jpg"))[0] is None
    doc = json_doc(cli_run("--db", str(tmp_path / "i.db"), "dedupe", str(folder),
                           "--format", "json"))
    assert group_names(doc) == [["a-copy.jpg", "orig.jpg"]], group_names(doc)
    assert os.path.basename(groups_of(doc)[0][0]["path"]) == "orig.jpg"


def test_a_warm_dedupe_gives_the_same_answer(tmp_path):
    """The answer is kept for the index's state (decision cache): the second dedupe reads it
    back and prints the same JSON."""
    folder = _library(tmp_path, "RGB", False, 0.5)
    db = str(tmp_path / "i.db")
    cold = json_doc(cli_run("--db", db, "dedupe", str(folder), "--format", "json"))
    warm = json_doc(cli_run("--db", db, "dedupe", "--format", "json"))
    assert group_names(cold) == group_names(warm) == [["a-copy.jpg", "orig.jpg"]]
    assert [f["metadata"] for g in groups_of(cold) for f in g] == \
        [f["metadata"] for g in groups_of(warm) for f in g]


def test_a_copy_damaged_too_early_is_no_damaged_copy_but_still_marked(tmp_path):
    """Damage in the top rows leaves too little to compare (MIN_INTACT): the rows rule pairs
    nothing. Here the desync only shifted the brightness of everything below (libjpeg's DC
    predictor), so the global match still groups the two: the copy is marked damaged all the
    same (libjpeg's warning) and comes after its original."""
    folder = tmp_path / "recovered"
    folder.mkdir()
    raw = _jpeg(make_image(None, seed=3, size=(640, 480)), quality=92)
    start = damaged.scan_start(raw)
    assert start is not None and start < HEAD_BYTES
    k = HEAD_BYTES + 64  # just past the head: the top rows already garbage
    assert k < 0.2 * len(raw), len(raw)
    (folder / "orig.jpg").write_bytes(raw)
    (folder / "early.jpg").write_bytes(raw[:k] + bytes(16) + raw[k + 16:])
    grey = [damaged.check(str(folder / n))[1] for n in ("orig.jpg", "early.jpg")]
    assert damaged.rows_agree(*grey) < damaged.MIN_INTACT
    doc = json_doc(cli_run("--db", str(tmp_path / "i.db"), "dedupe", str(folder),
                           "--format", "json"))
    for group in groups_of(doc):
        assert os.path.basename(group[0]["path"]) == "orig.jpg", group
        early = next(f for f in group if f["path"].endswith("early.jpg"))
        assert early["relation"] != damaged.DAMAGED_COPY, early
        assert early["metadata"]["damaged"].startswith("Corrupt JPEG data"), early


def test_screenshots_of_one_window_are_not_damaged_copies_of_each_other(tmp_path):
    """Two screenshots of one application window around different pictures begin with the
    same bytes (same head) and their top rows agree; one of them is damaged mid-scan. It is
    not a damaged copy of the other: most of its bytes are not the other's."""
    folder = tmp_path / "shots"
    folder.mkdir()
    a = _jpeg(window(soft(0)), quality=92)
    b = _jpeg(window(soft(10)), quality=92)
    assert a[:HEAD_BYTES] == b[:HEAD_BYTES]  # the precondition: one bucket of candidates
    bad = _zeroed(b, 0.7)
    (folder / "shot0.jpg").write_bytes(a)
    (folder / "shot10.jpg").write_bytes(bad)
    grey_a, grey_b = damaged.check(str(folder / "shot0.jpg"))[1], damaged.check(str(folder / "shot10.jpg"))[1]
    assert damaged.rows_agree(grey_a, grey_b) >= damaged.MIN_INTACT  # rows alone would pair them
    assert damaged.shared_bytes(a, bad) < damaged.MIN_SHARED_BYTES
    doc = json_doc(cli_run("--db", str(tmp_path / "i.db"), "dedupe", str(folder),
                           "--format", "json"))
    assert not any({"shot0.jpg", "shot10.jpg"} <= set(g) for g in group_names(doc)), doc


def test_a_metadata_edit_beyond_the_head_is_not_damage():
    """Two JPEGs that differ only in a metadata segment (a comment padded with spaces in one)
    are not damaged copies: the stretch where they differ lies before the scan data."""
    pic = make_image(None, seed=5, size=(320, 240))
    padding = b" " * 64
    one = _jpeg(pic, quality=90, comment=b"x" * (HEAD_BYTES + 100) + b"abcdefgh" * 8)
    two = _jpeg(pic, quality=90, comment=b"x" * (HEAD_BYTES + 100) + padding)
    assert one[:HEAD_BYTES] == two[:HEAD_BYTES] and one != two
    assert damaged.filled(one, two) is None and damaged.filled(two, one) is None


def test_fill_run_tells_which_file_holds_the_zeroed_stretch():
    raw = _jpeg(make_image(None, seed=3, size=(640, 480)), quality=92)
    bad = _zeroed(raw, 0.5)
    assert damaged.filled(raw, bad)[0] == 1 and damaged.filled(bad, raw)[0] == 0
    assert damaged.filled(raw, raw) is None


def test_shared_bytes_counts_prefix_and_suffix():
    assert damaged.shared_bytes(b"abcdefgh", b"abcXXfgh") == 6 / 8
    assert damaged.shared_bytes(b"abcdefgh", b"abcd") == 1.0  # cut short
    assert damaged.shared_bytes(b"abcdefgh", b"zzzzzzzz") == 0.0
    assert damaged.longest_run(b"ab\x00\x00\x00c") == 3 and damaged.longest_run(b"") == 0


def test_rows_agree_is_the_fraction_of_rows_from_the_top():
    a = np.zeros((10, 4), np.uint8)
    b = a.copy()
    b[6:, 2] = 40
    assert damaged.rows_agree(a, b) == 0.6
    assert damaged.rows_agree(a, a) == 1.0
    assert damaged.rows_agree(a, b[:5]) == 0.0


def test_the_head_digest_is_kept_in_the_index(tmp_path):
    """The index keeps each JPEG's head digest (metadata jpeg_head): a byte copy damaged
    further on shares it; a JPEG re-encoded at another quality does not."""
    folder = tmp_path / "p"
    folder.mkdir()
    pic = make_image(None, seed=3, size=(640, 480))
    raw = _jpeg(pic, quality=92)
    (folder / "orig.jpg").write_bytes(raw)
    (folder / "bad.jpg").write_bytes(_zeroed(raw, 0.6))
    pic.save(folder / "q80.jpg", quality=80)
    db = str(tmp_path / "i.db")
    cli_run("--db", db, "index", str(folder))
    import sqlite3
    rows = dict(sqlite3.connect(db).execute(
        "SELECT path, json_extract(metadata, '$.jpeg_head') FROM files"))
    heads = {os.path.basename(os.fsdecode(p)): h for p, h in rows.items()}
    assert heads["orig.jpg"] and heads["orig.jpg"] == heads["bad.jpg"] != heads["q80.jpg"]
    json.dumps(heads)


def test_a_file_libjpeg_warns_about_is_not_marked_beside_its_byte_copy_alone(tmp_path):
    """Some cameras write bytes libjpeg calls "extraneous" before the end marker: such a photo
    and its backup both draw the warning, and neither is the other's damaged copy (the
    original is never marked because of its own odd trailer)."""
    folder = tmp_path / "camera"
    folder.mkdir()
    raw = _jpeg(make_image(None, seed=12, size=(640, 480)), quality=90)
    odd = raw[:-2] + b"\x00" * 20 + raw[-2:]
    (folder / "IMG_0001.jpg").write_bytes(odd)
    (folder / "backup.jpg").write_bytes(odd)
    reason = damaged.check(str(folder / "IMG_0001.jpg"))[0]
    assert reason is not None and "extraneous" in reason, reason  # the precondition
    doc = json_doc(cli_run("--db", str(tmp_path / "i.db"), "dedupe", str(folder),
                           "--format", "json"))
    assert group_names(doc) == [["IMG_0001.jpg", "backup.jpg"]], group_names(doc)
    assert not any("damaged" in f["metadata"] for g in groups_of(doc) for f in g), doc


def test_output_never_contradicts_itself_about_members_joined_by_their_own_test(tmp_path):
    """--threshold 0 with damaged copies (16 bytes zeroed, truncated) at pHash distances above
    0: the text header says they are joined by their own test, a group's max distance covers
    only the members the pHash rule joined, and the JSON says for every member which test
    joined it, with every "pHash" member within the threshold (README, "Output formats")."""
    folder = _library(tmp_path, "RGB", False, 0.35)
    raw = (folder / "orig.jpg").read_bytes()
    (folder / "c-trunc.jpg").write_bytes(raw[:int(len(raw) * 0.98)])
    db = str(tmp_path / "i.db")
    doc = json_doc(cli_run("--db", db, "dedupe", str(folder), "--threshold", "0", "-f", "json"))
    assert doc["threshold"] == 0
    (group,) = [g for g in doc["groups"] if len(g["files"]) > 1]
    files = group["files"]
    assert [f["joined_by"] for f in files][0] == "first file"
    broken = [f for f in files if f["relation"] == damaged.DAMAGED_COPY]
    assert broken and all(f["joined_by"] == damaged.DAMAGED_COPY for f in broken)
    assert any(f["distance"] > 0 for f in broken), "no damaged copy above the threshold: no test"
    by_rule = [f for f in files[1:] if f["joined_by"] in ("pHash", "same pixels")]
    assert all(f["distance"] <= doc["threshold"] for f in by_rule), files
    assert group["max_distance"] <= doc["threshold"], group["max_distance"]
    assert group["max_distance"] >= max([f["distance"] for f in by_rule], default=0)
    text = cli_run("--db", db, "dedupe", "--threshold", "0").stdout
    header = text.splitlines()[0]
    assert "pHash distance <= 0 bits" in header and "damaged copies by their own tests" in header
    shown = [int(m) for m in __import__("re").findall(r"max distance (\d+)", text)]
    assert all(d <= 0 for d in shown), text
