"""Keep rules: which file of a duplicate group is kept, and which rule decided. Pure.

A keep policy is an ordered list of rules (``--keep resolution,quality,oldest``). Files under
a reference folder (``--reference DIR``) come before every rule and are never acted on. The
kept file is the best under (reference, rule 1, rule 2, ..., path); the *deciding* rule is
the first one on which the kept file beats the runner-up, so a report can say "kept: biggest
resolution" rather than a bare choice.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .model import FileRecord

#: Formats whose files keep every pixel as it was made (a PNG beats a JPEG of the same picture).
LOSSLESS = frozenset({"PNG", "TIFF", "BMP", "GIF", "PPM", "TGA", "QOI"})

#: The rules in the order `--keep` falls back to when none is given.
#: "original" (the group's likely original, group.original_key: the file the report labels
#: original) comes right after resolution: an edited copy saved as PNG is not kept over the
#: JPEG it was made from and that JPEG's copies (new-user trial, issue 11). The rules after it
#: are what a --keep list without "original" falls back to.
DEFAULT_KEEP = ("resolution", "original", "lossless-format", "quality", "size", "oldest",
                "shortest-path")

RULE_NAMES = ("resolution", "original", "lossless-format", "quality", "size", "oldest", "newest",
              "shortest-path", "path-pattern:GLOB")


#: Picture sizes closer than this ratio are treated as the same size.
SIZE_STEP = 1.05


def size_class(record: FileRecord) -> int:
    """How much picture a copy holds, in steps of SIZE_STEP (5%) of its pixels inside any
    added border: border trimming is measured on a small working picture, so sizes within a
    few percent count as equal, and a bordered copy (measured less surely) counts one step
    smaller. Ours, calibrated on the bundled examples and ../shared/bench's bordered edits.
    A trim of less than 2% (``content`` >= 0.98: not an added border) counts the whole
    picture: such a trim is a strip of uniform background that one copy shows and another
    does not (a dithered black-and-white copy has no uniform rows), and it could put two
    copies of one pixel size a step apart when their sizes straddle a step's edge (new-user
    trial: a 1-bit copy ranked before its colour original)."""
    pixels = record.content_pixels if record.content < 0.98 else record.pixels
    steps = round(math.log(max(1, pixels)) / math.log(SIZE_STEP))
    return steps - (record.content < 0.98)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one group: the kept file, the rule that decided, and the files
    under a reference folder (never acted on)."""

    kept: FileRecord
    rule: str  # e.g. "reference", "resolution", "path-pattern:*/Originals/*", "path (tie)"
    references: frozenset[str]  # paths of members under a reference folder
    runner_up: FileRecord | None = None  # the file the rule decided against (None: one file)


def _taken(rec: FileRecord) -> str:
    # EXIF dates are "YYYY:MM:DD HH:MM:SS": text order is time order. No date sorts last.
    return rec.metadata.get("taken") or "~"


def _rule_key(name: str, quality: Mapping[str, int],
              order: Mapping[str, int] | None = None) -> Callable[[FileRecord], object]:
    """The sort key of one rule: smaller is better. *order* maps a path to its place in the
    group (likely original first) for the rule "original"."""
    if name == "original":
        place = order or {}
        return lambda r: place.get(r.path, len(place))
    if name == "resolution":
        return lambda r: -size_class(r)  # the picture's pixels, within a few percent
    if name == "lossless-format":
        return lambda r: r.format.upper() not in LOSSLESS
    if name == "quality":
        # Lossless files count as quality 101; an unknown JPEG quality as 0.
        return lambda r: -(101 if r.format.upper() in LOSSLESS else quality.get(r.path, 0))
    if name == "size":
        return lambda r: -r.size
    if name == "oldest":
        return lambda r: (_taken(r), r.mtime_ns)
    if name == "newest":
        return lambda r: (tuple(-ord(c) for c in _taken(r)) if _taken(r) != "~" else (1,),
                          -r.mtime_ns)
    if name == "shortest-path":
        return lambda r: (len(r.path), r.path.count(os.sep))
    if name.startswith("path-pattern:") and len(name) > len("path-pattern:"):
        pattern = name.split(":", 1)[1]
        return lambda r: not fnmatch.fnmatchcase(r.path, pattern)
    raise ValueError(f"unknown keep rule {name!r}; choose from {', '.join(RULE_NAMES)}")


def parse_rules(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Parse ``"resolution,oldest"`` (or a list of such) into rule names.

    Raises:
        ValueError: an unknown rule name (the message lists the known ones).
    """
    if not text:
        return DEFAULT_KEEP
    parts = [text] if isinstance(text, str) else list(text)
    rules: list[str] = []
    for part in parts:
        for item in part.split(","):
            item = item.strip()
            if item.startswith("path-pattern:"):
                rules.append(item)
            elif item:
                rules.append(item.lower())
    for name in rules:
        _rule_key(name, {})  # raises on unknown names
    return tuple(rules)


def under(path: str, folders: Sequence[str]) -> bool:
    """True when *path* is one of *folders* or inside one (absolute, normalised paths)."""
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def choose(files: Sequence[FileRecord], rules: Sequence[str], references: Sequence[str] = (),
           quality: Mapping[str, int] | None = None) -> Decision:
    """Pick the file to keep among *files* (two or more) and name the deciding rule.

    *files* come in the group's order, the likely original first (the rule "original"
    prefers the earliest). *references* are absolute folders whose files are preferred and
    never modified; *quality* maps a JPEG's path to its estimated quality (see quality.py),
    if known.

    Raises:
        ValueError: fewer than one file, or an unknown rule.
    """
    if not files:
        raise ValueError("a group needs at least one file")
    quality = quality or {}
    refs = [os.path.abspath(f) for f in references]
    keys = [("reference", lambda r: not under(r.path, refs)),
            # a file read only in part (truncated: FileRecord.warning) is a damaged copy: an
            # intact one is kept before any rule weighs them (its bytes are the picture)
            ("intact file", lambda r: r.warning is not None)]
    # A lossless copy of a JPEG of the group (FileRecord.pixels_of: same pixels) holds no more
    # than that JPEG: the original, format, quality and size rules weigh the JPEG in its place, and
    # among equals the JPEG (the file it was saved from) is kept.
    by_path = {r.path: r for r in files}

    def source(r: FileRecord) -> FileRecord:
        return by_path.get(r.pixels_of, r) if r.pixels_of is not None else r

    order = {r.path: i for i, r in reversed(list(enumerate(files)))}
    for name in rules:
        key = _rule_key(name, quality, order)
        if name in ("original", "lossless-format", "quality", "size"):
            keys.append((name, lambda r, key=key: key(source(r))))
        else:
            keys.append((name, key))
    keys.append(("same pixels as a JPEG it was saved from", lambda r: source(r) is not r))

    def full(rec: FileRecord) -> tuple:
        return tuple(k(rec) for _, k in keys) + (rec.path,)

    ranked = sorted(files, key=full)
    kept = ranked[0]
    rule = "only file"
    runner = None
    if len(ranked) > 1:
        runner = ranked[1]
        rule = "path (tie)"
        for name, key in keys:
            if key(kept) != key(runner):
                rule = name
                break
    return Decision(kept, rule, frozenset(r.path for r in files if under(r.path, refs)), runner)
