"""CPU cost of reading stored keypoints, for comparing row layouts (raw against packed).

Times, in CPU seconds (time.process_time, best of --repeat), with the imgfind first on
PYTHONPATH: every picture's local features (Store.local_features(), what a dedupe's partial
stage may load), 200 random pictures' (a query's candidates), and the descriptor index built
from the index (Store.descriptor_index() on a copy without sidecars: a cold rebuild).

    PYTHONPATH=CHECKOUT python3 benchmarks/keypoint_read.py INDEX.db [--repeat 3]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import shutil
import tempfile
import time

from imgfind.store import Store


def cpu(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("index")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with Store(args.index, readonly=True) as store:
        ids = sorted(store.local_features())
        some = random.Random(0).sample(ids, min(200, len(ids)))
        every = cpu(store.local_features, args.repeat)
        few = cpu(lambda: store.local_features(some), args.repeat)

    def rebuild() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "index.db")
            shutil.copyfile(args.index, copy)
            for side in glob.glob(glob.escape(args.index) + "-wal"):
                shutil.copyfile(side, copy + "-wal")
            with Store(copy) as s:
                s.descriptor_index()

    build = cpu(rebuild, args.repeat)
    print(f"{args.index}: {len(ids):,} pictures with keypoints; CPU: all local features "
          f"{every:.3f} s ({every / len(ids) * 1e6:.0f} us a picture), 200 pictures' "
          f"{few * 1e3:.1f} ms ({few / len(some) * 1e6:.0f} us a picture), descriptor index "
          f"rebuilt {build:.3f} s")


if __name__ == "__main__":
    main()
