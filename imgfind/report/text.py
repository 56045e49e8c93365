"""The text format: what people read on a terminal. Every name and metadata value is shown
through words.one_line, so no control character from a file reaches the terminal."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TextIO

from ..answers import credits_of, summarize
from ..model import Answer, FileRecord, Group, Partial, QueryResult, ReportHeader
from .words import (BEYOND, DAMAGED_COPY, beyond_threshold, creator, describe_rule, human_size, iso_time,
                    joined_by, one_line, own_tests, plural)


def render_groups(header: ReportHeader, groups: Sequence[Group], out: TextIO) -> None:
    """Write a ``# N groups, M files (rule)`` line, then one block per group, original first."""
    n_files = sum(len(g.members) for g in groups)
    own = own_tests(groups)
    # Members joined by a test of their own (a damaged copy, a partial match) show their pHash
    # distance, which the rule did not bound: the header says so, and max distance (the
    # pHash members' spread, model.Group) leaves them out.
    # Whole copies the verified rule let in beyond the threshold say how, here and per file.
    t = header.rule.threshold
    beyond = beyond_threshold(groups, t)
    out.write(f"# {plural(len(groups), 'group')}, {plural(n_files, 'file')} "
              f"({describe_rule(header.rule)}"
              f"{f'; {own} by their own tests, at any pHash distance' if own else ''}"
              f"{f'; whole copies joined through {beyond} can be farther than {t} bits' if beyond else ''})\n")
    for gi, g in enumerate(groups, 1):
        whole = [m for m in g.members[1:] if not m.partial]
        spread = (f"max distance {g.max_distance}" if whole
                  else "partial matches only, no whole copy")
        broken = sum(joined_by(m, i) == DAMAGED_COPY for i, m in enumerate(g.members))
        if whole and broken == len(whole):
            spread = "damaged copies only, no pHash match"
        elif whole and broken:
            spread += f" without the {plural(broken, 'damaged copy', 'damaged copies')}"
        out.write(f"\ngroup {gi}: {plural(len(g.members), 'file')}, {spread}\n")
        for i, m in enumerate(g.members):
            f = m.file
            tag = "original" if i == 0 else "partial" if m.partial else f"d={m.distance:<2}"
            rel = "" if m.relation == "same orientation" else f" ({m.relation})"
            if i == 0 and g.first_partial:
                rel = " (partial match of the whole copies below)"
            how = joined_by(m, i, t)
            if how in BEYOND:
                rel += f" (joined by {how})"
            out.write(f"  {tag:>8}  {f.width}x{f.height}  {human_size(f.size):>9}  "
                      f"{iso_time(f.mtime_ns)}  {one_line(f.path)}{rel}{_mark(f)}\n")
            if m.partial:
                out.write(f"            {_boxes(m.partial, 'first file', 'this')}\n")
            for path, how in f.other_names:  # the same file by another name: not a copy
                out.write(f"            same file: {how} {one_line(path)}\n")


def _boxes(p: Partial, a: str, b: str) -> str:
    """The overlap's box in each picture, as percentages (left, top, right, bottom)."""
    def pct(box: tuple[float, float, float, float]) -> str:
        return "(" + ", ".join(f"{v:.0%}" for v in box) + ")"
    return (f"overlap: {p.cover_a:.0%} of the {a} {pct(p.box_a)}, {p.cover_b:.0%} of {b} "
            f"{pct(p.box_b)}; {p.inliers} keypoints fit a {p.model}"
            f"{' transform' if p.model == 'similarity' else ''}")


def _mark(rec: FileRecord) -> str:
    """Notes for a file that is not on disk now or was read only in part ("" for neither)."""
    notes = ([] if rec.present else [rec.state]) + \
        ([f"damaged: {one_line(rec.warning)}"] if rec.warning else [])
    return "".join(f"  [{n}]" for n in notes)


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
        if r.same_file is not None and r.same_file != r.path:
            out.write(f"#   the same file as indexed {one_line(r.same_file)} (another name for it, "
                      "such as a hard link; not listed as a match)\n")
        elif r.same_file is not None:
            out.write("#   this file is indexed (not listed as a match of itself)\n")
        a = summarize(r)
        states = {m.file.path: m.file.state for m in r.matches}
        if any(m.partial is None for m in r.matches) or r.original_contains or r.original_upright:
            _answer(a, r.path, states, out)  # copies, or a picture the query lies inside
        elif a.pages:  # no copy, but the query file itself is on web pages
            _pages(a, states, out)
        for m in r.matches:
            f = m.file
            notes = [] if f.present else [f.state]
            if f.warning:
                notes.append(f"damaged: {one_line(f.warning)}")
            if m.relation != "same orientation":
                notes.append(m.relation)
            if m.partial is None:
                notes.append("larger" if m.larger else "smaller or same size")
            else:  # the whole picture's pixels, not its bytes (the relation gives the shared part)
                notes.append("more pixels" if m.larger else "as many pixels or fewer")
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
            credits = credits_of(f.metadata)
            if len(credits) > 1 or credits["gps"] == "yes":  # not when the file says nothing
                out.write(f"        made by: {one_line(_credit_line(credits))}\n")
            on: dict[tuple[str, str], list[str]] = {}
            for p in m.pages:
                hows = on.setdefault((p.url, p.title), [])
                if p.how not in hows:
                    hows.append(p.how)
            for (url, title), hows in on.items():
                out.write(f"        on page: {one_line(url)}  \"{one_line(title)}\" "
                          f"({one_line(', '.join(hows))})\n")
        if any(m.partial is None for m in r.matches) and r.original == r.path:
            out.write(f"  the query itself looks like the original ({one_line(a.reasons[0])})\n"
                      if a.reasons else "  the query itself looks like the original\n")


def _credit_line(credits: Mapping[str, str]) -> str:
    parts = [f"{k} {v}" for k, v in credits.items() if k != "gps"] or ["no creator metadata"]
    return "; ".join(parts + [f"GPS {credits.get('gps', 'no')}"])


def _names(paths: Sequence[str], states: Mapping[str, str], most: int = 3) -> str:
    """Up to *most* files by name (by path where two of *states*' files share the name)."""
    seen: dict[str, int] = {}
    for p in states:
        seen[os.path.basename(p)] = seen.get(os.path.basename(p), 0) + 1
    names = [_named(os.path.basename(p) if seen.get(os.path.basename(p), 0) < 2 else p, p, states)
             for p in paths[:most]]
    return ", ".join(names) + (f" +{len(paths) - most}" if len(paths) > most else "")


def _named(name: str, path: str, states: Mapping[str, str]) -> str:
    """*name*, with the state of *path* when it is not on disk now (``photo.jpg [missing]``)."""
    state = states.get(path, "present")
    return name if state == "present" else f"{name} [{state}]"


def _answer(a: Answer, query: str, states: Mapping[str, str], out: TextIO) -> None:
    """The summary of one reverse search (answers.summarize), as ``#`` lines."""
    who = "the query itself" if a.biggest == query else one_line(a.biggest)
    factor = "" if a.biggest == query else f", {a.factor:.2f}x the query's width and height"
    out.write(f"#   biggest: {who} ({a.biggest_width}x{a.biggest_height}{factor})\n")
    who = "the query itself" if a.original == query else one_line(a.original)
    out.write(f"#   likely original: {who}: {one_line('; '.join(a.reasons))}\n")
    if a.credits:
        out.write("#   who made it:\n")
        for c in a.credits:
            out.write(f"#     {c.field}: {one_line(c.value)}  [{one_line(_names(c.paths, states))}]\n")
    out.write(f"#   appears in {plural(len(a.places), 'folder')}:\n")
    for folder, names in a.places:
        named = [_named(n, os.path.join(folder, n), states) for n in names]
        out.write(f"#     {one_line(folder)}/: {one_line(', '.join(named))}\n")
    _pages(a, states, out)


def _pages(a: Answer, states: Mapping[str, str], out: TextIO) -> None:
    """The web pages that show the query or its matches, as ``#`` lines."""
    if a.pages:
        shown: dict[tuple[str, str, str], list[str]] = {}
        for p, shows in a.pages:
            hows = shown.setdefault((p.url, p.title, shows), [])
            if p.how not in hows:
                hows.append(p.how)
        out.write(f"#   shown on {plural(len({p.url for p, _ in a.pages}), 'page')}:\n")
        for (url, title, shows), hows in sorted(shown.items()):
            out.write(f"#     {one_line(url)}  \"{one_line(title)}\"  shows "
                      f"{one_line(_named(os.path.basename(shows), shows, states))} "
                      f"({one_line(', '.join(hows))})\n")


def render_info(facts: Mapping[str, object], out: TextIO) -> None:
    """Write what ``imgfind info`` shows: the file's facts (as render_facts), then who made it
    and what the index knows (copies, original, biggest, pages), values in one column."""
    rows = _fact_rows({k: v for k, v in facts.items() if k not in ("index", "credits")})
    credits = facts.get("credits")
    if isinstance(credits, Mapping):
        rows.append(("made by", one_line(_credit_line(credits))))
    index = facts.get("index")
    if not isinstance(index, Mapping):
        rows.append(("index", "none (no index file)"))
        _write_rows(rows, out)
        return
    when = f" (fingerprinted {index['indexed_at']})" if index.get("indexed_at") else ""
    rows.append(("indexed", "yes" + when if index.get("indexed") else "no"))
    copies = index.get("copies") or []
    rows.append(("copies", str(len(copies))))
    for c in copies:
        rows.append(("", f"d={c['distance']:<2}  {c['width']}x{c['height']}  {one_line(c['path'])}"
                     + ("" if c["relation"] == "same orientation" else f"  ({c['relation']})")))
    if copies:
        rows.append(("likely original", f"{one_line(str(index['original']))}: "
                     f"{one_line('; '.join(index['original_reasons']))}"))
        if index["biggest"] == facts.get("path"):
            rows.append(("biggest", "this file itself"))
        else:
            rows.append(("biggest", f"{one_line(str(index['biggest']))} "
                         f"({index['biggest_factor']:.2f}x this file's width and height)"))
    for p in index.get("pages") or []:
        rows.append(("page", f"{one_line(p['url'])}  \"{one_line(p['title'])}\"  shows "
                     f"{one_line(os.path.basename(p['shows']))} ({one_line(p['how'])})"))
    _write_rows(rows, out)


def render_facts(facts: Mapping[str, object], out: TextIO) -> None:
    """Write ``key value`` lines (nested mappings as ``key.sub``).

    Values start in one column: after the longest key, and never before column 19."""
    _write_rows(_fact_rows(facts), out)


def _fact_rows(facts: Mapping[str, object]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in facts.items():
        if isinstance(value, Mapping):
            rows.extend((one_line(key + "." + str(k)), one_line(str(v))) for k, v in value.items())
        else:
            rows.append((one_line(key), one_line(str(value))))
    return rows


def _write_rows(rows: Sequence[tuple[str, str]], out: TextIO) -> None:
    """``key value`` lines, values in one column; a row without key is an indented sub-line."""
    width = max([18, *(len(k) for k, _ in rows)])
    for key, value in rows:
        out.write(f"{key:<{width}} {value}\n" if key else f"  {value}\n")


def render_status(db: str, counts: Mapping[str, int], problems: Sequence[tuple[str, str]] | None,
                  out: TextIO, last_indexed: float | None = None) -> None:
    """Write where the index is, what it holds and when a file was last fingerprinted
    (*last_indexed*, seconds since the epoch); *problems* (path, reason), if given, after."""
    out.write(f"index:         {one_line(db)}\n")
    out.write(f"files:         {counts['files']}\n")
    stale = counts.get("stale", 0)
    if stale:
        # Said beside the count, not only in the note on stderr: a search uses the usable ones.
        out.write(f"fingerprinted: {counts['fingerprinted']} ({counts['usable']} usable by this "
                  f"imgfind, {stale} stale: made by another version, left out of searches until "
                  "indexed again)\n")
    else:
        out.write(f"fingerprinted: {counts['fingerprinted']}\n")
    out.write(f"unreadable:    {counts['unreadable']}\n")
    if counts.get("pages"):
        out.write(f"web pages:     {counts['pages']} ({plural(counts['page_images'], 'image reference')};"
                  " imgfind pages)\n")
    if last_indexed is not None:
        out.write(f"last indexed:  {iso_time(int(last_indexed * 1e9))}\n")
    for path, reason in problems or ():
        out.write(f"  {one_line(path)}: {one_line(reason)}\n")
