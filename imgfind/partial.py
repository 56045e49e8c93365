"""Partial matches: find pictures that share a region (a crop, a photo inside a screenshot or
a collage, a turned or skewed copy) through their local features, and verify the geometry.

Two steps, as in every local-feature retrieval system (Philbin et al., "Object retrieval with
large vocabularies and fast spatial matching", CVPR 2007; TinEye and cbird work the same way):

1. **Candidates** through an index of descriptors, never pairwise over the library: every
   descriptor of every picture goes into one Hamming engine (imgfind.search: multi-index
   hashing above a few thousand items); each query descriptor looks up the descriptors within
   CANDIDATE_BITS bits, and each picture gets one vote per query descriptor that found one
   of its own, weighted by how rare that descriptor is (tf-idf); descriptors found in more
   than COMMON of the pictures (a texture's repeated corners) do not vote. Pictures with
   MIN_VOTES votes or more are the candidates, at most TOP_CANDIDATES per query, best first.
2. **Verification** of each candidate (verify): descriptors matched both ways by brute force
   (nearest within MATCH_BITS bits, clearly nearer than the second: Lowe's ratio test, and
   one-to-one), then RANSAC (OpenCV) fits a similarity (scale, rotation, shift) and a
   homography (perspective) to the matched positions; a first model of GUIDE_FROM inliers or
   more guides a second matching pass (every pair it puts within RANSAC_PIXELS whose
   descriptors differ by at most GUIDED_BITS, one to one) and is fitted again on those. A
   pair is accepted only with at least MIN_INLIERS inliers of that second fit, a sane
   transform (linear scale within SCALE_RANGE; a homography that keeps the picture a convex
   quadrilateral) and inliers spread over at least MIN_SPREAD of both pictures (matches
   bunched on one detail are what wallpapers and textures give).

The thresholds are ours, calibrated on ../shared/bench (dev pool: no pair of different
pictures out of 2,400 tested passed, 84-96% of crops, screenshots, rotations and perspective
copies did; see keypoints.py and benchmarks/results/). The result is a model.Partial: how
much of each picture the shared region covers, its box in each, the scale and the angle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .consensus import homography_may_reach
from .keypoints import descriptors, positions
from .layout import ORIENTATIONS
from .model import LocalFeatures, Partial
from .search import make_engine

#: Candidate search: descriptors within this many bits (of 64) vote for their picture.
#: Measured on the bench dev pool (a hard copy counts as found when a picture of its family
#: is among its 8 best candidates): 2 bits find 44% of screenshots, 4 bits 89%, 6 bits no
#: more and cost 4x.
CANDIDATE_BITS = 4
#: A query descriptor found in more than this fraction of the pictures is not distinctive.
COMMON = 0.05
#: ... but a descriptor found in at most this many pictures always votes (stop_cap) ...
STOP_MIN = 32
#: ... and one found in more than this many never does, however large the library (from 5,000
#: pictures on): the lookup of a descriptor then stops after a fixed number of pictures
#: instead of a fixed fraction of the library, so that its cost stops growing with the library
#: (at 10^5 pictures, a 5% cap let a lookup read 292,000 bucket entries on average, this cap
#: 36,800: benchmarks/RESULTS.md, "Partial matching at scale", session 5). Libraries of up to
#: 5,000 pictures (the bench pools) are unchanged.
STOP_MAX = 250
#: ... and, in those libraries too, a descriptor whose lookup would read more than CROWDED
#: bucket entries (local_index.py: 20 buckets of 16-bit chunks of the descriptor) may be one as
#: well, without reading them: it lies where the library's descriptors crowd (ORB's bits are
#: far from uniform), so a lookup's work is then bounded by a constant however large the
#: library.
#: None: no such limit. Measured on a synthetic 10^5-file index (benchmarks/RESULTS.md,
#: session 5), the dev pool's 270 hard copies inside it asking for 8 candidates each as dedupe
#: does: 375 ms of CPU each with the 5% cap (85.9% found their family), 69 ms with STOP_MAX
#: (84.4%), 19 ms with a limit of 100,000 entries (78.1%), 3.6 ms with 20,000 (47.0%): off,
#: as verification (about 150 ms a picture) and part views (20-30 ms) now cost more than the
#: search. CROWDED_QUERY, for a query's few pictures: a limit of 100,000 lost 25 of the 36
#: copies an elephant crop finds at 10^5, its original among them.
CROWDED: int | None = None
CROWDED_QUERY: int | None = None
#: Votes a picture needs to be verified, and how many candidates a query verifies at most.
MIN_VOTES = 3
TOP_CANDIDATES = 8
#: How far down the ranking a query goes on verifying while most candidates verify (search).
FAMILY_DEPTH = 64
#: Verification: a descriptor matches its nearest within this many bits ...
MATCH_BITS = 16
#: ... when the second nearest is farther by this ratio (Lowe's test, in bits).
RATIO = 0.8
#: RANSAC reprojection error, in detail-picture pixels (recipe.DETAIL_SIZE long side).
RANSAC_PIXELS = 5.0
#: Inliers a verified partial match needs.
MIN_INLIERS = 12
#: A first model with this many inliers is refined by a guided second pass, which matches
#: again every pair of keypoints the model puts together (within RANSAC_PIXELS) whose
#: descriptors are within GUIDED_BITS bits; the refitted model must reach MIN_INLIERS.
GUIDE_FROM = 10
GUIDED_BITS = 20
#: Linear scale between the two detail pictures that is believed.
SCALE_RANGE = (0.2, 5.0)
#: The convex hull of the inliers covers at least this fraction of each picture.
MIN_SPREAD = 0.01
#: Degenerate geometry: inliers on one line (the edge two flat drawings share, corner to
#: corner) fit a similarity along it, whatever lies off it. When at least LINE_SHARE of the
#: inliers lie within THIN_BAND detail pixels of one line (off_line) in both pictures, the
#: model must stand on the inliers off that line: they must sit on OFF_LINE_PLACES distinct
#: places (places) in one picture at least. A line's keypoints jitter by a pixel or two
#: (generated white drawings with a 5 px line, 1200x900: band 2.4-2.9, 90% of 70 inliers on
#: the line, 4 places off it; with a few coincident corners: 60% on it, 15 places off it).
#: Ours, calibrated on ../shared/bench (every partial member dedupe placed at 1e8b42b,
#: benchmarks/partial_geometry.py): copies of one picture have at most 43% of their inliers
#: on one line (dev and smooth pools) but one (a rot_15 of the dev pool: 60%, 28 places off
#: it).
THIN_BAND = 4.0
LINE_SHARE = 0.5
OFF_LINE_PLACES = 20
#: A model whose inliers sit on fewer than FEW_PLACES distinct places (places: ORB finds one
#: corner at several pyramid levels) in both pictures is believed only when the pictures'
#: thumbnails agree over its overlap (Partial.agree, at least PLACES_AGREE, as
#: partial_groups.FEW_AGREE): the rims of two alike shapes in two unrelated photos (an
#: ellipse at 0.82x: 48 inliers on 20 places, agreement 0.0; new-user trial 11b) are such a
#: model (a query's 512 keypoints: 66 inliers on 30-35 places; not refused). Ours, calibrated
#: on ../shared/bench as THIN_BAND: copies of one picture whose thumbnails agree under
#: PLACES_AGREE sit on 38 places or more (dev pool), 35 or more (smooth pool). In both
#: pictures, not either: the keypoints of a small copy crowd onto few places (a perspective
#: copy against its thumb_160: 42 and 22 places; against its screenshot 48 and 29), where
#: the two kinds above read 20 and 20, 21 and 16.
FEW_PLACES = 30
PLACES_AGREE = 0.3
#: Off: the bench smooth pool lost a perspective copy with the rule on (6ac8f15; 494a398 lost
#: one on the dev pool too): the pairs through which dedupe finds a copy were not measured.
PLACES_RULE = False
#: A homography is preferred to the similarity only when it explains this many more matches
#: (a perspective copy); otherwise the simpler model is the answer.
HOMOGRAPHY_GAIN = 1.3
HOMOGRAPHY_EXTRA = 4
#: findHomography is skipped when no homography through four of the matches explains enough
#: of them within this many times RANSAC_PIXELS (consensus.py): more than once, because the
#: count findHomography reports (OpenCV 5.0) can exceed every 4-point model's (it counts the
#: inliers of a model refitted on its best hypothesis' inliers). Ours, replaying every
#: findHomography call of a dedupe with the bound off: the reported count (5 or more)
#: exceeded the bound at 1x in 11 of 6,809 calls on ../shared/bench's dev pool and 7 of 3,792
#: (at most 40 matches) on a generated 10^4-file index, by one or two matches, at 1.25x in one
#: call each, and never at 1.5x; none of those calls reported the 10 or more an answer needs
#: (benchmarks/RESULTS.md, sessions 9-11). 1.5 rather than 2: a dedupe's lone pictures then
#: skip about half the findHomography calls their hopeless candidates still made.
HOMOGRAPHY_SLACK = 1.5


@dataclass
class LocalIndex:
    """The local features of many pictures, searchable by descriptor.

    ``ids`` are the pictures' file ids (int64, one per picture), ``owner`` the picture row of
    each descriptor (int32), ``desc`` all descriptors (uint64), ``features`` the records.
    """

    ids: np.ndarray
    owner: np.ndarray
    desc: np.ndarray
    features: list[LocalFeatures]
    engine: object

    @classmethod
    def build(cls, features: Mapping[int, LocalFeatures]) -> LocalIndex:
        ids = np.fromiter(features.keys(), dtype=np.int64, count=len(features))
        feats = list(features.values())
        counts = np.array([f.n for f in feats], dtype=np.int64)
        desc = (np.frombuffer(b"".join(f.desc for f in feats), dtype="<u8").astype(np.uint64)
                if feats else np.zeros(0, np.uint64))
        owner = np.repeat(np.arange(len(feats), dtype=np.int32), counts)
        return cls(ids, owner, desc, feats, make_engine(desc))

    def __len__(self) -> int:
        return len(self.ids)

    def candidates(self, query: LocalFeatures, *, top: int = TOP_CANDIDATES,
                   exclude: int | None = None) -> list[tuple[int, float]]:
        """Return (picture row, score) of the pictures worth verifying against *query*, best
        first (at most *top*; *exclude* is a row never returned).

        Each query descriptor votes once for every picture that has a descriptor within
        CANDIDATE_BITS of it, with the weight log(N / n) where n is how many pictures it
        votes for (tf-idf, as in Sivic and Zisserman's "Video Google", ICCV 2003); one that
        votes for more than COMMON of the pictures votes for none.
        """
        if not len(self.desc):
            return []
        qi, items, _ = self.engine.find_many(descriptors(query), CANDIDATE_BITS)
        return vote(qi, self.owner[items], query.n, len(self.ids), top=top, exclude=exclude)


def idf(n: int, df: np.ndarray) -> np.ndarray:
    """The weight of a descriptor found in *df* of *n* pictures: log(N / df) (float64)."""
    return np.log(max(n, 2) / np.maximum(df, 1))


def stop_cap(n: int) -> float:
    """How many of *n* pictures a descriptor may find and still vote: COMMON of them, but
    never fewer than STOP_MIN (in a small library a picture and its few copies are already
    5%: their shared descriptors are what a crop of it matches) and never more than STOP_MAX
    (in a large one, a descriptor found in hundreds of pictures tells little about any)."""
    return min(max(COMMON * n, STOP_MIN), STOP_MAX)


def crowded_cap(n: int, query: bool = False) -> int:
    """How many bucket entries a descriptor's lookup may read in a library of *n* pictures
    before it is a stop word without reading them (CROWDED, or CROWDED_QUERY for a *query*),
    or -1: no such limit (below the size where stop_cap reaches STOP_MAX, the bench pools'
    scale)."""
    limit = CROWDED_QUERY if query else CROWDED
    return -1 if COMMON * n <= STOP_MAX or limit is None else limit


def vote(qi: np.ndarray, rows: np.ndarray, nq: int, n: int, *, top: int = TOP_CANDIDATES,
         exclude: int | None = None) -> list[tuple[int, float]]:
    """The candidates from the hits of one query's descriptors: *qi* the query descriptor
    and *rows* the picture (of *n*) of each hit (a descriptor within CANDIDATE_BITS), *nq*
    query descriptors. (row, score), best first, at most *top*, never *exclude*.

    Each query descriptor votes once for every picture it found, with the weight idf(n, df),
    df the number of pictures it found; one that found more than COMMON of the pictures is
    a stop word: its vote weighs nothing (it still counts towards MIN_VOTES). Pictures with
    MIN_VOTES votes and a positive score are candidates (score down, then row up).
    """
    if not len(qi):
        return []
    key = np.unique(qi.astype(np.int64) * n + rows)
    qi, rows = key // n, key % n
    if exclude is not None:
        keep = rows != exclude
        qi, rows = qi[keep], rows[keep]
    df = np.bincount(qi, minlength=nq)
    weight = idf(n, df)
    weight[df > stop_cap(n)] = 0.0
    votes = np.bincount(rows, minlength=n)
    score = np.bincount(rows, weights=weight[qi], minlength=n)
    score[votes < MIN_VOTES] = 0.0
    best = np.argsort(-score, kind="stable")[:top]
    return [(int(r), float(score[r])) for r in best if score[r] > 0]


def verify(a: LocalFeatures, b: LocalFeatures, a_size: tuple[int, int] | None = None,
           b_size: tuple[int, int] | None = None,
           thumbs: tuple[np.ndarray, np.ndarray] | None = None) -> Partial | None:
    """Verify that pictures *a* and *b* share a region; return how, or None.

    *a_size*, *b_size* are the files' full (width, height), used only to give ``scale`` in
    the files' own pixels (default: the detail pictures'). *thumbs*, the two pictures' grey
    thumbnails (THUMB_SIZE square, fingerprint.thumb_parts), give ``Partial.agree``
    (agreement). Never raises for content.
    """
    fitted = fit_model(a, b)
    if fitted is None:
        return None
    matrix, model, ia, ib = fitted
    pa, pb = positions(a)[ia].astype(np.float32), positions(b)[ib].astype(np.float32)
    linear = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
    if not SCALE_RANGE[0] <= linear <= SCALE_RANGE[1]:
        return None
    if min(_spread(pa, a), _spread(pb, b)) < MIN_SPREAD:
        return None
    if on_one_line(pa) and on_one_line(pb):
        return None  # degenerate: the model stands on one line
    found = _overlap(matrix, a, b, model, len(ia), a_size, b_size, pa, pb, thumbs)
    if found is not None and thumbs is not None:
        found = replace(found, agree=agreement(matrix, a, b, *thumbs))
        if PLACES_RULE and found.agree < PLACES_AGREE \
                and max(places(pa), places(pb)) < FEW_PLACES:
            return None  # a few alike corners or one alike shape, over pictures that differ
    return found


def fit_model(a: LocalFeatures, b: LocalFeatures
           ) -> tuple[np.ndarray, str, np.ndarray, np.ndarray] | None:
    """The geometric model verification fits between *a* and *b*: (3x3 matrix mapping a's
    detail-picture pixels into b's, model name, rows of a's inliers, rows of b's inliers,
    at least MIN_INLIERS of them), or None. The transform's sanity (scale, spread) is
    verify's to judge. Method: Hamming nearest neighbours of the descriptors, RANSAC of a
    similarity and a homography (OpenCV estimateAffinePartial2D, findHomography), then a
    guided second matching pass near the model (Hartley & Zisserman); thresholds ours,
    calibrated on ../shared/bench."""
    da, db = descriptors(a), descriptors(b)
    if len(da) < MIN_INLIERS or len(db) < MIN_INLIERS:
        return None
    dist = np.bitwise_count(da[:, None] ^ db[None, :]).astype(np.int16)  # (na, nb) bits
    ia, ib, d1 = _ratio_matches(dist)
    if len(ia) < GUIDE_FROM:
        return None
    # one-to-one: each descriptor of b keeps its nearest descriptor of a
    order = np.lexsort((d1, ib))
    first = np.ones(len(order), dtype=bool)
    first[1:] = ib[order][1:] != ib[order][:-1]
    ia, ib = ia[order][first], ib[order][first]
    if len(ia) < GUIDE_FROM:
        return None
    pos_a, pos_b = positions(a), positions(b)
    fitted = _fit(pos_a[ia].astype(np.float32), pos_b[ib].astype(np.float32), a, b, GUIDE_FROM)
    if fitted is None:
        return None
    # Guided second pass (Hartley and Zisserman, "Multiple View Geometry", 2nd ed., 4.8):
    # the ratio test throws away most true matches of 64-bit descriptors, so every pair the
    # first model puts within RANSAC_PIXELS of each other and within GUIDED_BITS bits is
    # matched again, one-to-one, and the model refitted on them.
    ia, ib = _guided(fitted[0], pos_a, pos_b, dist)
    if len(ia) < MIN_INLIERS:
        return None
    pa, pb = pos_a[ia].astype(np.float32), pos_b[ib].astype(np.float32)
    fitted = _fit(pa, pb, a, b, MIN_INLIERS)
    if fitted is None:
        return None
    matrix, inliers, model = fitted
    if inliers.sum() < MIN_INLIERS:
        return None
    return matrix, model, ia[inliers], ib[inliers]


def _ratio_matches(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lowe's ratio test on a (na, nb) matrix of Hamming distances (int16): the rows of a
    whose nearest descriptor of b is within MATCH_BITS and nearer than RATIO times the second
    nearest, their nearest column, and that distance (int64 arrays). The nearest is found with
    argmin and the second nearest as the minimum of the row with the nearest masked out (no
    full sort of each row: a sort cost two thirds of the matching); the answer is the same as
    sorting, because a tie between the two nearest never passes the test."""
    na, nb = dist.shape
    rows = np.arange(na)
    if nb == 0:
        return rows[:0], rows[:0], rows[:0]
    first = np.argmin(dist, axis=1)
    d1 = dist[rows, first].astype(np.int64)
    if nb > 1:
        masked = dist.copy()
        masked[rows, first] = np.iinfo(np.int16).max
        d2 = masked.min(axis=1).astype(np.int64)
    else:
        d2 = np.full(na, 64, np.int64)
    good = (d1 <= MATCH_BITS) & (d1 < RATIO * d2)
    return rows[good], first[good], d1[good]


def shared(a: LocalFeatures, b: LocalFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Which keypoints of *a* and of *b* the verified model of the pair explains: two bool
    arrays (a.n,), (b.n,), all False when the pair does not verify (as verify, without the
    transform's sanity checks). Used to find a frame two pictures share (index: a
    screenshot's window, shared with screenshots of other pictures)."""
    in_a, in_b = np.zeros(a.n, bool), np.zeros(b.n, bool)
    fitted = fit_model(a, b)
    if fitted is not None:
        in_a[fitted[2]] = True
        in_b[fitted[3]] = True
    return in_a, in_b


def _fit(pa: np.ndarray, pb: np.ndarray, a: LocalFeatures, b: LocalFeatures, least: int
         ) -> tuple[np.ndarray, np.ndarray, str] | None:
    """RANSAC (OpenCV) fits a similarity and a homography to matched positions *pa* -> *pb*
    (float32 (n, 2)); the homography is the answer only when it explains clearly more
    (HOMOGRAPHY_GAIN, HOMOGRAPHY_EXTRA) and is sane. Returns (3x3 matrix, inlier mask,
    model name) with at least *least* inliers, or None."""
    import cv2

    if len(pa) < max(least, 4):
        return None
    sim, inl_s = cv2.estimateAffinePartial2D(pa, pb, method=cv2.RANSAC,
                                             ransacReprojThreshold=RANSAC_PIXELS, maxIters=1000,
                                             confidence=0.995)
    n_s = int(inl_s.sum()) if sim is not None and inl_s is not None else 0
    need = max(least, HOMOGRAPHY_GAIN * n_s + HOMOGRAPHY_EXTRA)
    if len(pa) < need or not homography_may_reach(pa, pb, math.ceil(need),
                                                  HOMOGRAPHY_SLACK * RANSAC_PIXELS):
        # the homography could not explain enough more matches to be the answer: even with
        # every one an inlier, or (consensus.py) with no homography through four of them
        # explaining enough within HOMOGRAPHY_SLACK times the threshold. Not fitted (most of
        # verification's CPU went there; OpenCV seeds its RANSAC afresh in every call, so
        # the other fits are the same)
        hom, inl_h = None, None
    else:
        hom, inl_h = cv2.findHomography(pa, pb, cv2.RANSAC, RANSAC_PIXELS, maxIters=1000,
                                        confidence=0.995)
    n_h = int(inl_h.sum()) if hom is not None and inl_h is not None else 0
    if hom is not None and n_h >= max(least, HOMOGRAPHY_GAIN * n_s + HOMOGRAPHY_EXTRA) \
            and _sane_homography(hom, a, b):
        return hom, inl_h.ravel().astype(bool), "homography"
    if sim is not None and n_s >= least:
        return np.vstack([sim, [0.0, 0.0, 1.0]]), inl_s.ravel().astype(bool), "similarity"
    return None


def _guided(matrix: np.ndarray, pos_a: np.ndarray, pos_b: np.ndarray, dist: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (rows of a, rows of b) that *matrix* maps within RANSAC_PIXELS of each other and
    whose descriptors are within GUIDED_BITS (*dist*: (na, nb) bits), one-to-one, nearest
    descriptors first."""
    pred = _apply(matrix, pos_a)
    if not np.all(np.isfinite(pred)):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    near = ((pred[:, None, :] - pos_b[None, :, :]) ** 2).sum(axis=-1) <= RANSAC_PIXELS ** 2
    ia, ib = np.nonzero(near & (dist <= GUIDED_BITS))
    order = np.argsort(dist[ia, ib], kind="stable")
    ia, ib = ia[order], ib[order]
    used_a, used_b = np.zeros(len(pos_a), bool), np.zeros(len(pos_b), bool)
    keep = np.zeros(len(ia), bool)
    for k, (i, j) in enumerate(zip(ia.tolist(), ib.tolist())):
        if not used_a[i] and not used_b[j]:
            used_a[i] = used_b[j] = keep[k] = True
    return ia[keep], ib[keep]


#: agreement: the overlap is sampled on a GRID x GRID lattice of picture a's overlap box, and
#: compared by quarters of it (correlation; a quarter flat in both pictures, deviation under
#: FLAT_GREY grey levels, tells nothing and is skipped, and no deviation counts as less).
GRID = 16
FLAT_GREY = 4.0


def agreement(matrix: np.ndarray, a: LocalFeatures, b: LocalFeatures, thumb_a: np.ndarray,
              thumb_b: np.ndarray) -> float:
    """How well pictures a and b agree over the whole of their overlap, not only where the
    inliers are: both grey thumbnails (squares of any size, of the whole pictures) sampled at
    the same points of the overlap (a lattice over a's box, mapped into b by *matrix*, in
    detail-picture pixels), then their correlation in each quarter of the box; the worst
    quarter's, clipped to 0..1 (1.0: identical, about 0: unrelated). A
    picture that shares only part of what its frame claims (two collages holding one photo)
    fails in the quarters the photo does not reach. Ours; returns 1.0 when the overlap is
    too small to sample.
    """
    import cv2

    xs = (np.arange(GRID) + 0.5) / GRID
    gx, gy = np.meshgrid(xs * a.width, xs * a.height)
    pts_a = np.stack([gx.ravel(), gy.ravel()], axis=1)
    pts_b = _apply(matrix, pts_a)
    inside = ((pts_b[:, 0] >= 0) & (pts_b[:, 0] < b.width) & (pts_b[:, 1] >= 0)
              & (pts_b[:, 1] < b.height))
    if inside.sum() < 16:
        return 1.0
    pts_a, pts_b = pts_a[inside], pts_b[inside]

    def sample(thumb: np.ndarray, pts: np.ndarray, f: LocalFeatures) -> np.ndarray:
        h, w = thumb.shape
        mx = (pts[:, 0] / f.width * w - 0.5).astype(np.float32).reshape(1, -1)
        my = (pts[:, 1] / f.height * h - 0.5).astype(np.float32).reshape(1, -1)
        out = cv2.remap(thumb.astype(np.float32), mx, my, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        return out.ravel().astype(np.float64)

    va, vb = sample(thumb_a, pts_a, a), sample(thumb_b, pts_b, b)
    lo, hi = pts_a.min(axis=0), pts_a.max(axis=0)
    mid = (lo + hi) / 2
    worst = 1.0
    for qx in (pts_a[:, 0] < mid[0], pts_a[:, 0] >= mid[0]):
        for qy in (pts_a[:, 1] < mid[1], pts_a[:, 1] >= mid[1]):
            q = qx & qy
            if q.sum() < 4:
                continue
            sa, sb = va[q].std(), vb[q].std()
            if max(sa, sb) < FLAT_GREY:
                continue  # flat in both: nothing to tell them apart by
            da, db = va[q] - va[q].mean(), vb[q] - vb[q].mean()
            corr = float(np.sum(da * db) / (max(sa, FLAT_GREY) * max(sb, FLAT_GREY) * q.sum()))
            worst = min(worst, corr)
    return round(float(np.clip(worst, 0.0, 1.0)), 4)


def band(points: np.ndarray) -> float:
    """How wide the band is that *points* (n, 2) lie in: their standard deviation across
    their main axis (the square root of their covariance's smaller eigenvalue), in the points'
    units; 0.0 for fewer than 3. Points on one line (the edge two drawings share) read the
    keypoints' own jitter, a pixel or two."""
    if len(points) < 3:
        return 0.0
    cov = np.cov(np.asarray(points, dtype=np.float64).T)
    return float(math.sqrt(max(0.0, np.linalg.eigvalsh(cov)[0])))


def off_line(points: np.ndarray, width: float) -> np.ndarray:
    """The rows of *points* (n, 2) farther than *width* from the line most of them lie on:
    the main axis of all of them (total least squares), fitted again twice on those within
    2 *width* of it, so that a few points off a line do not turn it. Empty when all lie
    near it."""
    pts = np.asarray(points, dtype=np.float64)
    near = np.ones(len(pts), bool)
    dist = np.zeros(len(pts))
    for _ in range(3):
        if near.sum() < 3:
            break
        sub = pts[near]
        centre = sub.mean(axis=0)
        normal = np.linalg.eigh(np.cov((sub - centre).T))[1][:, 0]  # across the main axis
        dist = np.abs((pts - centre) @ normal)
        near = dist <= 2 * width
    return np.nonzero(dist > width)[0]


def on_one_line(points: np.ndarray) -> bool:
    """Do at least LINE_SHARE of *points* (inliers, detail pixels) lie within THIN_BAND of one
    line, with those off it on fewer than OFF_LINE_PLACES places (see THIN_BAND)?"""
    off = off_line(points, THIN_BAND)
    return (len(points) - len(off) >= LINE_SHARE * len(points)
            and places(np.asarray(points)[off]) < OFF_LINE_PLACES)


def places(points: np.ndarray, radius: float = RANSAC_PIXELS) -> int:
    """On how many distinct places *points* (n, 2) sit: greedily, each point not within
    *radius* of a place counted before is a new place. ORB finds one corner at several
    pyramid levels, so a single shape's rim can give a model dozens of inliers on a few
    places."""
    pts = np.asarray(points, dtype=np.float64)
    left = np.ones(len(pts), bool)
    n = 0
    for i in range(len(pts)):
        if left[i]:
            n += 1
            left &= ((pts - pts[i]) ** 2).sum(axis=1) > radius * radius
    return n


def _spread(points: np.ndarray, f: LocalFeatures) -> float:
    import cv2

    if len(points) < 3:
        return 0.0
    return float(cv2.contourArea(cv2.convexHull(points.astype(np.float32)))) / (f.width * f.height)


def _corners(f: LocalFeatures) -> np.ndarray:
    return np.array([[0, 0], [f.width, 0], [f.width, f.height], [0, f.height]], dtype=np.float64)


def _apply(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h = np.hstack([pts, np.ones((len(pts), 1))]) @ matrix.T
    return h[:, :2] / h[:, 2:3]


def _sane_homography(hom: np.ndarray, a: LocalFeatures, b: LocalFeatures) -> bool:
    """The picture a, mapped into b, is still a convex quadrilateral of believable size."""
    if not np.all(np.isfinite(hom)) or abs(hom[2, 2]) < 1e-12:
        return False
    corners = _corners(a)
    h = np.hstack([corners, np.ones((4, 1))]) @ hom.T
    if np.any(h[:, 2] <= 0):  # a corner crosses the horizon: not a view of a flat picture
        return False
    quad = h[:, :2] / h[:, 2:3]
    edges = np.roll(quad, -1, axis=0) - quad
    cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    if not (np.all(cross > 0) or np.all(cross < 0)):
        return False
    area = 0.5 * abs(np.sum(quad[:, 0] * np.roll(quad[:, 1], -1) - quad[:, 1] * np.roll(quad[:, 0], -1)))
    ratio = area / (a.width * a.height)
    return SCALE_RANGE[0] ** 2 <= ratio <= SCALE_RANGE[1] ** 2


def _overlap(matrix: np.ndarray, a: LocalFeatures, b: LocalFeatures, model: str, inliers: int,
             a_size: tuple[int, int] | None, b_size: tuple[int, int] | None,
             points_a: np.ndarray, points_b: np.ndarray,
             thumbs: tuple[np.ndarray, np.ndarray] | None = None) -> Partial | None:
    """The shared region: picture a's frame mapped into b and cut to b's frame. Right for a
    crop, a whole photo in a screenshot or collage, a turned or skewed copy; a photo that was
    itself cut before it was pasted into a collage reads larger than it is (its frame reaches
    beyond the part shown). *points_a*, *points_b* (the inliers in each) say how much of the
    region the keypoints vouch for (Partial.seen_a, seen_b); *thumbs*, the two grey
    thumbnails, how much picture each shows outside it (Partial.beyond_a, beyond_b)."""
    polys = _overlap_polygons(matrix, a, b)
    if polys is None:
        return None
    poly_a, poly_b = polys
    area_b = _area(poly_b)
    area_a = _area(poly_a)
    cover_a = min(1.0, area_a / (a.width * a.height))
    cover_b = min(1.0, float(area_b) / (b.width * b.height))
    linear = float(np.sqrt(max(area_b, 1e-9) / max(area_a, 1e-9)))
    (aw, ah), (bw, bh) = a_size or (a.width, a.height), b_size or (b.width, b.height)
    scale = linear * (bw / b.width) / (aw / a.width)
    rotation, stretch, mirrored = _turn_and_stretch(_jacobian(matrix, poly_a.mean(axis=0)))
    return Partial(round(cover_a, 4), round(cover_b, 4), _box(poly_a, a), _box(poly_b, b),
                   round(scale, 4), round(rotation, 2), model, inliers,
                   _seen(points_a, poly_a), _seen(points_b, poly_b), stretch=round(stretch, 4),
                   keystone=round(_keystone(matrix, poly_a, points_a, points_b, b), 4),
                   **({} if thumbs is None else
                      dict(zip(("beyond_a", "spread_a", "beyond_b", "spread_b"),
                               surround(a, poly_a, thumbs[0]) + surround(b, poly_b, thumbs[1])))),
                   mirrored=mirrored)


def _overlap_polygons(matrix: np.ndarray, a: LocalFeatures, b: LocalFeatures
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """The shared region as a convex polygon in a's and in b's detail-picture pixels
    (float64 (k, 2) each): a's frame mapped into b by *matrix*, cut to b's frame. None when
    they do not meet."""
    import cv2

    quad = _apply(matrix, _corners(a)).astype(np.float32)
    area_b, poly_b = cv2.intersectConvexConvex(quad, _corners(b).astype(np.float32))
    if poly_b is None or area_b <= 0:
        return None
    poly_b = poly_b.reshape(-1, 2).astype(np.float64)
    return _apply(np.linalg.inv(matrix), poly_b), poly_b


def _area(poly: np.ndarray) -> float:
    return float(0.5 * abs(np.sum(poly[:, 0] * np.roll(poly[:, 1], -1)
                                  - poly[:, 1] * np.roll(poly[:, 0], -1))))


#: beyond: the thumbnail's pixels count as outside (or inside) the overlap only this far
#: (thumbnail pixels, recipe.THUMB_SIZE square) past (or within) its edge: the edge itself,
#: where a picture meets a fill, rings two or three pixels deep in a Lanczos thumbnail ...
BEYOND_MARGIN = 1.5
#: ... and at least this many pixels must lie out there to tell anything (a copy turned by
#: 3 degrees has corners too thin) ...
BEYOND_PIXELS = 12
#: ... and the overlap must show at least this much fine detail (mean grey levels): a smooth
#: picture's own corners have less than the edge of a fill rings with (generated smooth
#: pictures: 2.5 inside, their corners 0.3-0.5, the black or blurred corners of their turned
#: copies 0.6-1.2; photo-like and textured pictures 7.8-11 inside, corners 4.0-5.7, fills
#: 0.3-1.3; a photo letterboxed in a phone screenshot 3.5-3.7 inside, the bars 1.1).
BEYOND_DETAIL = 3.0
#: ... and grey levels outside spread less than this (standard deviation) are a flat fill
#: whatever their fine detail: where a turn's corners are only a few thumbnail pixels deep,
#: each lies in the ring along the fill's edge, whose fine detail outweighed that of a soft
#: photo's own lost corners (new-user trial 9, generated value-noise photos 700-2000 px
#: turned 10 degrees in place: black corners spread 0.8, the photo's lost corners 30; their
#: fine detail 1.56 and 1.05 of 3.5 inside). Ours.
FLAT_SPREAD = 4.0


def _outside(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """How far each of *points* (n, 2) lies outside the convex polygon *poly* (k, 2), by the
    farthest of its edges' lines (negative inside; a lower bound of the true distance)."""
    centre = poly.mean(axis=0)
    start, edge = poly, np.roll(poly, -1, axis=0) - poly
    length = np.hypot(edge[:, 0], edge[:, 1])
    ok = length > 1e-6
    start, edge, length = start[ok], edge[ok], length[ok]
    normal = np.stack([edge[:, 1], -edge[:, 0]], axis=1) / length[:, None]
    # outward: away from the centre
    normal *= np.where(((centre - start) * normal).sum(axis=1) > 0, -1.0, 1.0)[:, None]
    return ((points[:, None, :] - start[None]) * normal[None]).sum(axis=2).max(axis=1)


def beyond(fine: np.ndarray, grey: np.ndarray, dist: np.ndarray) -> float:
    """How much a picture shows outside an overlap, from its thumbnail's arrays
    (_outside_levels: fine detail, grey levels, distance outside the overlap): the mean fine detail (absolute
    difference from the 3x3 mean) of the thumbnail's pixels more than BEYOND_MARGIN outside
    the overlap over that of its pixels more than BEYOND_MARGIN inside, at most 1.0; 1.0 when
    fewer than BEYOND_PIXELS lie outside, or the inside has less than BEYOND_DETAIL (too
    smooth to tell). A picture that goes on past the overlap (a crop's source, the lost
    corners of a picture turned in place) has about as much detail there as inside; a fill
    has next to none: black or white corners, blurred ones, the bars around a letterboxed
    picture, the margins of a window; 0.0 when the grey levels outside are flat (FLAT_SPREAD).
    Ours."""
    out, inside = fine[dist > BEYOND_MARGIN], fine[dist < -BEYOND_MARGIN]
    if len(out) < BEYOND_PIXELS or not len(inside) or inside.mean() < BEYOND_DETAIL:
        return 1.0
    if grey[dist > BEYOND_MARGIN].std() < FLAT_SPREAD:
        return 0.0  # a flat fill (FLAT_SPREAD)
    return round(float(min(1.0, out.mean() / inside.mean())), 4)


def _outside_levels(f: LocalFeatures, poly: np.ndarray, thumb: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the pixels of *thumb* but its border: their fine detail (absolute difference from
    the 3x3 mean), their grey levels, and their signed distance outside the overlap *poly*
    (thumbnail pixels, negative inside), each float64 (h - 2, w - 2)."""
    h, w = thumb.shape
    g = thumb.astype(np.float64)
    pad = np.pad(g, 1, mode="edge")
    mean = sum(pad[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0
    fine = np.abs(g - mean)[1:-1, 1:-1]  # the thumbnail's own border has no neighbours
    ys, xs = np.mgrid[1:h - 1, 1:w - 1]
    scale = np.array([w / f.width, h / f.height])
    dist = _outside(np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1),
                    poly * scale).reshape(fine.shape)
    return fine, g[1:-1, 1:-1], dist


def spread(grey: np.ndarray, dist: np.ndarray) -> float:
    """How far a picture's grey levels outside an overlap spread, from its thumbnail's arrays
    (_outside_levels: grey levels, distance outside the overlap): the interquartile range of
    the pixels more than BEYOND_MARGIN outside, in grey levels; 0.0 when fewer than BEYOND_PIXELS lie there. A
    canvas fill is near-uniform (letterbox bars, a window's margins, black or white corners:
    0); a blurred background around a sharp subject is not (generated bokeh photos: 12-28).
    The interquartile range, not the deviation: a status bar's icons are a few pixels of the
    bars. Ours."""
    out = grey[dist > BEYOND_MARGIN]
    if len(out) < BEYOND_PIXELS:
        return 0.0
    q1, q3 = np.percentile(out, [25, 75])
    return round(float(q3 - q1), 2)


def surround(f: LocalFeatures, poly: np.ndarray, thumb: np.ndarray) -> tuple[float, float]:
    """(beyond, spread) of picture *f* around the overlap *poly* (convex, its detail-picture
    pixels), from one reading of its grey *thumb* (square, any size)."""
    fine, grey, dist = _outside_levels(f, poly, thumb)
    return beyond(fine, grey, dist), spread(grey, dist)


def _jacobian(matrix: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The 2x2 linear part of the map *matrix* (3x3, homogeneous) at the point *at* (x, y)."""
    x, y = float(at[0]), float(at[1])
    w = matrix[2, 0] * x + matrix[2, 1] * y + matrix[2, 2]
    u = (matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]) / w
    v = (matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]) / w
    return np.array([[matrix[0, 0] - u * matrix[2, 0], matrix[0, 1] - u * matrix[2, 1]],
                     [matrix[1, 0] - v * matrix[2, 0], matrix[1, 1] - v * matrix[2, 1]]]) / w


def _turn_and_stretch(jac: np.ndarray) -> tuple[float, float, bool]:
    """The rotation (degrees, counter-clockwise on screen), the stretch (longer over shorter
    axis scale, >= 1) and whether the map mirrors, of a 2x2 linear map, by its polar
    decomposition J = R S (R the nearest rotation, from the SVD J = U D V^T as R = U V^T;
    Higham, "Computing the polar decomposition", 1986). A stretch along the picture's axes
    turns nothing, where the angle of a horizontal step reads a turn into any shear or stretch
    a similarity fit absorbs. A map that reverses orientation (det J < 0: a homography laid
    over a mirror image) is read as a left-right mirror then a turn, J = R S M: the rotation
    is measured in the mirrored frame, J M (a mirrored copy turned 8 degrees: 8, where R of
    J itself, a reflection, reads 172)."""
    if not np.all(np.isfinite(jac)):
        return 0.0, 1.0, False
    mirrored = bool(np.linalg.det(jac) < 0)
    if mirrored:
        jac = jac @ np.diag([-1.0, 1.0])
    u, d, vt = np.linalg.svd(jac)
    r = u @ vt
    # y grows downwards: a counter-clockwise turn on screen is a negative angle in pixels
    rotation = -float(np.degrees(np.arctan2(r[1, 0], r[0, 0])))
    return rotation, float(d[0] / max(d[1], 1e-12)), mirrored


def _keystone(matrix: np.ndarray, poly: np.ndarray, points_a: np.ndarray,
              points_b: np.ndarray, b: LocalFeatures) -> float:
    """How far the map *matrix* departs from a flat (affine) one over the overlap (polygon
    *poly* in a's pixels): the farthest any corner of the overlap lands from where the best
    affine map of the inliers (*points_a* -> *points_b*, least squares) puts it, as a fraction
    of b's diagonal; 0.0 for a similarity or a stretch, a few percent for a perspective view.
    (The local scale at the corners does not tell: a homography fitted to a pure stretch
    extrapolates its noise there.)"""
    if len(points_a) < 3 or not np.any(matrix[2, :2]):
        return 0.0
    src = np.hstack([points_a.astype(np.float64), np.ones((len(points_a), 1))])
    affine, *_ = np.linalg.lstsq(src, points_b.astype(np.float64), rcond=None)
    flat = np.hstack([poly, np.ones((len(poly), 1))]) @ affine
    off = np.sqrt(((_apply(matrix, poly) - flat) ** 2).sum(axis=1)).max()
    return float(off) / float(np.hypot(b.width, b.height))


def _seen(points: np.ndarray, poly: np.ndarray) -> float:
    """How much of the overlap polygon's bounding box the inliers' bounding box spans: the
    smaller of the two fractions (width, height), at most 1."""
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    inner = points.max(axis=0) - points.min(axis=0)
    return round(float(min(1.0, np.min(inner / span))), 4)


def _box(poly: np.ndarray, f: LocalFeatures) -> tuple[float, float, float, float]:
    lo = np.clip(poly.min(axis=0) / [f.width, f.height], 0.0, 1.0)
    hi = np.clip(poly.max(axis=0) / [f.width, f.height], 0.0, 1.0)
    return (round(float(lo[0]), 4), round(float(lo[1]), 4), round(float(hi[0]), 4),
            round(float(hi[1]), 4))


def search(index: LocalIndex, query: LocalFeatures, query_size: tuple[int, int] | None,
           sizes: Mapping[int, tuple[int, int]] | None = None, *,
           skip: Sequence[int] = (), top: int = TOP_CANDIDATES,
           thumbs: tuple[np.ndarray, Callable[[int], np.ndarray | None]] | None = None
           ) -> list[tuple[int, Partial]]:
    """Find the indexed pictures that share a region with *query*: (file id, Partial seen
    from the query as a), best (most inliers) first. *sizes* gives files' full (width,
    height) by id (for the scale); files in *skip* are not verified. *thumbs*: the query's
    grey thumbnail and a lookup of a file's by id, for what verify measures with them (agree,
    beyond), as dedupe measures it.

    The *top* best-voted candidates are verified; past them, verification goes on down the
    ranking (to FAMILY_DEPTH) while at least half of the candidates checked so far verified:
    a picture with many copies in the library (whose shared descriptors weigh little by
    tf-idf) is a family of candidates that would otherwise crowd out some of its own members,
    the original among them. Ours."""
    out = []
    skipped = set(skip)
    checked = 0
    for row, _votes in index.candidates(query, top=max(top, FAMILY_DEPTH) + len(skipped)):
        file_id = int(index.ids[row])
        if file_id in skipped:
            continue
        if checked >= top and 2 * len(out) < checked:
            break
        checked += 1
        other = None if thumbs is None else thumbs[1](file_id)
        p = verify(query, index.features[row], query_size, (sizes or {}).get(file_id),
                   None if other is None else (thumbs[0], other))
        if p is not None:
            out.append((file_id, p))
    out.sort(key=lambda x: -x[1].inliers)
    return out


def _orientation_maps(k: int) -> tuple[Callable[[float, float], tuple[float, float]], np.ndarray]:
    """Orientation *k* (layout.ORIENTATIONS: transpose, flip left-right, flip up-down, in that
    order) as a map of points in fractions of the picture and as its 2x2 linear part in pixel
    axes."""
    transpose, flip_lr, flip_ud = ORIENTATIONS[k]

    def point(x: float, y: float) -> tuple[float, float]:
        if transpose:
            x, y = y, x
        return (1.0 - x if flip_lr else x), (1.0 - y if flip_ud else y)

    jac = np.array([[0.0, 1.0], [1.0, 0.0]]) if transpose else np.eye(2)
    jac = np.diag([-1.0 if flip_lr else 1.0, -1.0 if flip_ud else 1.0]) @ jac
    return point, jac


def through_orientation(p: Partial, k: int, a_size: tuple[int, int],
                        copy_size: tuple[int, int]) -> Partial:
    """How picture b overlaps picture a, from *p*: how b overlaps c, a whole copy of a in
    orientation *k* (layout.ORIENTATIONS; c = k(a)). Used to find through a mirrored copy
    what keypoints, which are not mirror-invariant, do not find from a itself: the crop of a
    photo from the photo's mirror image. Covers, agreement and what lies around the overlap
    are the same; a's box is c's mapped back; the scale counts a's pixels (*a_size*) against
    c's (*copy_size*, (width, height)); the turn and mirror are those of p's after k's
    (Partial.mirrored: b = turn(mirror(a)))."""
    point, jac_k = _orientation_maps(k)
    inverse = next(j for j in range(len(ORIENTATIONS))
                   if np.allclose(_orientation_maps(j)[1] @ jac_k, np.eye(2)))
    back = _orientation_maps(inverse)[0]
    l, t, r, b = p.box_a
    (x0, y0), (x1, y1) = back(l, t), back(r, b)
    box_a = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    t_rad = -math.radians(p.rotation)  # counter-clockwise on screen: negative in pixel axes
    turn = np.array([[math.cos(t_rad), -math.sin(t_rad)], [math.sin(t_rad), math.cos(t_rad)]])
    jac_p = turn @ (np.diag([-1.0, 1.0]) if p.mirrored else np.eye(2))
    rotation, _stretch, mirrored = _turn_and_stretch(jac_p @ jac_k)
    linear = math.sqrt(copy_size[0] * copy_size[1] / max(1, a_size[0] * a_size[1]))
    return replace(p, box_a=tuple(round(v, 4) for v in box_a),
                   scale=round(p.scale * linear, 4), rotation=round(rotation, 2),
                   mirrored=mirrored)


#: A picture whose area is covered this much by the shared region counts as wholly inside
#: the other (JPEG borders and RANSAC's few pixels keep a full overlap from reading 100%).
WHOLE = 0.9
#: describe: a turn (degrees) said only from this much on: RANSAC's fit of an unturned copy
#: reads a degree or two (bench dev and smooth pools: the window two screenshots share).
TURN_MIN = 2.5
#: ... "perspective" only when the map departs this much from a flat one (keystone),
#: "stretched" from this much (stretch), and a scale from this factor either way.
KEYSTONE_MIN = 0.02
STRETCH_MIN = 1.1
SCALE_MIN = 1.15


def describe(p: Partial, other: str = "the query") -> str:
    """Say in words how picture b relates to picture a (*other*, as the reader knows a).

    For example "inside the query, 35% of it", "contains the query, as 48% of it" (the
    query is a crop of it),
    "overlaps: 40% of the query, 55% of it", with ", mirrored" (b shows it in mirror image),
    ", rotated 5 degrees clockwise" (after the mirror, when mirrored),
    ", perspective", ", stretched 2x" or ", shown 0.6x as large as in the query" after it
    when they apply. The size is the shared content's (Partial.scale), never the file's.
    """
    if p.cover_b >= WHOLE and p.cover_a >= WHOLE:
        words = "same picture (local features)"
    elif p.cover_b >= WHOLE:
        words = f"inside {other}, {p.cover_a:.0%} of it"
    elif p.cover_a >= WHOLE:
        words = f"contains {other}, as {p.cover_b:.0%} of it"
    else:
        words = f"overlaps: {p.cover_a:.0%} of {other}, {p.cover_b:.0%} of it"
    notes = [words]
    if p.mirrored:
        notes.append("mirrored")
    if abs(p.rotation) >= TURN_MIN:
        turn = abs(round(p.rotation))
        way = "counter-clockwise" if p.rotation > 0 else "clockwise"
        notes.append(f"rotated {turn} degree{'s' if turn != 1 else ''} {way}")
    if p.model == "homography" and p.keystone >= KEYSTONE_MIN:
        notes.append("perspective")
    elif p.stretch >= STRETCH_MIN:
        notes.append(f"stretched {p.stretch:.2g}x")
    if abs(np.log(max(p.scale, 1e-6))) >= np.log(SCALE_MIN):
        notes.append(f"shown {p.scale:.2g}x as large as in {other}")
    return ", ".join(notes)
