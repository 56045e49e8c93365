"""Shared fixtures: a fresh index path, a CLI runner, a folder of pictures and copies.

Helpers (make_image, invoke, ...) live in tests/helpers.py.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import make_image, save_exif_rotated
from PIL import Image, ImageOps

# Hermetic runs: a command given no --db must not read or write the user's own index (a newer
# imgfind's schema there failed a test), nor their trash. One folder for the whole session,
# set before anything imports send2trash (it reads XDG_DATA_HOME once). Tests that need their
# own still set it themselves.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="imgfind-tests-xdg-")
os.environ.pop("IMGFIND_DB", None)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "index.db")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """Three distinct pictures, copies of the first (resized, recompressed, EXIF-rotated,
    mirrored, bordered) and one unreadable file."""
    d = tmp_path / "photos"
    d.mkdir()
    a = make_image(d / "a.jpg", seed=1, quality=95)
    make_image(d / "b.png", seed=2)
    make_image(d / "c.jpg", seed=3)
    a.resize((160, 120), Image.Resampling.LANCZOS).save(d / "a-small.jpg")
    a.save(d / "a-q40.jpg", quality=40)
    save_exif_rotated(a, d / "a-exif.jpg")
    a.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(d / "a-mirror.jpg")
    ImageOps.expand(a, border=24, fill=(0, 0, 0)).save(d / "a-border.png")
    (d / "broken.jpg").write_bytes(b"not an image")
    return d
