"""Real photos end to end: imgfind against the duplicate finders it competes with, in one run.

Each tool finds the duplicates of one folder of real pictures from nothing (cold: no index,
no fingerprint cache), the way a user runs it from the shell:

* ``imgfind``: ``imgfind --db DB index DIR``, then ``imgfind --db DB dedupe --format json``,
  at its defaults (local features included: they are on for a library of at most 5,000 files),
  into a fresh index each round. After the cold run, ``--warm`` more dedupes of the same index
  (nothing to re-index: they answer from the decisions the first one remembered).
* ``czkawka``: the PyPI package ``czkawka`` (Rust ``czkawka_core`` through PyO3),
  ``ImageSimilarity().find_similar()`` at the package's default similarity, its hash cache in
  a fresh folder (HOME and XDG_CACHE_HOME point there).
* ``imagededup``: PHash ``encode_images`` (its own worker processes) and ``find_duplicates``
  at its default ``max_distance_threshold=10``.
* ``findimagedupes`` (Debian package, Perl + GraphicsMagick): ``findimagedupes -q -q DIR`` at
  its default threshold (90%), no fingerprint database.

The peers run in ``peers_child.py`` under ``--peer-python`` (an interpreter with czkawka and
imagededup; imgfind is not needed there). Every tool reads the same flat folder of hard links
``NNNNNN.ext`` to the pool's images (as ../shared/bench's adapters give them), so no tool
sees the pool's folder names; the files are read once before the first run so that every tool
finds them in the page cache.

Timing: wall time of the whole process (interpreter start-up and imports included: torch for
imagededup), CPU = user + system time of the process and its children (``os.wait4``), peak
RSS of the largest process of the tree. The tools run one after the other in an order that
rotates every round, so each ratio comes from the same run; the 1-minute load average is
recorded before and after each run (the test machine is shared).

Every tool's groups are scored against the pool's ``manifest.jsonl`` (two files are copies
when they come from the same original) as pair precision and recall: a check that each tool
did the work, not the bench's accuracy measurement (../shared/bench/evaluate.py is that).

Usage::

    python3 benchmarks/bench_peers.py --imgfind /work/venv-measure/bin/imgfind \\
        --peer-python /work/venv-measure-peers/bin/python --rounds 2 --warm 3 \\
        --out benchmarks/results/peers-dev.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POOL = Path(os.path.expanduser("~/.cache/imgfind-bench/datasets/dev"))
TOOLS = ("imgfind", "czkawka", "imagededup", "findimagedupes")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
# Targets of issue 15 (same-run ratios of images/s, cold index and dedupe; warm dedupe).
TARGET_RATIO = {"czkawka": 1.5, "imagededup": 4.0}
TARGET_WARM_S = 1.0


# ----------------------------------------------------------------------------- data
def pool_files(pool: Path, limit: int | None) -> tuple[list[Path], dict[str, str | None]]:
    """The pool's images (sorted) and each one's original (None: a distractor, unique)."""
    truth: dict[str, str | None] = {}
    manifest = pool / "manifest.jsonl"
    if manifest.exists():
        for line in manifest.read_text().splitlines():
            row = json.loads(line)
            truth[row["file"]] = row.get("original")
    files = sorted(p for p in pool.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if limit and limit < len(files):  # spread over the pool: originals, copies and distractors
        files = [files[i * len(files) // limit] for i in range(limit)]
    return files, {str(p.relative_to(pool)): truth.get(str(p.relative_to(pool))) for p in files}


def link_folder(files: list[Path], folder: Path) -> list[str]:
    """A flat folder of hard links NNNNNN.ext (copies where linking fails); returns the names."""
    folder.mkdir(parents=True)
    names = []
    for i, p in enumerate(files):
        name = f"{i:06d}{p.suffix.lower()}"
        try:
            os.link(os.path.realpath(p), folder / name)
        except OSError:
            shutil.copyfile(p, folder / name)
        names.append(name)
    return names


def read_all(folder: Path) -> int:
    total = 0
    for p in sorted(folder.iterdir()):
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                total += len(chunk)
    return total


# ----------------------------------------------------------------------------- running
def load1() -> float:
    return round(os.getloadavg()[0], 2)


def run(argv: list[str], out: Path, env: dict | None = None, cwd: str = "/tmp") -> dict:
    """Run one process with stdout to *out*; wall, CPU (its tree), peak RSS, load before/after."""
    before = load1()
    with open(out, "wb") as f, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=f, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"{argv[:4]} failed ({code}):\n{err.read().decode(errors='replace')[-3000:]}")
    return {"wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "load_before": before, "load_after": load1()}


def score(groups: list[list[str]], originals: dict[str, str | None]) -> dict:
    """Pairs reported (every two members of a group) against the manifest's copies."""
    pairs = set()
    for g in groups:
        g = sorted(set(g))
        pairs.update(itertools.combinations(g, 2))
    by_original: dict[str, int] = {}
    for o in originals.values():
        if o is not None:
            by_original[o] = by_original.get(o, 0) + 1
    positives = sum(k * (k - 1) // 2 for k in by_original.values())
    true = sum(1 for a, b in pairs
               if originals.get(a) is not None and originals.get(a) == originals.get(b))
    return {"groups": len(groups), "files_in_groups": len({f for g in groups for f in g}),
            "pairs": len(pairs), "true_pairs": true,
            "precision": round(true / len(pairs), 4) if pairs else None,
            "recall": round(true / positives, 4) if positives else None}


def run_imgfind(args, folder: Path, work: Path, names: dict[str, str], originals) -> dict:
    db = work / "imgfind.db"
    cli = [args.imgfind, "--db", str(db)]
    index = run(cli + ["-q", "index", str(folder)], work / "index.out")
    dedupe = run(cli + ["dedupe", "--format", "json"], work / "dedupe.json")
    groups = [[names[os.path.basename(m["path"])] for m in g["files"]]
              for g in json.loads((work / "dedupe.json").read_text())["groups"]]
    warm = []
    for i in range(args.warm):
        warm.append(run(cli + ["dedupe", "--format", "json"], work / f"warm-{i}.json"))
        warm[-1]["same_output"] = (work / f"warm-{i}.json").read_bytes() == (work / "dedupe.json").read_bytes()
    return {"wall_s": round(index["wall_s"] + dedupe["wall_s"], 3),
            "cpu_s": round(index["cpu_s"] + dedupe["cpu_s"], 3),
            "peak_rss_mb": max(index["peak_rss_mb"], dedupe["peak_rss_mb"]),
            "load_before": index["load_before"], "load_after": dedupe["load_after"],
            "steps": {"index": index, "dedupe": dedupe}, "warm": warm,
            "index_bytes": db.stat().st_size, **score(groups, originals)}


def run_child(args, tool: str, folder: Path, work: Path, names, originals) -> dict:
    env = dict(os.environ)
    if tool == "czkawka":  # a fresh hash cache: cold like the others
        home = work / "home"
        home.mkdir()
        env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"))
    r = run([args.peer_python, str(HERE / "peers_child.py"), tool, str(folder)], work / f"{tool}.json", env)
    out = json.loads((work / f"{tool}.json").read_text().strip().splitlines()[-1])
    groups = [[names[os.path.basename(n)] for n in g] for g in out.pop("groups")]
    return {**r, **out, **score(groups, originals)}


def run_findimagedupes(args, folder: Path, work: Path, names, originals) -> dict:
    r = run(["findimagedupes", "-q", "-q", str(folder)], work / "findimagedupes.out")
    groups = [[names[os.path.basename(x)] for x in line.split()]
              for line in (work / "findimagedupes.out").read_text().splitlines() if line.strip()]
    version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "findimagedupes"],
                             capture_output=True, text=True).stdout
    return {**r, "version": version, **score(groups, originals)}


# ----------------------------------------------------------------------------- report
def summarise(runs: list[dict], n: int) -> dict:
    out: dict = {"tools": {}, "ratios": {}}
    for tool in TOOLS:
        mine = [r for r in runs if r["tool"] == tool]
        if not mine:
            continue
        walls = [r["wall_s"] for r in mine]
        out["tools"][tool] = {"wall_s": walls, "median_wall_s": statistics.median(walls),
                              "images_per_s": round(n / statistics.median(walls), 1),
                              "cpu_s": [r["cpu_s"] for r in mine],
                              "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
                              "loads": [[r["load_before"], r["load_after"]] for r in mine]}
        if tool == "imgfind":
            warm = [w["wall_s"] for r in mine for w in r["warm"]]
            if warm:
                out["tools"][tool]["warm_dedupe_s"] = warm
                out["tools"][tool]["warm_median_s"] = statistics.median(warm)
                out["tools"][tool]["warm_loads"] = [w["load_before"] for r in mine for w in r["warm"]]
    rounds = sorted({r["round"] for r in runs})
    for tool in TOOLS[1:]:
        per_round, per_cpu = [], []
        for k in rounds:
            a = [r for r in runs if r["round"] == k and r["tool"] == "imgfind"]
            b = [r for r in runs if r["round"] == k and r["tool"] == tool]
            if a and b:
                per_round.append(round(b[0]["wall_s"] / a[0]["wall_s"], 2))
                per_cpu.append(round(b[0]["cpu_s"] / a[0]["cpu_s"], 2))
        if per_round:
            # wall: images/s as a user sees them; CPU: images per CPU second (less sensitive to
            # the load, which favours tools with more threads on a shared machine)
            out["ratios"][tool] = {"imgfind_throughput_ratio_per_round": per_round,
                                   "median": statistics.median(per_round),
                                   "imgfind_cpu_ratio_per_round": per_cpu,
                                   "cpu_median": statistics.median(per_cpu),
                                   "target": TARGET_RATIO.get(tool)}
    return out


def render(result: dict) -> str:
    s = result["summary"]
    n = result["meta"]["images"]
    lines = [f"{n:,} images ({result['meta']['pool']}), cold index + dedupe, "
             f"{result['meta']['rounds']} round(s), tools alternating", "",
             "| tool | wall (median) | images/s | CPU s (runs) | peak RSS | pairs | precision | recall | load (1 min, before/after) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---|"]
    for tool, t in s["tools"].items():
        last = [r for r in result["runs"] if r["tool"] == tool][-1]
        lines.append(f"| {tool} | {t['median_wall_s']:.1f} s | {t['images_per_s']:.1f} | "
                     f"{', '.join(f'{c:.1f}' for c in t['cpu_s'])} | {t['peak_rss_mb']:,.0f} MB | "
                     f"{last['pairs']:,} | {last['precision']} | {last['recall']} | "
                     f"{'; '.join(f'{a}/{b}' for a, b in t['loads'])} |")
    lines += ["", "| imgfind's throughput / peer's (same round) | wall, per round | median | per CPU second, per round | median | target (wall) |",
              "|---|---|---:|---|---:|---|"]
    for tool, r in s["ratios"].items():
        tgt = r["target"]
        status = "" if tgt is None else (f">= {tgt}x: met" if r["median"] >= tgt else f">= {tgt}x: MISSED")
        lines.append(f"| {tool} | {', '.join(f'{x:.2f}x' for x in r['imgfind_throughput_ratio_per_round'])} | "
                     f"{r['median']:.2f}x | {', '.join(f'{x:.2f}x' for x in r['imgfind_cpu_ratio_per_round'])} | "
                     f"{r['cpu_median']:.2f}x | {status} |")
    im = s["tools"].get("imgfind", {})
    if im.get("warm_dedupe_s"):
        ok = "met" if im["warm_median_s"] < TARGET_WARM_S else "MISSED"
        lines += ["", f"imgfind warm dedupe (nothing to re-index): "
                      f"{', '.join(f'{x:.2f}' for x in im['warm_dedupe_s'])} s, median {im['warm_median_s']:.2f} s "
                      f"(target < {TARGET_WARM_S:.0f} s: {ok}), load {im['warm_loads']}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=Path, default=POOL, help="folder of images (recursive); default: the dev pool")
    ap.add_argument("--limit", type=int, default=None, help="N images spread over the pool only (a quick check)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    ap.add_argument("--rounds", type=int, default=1, help="rounds; the order of the tools rotates each round")
    ap.add_argument("--warm", type=int, default=3, help="warm imgfind dedupes after each cold one")
    ap.add_argument("--imgfind", default=shutil.which("imgfind", path=os.path.dirname(sys.executable))
                    or shutil.which("imgfind") or "imgfind", help="the imgfind executable")
    ap.add_argument("--peer-python", default=sys.executable,
                    help="interpreter with czkawka and imagededup installed")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (indexes, outputs)")
    ap.add_argument("--out", type=Path, default=None, help="JSON results")
    args = ap.parse_args()

    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        sys.exit(f"Error: unknown tools {sorted(unknown)} (known: {', '.join(TOOLS)})")
    if "findimagedupes" in tools and shutil.which("findimagedupes") is None:
        sys.exit("Error: findimagedupes not installed (apt-get install findimagedupes)")
    files, truth = pool_files(args.pool, args.limit)
    if not files:
        sys.exit(f"Error: no images under {args.pool}")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-peers-"))
    folder = work / "images"
    names_list = link_folder(files, folder)
    names = dict(zip(names_list, (str(p.relative_to(args.pool)) for p in files)))
    originals = truth  # keyed by pool-relative path, as the groups are translated
    bytes_read = read_all(folder)
    version = subprocess.run([args.imgfind, "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    from machine import versions
    result: dict = {"meta": {**versions(), "command": "python3 " + " ".join(
        [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pool": str(args.pool), "images": len(files), "bytes": bytes_read, "imgfind": args.imgfind,
        "imgfind_version": version, "checkout_commit": commit, "peer_python": args.peer_python,
        "rounds": args.rounds, "tools": tools}, "runs": []}
    try:
        for k in range(args.rounds):
            order = tools[k % len(tools):] + tools[:k % len(tools)]
            for tool in order:
                scratch = work / f"r{k}-{tool}"
                scratch.mkdir()
                print(f"round {k + 1}: {tool} (load {load1()}) ...", file=sys.stderr, flush=True)
                if tool == "imgfind":
                    r = run_imgfind(args, folder, scratch, names, originals)
                elif tool == "findimagedupes":
                    r = run_findimagedupes(args, folder, scratch, names, originals)
                else:
                    r = run_child(args, tool, folder, scratch, names, originals)
                r.update(tool=tool, round=k + 1)
                result["runs"].append(r)
                print(f"  {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, {r['pairs']:,} pairs, "
                      f"P {r['precision']}", file=sys.stderr, flush=True)
                if args.out:  # partial results survive an interrupted run
                    result["summary"] = summarise(result["runs"], len(files))
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps(result, indent=1) + "\n")
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    result["summary"] = summarise(result["runs"], len(files))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))


if __name__ == "__main__":
    main()
