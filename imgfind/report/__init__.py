"""Render query results and duplicate groups onto a stream: one module per format.

``text`` (people; names escaped), ``paths`` (one per line, or NUL-separated), ``json`` (a
versioned document) and ``csv``. A report opens with a model.ReportHeader (document format,
program version, the rule). Paths are absolute everywhere. This package imports the records
(model) and nothing that finds them: no index, no store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from .._version import __version__
from ..model import Group, QueryResult, ReportHeader, Rule
from . import csv, json, paths, text
from .words import describe_rule, human_size, iso_time, one_line, plural

FORMATS = ("text", "paths", "json", "csv")

__all__ = ["FORMATS", "describe_rule", "header", "human_size", "iso_time", "one_line",
           "plural", "render_groups", "render_queries"]


def header(kind: str, rule: Rule) -> ReportHeader:
    """Return the header of a ``kind`` report ("dedupe" or "query") made under *rule*."""
    return ReportHeader(f"imgfind-{kind}/1", __version__, rule)


def _escaped_note(n: int) -> list[str]:
    if not n:
        return []
    return [f"{plural(n, 'name')} with control characters shown escaped; "
            "use -0/--null for names byte for byte"]


def render_groups(groups: Sequence[Group], fmt: str, out: TextIO, rule: Rule, *,
                  null: bool = False) -> list[str]:
    """Write dedupe *groups* in format *fmt*; return notes for the user (stderr), if any.

    Raises:
        ValueError: *fmt* is not one of FORMATS, or *null* with a format other than paths.
    """
    head = header("dedupe", rule)
    _check(fmt, null)
    if fmt == "paths":
        return _escaped_note(paths.render_groups(groups, out, null=null))
    if fmt == "json":
        json.render_groups(head, groups, out)
    elif fmt == "csv":
        csv.render_groups(groups, out, rule.threshold)
    else:
        text.render_groups(head, groups, out)
    return []


def render_queries(results: Sequence[QueryResult], fmt: str, out: TextIO, rule: Rule, *,
                   null: bool = False) -> list[str]:
    """Write query *results* in format *fmt*; return notes for the user (stderr), if any.

    Raises:
        ValueError: *fmt* is not one of FORMATS, or *null* with a format other than paths.
    """
    head = header("query", rule)
    _check(fmt, null)
    if fmt == "paths":
        return _escaped_note(paths.render_queries(results, out, null=null)) + _same_file_notes(results)
    if fmt == "json":
        json.render_queries(head, results, out)
    elif fmt == "csv":
        csv.render_queries(results, out)
        return _same_file_notes(results)
    else:
        text.render_queries(head, results, out)
    return []


def _same_file_notes(results: Sequence[QueryResult]) -> list[str]:
    """What the text and JSON formats say in the query's block (same_file) and the paths and
    CSV formats cannot when there is no match row: a query that is another name of an
    indexed file, left out of its matches."""
    return [f"{one_line(r.path)} is the same file as indexed {one_line(r.same_file)} "
            "(another name for it; not listed as a match)"
            for r in results if r.same_file is not None and r.same_file != r.path]


def _check(fmt: str, null: bool) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if null and fmt != "paths":
        raise ValueError("-0/--null goes with --format paths")
