"""Measure the pieces of a dedupe beyond one machine: Parquet export, and the hash-substring
join in a columnar engine (DuckDB), on an existing index (e.g. bench_query.py's synthetic one).

1. ``export``: ``export.write_parquet`` of the whole index (seconds, bytes per file).
2. ``join``: the multi-index-hashing join as a relational one, in DuckDB over the Parquet
   file: each file's upright whole-picture pHash is cut into M substrings of 64/M bits; a
   pair is a candidate when some substring is equal (exact-substring MIH: complete for
   distances below M), then the candidates are filtered by the full Hamming distance
   (<= --radius). Reported: rows, candidate pairs, pairs within radius, seconds, and the
   largest bucket. This is the join a cluster runs shard by shard (the shard key is the
   (substring index, substring value) pair), so its candidate count per file is what
   docs/scale.md extrapolates.

DuckDB is used only here (``pip install duckdb``); imgfind does not import it.

Usage::

    python3 benchmarks/bench_join.py --db INDEX.db --out benchmarks/results/join-100k.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import versions  # noqa: E402

from imgfind.export import write_parquet  # noqa: E402
from imgfind.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--substrings", type=int, default=4, help="M: pHash cut into M substrings")
    ap.add_argument("--radius", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parquet", type=Path, default=None, help="keep the export here")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import duckdb

    tmp = tempfile.mkdtemp(prefix="bench-join-")
    parquet = args.parquet or Path(tmp) / "prints.parquet"
    start = time.perf_counter()
    with Store(args.db, readonly=True) as store:
        rows = write_parquet(store.stored_files(), parquet)
        db_bytes = os.path.getsize(args.db)
    export_s = time.perf_counter() - start
    size = parquet.stat().st_size
    print(f"export: {rows} rows in {export_s:.1f} s, {size / rows:.0f} B/file", file=sys.stderr)

    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    m, bits = args.substrings, 64 // args.substrings
    mask = (1 << bits) - 1
    start = time.perf_counter()
    con.execute(f"CREATE TABLE p AS SELECT row_number() OVER () AS id, phash FROM '{parquet}'")
    con.execute(f"CREATE TABLE k AS SELECT id, phash, s, (phash >> ({bits} * s)) & {mask} AS key "
                f"FROM p, range({m}) t(s)")
    biggest = con.execute("SELECT max(n) FROM (SELECT count(*) n FROM k GROUP BY s, key)").fetchone()[0]
    cand, within = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE bit_count(xor(pa, pb)) <= ?) FROM ("
        " SELECT DISTINCT a.id ia, b.id ib, a.phash pa, b.phash pb FROM k a JOIN k b"
        " ON a.s = b.s AND a.key = b.key AND a.id < b.id)", [args.radius]).fetchone()
    join_s = time.perf_counter() - start
    print(f"join: {cand} candidates, {within} within {args.radius} bits, {join_s:.1f} s",
          file=sys.stderr)
    result = {"meta": {**versions(), "duckdb": duckdb.__version__,
                       "command": "python3 " + " ".join([os.path.relpath(sys.argv[0], ROOT)]
                                                        + sys.argv[1:]),
                       "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "load_average": os.getloadavg(), "db": str(args.db),
                       "threads": args.threads},
              "export": {"rows": rows, "seconds": export_s, "parquet_bytes": size,
                         "parquet_bytes_per_file": size / rows, "db_bytes": db_bytes,
                         "db_bytes_per_file": db_bytes / rows},
              "join": {"substrings": m, "bits": bits, "radius": args.radius,
                       "candidates": cand, "within_radius": within, "seconds": join_s,
                       "largest_bucket": biggest}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
