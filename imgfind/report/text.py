"""The text format: what people read on a terminal. Every name and metadata value is shown
through words.one_line, so no control character from a file reaches the terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TextIO

from ..model import FileRecord, Group, Partial, QueryResult, ReportHeader
from .words import creator, describe_rule, human_size, iso_time, one_line, plural


def render_groups(header: ReportHeader, groups: Sequence[Group], out: TextIO) -> None:
    """Write a ``# N groups, M files (rule)`` line, then one block per group, original first."""
    n_files = sum(len(g.members) for g in groups)
    out.write(f"# {plural(len(groups), 'group')}, {plural(n_files, 'file')} "
              f"({describe_rule(header.rule)})\n")
    for gi, g in enumerate(groups, 1):
        out.write(f"\ngroup {gi}: {plural(len(g.members), 'file')}, "
                  f"max distance {g.max_distance}\n")
        for i, m in enumerate(g.members):
            f = m.file
            tag = "original" if i == 0 else "partial" if m.partial else f"d={m.distance:<2}"
            rel = "" if m.relation == "same orientation" else f" ({m.relation})"
            out.write(f"  {tag:>8}  {f.width}x{f.height}  {human_size(f.size):>9}  "
                      f"{iso_time(f.mtime_ns)}  {one_line(f.path)}{rel}{_mark(f)}\n")
            if m.partial:
                out.write(f"            {_boxes(m.partial, 'first file', 'this')}\n")


def _boxes(p: Partial, a: str, b: str) -> str:
    """The overlap's box in each picture, as percentages (left, top, right, bottom)."""
    def pct(box: tuple[float, float, float, float]) -> str:
        return "(" + ", ".join(f"{v:.0%}" for v in box) + ")"
    return (f"overlap: {p.cover_a:.0%} of the {a} {pct(p.box_a)}, {p.cover_b:.0%} of {b} "
            f"{pct(p.box_b)}; {p.inliers} keypoints, {p.model}")


def _mark(rec: FileRecord) -> str:
    """A note for a file that is not on disk now ("" when it is)."""
    return "" if rec.present else f"  [{rec.state}]"


def render_queries(header: ReportHeader, results: Sequence[QueryResult], out: TextIO) -> None:
    """Write, per query, a ``# path WxH size: N matches (rule)`` line and one line per match."""
    for i, r in enumerate(results):
        if i:
            out.write("\n")
        out.write(f"# {one_line(r.path)}  {r.width}x{r.height}  {human_size(r.size)}: "
                  f"{plural(len(r.matches), 'match', 'matches')} ({describe_rule(header.rule)})\n")
        said = creator(r.metadata)
        if said:
            out.write(f"#   the file says: {one_line(said)}\n")
        for m in r.matches:
            f = m.file
            notes = [] if f.present else [f.state]
            if m.relation != "same orientation":
                notes.append(m.relation)
            notes.append("larger" if m.larger else "smaller or same size")
            if m.likely_original:
                notes.append("likely original")
            who = creator(f.metadata)
            if who:
                notes.append(one_line(who))
            tag = "partial" if m.partial else f"d={m.distance:<2}"
            out.write(f"  {tag}  {f.width}x{f.height}  {human_size(f.size):>9}  "
                      f"{iso_time(f.mtime_ns)}  {one_line(f.path)}  [{', '.join(notes)}]\n")
            if m.partial:
                out.write(f"          {_boxes(m.partial, 'query', 'this')}\n")
        if any(m.partial is None for m in r.matches) and r.original == r.path:
            out.write("  the query itself looks like the original (most pixels)\n")


def render_facts(facts: Mapping[str, object], out: TextIO) -> None:
    """Write ``key value`` lines (nested mappings as ``key.sub``): what ``imgfind info`` shows."""
    for key, value in facts.items():
        if isinstance(value, Mapping):
            for k, v in value.items():
                out.write(f"{one_line(key + '.' + str(k)):<18} {one_line(str(v))}\n")
        else:
            out.write(f"{key:<18} {one_line(str(value))}\n")


def render_status(db: str, counts: Mapping[str, int], problems: Sequence[tuple[str, str]] | None,
                  out: TextIO, last_indexed: float | None = None) -> None:
    """Write where the index is, what it holds and when a file was last fingerprinted
    (*last_indexed*, seconds since the epoch); *problems* (path, reason), if given, after."""
    out.write(f"index:         {one_line(db)}\n")
    out.write(f"files:         {counts['files']}\n")
    out.write(f"fingerprinted: {counts['fingerprinted']}\n")
    out.write(f"unreadable:    {counts['unreadable']}\n")
    if last_indexed is not None:
        out.write(f"last indexed:  {iso_time(int(last_indexed * 1e9))}\n")
    for path, reason in problems or ():
        out.write(f"  {one_line(path)}: {one_line(reason)}\n")
