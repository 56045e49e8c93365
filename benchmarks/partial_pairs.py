"""Every verified partial pair dedupe places on a bench pool, with the manifest's truth: which
near-whole pairs (both covers >= partial_groups.SAME_FRAME) are one picture and which are two
pictures in one frame, and what turn, model and agreement each reads (session 8, issue 12:
the measurement behind partial_groups.TURNED).

The index is one of the pool's files hard-linked as NNNNNN.ext by manifest line (as the
bench adapter lays them out) and indexed with ``imgfind --db DB index DIR``.

Usage::

    python benchmarks/partial_pairs.py POOL DB OUT.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(pool: str, db: str, out_path: str) -> None:
    import imgfind.index as ix
    from imgfind import Index
    from imgfind.partial_groups import groupable

    cache = os.environ.get("BENCH_CACHE", os.path.expanduser("~/.cache/imgfind-bench"))
    rows = [json.loads(line) for line in open(f"{cache}/datasets/{pool}/manifest.jsonl")]
    caught = []
    place = ix.place

    def spy(groups, pairs, verify):
        caught.append(pairs)
        return place(groups, pairs, verify)

    ix.place = spy
    ix.DecisionCache.found_stage = lambda *a, **k: None  # search and verify afresh
    with Index.open(db, readonly=True) as idx:
        seen = {}
        search_side = idx.search_side

        def side(under=None):
            prints, s = search_side(under)
            seen["prints"] = prints
            return prints, s

        idx.search_side = side
        idx.groups()
        prints = seen["prints"]
        recs = idx.store.records({int(i) for i in prints.ids})
    out = []
    for a, b, p in (caught[0] if caught else []):
        la, lb = (int(Path(recs[int(prints.ids[r])].path).stem) for r in (a, b))
        ra, rb = rows[la], rows[lb]
        out.append({"a": la, "b": lb, "ta": ra["transform"], "tb": rb["transform"],
                    "same": bool(ra["original"] is not None and ra["original"] == rb["original"]),
                    "cover_a": float(p.cover_a), "cover_b": float(p.cover_b), "agree": p.agree,
                    "model": p.model, "rotation": p.rotation, "scale": p.scale,
                    "keystone": p.keystone, "inliers": p.inliers, "groupable": bool(groupable(p))})
    json.dump(out, open(out_path, "w"), indent=0)
    whole = [o for o in out if min(o["cover_a"], o["cover_b"]) >= 0.9]
    other = [o for o in whole if not o["same"]]
    print(f"{pool}: {len(out)} pairs, {len(whole)} near-whole, {len(other)} of different pictures "
          f"(largest turn {max((abs(o['rotation']) for o in other), default=0):.2f} degrees, "
          f"{sum(o['groupable'] for o in other)} groupable); one picture groupable: "
          f"{sum(o['groupable'] for o in whole if o['same'])} of {len(whole) - len(other)}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
