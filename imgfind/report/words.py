"""Words and values as every report shows them: escaped names, counts, sizes, times. Pure."""

from __future__ import annotations

import datetime as dt

from ..model import Rule

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
    name = f"{rule.name}: " if rule.name else ""
    return (f"{name}pHash distance <= {rule.threshold} bits, verified similarity >= "
            f"{rule.min_similarity:.2f}, local >= {rule.min_window:.2f}")
