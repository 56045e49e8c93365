"""The evidence of every partial member a dedupe placed, against a bench pool's manifest.

    imgfind --db I.db index ~/.cache/imgfind-bench/datasets/POOL/{originals,variants,distractors,natural}
    imgfind --db I.db dedupe --format json > POOL.json
    python benchmarks/partial_evidence.py POOL POOL.json [MAX_INLIERS]

Prints one tab-separated row per partial member (sorted by agreement): same picture as the
group's first file by the manifest, the member's and the first file's transform, agreement,
rotation, inliers, model, both overlaps, the relation; then how many rows, how many of
different pictures. With MAX_INLIERS, only keypoint models on fewer inliers. Used to set
partial_groups.FEW_INLIERS and FEW_AGREE (session 11).
"""
import json
import os
import sys

pool, path = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
cache = os.environ.get("BENCH_CACHE", os.path.expanduser("~/.cache/imgfind-bench"))
manifest = {}
with open(os.path.join(cache, "datasets", pool, "manifest.jsonl")) as f:
    for line in f:
        r = json.loads(line)
        manifest[os.path.basename(r["file"])] = r
with open(path) as f:
    report = json.load(f)
rows = []
for group in report["groups"]:
    first = manifest[os.path.basename(group["files"][0]["path"])]
    for m in group["files"][1:]:
        p = m["partial"]
        if not p or (limit is not None and not 0 < p["inliers"] < limit):
            continue
        r = manifest[os.path.basename(m["path"])]
        same = r["original"] == first["original"] and r["transform"] != "distractor"
        rows.append((same, r["transform"], first["transform"], p["agreement"], p["rotation"],
                     p["inliers"], p["model"], p["overlap_first"], p["overlap_member"],
                     m["relation"]))
rows.sort(key=lambda x: x[3])
for x in rows:
    print(*x, sep="\t")
print("rows", len(rows), "of different pictures", sum(not x[0] for x in rows))
