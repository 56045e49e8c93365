"""The geometry of the inliers of every partial member a dedupe placed, against a bench pool's
manifest: how thin the band they lie in is, and on how many distinct places they sit.

    imgfind --db I.db index ~/.cache/imgfind-bench/datasets/POOL/{originals,variants,distractors,natural}
    imgfind --db I.db dedupe --format json > POOL.json
    python benchmarks/partial_geometry.py POOL I.db POOL.json

Prints one tab-separated row per partial member with keypoints (sorted by the thinner band):
same picture as the group's first file by the manifest, the member's transform, inliers,
distinct places (partial.places), the band's width in each picture (partial.band: the
inliers' standard deviation across their main axis, detail pixels), agreement; then the
smallest band and fewest places among copies of one picture. Used to set partial.THIN_BAND
and partial.FEW_PLACES (session 12).
"""
import json
import os
import sys

from imgfind import partial
from imgfind.keypoints import positions
from imgfind.store import Store

pool, db, path = sys.argv[1:4]
cache = os.environ.get("BENCH_CACHE", os.path.expanduser("~/.cache/imgfind-bench"))
base = os.path.join(cache, "datasets", pool)
manifest = {}  # by path: variant names repeat in every family (variants/ORIGINAL/NAME)
with open(os.path.join(base, "manifest.jsonl")) as f:
    for line in f:
        r = json.loads(line)
        manifest[os.path.normpath(os.path.join(base, r["file"]))] = r
with open(path) as f:
    report = json.load(f)
store = Store(db, readonly=True)
ids = {os.fsdecode(p) if isinstance(p, bytes) else p: i
       for i, p in store.db.execute("select id, path from files")}
rows = []
for group in report["groups"]:
    head = group["files"][0]
    first = manifest[os.path.normpath(head["path"])]
    for m in group["files"][1:]:
        p = m["partial"]
        if not p or p["model"] not in ("similarity", "homography"):
            continue
        ia_, ib_ = ids[head["path"]], ids[m["path"]]
        feats = store.local_features([ia_, ib_])
        fa, fb = feats[ia_], feats[ib_]
        fitted = partial.fit_model(fa, fb)
        if fitted is None:
            continue
        _, model, ia, ib = fitted
        pa, pb = positions(fa)[ia], positions(fb)[ib]
        r = manifest[os.path.normpath(m["path"])]
        same = r["original"] == first["original"] and r["transform"] != "distractor"
        rows.append((same, r["transform"], first["transform"], len(ia),
                     min(partial.places(pa), partial.places(pb)),
                     round(partial.band(pa), 2), round(partial.band(pb), 2), p["agreement"],
                     max(partial.places(pa[partial.off_line(pa, partial.THIN_BAND)]),
                         partial.places(pb[partial.off_line(pb, partial.THIN_BAND)])),
                     round(min(1 - len(partial.off_line(pa, partial.THIN_BAND)) / len(pa),
                               1 - len(partial.off_line(pb, partial.THIN_BAND)) / len(pb)), 3)))
rows.sort(key=lambda x: min(x[5], x[6]))
for x in rows:
    print(*x, sep="\t")
same = [x for x in rows if x[0]]
print("rows", len(rows), "of different pictures", len(rows) - len(same))
if same:
    print("copies of one picture: thinnest band", min(min(x[5], x[6]) for x in same),
          "fewest places", min(x[4] for x in same),
          "fewest places off the line", min(x[8] for x in same),
          "largest share on one line", max(x[9] for x in same),
          "fewest places with agreement < 0.3", min((x[4] for x in same if x[7] < 0.3),
                                                     default=None))
