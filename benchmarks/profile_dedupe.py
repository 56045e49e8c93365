"""cProfile of ``imgfind --db DB dedupe --format json`` in this process (wall clock, as
cProfile measures it): where a dedupe's time goes, by function.

Run it on a copy of the index (a dedupe writes decisions; a cold dedupe needs a copy made
before any dedupe ran on it)::

    python benchmarks/profile_dedupe.py COPY.db out.json > profile.txt
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys


def main() -> None:
    db, out = sys.argv[1], sys.argv[2]
    from imgfind.cli import main as cli

    profile = cProfile.Profile()
    stdout, sys.stdout = sys.stdout, open(out, "w")
    profile.enable()
    try:
        cli(["--db", db, "dedupe", "--format", "json"])
    except SystemExit:
        pass
    finally:
        profile.disable()
        sys.stdout.close()
        sys.stdout = stdout
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text).sort_stats("cumulative")
    stats.print_stats(60)
    stats.sort_stats("tottime").print_stats(40)
    print(text.getvalue())


if __name__ == "__main__":
    main()
