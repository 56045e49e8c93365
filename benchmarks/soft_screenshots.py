"""Soft pictures inside a screenshot window, generated: does dedupe group each screenshot with
its wallpaper, does query find it, and are screenshots of different wallpapers ever grouped?

    python benchmarks/soft_screenshots.py OUTDIR [N]

Four kinds of soft wallpaper, N of each (default 8): tests/test_partial.soft (faint facets),
tests/test_inner_views.gradient, .radial and .blobs (blurred blobs over gradient(seed), so
blobsK and gradK are alike at 24 px); each saved as a JPEG and shown at 60% inside
test_partial.window (PNG for odd seeds, JPEG for even). The index is OUTDIR/i.db.
"""

from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_inner_views import blobs, gradient, radial  # noqa: E402
from test_partial import soft, window  # noqa: E402

from imgfind import Index  # noqa: E402

KINDS = {"soft": soft, "grad": gradient, "radial": radial, "blobs": blobs}


def main() -> None:
    out = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    lib = out / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    for kind, make in KINDS.items():
        for s in range(n):
            im = make(s)
            im.save(lib / f"{kind}{s}.jpg", quality=95)
            window(im).save(lib / f"{kind}{s}_shot{'.png' if s % 2 else '.jpg'}", quality=95)
    t = time.process_time()
    with Index.open(out / "i.db") as idx:
        idx.update([lib])
        groups = idx.groups()
        group_of: dict[str, set[int]] = {}
        for gi, g in enumerate(groups):
            for m in g.members:
                group_of.setdefault(os.path.basename(m.file.path), set()).add(gi)
        found = collections.defaultdict(lambda: [0, 0, 0])
        for shot in sorted(p.name for p in lib.iterdir() if "_shot" in p.name):
            original = shot.split("_shot")[0] + ".jpg"
            kind = original.rstrip("0123456789.jpg")
            grouped = bool(group_of.get(shot, set()) & group_of.get(original, set()))
            names = {os.path.basename(m.file.path) for m in idx.query(lib / shot).matches}
            found[kind][0] += 1
            found[kind][1] += grouped
            found[kind][2] += original in names
            wrong = sorted(x for x in names if "_shot" not in x and x != original)
            if wrong:
                print(f"{shot}: query also matched {wrong}")
    for g in groups:
        pictures = {os.path.basename(m.file.path).split("_shot")[0].split(".")[0] for m in g.members}
        if len(pictures) > 1:
            print("wrong group:", sorted(os.path.basename(m.file.path) for m in g.members))
    for kind, (shots, grouped, queried) in sorted(found.items()):
        print(f"{kind}: {shots} screenshots, dedupe grouped {grouped}, query found {queried}")
    print(f"CPU {time.process_time() - t:.1f} s (index, dedupe, queries)")


if __name__ == "__main__":
    main()
