"""Helpers shared by the tests: pictures made on the fly with Pillow, CLI invocations.

Tests import these from here (``from helpers import make_image``); conftest.py keeps only the
fixtures, which pytest hands out by name.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFilter

from imgfind.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "photos"


def make_image(path: Path | None = None, seed: int = 0, size: tuple[int, int] = (320, 240),
               fmt: str | None = None, **save: object) -> Image.Image:
    """A seeded, photo-like picture: a gradient with random shapes and some texture."""
    rng = np.random.default_rng(seed)
    w, h = size
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    ramp = np.cos(angle) * xx / w + np.sin(angle) * yy / h
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-9)
    base = Image.fromarray((40 + 180 * ramp).astype(np.uint8), "L")
    im = Image.merge("RGB", [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base])
    draw = ImageDraw.Draw(im)
    for _ in range(14):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(w // 8, w // 2)), y0 + int(rng.integers(h // 8, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    # Photos are smooth at the scale fingerprints look at: soften the edges, add fine grain.
    im = im.filter(ImageFilter.GaussianBlur(max(1.0, min(w, h) / 160)))
    noise = rng.normal(0, 3, (h, w, 3))
    im = Image.fromarray(np.clip(np.asarray(im, dtype=np.float32) + noise, 0, 255).astype(np.uint8))
    if path is not None:
        im.save(path, format=fmt, **save)
    return im


def textured(seed: int, w: int = 800, h: int = 600, shapes: int = 120,
             largest: int = 80) -> Image.Image:
    """A textured picture for local features: many overlapping ellipses and rectangles give
    corners at every scale (the same seed always gives the same picture)."""
    r = np.random.default_rng(seed)
    im = Image.new("RGB", (w, h), tuple(int(x) for x in r.integers(0, 255, 3)))
    d = ImageDraw.Draw(im)
    for _ in range(shapes):
        x, y, s = int(r.integers(0, w)), int(r.integers(0, h)), int(r.integers(10, largest))
        c = tuple(int(v) for v in r.integers(0, 255, 3))
        if r.random() < .5:
            d.ellipse((x, y, x + s, y + s), fill=c)
        else:
            d.rectangle((x, y, x + s, y + int(s * r.random() + 5)), fill=c)
    return im


def save_exif_rotated(im: Image.Image, path: Path) -> None:
    """Store the pixels rotated 90° counter-clockwise with Orientation=6 (upright when honoured)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    im.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes())


def invoke(runner: CliRunner, db: str, *args: str, ok: bool = True):
    result = runner.invoke(cli, ["--db", db, *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.stderr + result.stdout
    return result


def invoke_json(runner: CliRunner, db: str, *args: str) -> dict:
    return json.loads(invoke(runner, db, *args, "--format", "json").stdout)


def group_names(doc: dict) -> list[list[str]]:
    return sorted(sorted(os.path.basename(f["path"]) for f in g["files"]) for g in doc["groups"])


def mount_tmpfs(size: str) -> Path | None:
    """Mount a fresh tmpfs of *size* (e.g. "400k") on a new folder; None where mounting is
    refused (not root, no mount). Undo with ``umount``."""
    point = Path(tempfile.mkdtemp(prefix="imgfind-fs-"))
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                               str(point)], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is None or done.returncode != 0:
        point.rmdir()
        return None
    return point


def umount(point: Path) -> None:
    """Unmount a folder made by ``mount_tmpfs`` and remove it."""
    subprocess.run(["umount", str(point)], capture_output=True, timeout=10)
    point.rmdir()


def dump_index(db: str | os.PathLike[str]) -> dict[bytes, tuple]:
    """Everything an index says about each file, by path, without what differs between two
    runs over the same files (row ids, when a file was indexed): to compare two indexes."""
    import sqlite3

    con = sqlite3.connect(f"file:{os.fspath(db)}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT f.path, f.size, f.mtime_ns, f.recipe, f.error, f.format, f.width, f.height,"
            " f.metadata, f.dev, f.ino, f.ctime_ns, p.phash, p.dhash, p.hashes, p.trim, p.flat,"
            " t.thumb FROM files f LEFT JOIN prints p ON p.file_id = f.id"
            " LEFT JOIN thumbs t ON t.file_id = f.id").fetchall()
    finally:
        con.close()
    return {bytes(r[0]): tuple(r[1:]) for r in rows}


def make_library(folder: Path, count: int, *, copies: int = 4, size: tuple[int, int] = (160, 120),
                 seed: int = 1000) -> list[Path]:
    """*count* seeded pictures in *folder* (JPEG), the first *copies* also saved smaller (a
    near-duplicate each), and one file that is not an image: a small library to index."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"p{i:03d}.jpg"
        im = make_image(path, seed=seed + i, size=size)
        out.append(path)
        if i < copies:
            small = folder / f"p{i:03d}-small.jpg"
            im.resize((size[0] * 3 // 4, size[1] * 3 // 4)).save(small, quality=80)
            out.append(small)
    broken = folder / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out.append(broken)
    return out
