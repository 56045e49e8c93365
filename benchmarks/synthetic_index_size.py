"""Build the synthetic index of bench_query.py with a given imgfind checkout, for index_size.py.

bench_query.build_db writes through Store.save (the path ``imgfind index`` writes by): 20% of
files copies in clusters of 2-5, every thumbnail one real photo's (d000-elephants), so the
figure is the index layout's, with the checkout's own fingerprint recipe and codecs. Used in
session 7 to compare main and branch s7-compact in the same run:

    PYTHONPATH=CHECKOUT python3 benchmarks/synthetic_index_size.py CHECKOUT OUT.db 100000
    python3 benchmarks/index_size.py OUT.db --json OUT.json
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit("usage: synthetic_index_size.py CHECKOUT OUT.db FILES")
    repo, out, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    sys.path.insert(0, repo)
    sys.path.insert(0, str(Path(repo) / "benchmarks"))  # that checkout's bench_query
    import bench_query

    if out.exists():
        sys.exit(f"{out} exists")
    bench_query.build_db(out, n, 0.2, 0, bench_query.query_images(bench_query.STORED_QUERIES))


if __name__ == "__main__":
    main()
