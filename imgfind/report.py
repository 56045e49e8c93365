"""Render query results and duplicate groups as text, paths, JSON or CSV onto a stream.

JSON documents are versioned (``"format": "imgfind-dedupe/1"`` / ``"imgfind-query/1"``):
fields may be added within a version, never renamed or removed. Paths are absolute
everywhere; a name that is not valid UTF-8 keeps its bytes as surrogate escapes in text
formats and as ``\\udcXX`` escapes in JSON.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from typing import TextIO

from ._version import __version__
from .model import FileRecord, Group, QueryResult, Rule

FORMATS = ("text", "paths", "json", "csv")


def describe_rule(rule: Rule, preset: str | None) -> str:
    if not rule.verified:
        return f"pHash distance <= {rule.threshold} bits"
    name = f"{preset}: " if preset else ""
    return (f"{name}pHash distance <= {rule.threshold} bits, verified similarity >= "
            f"{rule.min_similarity:.2f}, local >= {rule.min_window:.2f}")


def _rule_json(rule: Rule, preset: str | None) -> dict:
    return {"threshold": rule.threshold, "min_similarity": rule.min_similarity,
            "min_window": rule.min_window,
            "similarity": preset}


def _file_json(rec: FileRecord) -> dict:
    out = {"path": rec.path, "width": rec.width, "height": rec.height, "bytes": rec.size,
           "format": rec.format, "mtime": _iso(rec.mtime_ns), "metadata": rec.metadata,
           "present": rec.present, "state": rec.state}
    if rec.same_file_as is not None:
        out["same_file_as"] = rec.same_file_as
    return out


def _listed(rec: FileRecord) -> bool:
    """True when a path belongs in --format paths: a file on disk now, under its first name
    (scripts act on these paths: a gone file or a second name of one file must not be there)."""
    return rec.present and rec.same_file_as is None


def _mark(rec: FileRecord) -> str:
    """Text-format note for a file that is not on disk now ("" when it is)."""
    return "" if rec.present else f"  [{rec.state}]"


def _iso(mtime_ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(mtime_ns / 1e9))


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _creator(meta: dict[str, str]) -> str:
    parts = [meta[k] for k in ("artist", "copyright") if meta.get(k)]
    camera = " ".join(meta[k] for k in ("camera_make", "camera_model") if meta.get(k))
    if camera:
        parts.append(camera)
    if meta.get("taken"):
        parts.append(f"taken {meta['taken']}")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- dedupe
def render_groups(groups: Sequence[Group], fmt: str, out: TextIO, rule: Rule,
                  preset: str | None) -> None:
    if fmt == "json":
        doc = {
            "format": "imgfind-dedupe/1",
            "version": __version__,
            **_rule_json(rule, preset),
            "groups": [{
                "max_distance": g.max_distance,
                "files": [{**_file_json(m.file), "distance": m.distance, "relation": m.relation,
                           "original": i == 0} for i, m in enumerate(g.members)],
            } for g in groups],
        }
        json.dump(doc, out, indent=1)
        out.write("\n")
    elif fmt == "paths":
        shown = [[m.file.path for m in g.members if _listed(m.file)] for g in groups]
        for i, paths in enumerate(p for p in shown if len(p) > 1):
            if i:
                out.write("\n")
            for path in paths:
                out.write(path + "\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["group", "path", "distance", "relation", "original", "width", "height",
                    "bytes", "mtime"])
        for gi, g in enumerate(groups, 1):
            for i, m in enumerate(g.members):
                f = m.file
                w.writerow([gi, f.path, m.distance, m.relation, int(i == 0), f.width, f.height,
                            f.size, _iso(f.mtime_ns)])
    else:
        n_files = sum(len(g.members) for g in groups)
        out.write(f"# {len(groups)} groups, {n_files} files ({describe_rule(rule, preset)})\n")
        for gi, g in enumerate(groups, 1):
            out.write(f"\ngroup {gi}: {len(g.members)} files, max distance {g.max_distance}\n")
            for i, m in enumerate(g.members):
                f = m.file
                tag = "original" if i == 0 else f"d={m.distance:<2}"
                rel = "" if m.relation == "same orientation" else f" ({m.relation})"
                out.write(f"  {tag:>8}  {f.width}x{f.height}  {_size(f.size):>9}  "
                          f"{_iso(f.mtime_ns)}  {f.path}{rel}{_mark(f)}\n")


# ----------------------------------------------------------------------------- query
def render_queries(results: Sequence[QueryResult], fmt: str, out: TextIO, rule: Rule,
                   preset: str | None) -> None:
    if fmt == "json":
        doc = {
            "format": "imgfind-query/1",
            "version": __version__,
            **_rule_json(rule, preset),
            "queries": [{"path": r.path, "width": r.width, "height": r.height, "bytes": r.size,
                         "format": r.format, "metadata": r.metadata, "original": r.original,
                         "matches": len(r.matches)} for r in results],
            "matches": [{"query": r.path, **_file_json(m.file), "distance": m.distance,
                         "relation": m.relation, "similarity": m.similarity,
                         "larger": m.larger, "original": m.likely_original}
                        for r in results for m in r.matches],
        }
        json.dump(doc, out, indent=1)
        out.write("\n")
    elif fmt == "paths":
        for i, r in enumerate(results):
            if i and len(results) > 1:
                out.write("\n")
            for m in r.matches:
                if _listed(m.file):
                    out.write(m.file.path + "\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["query", "path", "distance", "relation", "similarity", "width", "height",
                    "bytes", "mtime", "larger", "original", "creator"])
        for r in results:
            for m in r.matches:
                f = m.file
                w.writerow([r.path, f.path, m.distance, m.relation,
                            "" if m.similarity is None else m.similarity, f.width, f.height,
                            f.size, _iso(f.mtime_ns), int(m.larger), int(m.likely_original),
                            _creator(f.metadata)])
    else:
        for i, r in enumerate(results):
            if i:
                out.write("\n")
            out.write(f"# {r.path}  {r.width}x{r.height}  {_size(r.size)}: "
                      f"{len(r.matches)} matches ({describe_rule(rule, preset)})\n")
            creator = _creator(r.metadata)
            if creator:
                out.write(f"#   the file says: {creator}\n")
            for m in r.matches:
                f = m.file
                notes = [] if f.present else [f.state]
                if m.relation != "same orientation":
                    notes.append(m.relation)
                notes.append("larger" if m.larger else "smaller or same size")
                if m.likely_original:
                    notes.append("likely original")
                who = _creator(f.metadata)
                if who:
                    notes.append(who)
                out.write(f"  d={m.distance:<2}  {f.width}x{f.height}  {_size(f.size):>9}  "
                          f"{_iso(f.mtime_ns)}  {f.path}  [{', '.join(notes)}]\n")
            if r.matches and r.original == r.path:
                out.write("  the query itself looks like the original (most pixels)\n")
