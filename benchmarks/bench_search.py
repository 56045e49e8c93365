"""Benchmark the search engines of imgfind.search on clustered synthetic fingerprints.

Each (engine, size, threshold) case runs in its own subprocess, so its peak memory
(``ru_maxrss``) is its own. A case times building the engine, ``pairs(k)`` and single
``find`` calls. Runs that would take far too long (BK-tree or brute-force ``pairs`` on large
inputs) are not run: their time is extrapolated from a timed sample and marked ``~`` in the
table and ``"extrapolated": true`` in the JSON.

Usage::

    python benchmarks/bench_search.py --sizes 100000,1000000 --thresholds 4,6,10 \\
        --engines mih,bktree,brute --out benchmarks/results/search.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imgfind.search import BKTreeEngine, BruteForce, Engine, MultiIndexHash  # noqa: E402

ENGINES = {"mih": MultiIndexHash, "bktree": BKTreeEngine, "brute": BruteForce}


def clustered(n: int, seed: int) -> np.ndarray:
    """Return ``n`` fingerprints: 80% near cluster centres, 20% uniform singletons.

    There are ``n // 7`` uniformly random centres (about 143,000 at a million); each
    clustered item is a random centre with 1 to 4 random bits flipped, so two members of a
    cluster are at most 8 bits apart. Items are shuffled.
    """
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2**64, size=max(1, n // 7), dtype=np.uint64)
    n_clustered = int(n * 0.8)
    members = centres[rng.integers(0, len(centres), n_clustered)]
    flips = rng.integers(1, 5, n_clustered)
    for t in range(4):
        bit = np.uint64(1) << rng.integers(0, 64, n_clustered).astype(np.uint64)
        members ^= np.where(flips > t, bit, np.uint64(0))
    singletons = rng.integers(0, 2**64, size=n - n_clustered, dtype=np.uint64)
    values = np.concatenate((members, singletons))
    return values[rng.permutation(n)]


def query_sample(values: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Return queries like real ones: items of the set with one random bit flipped."""
    rng = np.random.default_rng(seed + 1)
    picked = values[rng.integers(0, len(values), count)]
    return picked ^ (np.uint64(1) << rng.integers(0, 64, count).astype(np.uint64))


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def estimate_pairs(engine_name: str, engine: Engine, values: np.ndarray, k: int) -> float:
    """Extrapolate the seconds ``pairs(k)`` would take from a timed sample of its work."""
    n = len(values)
    rng = np.random.default_rng(0)
    if engine_name == "bktree":
        # BKTree.pairs is one find per distinct value.
        sample = values[rng.integers(0, n, 50)]
        started = time.perf_counter()
        for query in sample.tolist():
            engine.find(query, k)
        return (time.perf_counter() - started) / len(sample) * n
    # Brute force is quadratic: time pairs() itself on a prefix and scale by the area.
    m = min(n, 50_000)
    started = time.perf_counter()
    BruteForce(values[:m]).pairs(k)
    return (time.perf_counter() - started) * (n / m) ** 2


def run_case(engine_name: str, n: int, k: int, seed: int, queries: int, budget: float) -> dict:
    """Run one case in this process and return its measurements."""
    values = clustered(n, seed)
    baseline = max_rss_mb()
    result: dict = {"engine": engine_name, "n": n, "k": k, "data_rss_mb": round(baseline, 1)}
    started = time.perf_counter()
    engine = ENGINES[engine_name](values)
    result["build_s"] = round(time.perf_counter() - started, 3)

    estimate = None
    if engine_name != "mih":
        estimate = estimate_pairs(engine_name, engine, values, k)
    if estimate is not None and estimate > budget:
        result["pairs_s"] = round(estimate, 1)
        result["extrapolated"] = True
    else:
        started = time.perf_counter()
        i, _, _ = engine.pairs(k)
        result["pairs_s"] = round(time.perf_counter() - started, 3)
        result["pairs_found"] = int(len(i))
        result["extrapolated"] = False

    sample = query_sample(values, queries, seed)
    # A batch first: MIH builds its query tables once a batch (or the queries so far)
    # would cost more by brute force than the tables cost to build. Timed separately so
    # the single-query figures below are the steady state.
    batch = query_sample(values, 1000, seed + 7)
    started = time.perf_counter()
    if engine_name != "bktree":
        engine.find_many(batch, k)
    result["batch_1000_s"] = round(time.perf_counter() - started, 3)
    times = []
    for query in sample.tolist():
        started = time.perf_counter()
        engine.find(query, k)
        times.append(time.perf_counter() - started)
        if sum(times) > budget / 4:
            break
    result["find_ms_median"] = round(float(np.median(times)) * 1e3, 3)
    result["find_ms_p99"] = round(float(np.percentile(times, 99)) * 1e3, 3)
    result["find_queries"] = len(times)
    result["peak_rss_mb"] = round(max_rss_mb(), 1)
    return result


def run_in_subprocess(engine: str, n: int, k: int, args: argparse.Namespace) -> dict:
    command = [
        sys.executable, __file__, "--case", f"{engine},{n},{k}", "--seed", str(args.seed),
        "--queries", str(args.queries), "--budget", str(args.budget),
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=args.timeout, check=True
        )
    except subprocess.TimeoutExpired:
        return {"engine": engine, "n": n, "k": k, "error": f"timeout after {args.timeout} s"}
    except subprocess.CalledProcessError as error:
        return {"engine": engine, "n": n, "k": k, "error": error.stderr.strip()[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(results: list[dict]) -> str:
    lines = [
        "| engine | N | k | build s | pairs s | pairs found | find_many(1000) s "
        "| find ms (median / p99) | peak RSS MB (data only) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['engine']} | {r['n']:,} | {r['k']} | {r['error']} | | | | | |")
            continue
        if r["extrapolated"]:
            pairs = f"~{r['pairs_s']:,.0f} (extrapolated)"
        else:
            pairs = f"{r['pairs_s']:.2f}"
        found = f"{r['pairs_found']:,}" if "pairs_found" in r else "-"
        batch = "-" if r["engine"] == "bktree" else f"{r['batch_1000_s']:.3f}"
        lines.append(
            f"| {r['engine']} | {r['n']:,} | {r['k']} | {r['build_s']:.2f} | {pairs} | {found} "
            f"| {batch} | {r['find_ms_median']:.3f} / {r['find_ms_p99']:.3f} "
            f"| {r['peak_rss_mb']:,.0f} ({r['data_rss_mb']:,.0f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--thresholds", default="4,6,10")
    parser.add_argument("--engines", default="mih,bktree,brute")
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=200, help="find() calls per case")
    parser.add_argument(
        "--budget", type=float, default=120.0,
        help="extrapolate instead of running pairs() estimated to take longer (s)",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per case (s)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:
        engine, n, k = args.case.split(",")
        result = run_case(engine, int(n), int(k), args.seed, args.queries, args.budget)
        print(json.dumps(result))
        return

    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        for k in (int(s) for s in args.thresholds.split(",")):
            for engine in args.engines.split(","):
                result = run_in_subprocess(engine, n, k, args)
                print(json.dumps(result), file=sys.stderr, flush=True)
                results.append(result)
    table = markdown(results)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        }
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
