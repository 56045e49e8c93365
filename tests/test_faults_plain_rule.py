"""Issue 11, section 3 (first case): the plain ``--threshold N`` rule with blank pictures.

Copied from tests/test_faults_errors.py at 342f38e (the blank-image cases only; the rest of
that file belongs to the store and pipeline work): no traceback, whatever the threshold.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faults_support import cli_run, ok, photo
from PIL import Image


# ----------------------------------------------------------------------------- flat pictures
@pytest.fixture
def blanks(tmp_path) -> Path:
    d = tmp_path / "blanks"
    d.mkdir()
    Image.new("RGB", (320, 240), "white").save(d / "white1.png")
    Image.new("RGB", (320, 240), "white").save(d / "white2.png")
    Image.new("RGB", (640, 480), "white").save(d / "white-big.jpg")
    Image.new("L", (200, 200), 0).save(d / "black.png")
    Image.new("RGB", (300, 300), (128, 128, 128)).save(d / "grey.bmp")
    photo(d / "photo.jpg", seed=1)
    return d


@pytest.mark.parametrize("threshold", ["0", "6", "12"])
def test_plain_threshold_with_blank_images_has_no_traceback(tmp_path, blanks, threshold):
    """`imgfind dedupe --threshold 6` (the help's own example) with two blank images."""
    db = str(tmp_path / "i.db")
    ok(cli_run("--db", db, "dedupe", str(blanks), "--threshold", threshold))
    ok(cli_run("--db", db, "dedupe", "--threshold", threshold, "--format", "json"))
    ok(cli_run("--db", db, "query", str(blanks / "white1.png"), "--threshold", threshold))
    ok(cli_run("--db", db, "query", str(blanks / "black.png"), "--threshold", threshold,
               "--format", "json"))


def test_plain_threshold_groups_blank_pages_only_with_each_other(tmp_path, blanks):
    """Flat pictures match only each other (README): the white pages are one group, the photo
    and the black and grey fills are in none."""
    db = str(tmp_path / "i.db")
    result = cli_run("--db", db, "dedupe", str(blanks), "--threshold", "12", "--format", "json")
    ok(result)
    groups = [sorted(Path(f["path"]).name for f in g["files"])
              for g in json.loads(result.stdout)["groups"]]
    assert groups == [["white-big.jpg", "white1.png", "white2.png"]], groups
