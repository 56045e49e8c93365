"""Damaged copies of a JPEG: the same bytes as their original up to some point, garbage after
(issue 11: a file recovered from a bad disk, a transfer that went wrong).

Such a copy still decodes without an error: libjpeg fills what it cannot decode, and from
the first damaged block on, the picture is shifted blocks in wrong colours (a glitch band).
Its global fingerprint is no longer its original's and the global verification rejects the
pair; its keypoints agree over the intact part only. Found at dedupe time, in three steps:

1. Candidates, no decoding: JPEGs that share the digest of their first
   decoders.pillow.HEAD_BYTES (4 KB) bytes and their size (model.JPEG_HEAD, kept by the index;
   Store.shared_heads, one SQL pass). A byte-level copy shares its original's head; two
   different photos do not (their headers hold their own dates, their scans their own
   pixels).
2. Each candidate is decoded by libjpeg-turbo through simplejpeg in strict mode, at reduced
   scale (:data:`CHECK_ROWS` rows or more): libjpeg's corrupt-data warnings ("Corrupt JPEG
   data: 55 extraneous bytes before marker 0xd9", "premature end of data segment", "bad
   Huffman code", "Premature end of JPEG file"), which Pillow swallows, make the file
   damaged (:func:`check`). Only the decoder says which file is damaged: an intact file is
   never marked.
3. A damaged file is a damaged copy of an intact candidate when their decoded rows agree
   from the top down to at least :data:`MIN_INTACT` of the rows (:func:`rows_agree`: the
   intact part is compared, never the garbage) and most of its bytes are the intact file's
   (:func:`shared_bytes`, :data:`MIN_SHARED_BYTES`: not two encodings that only begin alike).

Cost: one reduced-scale decode of each file that shares its head with another (not of
every JPEG: indexing pays only the digest of 4 KB it has read anyway); the answer is kept for
the index's state (decision_cache stage). Not covered: a copy damaged within its first
HEAD_BYTES (garbage from the top: nothing to compare), a damaged copy of a file whose bytes
were changed since (its metadata edited: the heads differ), a file whose original is not
indexed (it is marked damaged only when a candidate shares its head), non-JPEG formats.
Ours, built on libjpeg's own warnings.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .decision_cache import PIXELS_RULE, DecisionCache
from .model import PairMatch
from .regular import NotRegular, open_regular

try:  # a light wheel with its own libjpeg-turbo; without it the pass finds nothing
    import simplejpeg
except ImportError:  # pragma: no cover - a core dependency
    simplejpeg = None

#: The relation (report words) and the check (PairMatch.checks) of a damaged copy.
DAMAGED_COPY = "damaged copy"
#: A damaged file pairs with an intact one when at least this fraction of its rows, from the
#: top, agree with it (ours: below it the picture is mostly garbage and the copy is better
#: deleted than matched; the case of issue 11 keeps 55% of its rows).
MIN_INTACT = 0.25
#: ... and when at least this fraction of its bytes are the intact file's (shared_bytes): a
#: byte-level copy damaged in one stretch keeps nearly all of them (the case of issue 11:
#: 99.99%), while two screenshots of one window, whose tops agree, share only the bytes of
#: the rows they have in common (ours).
MIN_SHARED_BYTES = 0.5
#: A stretch of the picture data overwritten with one repeated byte at least this long marks
#: the file that holds it as the damaged one when libjpeg does not (filled).
FILL_RUN = 8
#: Buckets of files sharing a head up to this size have all their pairs compared; larger ones
#: (hundreds of screenshots of one window) only the pairs with a file libjpeg warns about.
PAIRWISE = 64
#: The reduced-scale decode has at least this many rows (or the picture's own, when fewer):
#: libjpeg decodes at 1/8 scale down to it, so the check costs the entropy decoding alone.
CHECK_ROWS = 96
#: A row agrees when no pixel of it differs by more than this (grey levels): the same bytes
#: decode to the same pixels, so 0 would do; 1 leaves room for a decoder's rounding.
ROW_TOLERANCE = 1
#: libjpeg's warnings that say the compressed data is damaged (jerror.h; "bad ICC marker"
#: is metadata, not picture, and is left out).
_CORRUPT = ("corrupt jpeg data", "premature end of jpeg file",
            "inconsistent progression sequence", "unsupported marker type")


def _damage(message: str) -> bool:
    text = message.lower()
    return text.startswith(_CORRUPT) and "icc" not in text


def check(path: str | bytes, expect: tuple[int, int] | None = None
          ) -> tuple[str | None, np.ndarray | None]:
    """Decode the JPEG at *path* in strict mode at reduced scale: (why it is damaged, "Corrupt JPEG
    data: ..." as libjpeg words it, or None when libjpeg decodes it without a corrupt-data warning; its grey picture, uint8
    (rows, columns) at 1/8 to 1/1 scale, at least CHECK_ROWS rows when it has them), or
    (None, None) when it cannot be checked now: missing, unreadable, changed since indexed
    (*expect*: stored size in bytes and mtime in ns), not a JPEG libjpeg reads, simplejpeg
    not installed. Never raises for a file."""
    if simplejpeg is None:
        return None, None
    try:
        with open_regular(path) as fp:
            if expect is not None:
                st = os.fstat(fp.fileno())
                if (st.st_size, st.st_mtime_ns) != expect:
                    return None, None
            data = fp.read()
    except (NotRegular, OSError):
        return None, None
    try:
        _h, _w, _sub, _space = simplejpeg.decode_jpeg_header(data)
        rows = min(int(_h), CHECK_ROWS)
        kw = dict(colorspace="GRAY", min_height=rows, min_width=1)
    except (ValueError, TypeError):
        return None, None
    try:
        return None, _grey(simplejpeg.decode_jpeg(data, strict=True, **kw))
    except ValueError as exc:
        reason = " ".join(str(exc).split())
        if not _damage(reason):
            return None, None  # an error, or a conversion libjpeg refuses (CMYK): not checked
    if not reason.lower().startswith("corrupt"):
        reason = f"corrupt data: {reason}"
    try:
        return reason, _grey(simplejpeg.decode_jpeg(data, strict=False, **kw))
    except ValueError:
        return reason, None


def _grey(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.reshape(a.shape[0], a.shape[1]))


def rows_agree(intact: np.ndarray, damaged: np.ndarray) -> float:
    """The fraction of rows, from the top, in which two grey pictures of the same shape agree
    (no pixel more than ROW_TOLERANCE apart): 1.0 when all do, 0.0 for different shapes."""
    if intact.shape != damaged.shape or not intact.size:
        return 0.0
    diff = np.abs(intact.astype(np.int16) - damaged.astype(np.int16)).max(axis=1)
    bad = np.flatnonzero(diff > ROW_TOLERANCE)
    return 1.0 if not len(bad) else int(bad[0]) / intact.shape[0]


def shared_bytes(intact: bytes, damaged: bytes) -> float:
    """The fraction of *damaged*'s bytes that are *intact*'s: its longest common prefix plus
    its longest common suffix (not overlapping), over its length. A copy zeroed or garbled in
    one stretch, or cut short, or missing one stretch, keeps nearly all; two different
    encodings (two screenshots of one window) share their headers and the scan of the rows
    they have in common only."""
    n = min(len(intact), len(damaged))
    if not len(damaged) or not n:
        return 0.0
    a = np.frombuffer(intact, np.uint8)
    b = np.frombuffer(damaged, np.uint8)
    differ = np.flatnonzero(a[:n] != b[:n])
    prefix = n if not len(differ) else int(differ[0])
    rest = n - prefix
    if rest:
        tail = np.flatnonzero(a[len(a) - rest:][::-1] != b[len(b) - rest:][::-1])
        suffix = rest if not len(tail) else int(tail[0])
    else:
        suffix = 0
    return (prefix + suffix) / len(damaged)


def _read(path: str | bytes) -> bytes | None:
    try:
        with open_regular(path) as fp:
            return fp.read()
    except (NotRegular, OSError):
        return None


def _pair(x: int, y: int, agree: float) -> PairMatch:
    # similarity 1.0: the rows compared are the same pixels; the fraction is in the checks
    return PairMatch(min(x, y), max(x, y), 0, 0, 1.0,
                     (DAMAGED_COPY, f"rows agree down to {agree:.0%}"))


def library_pairs(store: Any, prints: Any, cache: DecisionCache | None = None
                  ) -> tuple[list[PairMatch], dict[int, str]]:
    """The damaged copies among the fingerprinted files of *prints* (store.Prints, the rows a
    dedupe searched) and their intact originals: (pairs, why) where each pair is a PairMatch
    of rows (a < b), orientation 0, similarity 1.0 (the rows compared are the same pixels),
    checks (DAMAGED_COPY, "rows agree down to N%"), and *why* maps the row of every file
    found damaged to the reason ("Corrupt JPEG data: ..."): a file libjpeg warns about, or
    whose differing bytes are one repeated byte, beside a file of its head that has neither
    and of whose bytes it holds at least MIN_SHARED_BYTES (paired or, damaged too early, not). *store* is the index's
    Store, read in the caller's snapshot. The answer is kept for this state of the index
    (*cache*, DecisionCache.keep_stage) unless a file could not be read now."""
    kept = cache.found_stage(PIXELS_RULE, "damaged copies", b"") if cache is not None else None
    if kept is not None:
        try:
            return _from_json(kept, prints.ids)
        except (ValueError, TypeError, KeyError, IndexError):
            pass  # garbled: found again
    pairs, why, complete = _find(store, prints)
    if cache is not None and complete:
        ids = prints.ids
        cache.keep_stage(PIXELS_RULE, "damaged copies", b"", {
            "pairs": [[int(ids[p.a]), int(ids[p.b]), p.similarity] for p in pairs],
            "why": [[int(ids[r]), text] for r, text in sorted(why.items())]})
    return pairs, why


def _from_json(kept: dict, ids: np.ndarray) -> tuple[list[PairMatch], dict[int, str]]:
    row = {int(i): r for r, i in enumerate(ids)}
    pairs = [_pair(row[int(a)], row[int(b)], float(s)) for a, b, s in kept["pairs"]]
    return pairs, {row[int(i)]: str(text) for i, text in kept["why"]}


def scan_start(data: bytes) -> int | None:
    """The offset of the first byte after the first SOS segment of the JPEG *data* (where its
    compressed picture begins), or None when its markers do not lead there."""
    pos = 2
    if data[:2] != b"\xff\xd8":
        return None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:
            return pos + 2 + length
        if length < 2:
            return None
        pos += 2 + length
    return None


def longest_run(data: bytes) -> int:
    """The length of the longest run of one repeated byte in *data* (0 when empty)."""
    if not data:
        return 0
    a = np.frombuffer(data, np.uint8)
    edges = np.flatnonzero(np.diff(a) != 0)
    bounds = np.concatenate([[-1], edges, [len(a) - 1]])
    return int(np.diff(bounds).max())


def _stretches(x: bytes, y: bytes) -> tuple[int, bytes, bytes]:
    """Where two files of the same head differ: (offset of the first differing byte, x's
    differing stretch, y's), the common prefix and suffix left out."""
    n = min(len(x), len(y))
    a, b = np.frombuffer(x, np.uint8), np.frombuffer(y, np.uint8)
    differ = np.flatnonzero(a[:n] != b[:n])
    prefix = n if not len(differ) else int(differ[0])
    rest = n - prefix
    suffix = 0
    if rest:
        tail = np.flatnonzero(a[len(a) - rest:][::-1] != b[len(b) - rest:][::-1])
        suffix = rest if not len(tail) else int(tail[0])
    return prefix, x[prefix:len(x) - suffix], y[prefix:len(y) - suffix]


def filled(x: bytes, y: bytes) -> tuple[int, int] | None:
    """Which of two JPEGs of the same head had a stretch of its compressed picture overwritten
    with one repeated byte (a zeroed sector, a transfer's fill): (0 or 1, the run's length),
    or None when neither or both. The stretch where they differ must lie in the scan data
    (after the first SOS: a metadata edit is not damage), and be a run of at least FILL_RUN
    equal bytes in one file where the other's is not: libjpeg's entropy-coded data has no
    such runs (0xFF is always followed by a stuffed 0x00 or a marker), so a file whose parse
    survived the fill without a warning is still told apart (ours)."""
    start = scan_start(x)
    if start is None:
        return None
    offset, sx, sy = _stretches(x, y)
    if offset < start:
        return None
    rx, ry = longest_run(sx), longest_run(sy)
    if rx >= FILL_RUN and ry < FILL_RUN // 2:
        return 0, rx
    if ry >= FILL_RUN and rx < FILL_RUN // 2:
        return 1, ry
    return None


def _find(store: Any, prints: Any) -> tuple[list[PairMatch], dict[int, str], bool]:
    """library_pairs without the stage cache: (pairs, why, whether every file was read)."""
    complete = True
    buckets = store.shared_heads()
    if not buckets or not len(prints.ids):
        return [], {}, complete
    row_of = {int(i): r for r, i in enumerate(prints.ids)}
    buckets = [[i for i in b if i in row_of] for b in buckets]
    buckets = [b for b in buckets if len(b) > 1]
    records = store.records(i for b in buckets for i in b)
    pairs: list[PairMatch] = []
    why: dict[int, str] = {}
    for bucket in buckets:
        checked: dict[int, tuple[str | None, np.ndarray]] = {}  # row -> (warning, grey)
        path_of: dict[int, bytes] = {}
        for fid in bucket:
            rec = records.get(fid)
            if rec is None:
                complete = False
                continue
            row = row_of[fid]
            path_of[row] = os.fsencode(rec.path)
            reason, grey = check(path_of[row], (rec.size, rec.mtime_ns))
            if grey is None:
                if reason is None:
                    complete = False
                continue  # damaged beyond a reduced decode: nothing to compare
            checked[row] = (reason, grey)
        rows = sorted(checked)
        warned = {r for r in rows if checked[r][0] is not None}
        # pairs of a large bucket (many screenshots of one window): only those with a warning
        asked = [(x, y) for i, x in enumerate(rows) for y in rows[i + 1:]
                 if len(rows) <= PAIRWISE or x in warned or y in warned]
        found: dict[int, list[tuple[float, int]]] = {}  # damaged row -> (agree, intact row)
        data: dict[int, bytes | None] = {}

        def read(r: int) -> bytes | None:
            if r not in data:
                data[r] = _read(path_of[r])
            return data[r]

        marked: dict[int, str] = {}  # damaged row -> why, by the decoder or the bytes
        for x, y in asked:
            (wx, gx), (wy, gy) = checked[x], checked[y]
            if wx is not None and wy is not None:
                continue  # two damaged files (or one camera's odd trailer): neither is the original
            bx, by = read(x), read(y)
            if bx is None or by is None:
                complete = False
                continue
            which = filled(bx, by)
            if wx is not None or wy is not None:
                d, i, text = (x, y, wx) if wx is not None else (y, x, wy)
                if which is not None and (x, y)[which[0]] != d:
                    continue  # the decoder and the bytes disagree: neither is marked
            else:
                if which is None:
                    continue  # no sign of which one is damaged: neither is marked
                d, i = (x, y) if which[0] == 0 else (y, x)
                text = f"corrupt data: {which[1]} bytes of its picture data overwritten"
            if shared_bytes(read(i) or b"", read(d) or b"") < MIN_SHARED_BYTES:
                continue  # not a byte copy of the other: nothing said about either
            marked.setdefault(d, text)
            agree = rows_agree(gx, gy)
            if agree >= MIN_INTACT:
                found.setdefault(d, []).append((agree, i))
        for d, options in sorted(found.items()):
            intact = [(a, i) for a, i in options if i not in marked]
            if not intact:
                continue
            frac, i = max(intact)
            pairs.append(_pair(i, d, frac))
            if frac < 1.0:
                marked[d] += f"; intact down to {frac:.0%} of its rows"
        why.update(marked)  # damaged copies, paired or too damaged to pair
    return sorted(pairs, key=lambda p: (p.a, p.b)), why, complete
