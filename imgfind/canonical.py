"""Canonical orientations: one symmetric self-join finds mirrored and turned copies, instead of
querying every picture in all eight orientations. Pure (numpy).

Every primary view (whole, trimmed) has a pHash in each of the 8 orientations (layout.py). A
copy turned or mirrored by h has the same 8 hashes, permuted by h, each moved by a few bits.
So the *smallest* of a view's 8 hashes (as an unsigned integer) is, for the picture and its
turned copy, the hash of the same underlying orientation: both land in one canonical frame,
where one ordinary self-join at the rule's threshold pairs them, each pair once.

The choice is unstable when two orientations' hashes are close in value (a symmetric picture
has equal ones; noise in a bit that decides the order can swap two): a view is indexed under
*every* orientation whose hash shares its first :data:`PREFIX_BITS` bits with the smallest
one (ties included), so only a change in a leading bit can move the canonical frame. pHash's
leading bits are the lowest DCT frequencies (the DC term, then row 0), the ones furthest
from the median and the last to flip under re-encoding, resizing or mild edits.

What the self-join claims, exactly (tests compare it with brute force): a pair of files
(a, b) is found with every alignment (a's primary view v in orientation r against b's
upright primary view w, or the same from b's side) within the threshold, r != 0, for which
some indexed item of a's view v and some of b's view w are within the threshold of each
other. These rows are a subset of what querying all 8 orientations finds (candidates.py's
"primary" channel); the upright ones (r = 0) come from the upright channel, unchanged.

Ours; the canonical-form idea is the usual one for symmetry groups (e.g. canonical k-mers in
genomics: the smaller of a sequence and its reverse complement), the margin is ours,
calibrated on ../shared/bench (rot_90, rot_180, flip_h tiers).
"""

from __future__ import annotations

import numpy as np

from .layout import COMPOSE, INVERSE, N_ORIENT, PRIMARY_VIEWS

#: A view is indexed under every orientation whose pHash shares this many leading bits with
#: its smallest orientation's (64 = only the exact minimum and ties; 1 = all 8, since the DC
#: bit is always set). Dev pool (2,207 photos, default rule): 8 bits index 2.09 orientations
#: per picture and lose 25 of the oriented query's 31,449 candidate pairs within families
#: (none of them a group member: groups identical); 6 bits index 2.30 and lose 19; 4 bits
#: 2.78 and 16. At 8 bits a generated test picture (tests/test_canonical.py) lost its turned
#: copies (its two smallest orientations differ in the 8th bit only): 6.
PREFIX_BITS = 6

_REL = np.array([[COMPOSE[INVERSE[gp]][g] for gp in range(N_ORIENT)] for g in range(N_ORIENT)],
                dtype=np.int64)  # _REL[g, g'] = g'^-1 after g: g(x) ~ g'(y) means y ~ _REL(x)


def canonical_mask(hashes: np.ndarray, prefix_bits: int | None = None) -> np.ndarray:
    """Which orientations of each primary view are indexed: bool (n, PRIMARY_VIEWS, N_ORIENT).

    *hashes* is (n, N_HASHES) uint64 (layout columns; the first PRIMARY_VIEWS * N_ORIENT are
    the primary views' oriented pHashes). At least one (the smallest) per view.
    """
    prefix_bits = PREFIX_BITS if prefix_bits is None else prefix_bits
    h = np.asarray(hashes, dtype=np.uint64)[:, :PRIMARY_VIEWS * N_ORIENT]
    h = h.reshape(len(h), PRIMARY_VIEWS, N_ORIENT)
    shift = np.uint64(64 - max(1, min(64, prefix_bits)))
    top = h >> shift if int(shift) < 64 else np.zeros_like(h)
    return top == top.min(axis=2, keepdims=True)


def canonical_items(hashes: np.ndarray, prefix_bits: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The self-join's items: each row's distinct indexed values (no border: the trimmed
    view equals the whole; a symmetric picture repeats values across orientations), with the
    columns that hold each.

    Returns (row, value, col_start, cols): item u is row ``row[u]``'s value ``value[u]``
    (int64, uint64; sorted by row, then value), held in columns
    ``cols[col_start[u]:col_start[u + 1]]`` (int64, ascending).
    """
    h = np.asarray(hashes, dtype=np.uint64)
    mask = canonical_mask(h, prefix_bits).reshape(len(h), -1)
    rows, cols = np.nonzero(mask)
    values = h[rows, cols]
    order = np.lexsort((cols, values, rows))
    rows, cols, values = rows[order].astype(np.int64), cols[order].astype(np.int64), values[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (values[1:] != values[:-1])
    starts = np.flatnonzero(first)
    return rows[starts], values[starts], np.append(starts, len(rows)).astype(np.int64), cols


def expand(qu: np.ndarray, iu: np.ndarray, col_start: np.ndarray, cols: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (column of item qu[j], column of item iu[j]) of every hit j: (j, col_q, col_i)."""
    nq = col_start[qu + 1] - col_start[qu]
    ni = col_start[iu + 1] - col_start[iu]
    per = nq * ni
    hit = np.repeat(np.arange(len(qu), dtype=np.int64), per)
    k = np.arange(int(per.sum()), dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
    a, b = np.divmod(k, ni[hit])
    return hit, cols[col_start[qu[hit]] + a], cols[col_start[iu[hit]] + b]


def alignment_rows(hashes: np.ndarray, a: np.ndarray, col_a: np.ndarray, b: np.ndarray,
                   col_b: np.ndarray, radius: int) -> tuple[np.ndarray, ...]:
    """Turn item pairs of the self-join into candidate rows as the oriented query makes them.

    Item (a, col_a) of view v in orientation g near item (b, col_b) of view w in orientation
    g' says g(a_v) ~ g'(b_w): b_w ~ r(a_v) with r = g'^-1 g, read from a's side as "a's view
    v in orientation r against b's upright view w", and from b's side as "b's view w in
    orientation r^-1 against a's upright view v". Each reading whose own distance (recomputed
    from the stored hashes) is within *radius* and whose orientation is not upright is a row.
    Returns (q_row, q_col, i_row, i_col, distance), int64, each row once.
    """
    va, ga = np.divmod(col_a, N_ORIENT)
    vb, gb = np.divmod(col_b, N_ORIENT)
    r_ab = _REL[ga, gb]
    r_ba = _REL[gb, ga]
    parts = []
    for q_row, qv, r, i_row, iv in ((a, va, r_ab, b, vb), (b, vb, r_ba, a, va)):
        q_col = qv * N_ORIENT + r
        i_col = iv * N_ORIENT
        d = np.bitwise_count(hashes[q_row, q_col] ^ hashes[i_row, i_col]).astype(np.int64)
        ok = (d <= radius) & (r != 0)
        parts.append((q_row[ok], q_col[ok], i_row[ok], i_col[ok], d[ok]))
    out = [np.concatenate([p[f] for p in parts]).astype(np.int64) for f in range(5)]
    # Several item pairs can make one alignment (two orientations of a's view in its set,
    # both near b's, related alike): each alignment once.
    n = int(max(out[0].max(), out[2].max())) + 1 if len(out[0]) else 1
    if n * n < 1 << 50:
        key = ((out[0] * n + out[2]) * 64 + out[1]) * 64 + out[3]
        _, first = np.unique(key, return_index=True)
    else:
        _, first = np.unique(np.stack(out[:4]), axis=1, return_index=True)
    return tuple(x[first] for x in out)
