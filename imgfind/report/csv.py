"""The CSV format: one row per file (dedupe) or per match (query), with a header row.

Columns may be added at the end, never renamed or removed. Names are raw (CSV quotes a
name with a comma, a quote or a newline); times are local ISO 8601 with their UTC offset.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import TextIO

from ..model import Group, Partial, QueryResult
from .words import creator, iso_time


#: Columns of a partial match (empty for a global one): overlap of each picture, the box in
#: each as "left top right bottom" fractions, scale, rotation (degrees counter-clockwise).
PARTIAL_COLUMNS = ["overlap_a", "overlap_b", "box_a", "box_b", "scale", "rotation"]


def _partial(p: Partial | None) -> list[object]:
    if p is None:
        return [""] * len(PARTIAL_COLUMNS)
    return [p.cover_a, p.cover_b, " ".join(map(str, p.box_a)), " ".join(map(str, p.box_b)),
            p.scale, p.rotation]


def render_groups(groups: Sequence[Group], out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["group", "path", "distance", "relation", "original", "width", "height",
                "bytes", "mtime", *PARTIAL_COLUMNS])
    for gi, g in enumerate(groups, 1):
        for i, m in enumerate(g.members):
            f = m.file
            w.writerow([gi, f.path, m.distance, m.relation, int(i == 0), f.width, f.height,
                        f.size, iso_time(f.mtime_ns), *_partial(m.partial)])


def render_queries(results: Sequence[QueryResult], out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["query", "path", "distance", "relation", "similarity", "width", "height",
                "bytes", "mtime", "larger", "original", "creator", *PARTIAL_COLUMNS])
    for r in results:
        for m in r.matches:
            f = m.file
            w.writerow([r.path, f.path, m.distance, m.relation,
                        "" if m.similarity is None else m.similarity, f.width, f.height,
                        f.size, iso_time(f.mtime_ns), int(m.larger), int(m.likely_original),
                        creator(f.metadata), *_partial(m.partial)])
