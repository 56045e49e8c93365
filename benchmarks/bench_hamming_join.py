"""Compiled join (search/join.py, numba) against the numpy multi-index engine (search/mih.py)
on the two joins that dominate a 10^5-file dedupe, in one process, same inputs.

* 1.4M turned query hashes against 1.1M crop-view hashes at 8 bits ("turned crops");
* 1.6M oriented query hashes against 200,000 primary-view hashes at 10 bits ("primary").

Uniformly random 64-bit hashes (seeded); both engines must return the same number of matches.

Usage::

    python3 benchmarks/bench_hamming_join.py > benchmarks/results/hamming-join.txt
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imgfind.search import make_engine  # noqa: E402
from imgfind.search.join import CompiledJoin, plan  # noqa: E402


def main() -> None:
    rng = np.random.default_rng(1)
    CompiledJoin(np.arange(30_000, dtype=np.uint64)).join(np.arange(5, dtype=np.uint64), 8)  # load kernels
    for n, nq, k in [(1_100_000, 1_400_000, 8), (200_000, 1_600_000, 10)]:
        items = rng.integers(0, 2**64, n, dtype=np.uint64)
        q = rng.integers(0, 2**64, nq, dtype=np.uint64)
        load = os.getloadavg()
        t = time.perf_counter()
        got = CompiledJoin(items).join(q, k)
        compiled_s = time.perf_counter() - t
        t = time.perf_counter()
        engine = make_engine(items)
        engine.prepare(k, nq)
        want = engine.find_many(q, k)
        mih_s = time.perf_counter() - t
        assert len(got[0]) == len(want[0])
        print(f"{nq:,} queries x {n:,} items, k={k}: plan {plan(n, k)}; matches {len(got[0]):,}; "
              f"compiled {compiled_s:.1f} s, numpy MIH {mih_s:.1f} s ({mih_s / compiled_s:.1f}x); "
              f"load average before {load[0]:.1f}")


if __name__ == "__main__":
    main()
