"""cProfile one ``Index.groups(partial=False)`` (what ``imgfind dedupe`` runs above 5,000
files) of an index, in this process, and print where the time goes: wall and CPU seconds of
the whole call, then the top imgfind functions by cumulative time. Session 6 (issues 15, 16):
explains the cost of a 10^6 dedupe from a 10^5 profile.

Copy the index first: a dedupe stores its decisions in the index, so a second run is warm.

Usage::

    python3 benchmarks/session6_profile.py INDEX.db OUT.prof [TOP [cpu|wall]]

The profiler's clock is the process's CPU time (``time.process_time``, all threads) by
default, so that the split between stages is not the machine's load; ``wall`` uses
cProfile's default wall clock.
"""
import cProfile
import io
import json
import pstats
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imgfind.index import Index  # noqa: E402


def main() -> None:
    db, out = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 45
    clock = sys.argv[4] if len(sys.argv) > 4 else "cpu"
    idx = Index.open(db, readonly=True)
    prof = cProfile.Profile(time.process_time) if clock == "cpu" else cProfile.Profile()
    c0, t0 = time.process_time(), time.perf_counter()
    prof.enable()
    groups = idx.groups(partial=False)
    prof.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    prof.dump_stats(out)
    s = io.StringIO()
    st = pstats.Stats(prof, stream=s).sort_stats("cumulative")
    st.print_stats(r"imgfind", top)
    print(s.getvalue())
    print(json.dumps({"db": db, "clock": clock, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                      "groups": len(groups), "files_in_groups": sum(len(g.members) for g in groups),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
