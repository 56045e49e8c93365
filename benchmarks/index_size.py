"""Index size per file: the bytes each table and index of an imgfind index takes (SQLite's
dbstat: whole pages, so a page's unused room counts), divided by the indexed files, plus the
sidecar files beside it (the .npy cache and the query tables, which are caches: rebuilt from
the index when missing).

Usage::

    python3 benchmarks/index_size.py INDEX.db [INDEX2.db ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sqlite3


def measure(path: str) -> dict:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    files = con.execute("SELECT count(*) FROM files").fetchone()[0]
    page = con.execute("PRAGMA page_size").fetchone()[0]
    tables = {name: (size, payload) for name, size, payload in con.execute(
        "SELECT name, sum(pgsize), sum(payload) FROM dbstat GROUP BY name")}
    thumbs = con.execute("SELECT avg(length(thumb)) FROM thumbs").fetchone()[0]
    con.close()
    size = os.path.getsize(path)
    side = {os.path.basename(p)[len(os.path.basename(path)):]: os.path.getsize(p)
            for p in glob.glob(glob.escape(path) + "-*") if p.endswith((".npy", ".json"))}
    per = lambda b: round(b / max(files, 1), 1)  # noqa: E731
    return {"index": path, "files": files, "page_size": page, "db_bytes": size,
            "db_bytes_per_file": per(size),
            "thumbs_bytes_per_file": per(tables.get("thumbs", (0, 0))[0]),
            "thumb_blob_mean": round(thumbs or 0, 1),
            "global_bytes_per_file": per(sum(s for n, (s, _) in tables.items() if n != "keypoints")),
            "tables_bytes_per_file": {n: per(s) for n, (s, _) in sorted(tables.items(), key=lambda x: -x[1][0])},
            "sidecar_bytes_per_file": per(sum(side.values())),
            "sidecar_prints_npy_per_file": per(sum(v for k, v in side.items() if k.startswith("-prints"))),
            "sidecar_query_tables_per_file": per(sum(v for k, v in side.items() if k.startswith("-mih")))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("indexes", nargs="+")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = [measure(p) for p in args.indexes]
    for r in out:
        print(f"{r['index']}: {r['files']:,} files, page {r['page_size']} B, "
              f"{r['db_bytes_per_file']:,.0f} B/file (thumbnails {r['thumbs_bytes_per_file']:,.0f}, "
              f"blob mean {r['thumb_blob_mean']:,.0f}); sidecars {r['sidecar_bytes_per_file']:,.0f} B/file")
        print("   ", ", ".join(f"{k} {v:,.0f}" for k, v in r["tables_bytes_per_file"].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
