"""The JSON format: the whole report as one versioned document.

``"format": "imgfind-dedupe/1"`` / ``"imgfind-query/1"``: keys may be added within a version,
never renamed or removed (added in session 6: ``same_pixels`` on group files and matches, true
when the file shows exactly the pixels of the first file / the query, or of the JPEG its
``same_pixels_as`` names; ``same_pixels_as`` on a file that is a lossless copy of that JPEG) (so a file's size stays ``bytes`` here although records call it
``size``). Names are raw; a name that is not valid UTF-8 keeps its bytes as ``\\udcXX``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TextIO

from ..answers import captured, credits_of, summarize
from ..model import Answer, FileRecord, Group, Member, PageRef, Partial, QueryResult, ReportHeader
from .words import describe_rule, iso_time, joined_by

#: The check of a pixel-identical pair (same_pixels.SAME_PIXELS; reports import no numpy).
SAME_PIXELS = "same pixels"


def header_json(header: ReportHeader) -> dict:
    """Return the document's opening keys: format, version and the rule."""
    rule = header.rule
    return {"format": header.format, "version": header.version, "threshold": rule.threshold,
            "min_similarity": rule.min_similarity, "min_window": rule.min_window,
            "similarity": rule.name,
            # added in session 11: the rule in words, what made the groups (a verified rule
            # takes candidates by pHash or dHash; each file's joined_by says which way)
            "rule": describe_rule(rule)}


def file_json(rec: FileRecord) -> dict:
    """Return one file's keys (``mtime`` local ISO 8601 with its UTC offset)."""
    out = {"path": rec.path, "width": rec.width, "height": rec.height, "bytes": rec.size,
           "format": rec.format, "mtime": iso_time(rec.mtime_ns), "metadata": rec.metadata,
           "present": rec.present, "state": rec.state}
    # Other names of this very file (a hard link, a symbolic link): never copies to remove.
    out["other_names"] = [{"path": path, "link": how} for path, how in rec.other_names]
    if rec.same_file_as is not None:
        out["same_file_as"] = rec.same_file_as
    if rec.pixels_of is not None:  # a lossless copy of that JPEG (same_pixels.py)
        out["same_pixels_as"] = rec.pixels_of
    return out


def same_pixels(m: Member, i: int) -> bool:
    """A group member's ``same_pixels``: it shows exactly the pixels of the group's first
    file (its pair's checks), or of the JPEG its ``same_pixels_as`` names (a lossless copy of
    a JPEG that is not the group's first: never false beside that key)."""
    return (i > 0 and SAME_PIXELS in m.checks) or m.file.pixels_of is not None


def evidence_json(m: Member, i: int) -> dict:
    """Why a group member is in its group: its own verified similarity to the group's first
    file, the checks that pair passed, and how it relates to the first (the first: none).
    Keys ``similarity`` and ``evidence`` {against, similarity, checks, relation}."""
    if i == 0:
        return {"similarity": None, "evidence": None}
    return {"similarity": m.similarity,
            "evidence": {"against": "first file", "similarity": m.similarity,
                         "checks": list(m.checks), "relation": m.relation}}


def partial_json(p: Partial | None, a: str, b: str) -> dict:
    """A partial match's keys (``{"partial": null}`` for a global match): the overlap as a
    fraction of each picture, the overlap's box in each (fractions left, top, right,
    bottom), scale (b's pixels per a's), rotation (degrees counter-clockwise; after a left-right
    mirror when mirrored), mirrored (b shows a in mirror image), the RANSAC
    model, its inliers and how much of the overlap they span in each (seen_*). *a* and *b* name the two pictures (e.g. "query", "match")."""
    if p is None:
        return {"partial": None}
    return {"partial": {f"overlap_{a}": p.cover_a, f"overlap_{b}": p.cover_b,
                        f"box_{a}": list(p.box_a), f"box_{b}": list(p.box_b),
                        "scale": p.scale, "rotation": p.rotation, "mirrored": p.mirrored,
                        "model": p.model,
                        "inliers": p.inliers, f"seen_{a}": p.seen_a, f"seen_{b}": p.seen_b,
                        "agreement": p.agree}}


def render_groups(header: ReportHeader, groups: Sequence[Group], out: TextIO) -> None:
    doc = {
        **header_json(header),
        "groups": [{
            "max_distance": g.max_distance,
            "first_partial": g.first_partial,
            "files": [{**file_json(m.file), "distance": m.distance, "relation": m.relation,
                       "joined_by": joined_by(m, i, header.rule.threshold),
                       "same_pixels": same_pixels(m, i), "original": i == 0, **evidence_json(m, i),
                       **partial_json(m.partial, "first", "member")}
                      for i, m in enumerate(g.members)],
        } for g in groups],
    }
    _dump(doc, out)


def page_json(p: PageRef) -> dict:
    """A web page that shows a file: url, title, how (img, srcset, css, ...) and the URL used."""
    return {"url": p.url, "title": p.title, "how": p.how, "image_url": p.image_url}


def answer_json(a: Answer) -> dict:
    """The summary of one reverse search (answers.summarize)."""
    return {"biggest": {"path": a.biggest, "width": a.biggest_width, "height": a.biggest_height,
                        "factor": a.factor},
            "original": {"path": a.original, "reasons": list(a.reasons)},
            "places": [{"folder": f, "files": list(names)} for f, names in a.places],
            "credits": [{"field": c.field, "value": c.value, "paths": list(c.paths)}
                        for c in a.credits],
            "pages": [{**page_json(p), "shows": shows} for p, shows in a.pages]}


def render_queries(header: ReportHeader, results: Sequence[QueryResult], out: TextIO) -> None:
    """Keys added in this version: queries[].answer, queries[].pages, matches[].credits,
    matches[].captured, matches[].folder, matches[].pages, matches[].biggest."""
    answers = [summarize(r) for r in results]
    doc = {
        **header_json(header),
        "queries": [{"path": r.path, "width": r.width, "height": r.height, "bytes": r.size,
                     "format": r.format, "metadata": r.metadata, "original": r.original,
                     "matches": len(r.matches), "same_file": r.same_file,
                     "answer": answer_json(a), "pages": [page_json(p) for p in r.pages]}
                    for r, a in zip(results, answers)],
        "matches": [{"query": r.path, **file_json(m.file), "distance": m.distance,
                     "relation": m.relation, "same_pixels": SAME_PIXELS in m.checks, "similarity": m.similarity,
                     "larger": m.larger, "original": m.likely_original,
                     "evidence": {"similarity": m.similarity, "checks": list(m.checks),
                                  "relation": m.relation},
                     "biggest": m.file.path == a.biggest,
                     "captured": captured(m.file.metadata) or None,
                     "credits": credits_of(m.file.metadata),
                     "folder": os.path.dirname(m.file.path),
                     "pages": [page_json(p) for p in m.pages],
                     **partial_json(m.partial, "query", "match")}
                    for r, a in zip(results, answers) for m in r.matches],
    }
    _dump(doc, out)


def _dump(doc: dict, out: TextIO) -> None:
    """Write *doc* as one JSON document: a top-level key per line and each item of a
    top-level list (a group, a query, a match) on a line of its own, so that line tools
    (grep, head, diff) see one item per line.

    Each item goes through json's C encoder (``indent`` would use the pure-Python one:
    0.19 s against 0.04 s for the 1.5 MB report of the bench's dev pool), and the whole
    document is written at once."""
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value:
            items = ",\n  ".join(json.dumps(item) for item in value)
            parts.append(f" {json.dumps(key)}: [\n  {items}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value)}")
    out.write("{\n" + ",\n".join(parts) + "\n}\n")
