"""A generated library for the partial-matching benchmarks when ../shared/bench's pools are not
built: textured pictures (tests/helpers.textured's method: overlapping shapes, corners at
every scale) and, for some of them, the hard copies of issue 12 (a 70% centre crop, a phone-style
screenshot with bars, a collage half, a 10-degree turn). Real JPEGs, indexed by imgfind as any
folder; bench_partial.synthetic_index scales the index up from it.

Usage::

    python benchmarks/partial_library.py OUT_DIR --originals 500 --with-copies 60 [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import textured  # noqa: E402  (the tests' textured picture: one definition)


def copies(im: Image.Image, other: Image.Image) -> dict[str, Image.Image]:
    """The hard copies of *im* (*other*: the collage's second picture)."""
    w, h = im.size
    shot = Image.new("RGB", (900, 1600), (250, 250, 250))
    d = ImageDraw.Draw(shot)
    d.rectangle((0, 0, 900, 120), fill=(30, 30, 40))
    d.rectangle((0, 1480, 900, 1600), fill=(220, 220, 220))
    shot.paste(im.resize((840, 630)), (30, 300))
    col = Image.new("RGB", (2 * w, h), "white")
    col.paste(im, (0, 0))
    col.paste(other, (w, 0))
    return {"crop70": im.crop((int(w * .15), int(h * .15), int(w * .85), int(h * .85))),
            "screenshot": shot, "collage": col,
            "rot10": im.rotate(10, resample=Image.Resampling.BICUBIC, expand=True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--originals", type=int, default=500)
    ap.add_argument("--with-copies", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(args.originals):
        im = textured(args.seed * 1_000_003 + i)
        im.save(args.out / f"o{i:05d}.jpg", quality=92)
        if i < args.with_copies:
            other = textured(args.seed * 1_000_003 + args.originals + i)
            for name, c in copies(im, other).items():
                c.save(args.out / f"o{i:05d}-{name}.jpg", quality=90)


if __name__ == "__main__":
    main()
