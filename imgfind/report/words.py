"""Words and values as every report shows them: escaped names, counts, sizes, times. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..model import (FORMER_FIRST_CHECK, LINKS_CHECK, MIRROR_RELATIONS, PARTIAL_HEAD, Group,
                     Member, Rule)

#: C0 controls and DEL shown escaped, so that a name is one line and never drives a terminal.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def one_line(text: str) -> str:
    """Return *text* with control characters (C0 and DEL) escaped: ``"a\\nb"`` -> ``a\\nb``.

    Text output is for people: a file name or an EXIF field with an escape sequence or a
    newline must neither drive the terminal nor look like two lines. Machine formats (JSON,
    CSV, NUL-separated paths) keep names raw.

    >>> one_line("x\\x1b]0;pwned\\x07.jpg")
    'x\\\\x1b]0;pwned\\\\x07.jpg'
    """
    return text.translate(_ESCAPES)


def has_control(text: str) -> bool:
    """True when *text* holds a character that one_line would escape."""
    return text != one_line(text)


def plural(n: int, word: str, many: str | None = None) -> str:
    """Return a count with its noun: ``plural(1, "match", "matches")`` -> ``"1 match"``.

    >>> plural(1, "group"), plural(2, "group"), plural(0, "match", "matches")
    ('1 group', '2 groups', '0 matches')
    """
    return f"{n} {word if n == 1 else (many or word + 's')}"


def iso_time(ns: int) -> str:
    """Return a time in nanoseconds since the epoch as local ISO 8601 with its UTC offset,
    to the second: ``2024-05-01T14:03:09+02:00``."""
    return dt.datetime.fromtimestamp(ns // 1_000_000_000).astimezone().isoformat()


def human_size(n: float) -> str:
    """Return a byte count as people read it (1024-based): ``512 B``, ``1.5 KB``, ``3.2 MB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def creator(meta: dict[str, str]) -> str:
    """Return who made a picture and when, as its metadata says (raw: escape for text)."""
    parts = [meta[k] for k in ("artist", "copyright") if meta.get(k)]
    camera = " ".join(meta[k] for k in ("camera_make", "camera_model") if meta.get(k))
    if camera:
        parts.append(camera)
    if meta.get("taken"):
        parts.append(f"taken {meta['taken']}")
    return "; ".join(parts)


def describe_rule(rule: Rule) -> str:
    """Return the rule in words, with its preset name when it comes from one."""
    if not rule.verified:
        return f"pHash distance <= {rule.threshold} bits"
    # A verified rule's candidates come from pHash (every view) and the upright dHash
    # (candidates.channels): a copy found by its dHash shows a pHash distance beyond this.
    name = f"{rule.name}: " if rule.name else ""
    return (f"{name}pHash or dHash distance <= {rule.threshold} bits, verified similarity >= "
            f"{rule.min_similarity:.2f}, local >= {rule.min_window:.2f}")


#: The relation of a damaged copy (damaged.DAMAGED_COPY; reports import no numpy).
DAMAGED_COPY = "damaged copy"
#: How a group member was joined to the group's first file (``joined_by``): by the pHash rule
#: (its distance is within the threshold), or by a test of its own, whose member's pHash
#: distance may be anything: pixels identical to the first file's (shown at distance 0), a
#: damaged copy of it (damaged.py: the rows that survived agree), or a partial match
#: (keypoints or a part view). The first file itself is "first file". Whole copies beyond
#: the threshold say which way the verified rule let them in: "dHash" (verified against
#: the first file, found by its upright dHash within the threshold), "members" (verified
#: against group.TWO_LINKS or more members that are verified against the first, not
#: against the first itself) or "former first" (verified against the file that headed the
#: group before it was shown from another of its files; its distance is to the new first).
JOINED_BY = ("first file", "pHash", "same pixels", DAMAGED_COPY, "partial", "dHash", "members",
             "former first")
#: The kinds of JOINED_BY that are whole copies the verified rule let in beyond its threshold.
BEYOND = ("dHash", "members", "former first")


def relation(g: Group, m: Member, i: int) -> str:
    """How member *i* of group *g* relates to the group's first file, as the machine formats
    say it: its relation, or PARTIAL_HEAD for the first file of a group shown from the
    picture its whole copies were cut from (Group.first_partial), as the plan says it."""
    return PARTIAL_HEAD if i == 0 and g.first_partial else m.relation


def mirrored(m: Member, i: int) -> bool | None:
    """Does member *i* show the picture in mirror image: a partial member through its model
    (Partial.mirrored), a whole copy by its relation (MIRROR_RELATIONS)? None for the first
    file."""
    if i == 0:
        return None
    if m.partial is not None:
        return m.partial.mirrored
    return m.relation in MIRROR_RELATIONS


def joined_by(m: Member, i: int, threshold: int | None = None) -> str:
    """Which test joined member *i* of a group to the group's first file (one of JOINED_BY).
    Without *threshold* (the rule's), a whole copy not joined through members is "pHash"
    whatever its distance."""
    if i == 0:
        return "first file"
    if m.partial is not None:
        return "partial"
    if m.relation == DAMAGED_COPY:
        return DAMAGED_COPY
    if "same pixels" in m.checks or m.relation == "same pixels":
        return "same pixels"
    if any(c.endswith(LINKS_CHECK) for c in m.checks):
        return "members"
    if threshold is None or m.distance <= threshold:
        return "pHash"
    return "former first" if FORMER_FIRST_CHECK in m.checks else "dHash"


def beyond_threshold(groups: Sequence[Group], threshold: int) -> str:
    """The words for the whole copies of *groups* that the verified rule let in other than by
    a pHash distance within *threshold* ("" when there are none): "dHash or other members"."""
    kinds = {joined_by(m, i, threshold) for g in groups for i, m in enumerate(g.members)}
    names = [name for kind, name in (("dHash", "dHash"), ("members", "other members"),
                                     ("former first", "a former first file")) if kind in kinds]
    return " or ".join(names)


def own_tests(groups: Sequence[Group]) -> str:
    """The words for the members of *groups* that tests of their own joined, whatever their
    pHash distance ("" when there are none): "damaged copies and partial matches"."""
    kinds = {joined_by(m, i) for g in groups for i, m in enumerate(g.members)}
    names = [name for kind, name in ((DAMAGED_COPY, "damaged copies"), ("partial", "partial matches"))
             if kind in kinds]
    return " and ".join(names)
