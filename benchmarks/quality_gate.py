"""Quality gate: build ../shared/bench's pools and fail when imgfind's default row falls short.

Run by ``.ci/run`` after the tests, with the imgfind under test first on PATH::

    python benchmarks/quality_gate.py --shared ../shared

For each pool (dev, smooth) it builds the pool if the cache lacks it (Debian packages and
images are cached outside the clone, in ``$BENCH_CACHE`` or ``~/.cache/imgfind-bench``, so a
machine that keeps them reuses them), runs the bench's ``imgfind-default`` row (``imgfind
index`` then ``imgfind dedupe --format json`` at imgfind's own defaults), and checks it
against the floors below. Exit status 0 when every pool passes, 1 when one falls short, 2 when
the bench could not be run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: The floors of issue 'Trustworthy groups on any library', per pool.
MIN_PRECISION = 0.995
MAX_FP_RATE = 1e-5
MIN_EASY_RECALL = 0.99
POOLS = ("dev", "smooth")


@dataclass(frozen=True)
class Verdict:
    """One pool's imgfind-default row and whether it clears the floors."""

    pool: str
    precision: float
    fp_rate: float
    easy: float
    tiers: dict
    failures: tuple[str, ...]

    def line(self) -> str:
        tiers = " ".join(f"{k} {100 * v:.1f}" for k, v in self.tiers.items())
        state = "PASS" if not self.failures else "FAIL: " + "; ".join(self.failures)
        return (f"{self.pool:7s} P {100 * self.precision:.2f}%  FP rate {self.fp_rate:.2e}  "
                f"recall {tiers}  {state}")


def judge(pool: str, row: dict) -> Verdict:
    """Check one imgfind-default row (evaluate.py's JSON, ``tools[name]['default']``)."""
    p, rate = float(row["precision"]), float(row["fp_rate"])
    tiers = {k: float(v) for k, v in row["recall_per_tier"].items()}
    easy = tiers.get("easy", 0.0)
    failures = []
    if p < MIN_PRECISION:
        failures.append(f"precision {100 * p:.2f}% < {100 * MIN_PRECISION:.1f}%")
    if rate > MAX_FP_RATE:
        failures.append(f"false-pair rate {rate:.2e} > {MAX_FP_RATE:.0e}")
    if easy < MIN_EASY_RECALL:
        failures.append(f"easy-tier recall {100 * easy:.1f}% < {100 * MIN_EASY_RECALL:.0f}%")
    return Verdict(pool, p, rate, easy, tiers, tuple(failures))


def _run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)
    return time.perf_counter() - t0


def _pool_built(cache: Path, pool: str) -> bool:
    """A pool is built when its manifest is there (make_dataset.py refuses to overwrite it)."""
    return (cache / "datasets" / pool / "manifest.jsonl").is_file()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared"),
                    help="the shared folder holding bench/ (default: ../shared beside the repo)")
    ap.add_argument("--pools", default=",".join(POOLS))
    ap.add_argument("--cache", default=os.environ.get("BENCH_CACHE",
                                                      os.path.expanduser("~/.cache/imgfind-bench")))
    ap.add_argument("--out", help="where evaluate.py writes its tables (default: a temp folder)")
    args = ap.parse_args(argv)
    bench = Path(args.shared) / "bench"
    if not (bench / "evaluate.py").is_file():
        print(f"quality gate: no benchmark at {bench}", file=sys.stderr)
        return 2
    imgfind = shutil.which("imgfind")
    if imgfind is None:
        print("quality gate: `imgfind` is not on PATH; install the project first", file=sys.stderr)
        return 2
    env = dict(os.environ, BENCH_CACHE=args.cache, IMGFIND_BIN=imgfind, SKIP_FINDIMAGEDUPES="1")
    out = Path(args.out or tempfile.mkdtemp(prefix="imgfind-gate-"))
    py = sys.executable
    times: dict[str, float] = {}
    try:
        times["fetch"] = _run(["bash", str(bench / "fetch_images.sh")], env)
        verdicts = []
        for pool in [p.strip() for p in args.pools.split(",") if p.strip()]:
            if not _pool_built(Path(args.cache), pool):
                # a half-built pool (interrupted run) is rebuilt from scratch
                force = ["--force"] if (Path(args.cache) / "datasets" / pool).exists() else []
                times[f"build {pool}"] = _run(
                    [py, str(bench / "make_dataset.py"), "--pool", pool, *force], env)
            times[f"evaluate {pool}"] = _run(
                [py, str(bench / "evaluate.py"), "--pool", pool, "--tools", "imgfind-default",
                 "--refresh", "--no-crosscheck", "--timing-runs", "1", "--timing-sample", "50",
                 "--date", "gate", "--out", str(out)], env)
            data = json.loads((out / f"{pool}-gate.json").read_text())
            verdicts.append(judge(pool, data["tools"]["imgfind-default"]["default"]))
    except (subprocess.CalledProcessError, OSError, KeyError, ValueError) as exc:
        print(f"quality gate: the benchmark could not run: {exc}", file=sys.stderr)
        return 2
    print("\nquality gate (imgfind-default; floors: precision >= 99.5%, false-pair rate <= 1e-5, "
          "easy recall >= 99%)")
    for v in verdicts:
        print("  " + v.line())
    print("  time: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    return 0 if all(not v.failures for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
