"""Benchmark indexing speed: ``imgfind index`` against the baselines users would reach for.

One run measures, on the same machine and the same files:

* ``imgfind index FOLDER`` through the real CLI (``python -m imgfind``), default ``--jobs``
  (every core), a fresh database each repeat, timed end to end (interpreter start included);
* the plain single-process loop ``imagehash.phash(Image.open(p))`` users write;
* imagededup's ``PHash().encode_images(image_dir=...)`` (its default: one worker per core), run
  in its own virtual environment (``--imagededup-python``) because it pulls in torch;
* the *draft-decode floor* on the 12 MP JPEG folder: ``Image.open(p); im.draft('L',
  (256, 256)); im.load()`` alone, over a ``multiprocessing.Pool(cores)``; no fingerprinting
  can be faster than this decode;
* a re-index of an unchanged 100,000-file library (hard links of small JPEGs in nested
  folders), timed end to end through the CLI. The first index is built synthetically through
  ``imgfind.store.Store.save`` (records whose stat matches the files, which is all a re-index
  compares) unless ``--reindex-first real``.

Four folders are generated from the photos in ~/.cache/imgfind-bench (see ../shared/bench): 12 MP
(4000x3000) and 2 MP (1632x1224) pictures, each as JPEG q90 and PNG, centre-cropped to 4:3 and
resized with LANCZOS (upscaled where the source is smaller). Data is cached under ``--work``
and rebuilt only when its parameters change. Every baseline runs in a fresh subprocess; the
tables report both the whole process ("wall") and the work alone, without interpreter start
and imports ("work"). The median of ``--repeat`` runs is reported.

Usage::

    python3 benchmarks/bench_index.py --out benchmarks/results/index.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

from machine import versions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_CACHE = Path(os.path.expanduser("~/.cache/imgfind-bench"))
FOLDERS = {  # name: (size, format)
    "jpeg-12mp": ((4000, 3000), "JPEG"),
    "jpeg-2mp": ((1632, 1224), "JPEG"),
    "png-12mp": ((4000, 3000), "PNG"),
    "png-2mp": ((1632, 1224), "PNG"),
}
TARGETS = {  # folder: minimum imgfind / imagededup speed ratio
    "jpeg-12mp": 6.0,
    "jpeg-2mp": 4.0,
}
FLOOR_RATIO = 1.3  # imgfind img/s >= floor img/s / 1.3
REINDEX_TARGET_S = 5.0


# ----------------------------------------------------------------------------- data
def source_pictures() -> list[Path]:
    """Distinct source photos, largest first: one (the biggest) per wallpaper, then the dev set."""
    from PIL import Image

    best: dict[str, tuple[int, Path]] = {}
    pkgs = BENCH_CACHE / "pkgs"
    for path in sorted(pkgs.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png") or not path.is_file():
            continue
        try:
            with Image.open(path) as im:
                pixels = im.size[0] * im.size[1]
        except OSError:
            continue
        rel = path.relative_to(pkgs).parts
        # plasma: wallpapers/<Name>/contents/images/<WxH>.jpg; mate: one file per picture
        key = rel[4] if rel[0] == "plasma-workspace-wallpapers" and len(rel) > 5 else path.stem.split("_")[0]
        if pixels >= 1_000_000 and (key not in best or pixels > best[key][0]):
            best[key] = (pixels, path)
    big = [p for _, p in sorted(best.values(), key=lambda t: (-t[0], str(t[1])))]
    dev = sorted((BENCH_CACHE / "datasets" / "dev" / "originals").glob("*.jpg"))
    return big + dev


def _make_one(task: tuple[str, str, tuple[int, int], str]) -> None:
    from PIL import Image, ImageOps

    src, dst, size, fmt = task
    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        out = ImageOps.fit(im, size, Image.Resampling.LANCZOS)
    if fmt == "JPEG":
        out.save(dst, "JPEG", quality=90)
    else:
        out.save(dst, "PNG")  # Pillow's default zlib level (6), as most tools write


def build_folders(work: Path, count: int, seed: int) -> dict[str, Path]:
    sources = source_pictures()
    rng = random.Random(seed)
    picked = sources[:count] if len(sources) >= count else sources
    rng.shuffle(picked)
    stamp = hashlib.sha256(json.dumps([count, seed, [str(p) for p in picked],
                                       sorted(FOLDERS.items())]).encode()).hexdigest()[:16]
    base = work / f"data-{stamp}"
    folders = {name: base / name for name in FOLDERS}
    if (base / "DONE").exists():
        return folders
    shutil.rmtree(base, ignore_errors=True)
    tasks = []
    for name, (size, fmt) in FOLDERS.items():
        folders[name].mkdir(parents=True)
        ext = ".jpg" if fmt == "JPEG" else ".png"
        for i, src in enumerate(picked):
            tasks.append((str(src), str(folders[name] / f"{i:03d}-{src.stem}{ext}"), size, fmt))
    print(f"building {len(tasks)} files under {base} ...", file=sys.stderr)
    from imgfind.cores import usable_cores

    with Pool(usable_cores()) as pool:
        pool.map(_make_one, tasks, chunksize=1)
    (base / "DONE").write_text("\n".join(str(p) for p in picked) + "\n")
    return folders


# ----------------------------------------------------------------------------- runners
def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str, float]:
    """Run a process; return (wall seconds, stdout, its own peak RSS in MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=str(ROOT))
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    rss = 0.0
    try:  # the child is reaped by communicate(); RUSAGE_CHILDREN is the max over all children
        import resource
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    except Exception:  # noqa: BLE001
        pass
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]}... failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return wall, out.decode(), rss


def env_with_repo() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def imgfind_index(folder: Path, db: Path, jobs: int | None = None) -> tuple[float, str]:
    if db.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    argv = [sys.executable, "-m", "imgfind", "--db", str(db), "index", str(folder)]
    if jobs:
        argv += ["--jobs", str(jobs)]
    wall, _, _ = run_child(argv, env_with_repo())
    return wall, ""


def imgfind_startup() -> float:
    """Seconds ``python -m imgfind --version`` takes: the fixed cost inside every CLI run."""
    wall, _, _ = run_child([sys.executable, "-m", "imgfind", "--version"], env_with_repo())
    return wall


CHILDREN = Path(__file__).resolve().parent / "children.py"
IMAGEDEDUP_CHILD = Path(__file__).resolve().parent / "imagededup_child.py"


def run_child_program(python: str, argv: list[str], env: dict[str, str] | None = None) -> dict:
    """Run one child program (children.py NAME ARGS, or another script) in a fresh process;
    return its JSON line with the whole process's wall time added (``wall_s``)."""
    wall, out, _ = run_child([python, *argv], env)
    result = json.loads(out.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def run_script(name: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run children.NAME(*args) under this interpreter in a fresh process."""
    return run_child_program(sys.executable, [str(CHILDREN), name, *args], env)


def median_runs(fn, repeat: int) -> dict:
    runs = [fn() for _ in range(repeat)]
    keys = runs[0].keys()
    out = {k: statistics.median(r[k] for r in runs) for k in keys if isinstance(runs[0][k], (int, float))}
    out["runs_wall_s"] = [round(r["wall_s"], 3) for r in runs]
    return out


def warm(folder: Path) -> None:
    for p in sorted(folder.iterdir()):
        p.read_bytes()


# ----------------------------------------------------------------------------- re-index
def build_library(work: Path, files: int, seed: int) -> Path:
    """``files`` hard links of a few small JPEGs in 100 x 10 nested folders."""
    from PIL import Image

    lib = work / f"library-{files}-{seed}"
    if (lib / ".done").exists():
        return lib
    shutil.rmtree(lib, ignore_errors=True)
    bases_dir = work / f"library-bases-{seed}"
    shutil.rmtree(bases_dir, ignore_errors=True)
    bases_dir.mkdir(parents=True)
    rng = random.Random(seed)
    dev = sorted((BENCH_CACHE / "datasets" / "dev" / "originals").glob("*.jpg"))
    bases = []
    for i, src in enumerate(rng.sample(dev, min(20, len(dev)))):
        with Image.open(src) as im:
            im = im.convert("RGB")
            im.thumbnail((160, 160), Image.Resampling.LANCZOS)
            dst = bases_dir / f"base{i:02d}.jpg"
            im.save(dst, "JPEG", quality=85)
            bases.append(dst)
    per_leaf = max(1, files // 1000)
    made = 0
    for a in range(100):
        for b in range(10):
            leaf = lib / f"year{a:03d}" / f"album{b:02d}"
            leaf.mkdir(parents=True)
            for c in range(per_leaf):
                if made >= files:
                    break
                os.link(bases[made % len(bases)], leaf / f"IMG_{made:06d}.jpg")
                made += 1
    (lib / ".done").write_text(str(made))
    return lib


def synthetic_first_index(lib: Path, db: Path) -> float:
    """Fill ``db`` as a first ``imgfind index lib`` would, without decoding 100k files."""
    from imgfind.analyse import analyse
    from imgfind.crawl import CrawlOptions, walk
    from imgfind.model import FileStat, Fingerprinted
    from imgfind.store import Store

    started = time.perf_counter()
    stats = list(walk([os.fsencode(os.path.abspath(lib))], CrawlOptions()))
    by_inode: dict[tuple[int, int], Fingerprinted] = {}
    records = []
    for st in stats:
        s = os.stat(st.path)
        key = (s.st_dev, s.st_ino)
        if key not in by_inode:  # a hard link has the same content: fingerprint it once
            by_inode[key] = analyse(st)
        r = by_inode[key]
        records.append(Fingerprinted(FileStat(st.path, st.size, st.mtime_ns), r.info, r.fingerprint, r.error))
    with Store(db) as store:
        for i in range(0, len(records), 20_000):
            with store.transaction():
                store.save(records[i:i + 20_000])
    return time.perf_counter() - started


def reindex_bench(work: Path, files: int, seed: int, repeat: int, first: str) -> dict:
    lib = build_library(work, files, seed)
    db = work / f"library-{files}-{seed}-{first}.db"
    first_s = None
    if not db.exists():
        tmp = Path(str(db) + ".tmp")
        for suffix in ("", "-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        if first == "real":
            first_s, _ = imgfind_index(lib, tmp)
        else:
            first_s = synthetic_first_index(lib, tmp)
        from imgfind.store import Store
        with Store(tmp) as s:  # fold the WAL into the main file before renaming
            s.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tmp.rename(db)
    runs = []
    summary = ""
    for _ in range(repeat):
        argv = [sys.executable, "-m", "imgfind", "--db", str(db), "index", str(lib)]
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, env=env_with_repo(), cwd=str(ROOT))
        runs.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.decode()[-2000:])
        summary = proc.stderr.decode().strip().splitlines()[-1]
    return {"files": files, "first_index": first, "first_index_s": first_s,
            "reindex_s": statistics.median(runs), "runs_s": [round(r, 3) for r in runs],
            "summary": summary, "target_s": REINDEX_TARGET_S,
            "met": statistics.median(runs) < REINDEX_TARGET_S}


# ----------------------------------------------------------------------------- report
def render(result: dict) -> str:
    lines = ["| folder | files | imgfind CLI img/s (wall) | imgfind in-process img/s | "
             "imagehash loop img/s (work) | imagededup img/s (work / wall) | "
             "imgfind ÷ loop | imgfind ÷ imagededup (work / wall) | target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, row in result["folders"].items():
        n = row["files"]
        cli = row["imgfind_cli"]["img_s"]
        inproc = row["imgfind_inprocess"]["img_s"]
        loop = row["plain_loop"]["img_s_work"]
        ded = row.get("imagededup")
        if ded:
            ded_s = f"{ded['img_s_work']:.1f} / {ded['img_s_wall']:.1f}"
            ratio_d = f"{cli / ded['img_s_work']:.2f}x / {cli / ded['img_s_wall']:.2f}x"
        else:
            ded_s = ratio_d = "n/a"
        target = row.get("target", "")
        lines.append(f"| {name} | {n} | {cli:.1f} | {inproc:.1f} | {loop:.1f} | {ded_s} | "
                     f"{cli / loop:.2f}x | {ratio_d} | {target} |")
    fl = result.get("floor")
    if fl:
        lines += ["", "| draft-decode floor (jpeg-12mp, Pool(%d)) | img/s | imgfind ÷ floor | "
                  "floor ÷ imgfind (target <= %.1f) |" % (fl["jobs"], FLOOR_RATIO),
                  "|---|---:|---:|---|"]
        for label, key in (("imgfind CLI (wall)", "ratio_cli"),
                           ("imgfind in-process", "ratio_inprocess")):
            r = fl[key]
            lines.append(f"| {label} | {fl['img_s']:.1f} | {r:.2f} | {1 / r:.2f} "
                         f"{'met' if 1 / r <= FLOOR_RATIO else 'MISSED'} |")
    lines += ["", f"imgfind CLI start-up (`python -m imgfind --version`): "
              f"{result['imgfind_startup_s']:.3f} s per run"]
    ri = result.get("reindex")
    if ri:
        lines += ["", "| re-index, unchanged library | files | first index | second run (s, median) | "
                  "runs | target |", "|---|---:|---|---:|---|---|",
                  f"| `imgfind index` | {ri['files']:,} | {ri['first_index']} | "
                  f"{ri['reindex_s']:.2f} | {ri['runs_s']} | < {ri['target_s']:.0f} s: "
                  f"{'met' if ri['met'] else 'MISSED'} |",
                  "", f"CLI said: `{ri['summary']}`"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=48, help="pictures per folder")
    ap.add_argument("--folders", default=",".join(FOLDERS), help="comma-separated subset")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "index")
    ap.add_argument("--imagededup-python", default=os.path.expanduser("~/.venvs/imagededup/bin/python"),
                    help="python of a venv with imagededup installed ('' to skip)")
    ap.add_argument("--reindex-files", type=int, default=100_000, help="0 skips the re-index run")
    ap.add_argument("--reindex-first", choices=("synthetic", "real"), default="synthetic",
                    help="how the first index of the library is built")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "index.json")
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    folders = build_folders(args.work, args.files, args.seed)
    wanted = [f for f in args.folders.split(",") if f]
    from imgfind.cores import usable_cores

    jobs = usable_cores()  # the count imgfind's own -j default uses
    ded_py = args.imagededup_python
    have_ded = bool(ded_py) and os.path.exists(ded_py) and subprocess.run(
        [ded_py, "-c", "import imagededup"], capture_output=True).returncode == 0
    if not have_ded:
        print(f"imagededup not available at {ded_py!r}: reporting without it", file=sys.stderr)
    result = {"meta": {**versions(), "command": "python3 " + " ".join(
        [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files_per_folder": args.files,
        "repeat": args.repeat, "seed": args.seed, "jobs": jobs,
        "imagededup": have_ded and subprocess.run(
            [ded_py, "-c", "import importlib.metadata as m; print(m.version('imagededup'), m.version('torch'))"],
            capture_output=True, text=True).stdout.strip()},
        "imgfind_startup_s": statistics.median(imgfind_startup() for _ in range(3)),
        "folders": {}}
    tmp = Path(tempfile.mkdtemp(prefix="imgfind-bench-"))
    try:
        for name in wanted:
            folder = folders[name]
            warm(folder)
            n = len(list(folder.iterdir()))
            print(f"{name}: {n} files", file=sys.stderr)
            row: dict = {"files": n, "path": str(folder)}
            cli = median_runs(lambda: {"wall_s": imgfind_index(folder, tmp / "cli.db")[0]}, args.repeat)
            row["imgfind_cli"] = {**cli, "img_s": n / cli["wall_s"]}

            def inproc() -> dict:
                for suffix in ("", "-wal", "-shm"):
                    Path(str(tmp / "ip.db") + suffix).unlink(missing_ok=True)
                return run_script("inproc_update", str(folder), str(tmp / "ip.db"),
                                  env=env_with_repo())
            ip = median_runs(inproc, args.repeat)
            row["imgfind_inprocess"] = {**ip, "img_s": n / ip["work_s"]}
            loop = median_runs(lambda: run_script("plain_loop", str(folder)), args.repeat)
            row["plain_loop"] = {**loop, "img_s_work": n / loop["work_s"], "img_s_wall": n / loop["wall_s"]}
            if have_ded:
                ded = median_runs(lambda: run_child_program(ded_py, [str(IMAGEDEDUP_CHILD), str(folder)]), args.repeat)
                row["imagededup"] = {**ded, "img_s_work": n / ded["work_s"], "img_s_wall": n / ded["wall_s"]}
                if name in TARGETS:
                    # Like for like: work against work (no interpreter start or imports on
                    # either side) and the whole process against the whole process. The
                    # strictest mix, imgfind's whole process against imagededup's work alone,
                    # is shown too.
                    ded_row = row["imagededup"]
                    work = row["imgfind_inprocess"]["img_s"] / ded_row["img_s_work"]
                    wall = row["imgfind_cli"]["img_s"] / ded_row["img_s_wall"]
                    mixed = row["imgfind_cli"]["img_s"] / ded_row["img_s_work"]
                    ok = min(work, wall) >= TARGETS[name]
                    row["target"] = (f">= {TARGETS[name]:.0f}x imagededup: "
                                     f"{'met' if ok else 'MISSED'} like for like (work {work:.2f}x, "
                                     f"wall {wall:.2f}x); CLI wall vs its work {mixed:.2f}x"
                                     f"{'' if mixed >= TARGETS[name] else ' (short)'}")
            if name.startswith("png"):
                ok = row["imgfind_cli"]["img_s"] >= row["plain_loop"]["img_s_work"]
                row["target"] = f">= plain loop: {'met' if ok else 'MISSED'}"
            if name == "jpeg-12mp":
                fl = median_runs(lambda: run_script("floor", str(folder), str(jobs)), args.repeat)
                img_s = n / fl["work_s"]
                result["floor"] = {**fl, "jobs": jobs, "img_s": img_s,
                                   "ratio_cli": row["imgfind_cli"]["img_s"] / img_s,
                                   "ratio_inprocess": row["imgfind_inprocess"]["img_s"] / img_s}
            result["folders"][name] = row
            print(json.dumps({name: {k: v for k, v in row.items() if k != "path"}}), file=sys.stderr)
        if args.reindex_files:
            print(f"re-index: {args.reindex_files} files ...", file=sys.stderr)
            result["reindex"] = reindex_bench(args.work, args.reindex_files, args.seed,
                                              args.repeat, args.reindex_first)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))


if __name__ == "__main__":
    main()
