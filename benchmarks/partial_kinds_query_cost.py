"""CPU per query of the partial-match kinds of session 10 (issue 12): a collage of four photos,
a 70% crop, a phone screenshot and an unrelated photo, against a small generated library.

    PYTHONPATH=SNAPSHOT python benchmarks/partial_kinds_query_cost.py WORKDIR

Builds WORKDIR/lib (4 photos, 20 others, a phone screenshot of the first photo; pictures from
tests/test_partial_whole.photo_like) and its index once, then prints the in-process CPU time
(time.process_time) of each query, the mean of 5 after a warm one, and how many matches it
found. Run it with each code snapshot's PYTHONPATH, alternated (benchmarks/RESULTS.md, session 10).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from click.testing import CliRunner  # noqa: E402
from helpers import invoke  # noqa: E402
from PIL import Image  # noqa: E402
from test_canvas_copies import phone  # noqa: E402
from test_partial_whole import photo_like  # noqa: E402

from imgfind import Index  # noqa: E402


def build(work: Path) -> None:
    (work / "lib").mkdir(parents=True)
    pics = [photo_like(10 + k, 1024, 768) for k in range(4)]
    for k, p in enumerate(pics):
        p.save(work / f"lib/p{k}.jpg", quality=92)
    for k in range(20):
        photo_like(200 + k, 1024, 768).save(work / f"lib/o{k}.jpg", quality=92)
    phone(pics[0]).save(work / "lib/screenshot.png")
    collage = Image.new("RGB", (1200, 900), (255, 255, 255))
    for k, p in enumerate(pics):
        collage.paste(p.resize((590, 440)), (5 + (k % 2) * 600, 5 + (k // 2) * 450))
    collage.save(work / "collage.jpg", quality=90)
    pics[1].crop((150, 110, 870, 650)).save(work / "crop.jpg", quality=90)
    invoke(CliRunner(), str(work / "i.db"), "index", str(work / "lib"))


def main() -> None:
    work = Path(sys.argv[1])
    if not (work / "i.db").exists():
        build(work)
    queries = [work / "collage.jpg", work / "crop.jpg", work / "lib/screenshot.png",
               work / "lib/o3.jpg"]
    with Index.open(work / "i.db") as idx:
        for q in queries:
            idx.query(q)  # warm: OpenCV's import, the sidecars
            t = time.process_time()
            for _ in range(5):
                r = idx.query(q)
            print(f"{q.name}: {(time.process_time() - t) / 5 * 1000:.0f} ms CPU, "
                  f"{len(r.matches)} matches")


if __name__ == "__main__":
    main()
