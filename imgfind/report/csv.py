"""The CSV format: one row per file (dedupe) or per match (query), with a header row.

Columns may be added at the end, never renamed or removed. Names are raw (CSV quotes a
name with a comma, a quote or a newline); times are local ISO 8601 with their UTC offset.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from typing import TextIO

from ..answers import captured, credits_of, summarize
from ..model import Group, Partial, QueryResult
from .words import creator, iso_time, joined_by, mirrored, relation


#: Columns of a partial match (empty for a global one): overlap of each picture, the box in
#: each as "left top right bottom" fractions, scale, rotation (degrees counter-clockwise,
#: after the mirror when mirrored), mirrored (1: b shows a in mirror image, else 0; in dedupe
#: filled for whole copies too, from their relation: words.mirrored).
PARTIAL_COLUMNS = ["overlap_a", "overlap_b", "box_a", "box_b", "scale", "rotation", "mirrored"]


def _partial(p: Partial | None) -> list[object]:
    if p is None:
        return [""] * len(PARTIAL_COLUMNS)
    return [p.cover_a, p.cover_b, " ".join(map(str, p.box_a)), " ".join(map(str, p.box_b)),
            p.scale, p.rotation, int(p.mirrored)]


#: Who-made-it columns of the query CSV and the answers.credits_of labels they come from.
CREDIT_COLUMNS = ("artist", "copyright", "xmp_creator", "xmp_rights", "iptc_byline",
                  "iptc_copyright", "camera", "software")
CREDIT_LABELS = ("artist", "copyright", "creator (XMP)", "rights (XMP)", "by-line (IPTC)",
                 "copyright (IPTC)", "camera", "software")


def render_groups(groups: Sequence[Group], out: TextIO, threshold: int | None = None) -> None:
    """One row per group member; *threshold*: the rule's, for ``joined_by``."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["group", "path", "distance", "relation", "original", "width", "height",
                "bytes", "mtime", *PARTIAL_COLUMNS,
                # the JSON report's group and member fields, added at the end: the group's
                # first file is a picture its whole copies were cut from (1 on each of the
                # group's rows; model.Group.first_partial), and which test joined the member
                "first_partial", "joined_by"])
    for gi, g in enumerate(groups, 1):
        for i, m in enumerate(g.members):
            f = m.file
            flipped = mirrored(m, i)
            cells = _partial(m.partial)[:-1] + ["" if flipped is None else int(flipped)]
            w.writerow([gi, f.path, m.distance, relation(g, m, i), int(i == 0), f.width,
                        f.height, f.size, iso_time(f.mtime_ns), *cells,
                        int(g.first_partial), joined_by(m, i, threshold)])


def render_queries(results: Sequence[QueryResult], out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["query", "path", "distance", "relation", "similarity", "width", "height",
                "bytes", "mtime", "larger", "original", "creator",
                # added with the answers (issue 14): who made it, where it appears
                "biggest", "factor", "captured", *CREDIT_COLUMNS, "gps", "folder", "pages",
                "original_reasons",
                # the indexed path that is the query file itself (another name: hard link,
                # symlink), left out of the matches; "" when the query is not indexed
                "query_same_file",
                # added with partial matches (issue 12)
                *PARTIAL_COLUMNS])
    for r in results:
        a = summarize(r)
        for m in r.matches:
            f = m.file
            credits = credits_of(f.metadata)
            w.writerow([r.path, f.path, m.distance, m.relation,
                        "" if m.similarity is None else m.similarity, f.width, f.height,
                        f.size, iso_time(f.mtime_ns), int(m.larger), int(m.likely_original),
                        creator(f.metadata),
                        int(f.path == a.biggest),
                        round(math.sqrt(f.pixels / (r.width * r.height)), 2) if r.width * r.height else "",
                        captured(f.metadata), *(credits.get(c, "") for c in CREDIT_LABELS),
                        credits["gps"], os.path.dirname(f.path),
                        " | ".join(dict.fromkeys(f"{p.url} ({p.title})" for p in m.pages)),
                        "; ".join(a.reasons) if m.likely_original else "",
                        r.same_file or "", *_partial(m.partial)])
