"""Calibrate group.CLEAR_STEP: which JPEG quality gap between two copies of one picture is a
clear, visible loss, on generated pictures (no bench files).

For each picture (photo-like gradients with shapes and grain, and a dense texture) at several
sizes, encode the pristine picture at qualities 30..98 (Pillow, 4:2:0 and 4:4:4), read the
quality back from the tables (quality.quality_from_tables: is the estimate exact?), and
measure each file's luma RMS error against the pristine picture. Then, for every pair of
qualities (hi, lo): the ratio of the IJG quantisation scales (how much more coarsely lo
quantises, quality.ijg_scale) against the ratio of the RMS errors (how much worse lo looks),
and the same for a copy made FROM the hi file at quality lo (the real re-encode chain).
Also the other direction: a lo file re-saved at hi keeps lo's error (tables overstate it).

Usage: python benchmarks/jpeg_fidelity_gap.py [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from collections import defaultdict

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from imgfind.quality import ijg_scale, quality_from_tables

QUALITIES = (30, 35, 40, 50, 60, 70, 75, 80, 85, 88, 90, 92, 95, 98)
SIZES = ((320, 240), (800, 600), (2000, 1500))


def photo_like(seed: int, w: int, h: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    a = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(a) * xx / w + np.sin(a) * yy / h
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-9)
    base = Image.fromarray((40 + 180 * ramp).astype(np.uint8), "L")
    im = Image.merge("RGB", [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base])
    d = ImageDraw.Draw(im)
    for _ in range(20):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(w // 8, w // 2)), y0 + int(rng.integers(h // 8, h // 2))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        (d.rectangle if rng.random() < 0.5 else d.ellipse)((x0, y0, x1, y1), fill=fill)
    im = im.filter(ImageFilter.GaussianBlur(max(1.0, min(w, h) / 160)))
    noise = rng.normal(0, 3, (h, w, 3))
    return Image.fromarray(np.clip(np.asarray(im, np.float32) + noise, 0, 255).astype(np.uint8))


def texture(seed: int, w: int, h: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (w, h), tuple(int(x) for x in rng.integers(0, 255, 3)))
    d = ImageDraw.Draw(im)
    for _ in range(w * h // 2000):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(rng.integers(3, max(4, w // 10)))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        (d.rectangle if rng.random() < 0.5 else d.ellipse)((x, y, x + s, y + s), fill=fill)
    return im


def encode(im: Image.Image, q: int, subsampling: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q, subsampling=subsampling)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def rms(a: Image.Image, b: Image.Image) -> float:
    """RMS difference of the luma (Y of YCbCr): what the eye sees of quantisation; a 4:2:0
    file's halved chroma would otherwise swamp the quality's effect on sharp colour edges."""
    d = np.asarray(a.convert("L"), np.float32) - np.asarray(b.convert("L"), np.float32)
    return float(np.sqrt(np.mean(d * d)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    lines = []
    est_err = 0
    # (hi, lo) -> list of error ratios, for fresh encodes and for the re-encode chain
    fresh: dict[tuple[int, int], list[float]] = defaultdict(list)
    chain: dict[tuple[int, int], list[float]] = defaultdict(list)
    upward: dict[tuple[int, int], list[float]] = defaultdict(list)
    n_pictures = 0
    for kind, make in (("photo", photo_like), ("texture", texture)):
        for seed in (1, 2):
            for w, h in SIZES:
                src = make(seed, w, h)
                n_pictures += 1
                for sub in (2, 0):  # 4:2:0, 4:4:4
                    files = {q: encode(src, q, sub) for q in QUALITIES}
                    err = {q: rms(src, f) for q, f in files.items()}
                    for q, f in files.items():
                        est_err = max(est_err, abs(quality_from_tables(f.quantization) - q))
                    for hi in QUALITIES:
                        for lo in QUALITIES:
                            if lo >= hi:
                                continue
                            fresh[(hi, lo)].append(err[lo] / err[hi])
                            chain[(hi, lo)].append(rms(src, encode(files[hi], lo, sub)) / err[hi])
                            # lo re-saved at hi: its tables say hi, its error stays lo's
                            upward[(hi, lo)].append(rms(src, encode(files[lo], hi, sub)) / err[lo])
    lines.append(f"pictures: {n_pictures} (photo-like and texture, seeds 1-2, sizes "
                 f"{', '.join(f'{w}x{h}' for w, h in SIZES)}), subsampling 4:2:0 and 4:4:4")
    lines.append(f"largest |estimated quality - saved quality| over all files: {est_err}")
    lines.append("")
    lines.append("| hi | lo | scale ratio lo/hi | error ratio, fresh (min / median) | "
                 "error ratio, lo made from hi (min / median) | lo re-saved at hi: error / lo's (max) |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for (hi, lo) in sorted(fresh, key=lambda k: (-k[0], -k[1])):
        r = ijg_scale(lo) / ijg_scale(hi)
        f, c, u = fresh[(hi, lo)], chain[(hi, lo)], upward[(hi, lo)]
        lines.append(f"| {hi} | {lo} | {r:.2f} | {min(f):.2f} / {float(np.median(f)):.2f} | "
                     f"{min(c):.2f} / {float(np.median(c)):.2f} | {max(u):.2f} |")
    # By scale ratio: the smallest error ratio seen at or above each ratio
    lines.append("")
    lines.append("| scale ratio at least | smallest error ratio, fresh | smallest, lo made from hi | "
                 "smallest PSNR drop, lo made from hi (dB) |")
    lines.append("| --- | --- | --- | --- |")
    for step in (1.2, 1.3, 1.4, 1.5, 1.75, 2.0, 2.5, 3.0):
        keys = [k for k in fresh if ijg_scale(k[1]) / ijg_scale(k[0]) >= step]
        mf = min(min(fresh[k]) for k in keys)
        mc = min(min(chain[k]) for k in keys)
        lines.append(f"| {step} | {mf:.2f} | {mc:.2f} | {20 * math.log10(mc):.1f} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
