"""CPU of the mirror rules of session 11 (issue 12): `query` of a photo and of its mirrored copy
(partial matches searched through the mirror image) and `dedupe --no-partial` (the mirror rule
over stored keypoints), against a small generated library.

    PYTHONPATH=SNAPSHOT python benchmarks/mirror_query_cost.py WORKDIR

Builds WORKDIR/lib once (a photo, its mirrored copy, a crop, a turned and a skewed copy of the
photo, a crop and a turned copy of the mirror image, 20 other photos; pictures from
tests/test_partial_whole.photo_like) and its index, then prints the in-process CPU time
(time.process_time) of each operation, the mean of 5 after a warm one, and what it found.
Run it with each code snapshot's PYTHONPATH, alternated (benchmarks/RESULTS.md, session 11).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from click.testing import CliRunner  # noqa: E402
from helpers import invoke  # noqa: E402
from PIL import ImageOps  # noqa: E402
from test_canvas_copies import turned  # noqa: E402
from test_partial_whole import photo_like, skewed  # noqa: E402

from imgfind import Index  # noqa: E402

OLD = 1577836800  # 2020-01-01: the mirrored copy is the older file


def build(work: Path) -> None:
    lib = work / "lib"
    lib.mkdir(parents=True)
    w, h = 1024, 768
    photo = photo_like(1, w, h)
    mirrored = ImageOps.mirror(photo)
    photo.save(lib / "photo.jpg", quality=92)
    mirrored.save(lib / "mirrored.jpg", quality=90)
    photo.crop((w * 15 // 100, h * 15 // 100, w * 85 // 100, h * 85 // 100)).save(
        lib / "crop.jpg", quality=90)
    turned(photo, 10, "black").save(lib / "turned.jpg", quality=90)
    skewed(photo, 0.08).save(lib / "skewed.jpg", quality=90)
    mirrored.crop((w * 10 // 100, h * 20 // 100, w * 80 // 100, h * 90 // 100)).save(
        lib / "mcrop.jpg", quality=90)
    turned(mirrored, 8, "black").save(lib / "mturned.jpg", quality=90)
    for k in range(20):
        photo_like(200 + k, w, h).save(lib / f"o{k}.jpg", quality=92)
    os.utime(lib / "mirrored.jpg", (OLD, OLD))
    invoke(CliRunner(), str(work / "index.db"), "index", str(lib))


def cpu(fn) -> tuple[float, object]:
    fn()  # warm
    times, out = [], None
    for _ in range(5):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return sum(times) / len(times), out


def main() -> None:
    work = Path(sys.argv[1])
    if not (work / "index.db").exists():
        build(work)
    with Index.open(work / "index.db") as idx:
        for name in ("photo.jpg", "mirrored.jpg"):
            s, res = cpu(lambda name=name: idx.query(work / "lib" / name))
            print(f"query {name}: {s * 1000:.0f} ms CPU, {len(res.matches)} matches, "
                  f"original {os.path.basename(res.original)}")
        s, groups = cpu(lambda: idx.groups(partial=False))
        print(f"groups --no-partial: {s * 1000:.0f} ms CPU, first files "
              f"{sorted(os.path.basename(g.members[0].file.path) for g in groups)}")


if __name__ == "__main__":
    main()
