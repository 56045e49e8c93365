"""Scale an index up with bench_partial.synthetic_index when its keypoints rows are packed
(keypointcodec, schema 7): the real rows are unpacked to raw xy/descs in a copy first (the
store reads raw and packed rows alike), then the synthetic files are added to that copy.

Usage: python benchmarks/synthetic_raw.py SRC.db OUT.db N [--model mixed]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(__file__))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("files", type=int)
    ap.add_argument("--model", default="mixed")
    args = ap.parse_args()
    import bench_partial

    from imgfind.keypointcodec import unpack

    raw = args.out + ".raw-src"
    shutil.copy(args.src, raw)
    db = sqlite3.connect(raw)
    rows = db.execute("SELECT file_id, width, height, xy, descs FROM keypoints").fetchall()
    todo = [(fid, *unpack(w, h, bytes(d))) for fid, w, h, xy, d in rows if not xy and d and w and h]
    db.executemany("UPDATE keypoints SET xy = ?, descs = ? WHERE file_id = ?",
                   [(xy, d, fid) for fid, xy, d in todo])
    db.commit()
    db.close()
    print(f"unpacked {len(todo)} of {len(rows)} keypoints rows", flush=True)
    print(bench_partial.synthetic_index(raw, args.out, args.files, args.model), flush=True)
    os.unlink(raw)


if __name__ == "__main__":
    main()
