"""The paths format: one path per line, a blank line between groups (fdupes style), for
``xargs`` and ``while read``; or, with ``null``, every path ended by NUL and an empty record
between groups (``find -print0``, ``xargs -0``), names byte for byte.

A name with a control character (a newline above all) would split a line-based list: such
names are written escaped (words.one_line) and counted, so the caller can say so and point
to ``-0``. Nothing else is escaped, so ordinary names stay usable as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from ..model import FileRecord, Group, QueryResult
from .words import has_control, one_line


def write_lists(lists: Sequence[Sequence[str]], out: TextIO, *, null: bool = False) -> int:
    """Write lists of paths, an empty record between lists; return how many were escaped."""
    end = "\0" if null else "\n"
    escaped = 0
    for i, paths in enumerate(lists):
        if i:
            out.write(end)
        for path in paths:
            if not null and has_control(path):
                path = one_line(path)
                escaped += 1
            out.write(path + end)
    return escaped


def listed(rec: FileRecord) -> bool:
    """Does a path belong in a paths listing? Only a file on disk now, under its first name:
    scripts act on these paths, so a gone file or a second name of one file is left out."""
    return rec.present and rec.same_file_as is None


def render_groups(groups: Sequence[Group], out: TextIO, *, null: bool = False) -> int:
    """Write each group's paths, original first; return how many names were escaped."""
    shown = [[m.file.path for m in g.members if listed(m.file)] for g in groups]
    return write_lists([paths for paths in shown if len(paths) > 1], out, null=null)


def render_queries(results: Sequence[QueryResult], out: TextIO, *, null: bool = False) -> int:
    """Write each query's matches, an empty record between queries; return how many names
    were escaped."""
    return write_lists([[m.file.path for m in r.matches if listed(m.file)] for r in results],
                       out, null=null)
