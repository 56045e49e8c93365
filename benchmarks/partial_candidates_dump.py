"""Dump dedupe's partial-match candidates of a sample of pictures, to compare two codes.

The candidate search of DescriptorIndex.candidates_many (as Index._place_partial calls it,
every sampled picture at once, itself excluded) for *count* pictures drawn with seed 7;
writes rows (int64 (q, 8)), scores (float64 (q, 8)) and the asking local rows to OUT (.npz).
Run once per code (PYTHONPATH=SNAP), each on its own copy of the index (the sidecar's format
may differ), then compare the arrays with numpy.array_equal::

    PYTHONPATH=SNAP_A python benchmarks/partial_candidates_dump.py A.db 500 a.npz
    PYTHONPATH=SNAP_B python benchmarks/partial_candidates_dump.py B.db 500 b.npz
"""

import sys

import numpy as np

from imgfind import Index


def main() -> None:
    db, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with Index.open(db, readonly=True) as ix:
        prints, _side = ix.search_side()
        index, _ = ix.local_side()
        rng = np.random.default_rng(7)
        rows = sorted(rng.choice(len(prints), min(count, len(prints)), replace=False).tolist())
        local_row = {int(i): r for r, i in enumerate(index.ids)}
        asking = [local_row[int(prints.ids[r])] for r in rows if int(prints.ids[r]) in local_row]
        found, scores = index.candidates_many(
            [np.asarray(index.desc[index.starts[a]:index.starts[a + 1]]) for a in asking],
            exclude=asking)
        np.savez(out, rows=found, scores=scores, asking=np.array(asking))
        print(out, found.shape, int((found >= 0).sum()))


if __name__ == "__main__":
    main()
