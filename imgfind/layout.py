"""The hash layout and the orientation algebra: which hash column is which view and orientation.

A fingerprint's ``hashes`` is one uint64 row of :data:`N_HASHES` columns:

* columns ``0 .. 15``: pHash of the two primary views (0 = whole picture, 1 = border-trimmed)
  in each of the 8 orientations, view-major (column ``8 * view + orientation``);
* columns ``16 .. 26``: pHash of the 11 crop views (:data:`CROP_VIEWS`), upright only;
* columns ``27 .. 42``: dHash of the two primary views in each orientation, as for pHash.

:data:`HASH_VIEW` and :data:`HASH_ORIENT` give each column's view and orientation. Search
indexes the upright hash of every view and queries with every orientation of the primary
views (:data:`INDEXED`, :data:`QUERYING` and their dHash twins), so a mirrored, rotated,
bordered or slightly cropped copy still has a near hash.

Orientations are the dihedral group D4, numbered as in :data:`ORIENTATIONS`; 0 is identity.
:func:`compose` and :func:`invert` are its multiplication and inverse; :func:`relative` says
how one file relates to another from the two hash columns that matched.
"""

from __future__ import annotations

import numpy as np

# The eight orientations as (transpose, flip left-right, flip up-down), applied in that order.
ORIENTATIONS: tuple[tuple[bool, bool, bool], ...] = (
    (False, False, False),
    (False, True, False),
    (False, False, True),
    (False, True, True),
    (True, False, False),
    (True, True, False),
    (True, False, True),
    (True, True, True),
)
#: What orientation k does to a picture, in words.
ORIENTATION_NAMES = (
    "same orientation",
    "mirrored",
    "flipped upside down",
    "rotated 180°",
    "transposed",
    "rotated 90° clockwise",
    "rotated 90° counter-clockwise",
    "transverse",
)
N_ORIENT = len(ORIENTATIONS)


def reflects(k: int) -> bool:
    """Is ORIENTATIONS[k] a mirror image (an odd number of flips and transposes: mirrored,
    flipped upside down, transposed, transverse), which no turn of the picture gives?"""
    return sum(ORIENTATIONS[k]) % 2 == 1


def apply_orientation(a: np.ndarray, k: int) -> np.ndarray:
    """Apply ORIENTATIONS[k] to a 2-D array (a view, not a copy)."""
    transpose, flip_lr, flip_ud = ORIENTATIONS[k]
    a = a.T if transpose else a
    if flip_lr:
        a = a[:, ::-1]
    if flip_ud:
        a = a[::-1, :]
    return a


def _compose_table() -> tuple[tuple[int, ...], ...]:
    probe = np.arange(6).reshape(2, 3)  # no symmetry: every orientation moves it differently
    shapes = [apply_orientation(probe, k) for k in range(N_ORIENT)]
    table = []
    for g in range(N_ORIENT):
        row = []
        for h in range(N_ORIENT):
            both = apply_orientation(apply_orientation(probe, h), g)
            row.append(next(k for k, s in enumerate(shapes)
                            if s.shape == both.shape and np.array_equal(s, both)))
        table.append(tuple(row))
    return tuple(table)


#: COMPOSE[g][h] is the orientation "h, then g".
COMPOSE = _compose_table()
#: INVERSE[g] undoes g: only the two quarter turns (5 and 6) are not their own inverse.
INVERSE: tuple[int, ...] = tuple(next(k for k in range(N_ORIENT) if COMPOSE[k][g] == 0)
                                 for g in range(N_ORIENT))
_INVERSE = np.array(INVERSE, dtype=np.int64)


def compose(g: int, h: int) -> int:
    """Return the orientation that applies *h* and then *g*."""
    return COMPOSE[g][h]


def invert(g: int | np.ndarray) -> int | np.ndarray:
    """Return the orientation that undoes *g* (element-wise for an array)."""
    if isinstance(g, np.ndarray):
        return _INVERSE[g]
    return INVERSE[g]


#: Crop views, as fractions cut from (left, top, right, bottom) of the trimmed picture: 5% all
#: round, 10% off each side, and centre bands that change the aspect ratio the way re-framing
#: for another screen does (16:10 -> 4:3, 3:2 -> 1:1). A copy cropped by a few percent, or
#: re-framed, is near one of them.
CROP_VIEWS = (
    (0.05, 0.05, 0.05, 0.05),
    (0.10, 0.0, 0.0, 0.0),
    (0.0, 0.10, 0.0, 0.0),
    (0.0, 0.0, 0.10, 0.0),
    (0.0, 0.0, 0.0, 0.10),
    (0.08, 0.0, 0.08, 0.0),
    (0.16, 0.0, 0.16, 0.0),
    (0.0, 0.08, 0.0, 0.08),
    (0.0, 0.16, 0.0, 0.16),
    (0.34, 0.0, 0.34, 0.0),
    (0.0, 0.34, 0.0, 0.34),
)
PRIMARY_VIEWS = 2  # whole picture, trimmed picture
WHOLE, TRIMMED = 0, 1
N_PHASH = PRIMARY_VIEWS * N_ORIENT + len(CROP_VIEWS)
N_HASHES = N_PHASH + PRIMARY_VIEWS * N_ORIENT
#: The view (0 whole, 1 trimmed, 2.. crop views) and the orientation of every hash column.
HASH_VIEW = np.array([v for v in range(PRIMARY_VIEWS) for _ in range(N_ORIENT)]
                     + [PRIMARY_VIEWS + i for i in range(len(CROP_VIEWS))]
                     + [v for v in range(PRIMARY_VIEWS) for _ in range(N_ORIENT)])
HASH_ORIENT = np.array(list(range(N_ORIENT)) * PRIMARY_VIEWS + [0] * len(CROP_VIEWS)
                       + list(range(N_ORIENT)) * PRIMARY_VIEWS)
#: Columns that go into the search index (upright, every view) and those a query is made of
#: (every orientation of the primary views), per channel.
INDEXED = np.flatnonzero(HASH_ORIENT[:N_PHASH] == 0)
QUERYING = np.arange(PRIMARY_VIEWS * N_ORIENT)
DHASH_INDEXED = N_PHASH + np.flatnonzero(HASH_ORIENT[N_PHASH:] == 0)
DHASH_QUERYING = N_PHASH + np.arange(PRIMARY_VIEWS * N_ORIENT)
#: Upright and turned/mirrored pHash columns of the primary views; primary and crop views'
#: indexed columns; upright dHash columns of the primary views.
UPRIGHT = QUERYING[HASH_ORIENT[QUERYING] == 0]
TURNED = QUERYING[HASH_ORIENT[QUERYING] != 0]
PRIMARY = INDEXED[:PRIMARY_VIEWS]
CROPS = INDEXED[PRIMARY_VIEWS:]
DHASH_UPRIGHT = DHASH_QUERYING[HASH_ORIENT[DHASH_QUERYING] == 0]


def relative(q_col: int | np.ndarray, i_col: int | np.ndarray) -> int | np.ndarray:
    """Return g such that g(query view) ~ index view, from the two hash columns that matched.

    One side's hash is upright; the other's orientation g says g(query) ~ index. An oriented
    hash on the library side (a reverse search's channel) means the inverse. Works element-wise
    on arrays of columns.
    """
    q, i = HASH_ORIENT[q_col], HASH_ORIENT[i_col]
    if isinstance(q, np.ndarray):
        return np.where(i == 0, q, _INVERSE[i])
    return int(q) if int(i) == 0 else INVERSE[int(i)]


def view_boxes(trim: tuple[float, float, float, float]) -> list[tuple[float, float, float, float]]:
    """Return every view's box as fractions (left, top, right, bottom) of the whole picture."""
    left, top, right, bottom = trim
    w, h = right - left, bottom - top
    boxes = [(0.0, 0.0, 1.0, 1.0), trim]
    for cl, ct, cr, cb in CROP_VIEWS:
        boxes.append((left + cl * w, top + ct * h, right - cr * w, bottom - cb * h))
    return boxes


#: distance_matrix of at least this many rows runs compiled when numba is installed.
COMPILED_MIN_ROWS = 256


def _compiled_available() -> bool:
    from .search.join import available

    return available()


def distance_matrix(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smallest pHash distance between every two rows of hashes, and how they relate.

    *hashes* is (k, N_HASHES) uint64. Returns two (k, k) int64 arrays: the smallest distance
    over all views and orientations either way (the diagonal is 0), and the orientation g
    with column ~ g(row).
    """
    q = hashes[:, QUERYING]
    i = hashes[:, INDEXED]
    k = len(hashes)
    dist = np.zeros((k, k), dtype=np.int64)
    orient = np.zeros((k, k), dtype=np.int64)
    q_orient = HASH_ORIENT[QUERYING]
    if k >= COMPILED_MIN_ROWS and _compiled_available():
        # Families of thousands of frames: k^2 x 16 x 13 popcounts, compiled on every core.
        from .search.join import nearest_columns

        dist, best = nearest_columns(q, i)
        orient = q_orient[best // i.shape[1]]
    else:
        for a in range(k):
            d = np.bitwise_count(q[a][None, :, None] ^ i[:, None, :]).reshape(k, -1)
            best = d.argmin(axis=1)
            dist[a] = d[np.arange(k), best]
            orient[a] = q_orient[best // i.shape[1]]
    both = np.minimum(dist, dist.T)
    # found from b's side (a ~ g(b)) means b ~ g^-1(a)
    orient = np.where(dist <= dist.T, orient, _INVERSE[orient.T])
    np.fill_diagonal(both, 0)
    np.fill_diagonal(orient, 0)
    return both, orient


def star_distances(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Row 0 of :func:`distance_matrix` and the matrix's largest value, without holding it.

    *hashes* is (k, N_HASHES) uint64. Returns the (k,) int64 distances and orientations of
    row 0 against every row (a group's members against its first) and the largest distance
    between any two rows, exactly as ``distance_matrix(hashes)`` gives them. For a family of
    thousands it keeps the k x k distances as one byte each (the compiled kernel's two int64
    matrices, then k^2 bytes) instead of the six int64 matrices of distance_matrix: about 70
    instead of 250 MB at k = 2,000 (ours, issue 15).
    """
    k = len(hashes)
    if k < COMPILED_MIN_ROWS or not _compiled_available():
        both, orient = distance_matrix(hashes)
        return both[0].copy(), orient[0].copy(), int(both.max()) if k else 0
    from .search.join import nearest_columns

    n_i = len(INDEXED)
    q_orient = HASH_ORIENT[QUERYING]
    dist, best = nearest_columns(hashes[:, QUERYING], hashes[:, INDEXED])
    fwd, back = dist[0].copy(), dist[:, 0].copy()
    fwd_o, back_o = q_orient[best[0] // n_i], q_orient[best[:, 0] // n_i]
    del best
    small = dist.astype(np.uint8)  # Hamming distances of 64-bit hashes: 0..64
    del dist
    np.fill_diagonal(small, 0)
    top = 0
    step = max(1, (1 << 20) // k)
    for r in range(0, k, step):
        top = max(top, int(np.minimum(small[r:r + step], small[:, r:r + step].T).max()))
    row = np.minimum(fwd, back)
    orient = np.where(fwd <= back, fwd_o, _INVERSE[back_o])
    row[0] = 0
    orient[0] = 0
    return row, orient, top


def pair_distance(ha: np.ndarray, hb: np.ndarray) -> int:
    """The one distance of a pair of files: the smallest pHash distance between their hash
    rows over all views and orientations (see :func:`distance_matrix`)."""
    return int(pair_distances(np.asarray(ha)[None], np.asarray(hb)[None])[0])


#: pair_distances works on this many pairs at a time (its temporaries: pairs x 16 x 13 bytes).
PAIR_BATCH = 4096


def pair_distances(ha: np.ndarray, hb: np.ndarray) -> np.ndarray:
    """:func:`pair_distance` of many pairs at once, without a k x k matrix per pair (verified
    matches each carry one; at 10^6 files a dedupe gives hundreds of thousands, issue 15).

    *ha*, *hb* are (n, N_HASHES) uint64: row j of each is pair j's two hash rows. Returns
    (n,) int64: ``distance_matrix(np.stack([ha[j], hb[j]]))[0][0, 1]`` for every j, i.e. the
    smaller of the nearest QUERYING column of one row to an INDEXED column of the other,
    either way. Raises ValueError when the shapes differ.
    """
    ha, hb = np.asarray(ha), np.asarray(hb)
    if ha.shape != hb.shape or ha.ndim != 2:
        raise ValueError(f"expected two (n, N_HASHES) arrays, not {ha.shape} and {hb.shape}")
    out = np.empty(len(ha), np.int64)
    for lo in range(0, len(ha), PAIR_BATCH):
        x, y = ha[lo:lo + PAIR_BATCH], hb[lo:lo + PAIR_BATCH]
        fwd = np.bitwise_count(x[:, QUERYING][:, :, None] ^ y[:, INDEXED][:, None, :]).min(axis=(1, 2))
        back = np.bitwise_count(y[:, QUERYING][:, :, None] ^ x[:, INDEXED][:, None, :]).min(axis=(1, 2))
        out[lo:lo + PAIR_BATCH] = np.minimum(fwd, back)
    return out
