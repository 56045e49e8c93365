"""Benchmark fingerprinting on a Dask LocalCluster against the local process pool.

The same folder of images is indexed into a fresh index again and again, alternating between
the two executors so that both see the same machine load:

* ``pool``: ``indexer.ProcessExecutor`` with ``--workers`` processes (what ``imgfind index
  -j N`` uses; the pool starts inside each run, as it does from the command line);
* ``dask``: ``dask_executor.DaskExecutor`` on a ``distributed.LocalCluster`` of ``--workers``
  worker processes with one thread each, started once before the runs (a cluster is
  long-lived; its start-up is reported on its own).

Both run ``Index.update`` end to end (crawl, diff, fingerprinting, SQLite commits) at each
``--batch-sizes`` value (files per task). Reported: the median wall time of ``--repeat``
runs, files per second, and the Dask overhead against the pool at the same batch size. One
untimed run of each warms the page cache first.

Usage::

    python3 benchmarks/bench_dask.py --out benchmarks/results/dask.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import versions  # noqa: E402

from imgfind.dask_executor import DaskExecutor  # noqa: E402
from imgfind.index import Index, Settings  # noqa: E402
from imgfind.indexer import ProcessExecutor  # noqa: E402
from imgfind.analyse import exit_with_parent  # noqa: E402

DEFAULT_POOL = Path(os.path.expanduser("~/.cache/imgfind-bench/datasets/dev"))


def run_once(folders: list[Path], executor, batch: int, workers: int) -> tuple[float, int]:
    """Index *folders* into a fresh index; return (seconds, files indexed)."""
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        settings = Settings(jobs=workers, batch_files=batch, executor=executor)
        start = time.perf_counter()
        with Index.open(Path(tmp) / "i.db", settings) as idx:
            stats = idx.update(folders)
        return time.perf_counter() - start, stats.new


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=Path, nargs="+", default=[DEFAULT_POOL],
                    help="folders of images (default: the bench's dev pool)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-sizes", default="4,16,64")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dask.json")
    args = ap.parse_args()
    if not all(p.is_dir() for p in args.pool):
        args.pool = [ROOT / "examples" / "photos"]
        print(f"no bench pool; using {args.pool[0]}", file=sys.stderr)

    import dask
    import distributed

    start = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    client.wait_for_workers(args.workers)
    startup = time.perf_counter() - start
    dask_ex = DaskExecutor(client=client)
    pool_ex = ProcessExecutor(args.workers, exit_with_parent)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    runs: dict[str, dict[int, list[float]]] = {"pool": {}, "dask": {}}
    files = 0
    run_once(args.pool, pool_ex, sizes[0], args.workers)  # warm the page cache
    run_once(args.pool, dask_ex, sizes[0], args.workers)
    for rep in range(args.repeat):
        for batch in sizes:
            order = [("pool", pool_ex), ("dask", dask_ex)]
            if rep % 2:
                order.reverse()
            for name, ex in order:
                seconds, files = run_once(args.pool, ex, batch, args.workers)
                runs[name].setdefault(batch, []).append(seconds)
                print(f"{name} batch {batch}: {seconds:.2f} s ({files} files)", file=sys.stderr)
    client.close()
    cluster.close()

    rows = []
    for batch in sizes:
        pool = statistics.median(runs["pool"][batch])
        dsk = statistics.median(runs["dask"][batch])
        rows.append({"batch": batch, "pool_s": pool, "dask_s": dsk,
                     "pool_files_per_s": files / pool, "dask_files_per_s": files / dsk,
                     "overhead": dsk / pool - 1, "pool_runs": runs["pool"][batch],
                     "dask_runs": runs["dask"][batch]})
    result = {"meta": {**versions(), "dask": dask.__version__,
                       "distributed": distributed.__version__,
                       "command": "python3 " + " ".join([os.path.relpath(sys.argv[0], ROOT)]
                                                        + sys.argv[1:]),
                       "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "load_average": os.getloadavg(), "pool": [str(p) for p in args.pool], "files": files,
                       "workers": args.workers, "repeat": args.repeat,
                       "cluster_startup_s": startup},
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print("| batch (files/task) | process pool | LocalCluster | Dask overhead |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['batch']} | {r['pool_s']:.1f} s ({r['pool_files_per_s']:.0f} files/s) | "
              f"{r['dask_s']:.1f} s ({r['dask_files_per_s']:.0f} files/s) | "
              f"{100 * r['overhead']:+.1f}% |")
    print(f"\n{files} files, {args.workers} workers; cluster start-up {startup:.1f} s "
          f"(not in the runs)")


if __name__ == "__main__":
    main()
