"""Pixel-identical files: a JPEG and a lossless copy of it (issue 11, "decode paths differ").

A PNG, BMP, TIFF or lossless WebP saved from a JPEG holds the JPEG's decoded pixels exactly,
yet the two are fingerprinted from different pictures: a JPEG is decoded at reduced scale in
the DCT domain (decoders.pillow, ``Image.draft``: 4-8x cheaper), its copy at full size and
box-reduced, and the fingerprints land a few bits apart (benchmarks/RESULTS.md, "Lossless
copies of JPEGs"). Fingerprint bits stay as they are; instead, at decision time:

1. :func:`candidate_pairs` (numpy, no decoding) pairs a drafted JPEG with a file of another
   format of the SAME upright pixel size whose stored upright pHash is within
   :data:`PHASH_RADIUS` bits. Pairs are found by an exact join on (size, one of
   PHASH_RADIUS + 1 slices of the pHash) (pigeonhole: two hashes within r bits agree on at
   least one of r + 1 disjoint slices), so the cost is sorting, never pairwise over a library
   or even over a size bucket.
2. :func:`identical` decodes both files whole (decoders.pillow.upright_rgb: upright, alpha
   composited on white) and compares the RGB arrays for equality.

A pair that passes is "same pixels": distance 0 at any threshold (index.py adds it to the
pairs found, group.py puts the JPEG first among such copies: the lossless file was saved
from it). A dedupe remembers each answer (decision_cache.py, PIXELS_RULE) and the pairs of an
unchanged index; a file that cannot be read now is left out quietly, never an error.

Not covered: flat pictures (fills: too many equal pHashes to pair by them); a copy saved from
a JPEG decoded by another program whose IDCT or chroma upsampling differs from libjpeg's
defaults as Pillow uses them (its pixels differ by a grey level: not the same pixels; such
copies still match at the default rule); two JPEGs (they are fingerprinted through the same
decode path, so equal pixels give equal hashes already). Ours.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .decision_cache import PIXELS_RULE, DecisionCache, pixels_key
from .decoders.pillow import upright_rgb
from .errors import DecodeError
from .model import PairMatch
from .recipe import JPEG_EXACT_PIXELS
from .regular import NotRegular, open_regular

#: The relation (report words) and the check (PairMatch.checks) of a pixel-identical pair.
SAME_PIXELS = "same pixels"

#: Most upright-pHash bits apart a JPEG and a lossless copy of it may land to be checked
#: (ours, measured on generated copies, benchmarks/results/session6/measure_lossless_phash.py:
#: sizes 64x48 to 2400x1600, quality 30-100, 4:2:0 and 4:4:4, colour and grey, EXIF
#: Orientation 1 and 6, PNG (stored pixels + tag, upright) and lossless WebP: never more than
#: 2 bits apart). 3 leaves a bit of margin; unrelated pictures are ~32 bits apart, and at
#: 3 bits the slice join costs 4 slices of 16 bits (benchmarks/RESULTS.md, "Lossless copies
#: of JPEGs, session 6").
PHASH_RADIUS = 3


def drafted(formats: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Which files are JPEGs fingerprinted from a reduced-scale decode (decoders.pillow: every
    JPEG above recipe.JPEG_EXACT_PIXELS pixels). *formats* holds the stored format names;
    all three are arrays of shape (n,). Returns bool (n,)."""
    return (formats == "JPEG") & (width.astype(np.int64) * height.astype(np.int64)
                                  > JPEG_EXACT_PIXELS)


def candidate_pairs(phash: np.ndarray, width: np.ndarray, height: np.ndarray,
                    jpeg: np.ndarray, other: np.ndarray, radius: int = PHASH_RADIUS
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a, b) of rows where a is a drafted JPEG (*jpeg* true), b a file of another format
    (*other* true), both of the same (width, height), their pHashes at most *radius* bits
    apart. *phash* uint64 (n,), *width*/*height* ints (n,) upright pixels, *jpeg*/*other*
    bool (n,). Returns two int64 arrays of rows, each pair once, sorted by (a, b).

    Cost: a sort and a search per pHash slice, plus the pairs that share a slice; at 10^5
    files of which half are JPEGs, milliseconds (benchmarks/RESULTS.md)."""
    empty = np.empty(0, np.int64)
    ja, ob = np.flatnonzero(jpeg), np.flatnonzero(other)
    if not len(ja) or not len(ob):
        return empty, empty
    size = (width.astype(np.int64) << 32) | height.astype(np.int64)
    common = np.intersect1d(size[ja], size[ob])
    ja, ob = ja[np.isin(size[ja], common)], ob[np.isin(size[ob], common)]
    if not len(ja) or not len(ob):
        return empty, empty
    size_no = np.searchsorted(common, size)  # 0 .. len(common) - 1 for the rows kept
    h = phash.astype(np.uint64)
    # radius + 1 slices (pigeonhole), at least 2: a slice of at most 32 bits leaves 32 for
    # the size's number in one uint64 key.
    pieces = max(radius + 1, 2)
    bounds = [64 * k // pieces for k in range(pieces + 1)]
    found_a, found_b = [], []
    for lo, hi in zip(bounds, bounds[1:]):
        part = (h >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)
        key = (size_no.astype(np.uint64) << np.uint64(hi - lo)) | part
        order = ob[np.argsort(key[ob], kind="stable")]
        sorted_keys = key[order]
        left = np.searchsorted(sorted_keys, key[ja], "left")
        right = np.searchsorted(sorted_keys, key[ja], "right")
        counts = right - left
        if not counts.any():
            continue
        a = np.repeat(ja, counts)
        starts = np.repeat(left - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        b = order[np.arange(len(a)) + starts]
        found_a.append(a)
        found_b.append(b)
    if not found_a:
        return empty, empty
    a, b = np.concatenate(found_a), np.concatenate(found_b)
    near = np.bitwise_count(h[a] ^ h[b]) <= radius
    pairs = np.unique(np.stack([a[near], b[near]], axis=1), axis=0)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def full_pixels(path: str | bytes, expect: tuple[int, int] | None = None) -> np.ndarray:
    """The upright RGB picture of the file at *path*, whole: uint8 (height, width, 3)
    (decoders.pillow.upright_rgb; only a regular file is opened, never blocking).
    *expect* is the stored (size in bytes, mtime in ns): a file that differs from it has
    changed since it was indexed and is refused.

    Raises:
        DecodeError: missing, unreadable, changed since indexed, not an image, too large.
    """
    try:
        with open_regular(path) as fp:
            if expect is not None:
                st = os.fstat(fp.fileno())
                if (st.st_size, st.st_mtime_ns) != expect:
                    raise DecodeError("changed since it was indexed")
            return upright_rgb(fp)
    except NotRegular as exc:
        raise DecodeError(str(exc)) from None
    except OSError as exc:
        raise DecodeError(f"cannot read: {exc.strerror or exc}") from None


def pixel_digest(path: str | bytes, expect: tuple[int, int] | None = None) -> bytes | None:
    """A 16-byte BLAKE2b digest of the file's upright RGB picture and its shape (full_pixels),
    or None when it cannot be read now. Two files have the same digest exactly when they show
    the same pixels (up to a 2^-128 collision)."""
    try:
        rgb = full_pixels(path, expect)
    except DecodeError:
        return None
    h = hashlib.blake2b(repr(rgb.shape).encode(), digest_size=16)
    h.update(np.ascontiguousarray(rgb).data)
    return h.digest()


def identical(a: str | bytes, b: str | bytes, expect_a: tuple[int, int] | None = None,
              expect_b: tuple[int, int] | None = None) -> bool | None:
    """True when the files *a* and *b* show exactly the same pixels (full_pixels equal),
    False when they differ, None when either cannot be read now (vanished, unreadable,
    changed since indexed: *expect_a*/*expect_b* as in full_pixels). Never raises for a
    file; decodes one picture at a time beside the other (two full-size RGB copies)."""
    try:
        first = full_pixels(a, expect_a)
        second = full_pixels(b, expect_b)
    except DecodeError:
        return None
    return first.shape == second.shape and bool(np.array_equal(first, second))


def _pair(x: int, y: int) -> PairMatch:
    return PairMatch(min(x, y), max(x, y), 0, 0, 1.0, (SAME_PIXELS,))


def library_pairs(store: Any, prints: Any, cache: DecisionCache | None = None,
                  rows_wanted: np.ndarray | None = None) -> list[PairMatch]:
    """The pixel-identical pairs among the fingerprinted files of *prints* (store.Prints, the
    rows a dedupe searched): PairMatch of rows (a < b), distance 0, orientation 0, similarity
    1.0, checks ("same pixels",). *store* is the index's Store, read in the caller's snapshot.

    A pair is decoded only when its answer is not in *cache* (decision_cache: kept under
    PIXELS_RULE and the two files' stored change keys, so a file indexed again is checked
    again); a file that cannot be read now (deleted, unreadable, changed since it was
    indexed) leaves its pairs out, unremembered. Transitive pairs (two lossless copies of one
    JPEG) are added (:func:`closure`). The pairs found are also kept for this very state of
    the index (DecisionCache.keep_stage): a dedupe of an unchanged index reads them back
    without a query, unless a file could not be read."""
    kept = cache.found_stage(PIXELS_RULE, "same pixels", b"") if cache is not None else None
    if kept is not None:
        try:
            want = np.array(kept, dtype=np.int64).reshape(-1, 2)
            rows = np.searchsorted(prints.ids, want)
            if not len(want) or (np.all(rows < len(prints.ids))
                                 and np.all(prints.ids[np.minimum(rows, len(prints.ids) - 1)] == want)):
                return [_pair(int(x), int(y)) for x, y in rows.tolist()]
        except (ValueError, TypeError, OverflowError):
            pass  # a garbled row: found again
    out, complete = _find(store, prints, cache)
    if cache is not None and complete:
        cache.keep_stage(PIXELS_RULE, "same pixels", b"",
                         [[int(prints.ids[p.a]), int(prints.ids[p.b])] for p in out])
    return out


def _find(store: Any, prints: Any, cache: DecisionCache | None) -> tuple[list[PairMatch], bool]:
    """library_pairs without the stage cache: (pairs, whether every candidate was decided)."""
    complete = True
    ids, width, height, is_jpeg = store.shared_sizes()
    if not len(ids) or not len(prints.ids):
        return [], complete
    rows = np.searchsorted(prints.ids, ids)
    known = rows < len(prints.ids)
    known[known] = prints.ids[rows[known]] == ids[known]
    rows, width, height, is_jpeg = rows[known], width[known], height[known], is_jpeg[known]
    plain = ~prints.flat[rows]  # flat pictures: too many equal pHashes to pair by them
    jpeg = drafted(np.where(is_jpeg, "JPEG", ""), width, height) & plain
    a, b = candidate_pairs(prints.phash[rows], width, height, jpeg, ~is_jpeg & plain)
    if not len(a):
        return [], complete
    ra, rb = rows[a], rows[b]
    records = store.records(int(i) for i in np.unique(prints.ids[np.concatenate([ra, rb])]))
    out = []
    digests: dict[int, bytes | None] = {}  # row -> pixel digest: each file decoded once

    def digest(row: int, rec: Any) -> bytes | None:
        if row not in digests:
            digests[row] = pixel_digest(os.fsencode(rec.path), (rec.size, rec.mtime_ns))
        return digests[row]

    for x, y in zip(ra.tolist(), rb.tolist()):
        rx, ry = records.get(int(prints.ids[x])), records.get(int(prints.ids[y]))
        if rx is None or ry is None:
            complete = False
            continue
        change_x, change_y = (rx.size, rx.mtime_ns), (ry.size, ry.mtime_ns)
        key = pixels_key(change_x, change_y)
        if cache is not None:
            seen, match = cache.lookup(PIXELS_RULE, x, y, key)
            if seen:
                if match is not None:
                    out.append(_pair(x, y))
                continue
        dx = digest(x, rx)
        dy = digest(y, ry) if dx is not None else None
        same = None if dx is None or dy is None else dx == dy
        if same is None:
            complete = False
            continue  # not readable now: not remembered, asked again next time
        if cache is not None:
            cache.remember(PIXELS_RULE, x, y, key, _pair(x, y) if same else None)
        if same:
            out.append(_pair(x, y))
    return closure(out), complete


#: Transitive pairs are added for classes of at most this many pixel-identical files.
CLOSURE_MAX = 64


def closure(pairs: list[PairMatch]) -> list[PairMatch]:
    """*pairs* and every pair they imply (a == b and a == c: b == c), for classes of at most
    CLOSURE_MAX files; each pair once (a < b), sorted."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        ra, rb = find(p.a), find(p.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    classes: dict[int, list[int]] = {}
    for x in list(parent):
        classes.setdefault(find(x), []).append(x)
    keys = {(p.a, p.b) for p in pairs}
    for members in classes.values():
        if len(members) <= CLOSURE_MAX:
            members.sort()
            keys.update((x, y) for i, x in enumerate(members) for y in members[i + 1:])
    return [_pair(x, y) for x, y in sorted(keys)]


def query_rows(prints: Any, records: Callable[[list[int]], dict[int, Any]], path: str | bytes,
               width: int, height: int, fmt: str, phash: int, flat: bool) -> list[int]:
    """Rows of *prints* (the index's fingerprints) whose files show exactly the pixels of the
    query file at *path* (upright *width* x *height*, format *fmt*, upright pHash *phash*).
    Candidates: the rows within PHASH_RADIUS bits of the query's pHash (one vectorised scan
    of the pHash column, ~1 ms at 10^5 files), then, from their records (*records* reads
    FileRecords by id: Store.records), those of the query's size that are a drafted JPEG when
    the query is not a JPEG (and, once one of them shows its pixels, the other files of
    another format than JPEG), or of another format when it is a drafted JPEG. The query is
    decoded whole once, each candidate in turn; an unreadable file (the query or a
    candidate) gives no rows. Nothing is remembered (the query is not in the index)."""
    mine_drafted = bool(drafted(np.array([fmt]), np.array([width]), np.array([height]))[0])
    if flat or not len(prints.ids) or (fmt == "JPEG" and not mine_drafted):
        return []
    near = (np.bitwise_count(prints.phash ^ np.uint64(phash)) <= PHASH_RADIUS) & ~prints.flat
    rows = np.flatnonzero(near)
    if not len(rows):
        return []
    found = records([int(prints.ids[r]) for r in rows])
    want, lossless = [], []
    for r in rows.tolist():
        rec = found.get(int(prints.ids[r]))
        if rec is None or (rec.width, rec.height) != (width, height):
            continue
        theirs_drafted = bool(drafted(np.array([rec.format]), np.array([rec.width]),
                                      np.array([rec.height]))[0])
        if (rec.format != "JPEG") if mine_drafted else theirs_drafted:
            want.append((r, rec))
        elif not mine_drafted and rec.format != "JPEG":
            lossless.append((r, rec))
    if not want:
        return []
    try:
        mine = full_pixels(path)
    except DecodeError:
        return []
    out = _identical_rows(mine, want)
    # A lossless query that shows a JPEG's pixels: the other files of its size that show them
    # too are copies of that JPEG as well (index.query_many names the JPEG their original).
    return out + _identical_rows(mine, lossless) if out and lossless else out


def _identical_rows(mine: np.ndarray, candidates: list[tuple[int, Any]]) -> list[int]:
    """The rows of *candidates* ((row, FileRecord)) whose files show exactly *mine*."""
    out = []
    for r, rec in candidates:
        try:
            theirs = full_pixels(os.fsencode(rec.path), (rec.size, rec.mtime_ns))
        except DecodeError:
            continue
        if theirs.shape == mine.shape and np.array_equal(theirs, mine):
            out.append(r)
    return out
