"""Torture: memory and file descriptors stay bounded.

Slow: `imgfind index -j 2` over 20,000 generated pictures, sampled from /proc every 0.1 s:
the main process and its workers must not grow with the number of files processed (only the
crawl's list of files grows with the count, a few hundred bytes a file), and no descriptor
leaks. Fast: repeated in-process index runs over the hostile corpus leave no descriptor open.
"""

from __future__ import annotations

import gc
import os
import subprocess
import time

import pytest
from torture_corpus import (build_bad_corpus, children, cli_env, count_rows, fd_count,
                            imgfind_cmd, open_files, record, rss_kb, summary, write_images)

from imgfind.analyse import analyse
from imgfind.index import Index, Settings
from imgfind.model import FileStat

MANY = 20_000
FEW = 2_000


def _sampled_run(db, folder, expected: int) -> dict:
    proc = subprocess.Popen(imgfind_cmd(db, "index", "-j", "2", str(folder)), env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples = []  # (seconds, rows, main rss, [worker rss], main fds, [worker fds])
    start = time.monotonic()
    last_rows_check, rows = 0.0, 0
    while proc.poll() is None:
        now = time.monotonic() - start
        if now - last_rows_check > 0.5:
            rows, last_rows_check = count_rows(db), now
        kids = children(proc.pid)
        samples.append((now, rows, rss_kb(proc.pid), [rss_kb(k) for k in kids], fd_count(proc.pid),
                        [fd_count(k) for k in kids]))
        time.sleep(0.1)
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert summary(err)[0] == expected
    samples = [s for s in samples if s[2]]  # drop a last sample taken as it exited
    return {"samples": samples, "seconds": time.monotonic() - start}


@pytest.mark.slow
def test_memory_and_descriptors_stay_flat_over_20000_images(tmp_path):
    folder = tmp_path / "many"
    t0 = time.monotonic()
    write_images(folder, MANY, size=(32, 24), per_dir=1000)
    generated = time.monotonic() - t0
    few = tmp_path / "few"
    write_images(few, FEW, size=(32, 24), per_dir=1000)

    small = _sampled_run(tmp_path / "few.db", few, FEW)
    big = _sampled_run(tmp_path / "many.db", folder, MANY)
    samples = big["samples"]
    # Once 10% of the files are committed, the crawl is done and only fingerprinting is left:
    # from then on nothing may grow with the number of files processed.
    steady = [s for s in samples if s[1] >= MANY // 10]
    assert len(steady) >= 5, "too few samples in the steady phase"
    main_start, main_peak = steady[0][2], max(s[2] for s in steady)
    worker_rss = [r for s in steady for r in s[3] if r]
    early_workers = [r for s in steady[:3] for r in s[3] if r]
    main_fds = [s[4] for s in steady[:-3]]  # the last samples may catch the shutdown
    worker_fds = [f for s in steady for f in s[5] if f]
    peak_small = max(s[2] for s in small["samples"])
    peak_big = max(s[2] for s in samples)
    per_file = (peak_big - peak_small) * 1024 / (MANY - FEW)

    growth_mb = (main_peak - main_start) / 1024
    worker_growth_mb = (max(worker_rss) - max(early_workers)) / 1024
    record("resource bounds", **{
        "images indexed (generated in)": f"{MANY} ({generated:.1f} s), "
                                         f"index run {big['seconds']:.1f} s with -j 2",
        "main process RSS when 10% committed -> peak after": f"{main_start // 1024} MiB -> "
                                                             f"{main_peak // 1024} MiB "
                                                             f"(+{growth_mb:.1f} MiB)",
        "main peak RSS, 2,000 vs 20,000 images": f"{peak_small // 1024} MiB vs "
                                                 f"{peak_big // 1024} MiB ({per_file:.0f} B/file)",
        "worker peak RSS (growth over the run)": f"{max(worker_rss) // 1024} MiB "
                                                 f"(+{worker_growth_mb:.1f} MiB)",
        "open descriptors, main process (min-max)": f"{min(main_fds)}-{max(main_fds)}",
        "open descriptors, each worker (min-max)": f"{min(worker_fds)}-{max(worker_fds)}",
        "samples": len(samples)})
    assert growth_mb < 30, f"main process grew {growth_mb:.1f} MiB while fingerprinting"
    assert worker_growth_mb < 20, f"workers grew {worker_growth_mb:.1f} MiB"
    assert max(worker_rss) < 200 * 1024
    assert per_file < 4096, f"{per_file:.0f} bytes per file in the main process"
    # The main process holds the index (and its -wal, -shm), the pool's pipes and nothing per
    # image: a leak shows as growth from early to late in the steady phase.
    third = len(steady) // 3
    early_main, late_main = max(s[4] for s in steady[:third]), max(s[4] for s in steady[-third:])
    assert late_main <= early_main + 1 and max(main_fds) < 40, (early_main, late_main)
    # A worker holds one image open at a time: likewise.
    early_fds = max(f for s in steady[:third] for f in s[5] if f)
    late_fds = max(f for s in steady[-third:] for f in s[5] if f)
    assert late_fds <= early_fds + 1 and max(worker_fds) < 40, (early_fds, late_fds)


def test_no_descriptor_is_leaked_by_bad_files_or_index_runs(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    cases = build_bad_corpus(root)
    files = [os.path.join(os.fsencode(root), c.rel) for c in cases if c.expect != "skipped"]
    analyse(FileStat(files[0], 0, 0))  # warm lazy imports
    gc.collect()
    before = open_files()
    for _ in range(3):
        for path in files:
            analyse(FileStat(path, 0, 0))
    runs = 0
    for jobs in (1, 2, 1, 2):
        with Index.open(tmp_path / f"{runs}.db", Settings(jobs=jobs, batch_files=4)) as idx:
            idx.update([root])
            idx.update([root])
        runs += 1
    gc.collect()
    after = open_files()
    assert after == before, sorted(set(after) ^ set(before))
    record("resource bounds", **{
        "descriptors leaked after 3x decoding the hostile corpus and "
        f"{runs * 2} in-process index runs": len(after) - len(before)})
