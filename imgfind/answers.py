"""What a reverse search answers, from the records alone (no file is opened again). Pure.

For one QueryResult: the copy with the highest resolution (and by what factor against the
query), the likely original and why, every place a copy appears (grouped by folder), who made
it (the EXIF, XMP and IPTC fields recorded at index time by decoders.pillow and provenance)
and the web pages that show a copy (recorded by ``imgfind pages``). Also the orders of
``query --sort``.

The likely original (rank_originals): the copy with the earliest capture time (EXIF
DateTimeOriginal, else XMP CreateDate; provenance's ``captured``), among the copies that have
one; among equals, or when no copy says when it was taken, group.order_members decides (most
picture, camera or creator metadata present, no added border, colour before grey before black
and white, the oldest file time, the name the others extend, the least recompressed). A picture
the query lies wholly inside is the likely original only when it is the query's source
(partial_groups.outranks_copies: a crop's picture, not a screenshot or collage that shows the
query shrunk). Ours: a downscaled or re-encoded copy usually keeps
the EXIF capture time (a tie, broken by picture size), a web export or an edit usually drops
it or carries a later XMP CreateDate.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from dataclasses import replace

from .model import Answer, Credit, FileRecord, Match, PageRef, QueryResult

#: The orders of ``query --sort``: nearest first, most pixels first, oldest (capture time,
#: else file time) first, largest file first.
SORTS = ("distance", "resolution", "date", "size")

#: Who-made-it fields: (label, metadata keys joined with a space).
CREDIT_FIELDS = (
    ("artist", ("artist",)),
    ("copyright", ("copyright",)),
    ("creator (XMP)", ("xmp_creator",)),
    ("rights (XMP)", ("xmp_rights",)),
    ("by-line (IPTC)", ("iptc_byline",)),
    ("copyright (IPTC)", ("iptc_copyright",)),
    ("camera", ("camera_make", "camera_model")),
    ("software", ("software",)),
    ("software (XMP)", ("xmp_tool",)),
    ("captured", ("captured",)),
)


def captured(meta: dict[str, str]) -> str:
    """The capture time recorded at index time (ISO 8601), or ""; older rows: EXIF ``taken``."""
    if meta.get("captured"):
        return meta["captured"]
    if meta.get("taken"):
        from .provenance import iso_time  # noqa: PLC0415

        return iso_time(meta["taken"])
    return ""


def capture_source(meta: dict[str, str]) -> str:
    """Where the capture time comes from: "EXIF DateTimeOriginal", "XMP CreateDate" or ""."""
    if meta.get("taken"):
        return "EXIF DateTimeOriginal"
    if meta.get("captured"):
        return "XMP CreateDate"
    return ""


def file_time(ns: int) -> str:
    """A file time (ns since the epoch) as local ISO 8601 without offset, to the second."""
    return dt.datetime.fromtimestamp(ns // 1_000_000_000).isoformat()


def date_of(rec: FileRecord) -> str:
    """When a copy was made, as far as it says: its capture time, else its file time."""
    return (captured(rec.metadata) or file_time(rec.mtime_ns))[:19]


def rank_originals(records: Sequence[FileRecord]) -> list[FileRecord]:
    """Sort copies with the likely original first (see the module doc).

    Copies whose capture time is the earliest come first (ties and copies without a capture
    time in group.order_members' order), unless they are visibly degraded re-encodes of
    another copy (group.clearly_degraded: a capture time is copied along with the EXIF, so
    it cannot make a heavier re-encode the source of a finer copy).
    """
    from .group import clearly_degraded, order_members  # noqa: PLC0415 - group needs numpy

    ordered = order_members(records)
    degraded = clearly_degraded(ordered)
    times = [captured(r.metadata)[:19] for r in ordered]
    known = [t for t, d in zip(times, degraded) if t and not d]
    if not known:
        return ordered
    first = min(known)
    early = [t == first and not d for t, d in zip(times, degraded)]
    return [r for r, e in zip(ordered, early) if e] + [r for r, e in zip(ordered, early) if not e]


def credits_of(meta: dict[str, str]) -> dict[str, str]:
    """Who made a picture, as one file's metadata says: label -> value (see CREDIT_FIELDS),
    plus ``gps`` ("yes"/"no")."""
    out = {}
    for label, keys in CREDIT_FIELDS:
        value = " ".join(meta[k] for k in keys if meta.get(k))
        if label == "captured":
            value = captured(meta)
        if value:
            out[label] = value
    out["gps"] = "yes" if meta.get("gps") == "yes" else "no"
    return out


def query_record(r: QueryResult) -> FileRecord:
    """The query as a FileRecord (id -1), for comparing it with its matches."""
    return FileRecord(-1, r.path, r.size, r.mtime_ns, r.width, r.height, r.format, r.metadata,
                      r.content, pixels_of=r.pixels_of)


def summarize(r: QueryResult) -> Answer:
    """The answer to one reverse search, from *r*'s records (see the module doc). The biggest
    copy and the original's reasons consider the copies on disk now (and the query); places
    and credits list every match, whatever its state. A partial match (a picture that only
    shares a region with the query) is not a copy: it is listed in places, not weighed as the
    biggest or the original."""
    q = query_record(r)
    copies = [q] + [m.file for m in r.matches if m.partial is None]
    # what can be fetched now: every such match, whatever --limit cut from the list shown
    here = [q] + (list(r.weighed) if r.weighed else
                  [m.file for m in r.matches if m.file.present and m.partial is None])
    by_path = {c.path: c for c in copies}
    original = by_path.get(r.original) or r.original_file or q
    if all(c.path != original.path for c in here):
        here.append(original)
    # Among equals: the likely original, then the query, then the nearest.
    biggest = max(here, key=lambda c: (c.pixels, c.path == r.original, c is q))
    factor = math.sqrt(biggest.pixels / q.pixels) if q.pixels else 1.0
    folders: dict[str, list[str]] = {}
    for m in r.matches:
        folder, name = os.path.split(m.file.path)
        folders.setdefault(folder, []).append(name)
    places = tuple((f, tuple(sorted(names))) for f, names in sorted(folders.items()))
    said: dict[tuple[str, str], list[str]] = {}
    for c in copies:
        for label, value in credits_of(c.metadata).items():
            if label == "gps" and value == "no":
                continue
            said.setdefault((label, value), []).append(c.path)
    order = {label: i for i, (label, _) in enumerate(CREDIT_FIELDS)}
    credits = tuple(Credit(label, value, tuple(paths)) for (label, value), paths in
                    sorted(said.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])))
    pages = tuple((p, r.path) for p in r.pages) + tuple(
        (p, m.file.path) for m in r.matches for p in m.pages)
    contains = None
    if r.original_contains:
        inside = next((m.partial for m in r.matches
                       if m.partial is not None and m.file.path == original.path), None)
        contains = "contains the query" + (
            "" if inside is None else f" (the query is {inside.cover_b:.0%} of it)")
    elif r.original_upright:
        contains = "the query shows it on a canvas of fill (turned or skewed on its own " \
                   "canvas, letterboxed or framed)"
    return Answer(biggest.path, biggest.width, biggest.height, round(factor, 2), original.path,
                  reasons(original, here, contains), places, credits, pages)


def reasons(original: FileRecord, copies: Sequence[FileRecord],
            contains: str | None = None) -> tuple[str, ...]:
    """Why *original* looks like the original among *copies*, in words. *contains*: the
    reason when the query lies inside *original* (said first; its pixels then need no
    excuse)."""
    out = [contains] if contains else []
    others = [c for c in copies if c.path != original.path]
    damaged = [c for c in others if c.warning is not None]
    if damaged and original.warning is None:
        out.append(f"intact; {', '.join(os.path.basename(c.path) for c in damaged[:3])}"
                   f"{' and more' if len(damaged) > 3 else ''} "
                   f"{'is' if len(damaged) == 1 else 'are'} read only in part (damaged)")
    when = captured(original.metadata)
    other_times = [captured(c.metadata) for c in others if captured(c.metadata)]
    if when:
        if not other_times or when[:19] < min(t[:19] for t in other_times):
            out.append(f"earliest capture time {when} ({capture_source(original.metadata)})")
        elif when[:19] <= min(t[:19] for t in other_times):
            out.append(f"capture time {when}, as early as any copy's")
    elif others and all(original.mtime_ns < c.mtime_ns for c in others):
        out.append(f"earliest file time {file_time(original.mtime_ns)} (no copy says when it was taken)")
    # Lossless copies saved from the original show exactly its pixels: they say so, and
    # their trim boxes (measured on another decode) are not weighed against it.
    twins = [c for c in others if c.pixels_of == original.path]
    if twins:
        out.append(f"{', '.join(os.path.basename(c.path) for c in twins[:3])}"
                   f"{' and more' if len(twins) > 3 else ''} "
                   f"{'shows' if len(twins) == 1 else 'show'} exactly its pixels "
                   "(a lossless copy saved from it)")
    copies = [c for c in copies if c.pixels_of != original.path]
    most = max(c.content_pixels for c in copies)
    if original.content_pixels >= most * 0.95:
        out.append(f"most picture ({original.width}x{original.height})")
    elif not contains:
        bigger = max(copies, key=lambda c: c.content_pixels)
        name = os.path.basename(bigger.path)
        if sum(os.path.basename(c.path) == name for c in copies) > 1:
            name = bigger.path  # two copies of that name: the name alone would not say which
        out.append(f"not the most pixels: {name} has "
                   f"{bigger.width}x{bigger.height} (an upscale or a later export?)")
    worse = _coarser_copies(original, copies)
    if worse:
        names = ", ".join(f"{os.path.basename(c.path)} (quality {c.metadata['jpeg_quality']})"
                          for c in worse[:3]) + (" and more" if len(worse) > 3 else "")
        out.append(f"least compressed: JPEG quality {original.metadata['jpeg_quality']}; "
                   f"{names} {'is a' if len(worse) == 1 else 'are'} visibly heavier "
                   f"re-encode{'' if len(worse) == 1 else 's'}, which cannot be its source")
    camera = " ".join(original.metadata[k] for k in ("camera_make", "camera_model")
                      if original.metadata.get(k))
    if camera:
        out.append(f"camera metadata present ({camera})")
    tied = [c for c in copies if c.content_pixels >= most * 0.95]
    if not when and not camera and len(tied) - len(worse) > 1 and \
            not any("earliest file time" in o for o in out):
        # Only when the pictures the original was chosen among tie on pixels (and were not
        # told apart by their JPEG quality, said above): what put it before each of the
        # others in group.order_members' order, the one test that decided (new-user trial:
        # the whole list, "older file" in it, read as a claim beside an older mirror).
        out.append(f"{len(tied)} copies of about as many pixels: " + _before(
            original, [c for c in tied if c.path != original.path and c not in worse], copies))
    return tuple(out)


def _before(original: FileRecord, others: Sequence[FileRecord], copies: Sequence[FileRecord]
            ) -> str:
    """Why *original* is named before each of *others* (copies of as much picture), in
    words: the first test of group.original_key that tells the two apart, copies told apart
    by the same test together; or that another rule chose, for a copy that order alone would
    put first."""
    from .group import ORIGINAL_KEY_WORDS, deciding_place, original_keys  # noqa: PLC0415

    keys = dict(zip((c.path for c in copies), original_keys(copies)))
    by_words: dict[str, list[str]] = {}
    for other in others:
        place = deciding_place(keys[original.path], keys[other.path])
        words = ("which the file order alone would not name first (chosen by how the copies "
                 "match each other)" if place is None else ORIGINAL_KEY_WORDS[place])
        by_words.setdefault(words, []).append(os.path.basename(other.path))
    return "; ".join(f"before {_and(names)}: {words}" for words, names in by_words.items())


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _coarser_copies(original: FileRecord, copies: Sequence[FileRecord]) -> list[FileRecord]:
    """The copies among *copies* that are visibly degraded re-encodes beside *original* (a
    JPEG at least group.CLEAR_STEP times as coarsely quantised, of as much picture and
    colour: group.clearly_degraded of the pair)."""
    from .group import clearly_degraded  # noqa: PLC0415 - group needs numpy; reports do not

    return [c for c in copies if c.path != original.path
            and clearly_degraded([original, c]) == [False, True]]


def arrange(r: QueryResult, sort: str = "distance", limit: int | None = None) -> QueryResult:
    """Return *r* with its matches in the order *sort* (one of SORTS), at most *limit*.

    Raises:
        ValueError: *sort* is not one of SORTS.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    matches: list[Match] = list(r.matches)  # already nearest first
    if sort == "resolution":
        matches.sort(key=lambda m: -m.file.pixels)
    elif sort == "date":
        matches.sort(key=lambda m: date_of(m.file))
    elif sort == "size":
        matches.sort(key=lambda m: -m.file.size)
    if limit is not None:
        matches = matches[:limit]
    return replace(r, matches=tuple(matches))


def with_pages(r: QueryResult, pages: dict[str, list[PageRef]]) -> QueryResult:
    """Return *r* with the web pages that show the query and each match (*pages*: by path)."""
    return replace(r, pages=tuple(pages.get(r.path, ())),
                   matches=tuple(replace(m, pages=tuple(pages.get(m.file.path, ())))
                                 for m in r.matches))
