"""One ``Index.groups(partial=False)`` (what ``imgfind dedupe`` runs above 5,000 files) of an
index in this process, timed, with the groups written out so that two versions of the code
can be compared group for group. Session 9 (issue 15).

The imgfind package is whichever the interpreter imports (run it with ``PYTHONPATH=<snapshot>``
to measure a snapshot). Copy the index first: a dedupe stores its decisions in the index, so
a second run is warm.

Usage::

    python3 benchmarks/session9_groups.py INDEX.db GROUPS.json

Prints one JSON line: CPU seconds (user + system, this process, all threads), wall seconds of
``groups()``, peak RSS (MB), the group count and the files in groups. GROUPS.json holds every
group as its members' file ids (first = likely original) with each member's similarity.
"""
import json
import resource
import sys
import time


def main() -> None:
    import imgfind
    from imgfind.index import Index

    db, out = sys.argv[1], sys.argv[2]
    idx = Index.open(db, readonly=True)
    c0, t0 = time.process_time(), time.perf_counter()
    groups = idx.groups(partial=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = [[[m.file.id, None if m.similarity is None else round(m.similarity, 6)]
             for m in g.members] for g in groups]
    with open(out, "w") as f:
        json.dump(rows, f)
    print(json.dumps({"db": db, "imgfind": imgfind.__file__, "groups_cpu_s": round(cpu, 1),
                      "groups_wall_s": round(wall, 1), "groups": len(groups),
                      "files_in_groups": sum(len(g.members) for g in groups),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
