"""Partial members of duplicate groups: where verified partial matches (partial.py) go in the
output of ``dedupe``, without ever merging two groups.

A partial match is its own relation, not a copy: a collage that contains four photos is not
a duplicate of any of them, and must not join their groups together. So groups are never
merged through a partial match; a picture is added to a group as a *partial member*, and one
picture can be a partial member of several groups (the collage is in each of its four
photos' groups), but no picture is shown twice otherwise (once). The rules, for each
verified partial pair (x, y):

* x and y in the same group already: nothing to add;
* y is a (global) member of group G and x is in no group: x joins G as a partial member,
  provided x is verified directly against G's first file too (groups stay stars);
* both in different groups: left as they are (the two groups stay apart);
* neither in a group: a new group around the one that lies wholly inside the other (the
  photo inside a screenshot or a collage, the crop inside its picture): each such picture
  is the centre of its own group. The group's first file is the most complete picture
  (source_first): the picture a crop was cut from comes before the crop; a screenshot or
  collage that shows a photo shrunk comes after the photo;
* then new groups with one first file are one group, and a new group whose first file is
  in another group already joins that group (once).

Only pairs where one picture lies inside the other are placed (groupable).

Pure: works on rows and a verify callback, so it is tested without an index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .model import Partial
from .partial import KEYSTONE_MIN, SCALE_MIN, TURN_MIN

#: A partial pair goes into a group only when one picture lies wholly inside the other (at
#: least this much of it is shared): a crop and its picture, a screenshot and the photo it
#: shows. Two pictures that only overlap (two collages holding parts of one photo, two
#: screenshots of one application) are not copies of one picture (query lists them).
CONTAINED = 0.9
#: ... and not when both are almost wholly shared and the transform leaves the frame where
#: it is: two whole pictures the global fingerprint did not match, whose keypoints agree in
#: place, are two pictures in one frame (the same application window around different
#: photos), not one picture. Measured on the bench dev pool: every such pair there was two
#: screenshots sharing their window. 0.9 rather than 0.95 since verification matches again
#: under the first model (partial.GUIDE_FROM): the shared window then fits a model turned by
#: a degree or two, whose covers read 0.93-0.98 (bench dev and smooth pools: 15 such pairs of
#: screenshots of different pictures). A copy turned or skewed on its own canvas (Pillow's
#: rotate without expand: black corners) shares as much of both (a 10-degree turn of a 4:3
#: picture: 92% of each), but its transform moves the frame (moved), which a shared window
#: never does: such a pair is a whole copy. Measured (session 8, every verified pair dedupe
#: places): the near-whole pairs of different
#: pictures (screenshots, collages, logo overlays, distractors) read turns of at most 1.97
#: degrees (dev pool, 74 pairs) and 1.64 (smooth, 96), all similarity models but one
#: homography of two collages that agree 0.0; under this rule 18 (dev) and 3 (smooth) more
#: near-whole pairs of one picture are groupable and no pair of different pictures.
SAME_FRAME = 0.9
#: moved: a turn of at least this many degrees (a copy turned by 5 degrees reads 4.4-5.5):
#: the turn partial.describe says "rotated" from ...
TURNED = TURN_MIN
#: ... or a perspective: a homography that departs from a flat map by this much of the
#: picture's diagonal (Partial.keystone; 0.0 for a window laid over itself): describe's
#: "perspective".
KEYSTONE = KEYSTONE_MIN


#: ... and when both pictures are almost wholly shared (the smaller cover at least
#: NEAR_WHOLE), only if their thumbnails agree over the whole overlap (Partial.agree, the
#: worst quarter's correlation, at least MIN_AGREE): two collages that hold the same photo in
#: one half are laid over each other by the transform its keypoints fit, so the overlap
#: claims both whole pictures while their other halves differ. Measured on the bench smooth
#: pool (wallpapers): four of five such collage pairs agree 0.0 (the fifth, whose other
#: halves are alike, 0.63), three of them with both covers >= 0.9. Perspective copies fitted
#: by a similarity agree badly too (dev pool: 0.0-0.9; the background the skew reveals), but
#: cover their original's frame by 72-88% only: with NEAR_WHOLE 0.7 the dev pool lost 8 of
#: 45 perspective pairs, so the check is kept to near-whole pairs.
NEAR_WHOLE = 0.9
MIN_AGREE = 0.1
#: ... and from MOSTLY on, when the contained picture's overlap reaches across the whole
#: other picture along one axis (both opposite edges, as two collages of different aspect
#: ratios holding one photo: smooth pool, covers 0.98 and 0.71, agreement 0.0), where a
#: perspective or shrunk copy sits inside its original's frame (dev: no such pair).
MOSTLY = 0.7


def _across(p: Partial) -> bool:
    """The overlap's box in the picture the other lies inside (the smaller cover) spans that
    picture's full width or full height."""
    box = p.box_b if p.cover_a >= p.cover_b else p.box_a
    edge = 0.01
    return ((box[0] <= edge and box[2] >= 1 - edge) or (box[1] <= edge and box[3] >= 1 - edge))


def moved(p: Partial) -> bool:
    """Does the pair's transform move the picture's frame (turned by TURNED degrees or more,
    mirrored, or a perspective of KEYSTONE or more), as no shared window or frame ever is?"""
    return turned(p) or (p.model == "homography" and p.keystone >= KEYSTONE)


def turned(p: Partial) -> bool:
    """Is b turned by TURNED degrees or more, or mirrored (Partial.mirrored: a mirror image
    turns the frame over, whatever turn follows it; its rotation is read after the mirror)?"""
    return abs(p.rotation) >= TURNED or p.mirrored


#: on_canvas: a picture shows the other on a canvas of fill when it has less than FILL of the
#: detail outside their overlap that it has inside (Partial.beyond), and the other at least
#: FILL. Measured on generated photo-like pictures (800x600, 900x700, 600x800, 960x600):
#: corners of a copy turned 10-15 degrees in place 0.0-0.06 black or white, 0.09-0.17
#: blurred; a skew's 0.0-0.09; the bars and status bar around a picture letterboxed in a
#: phone screenshot 0.09-0.31; the source of a 64% crop 0.54-0.65 (soft wallpapers 0.60-1.0),
#: the lost corners of a turned original 0.50-1.0. Ours.
FILL = 0.4
#: A copy turned in place loses its corners: a 4:3 picture turned 15 degrees keeps 89% of
#: itself (16:9, 87.5%), under CONTAINED. Such a pair (covers EVEN, turned by TURNED or more,
#: the thumbnails agreeing over the overlap, Partial.agree, TURNED_AGREE or more) is a whole
#: copy from TURNED_COVER on. (Generated copies turned 10-15 degrees agree 0.97-1.0; the
#: near-whole pairs of different pictures that read a turn, two collages, 0.0: see MIN_AGREE.)
TURNED_COVER = 0.8
TURNED_AGREE = 0.8


#: ... and where b shows a square and unskewed (turned less than SQUARE degrees, a similarity:
#: letterboxed, in a window, or a crop's source), the fill must be near-uniform: its grey
#: levels spread (Partial.spread_b, interquartile range) under UNIFORM. A sharp subject on a
#: blurred background has little fine detail around it too, but its background spreads
#: 12-28 grey levels (generated bokeh photos; new-user trial of session 10: the photo read as
#: its crop on a canvas, the crop as its source), where bars and margins spread 0. The
#: blurred corners of a copy turned in place are a fill whatever they spread. Ours.
UNIFORM = 6.0


def on_canvas(p: Partial) -> bool:
    """Does picture b show picture a on a canvas of fill (a copy turned or skewed on its own
    canvas, a picture letterboxed or in a window's margins): b has next to no detail outside
    their overlap (Partial.beyond_b under FILL), a has (at least FILL, or nothing outside),
    and b's fill is near-uniform (UNIFORM) unless b shows a turned or skewed?"""
    square = abs(p.rotation) < SQUARE and p.model == "similarity"
    return p.beyond_b < FILL <= p.beyond_a and not (square and p.spread_b >= UNIFORM)


def a_is_centre(p: Partial) -> bool:
    """Is picture a the centre of the pair's new group (place, b_first): the picture the other
    shows on a canvas of fill, else the one lying (more) inside the other?"""
    if on_canvas(p) or on_canvas(p.swapped()):
        return on_canvas(p)
    return p.cover_a >= p.cover_b


def turned_in_place(p: Partial) -> bool:
    """Is the pair a picture and its copy turned on its own canvas: covers EVEN and at least
    TURNED_COVER, a turn of TURNED degrees or more, thumbnails agreeing (TURNED_AGREE)?"""
    return (turned(p) and abs(p.cover_a - p.cover_b) < EVEN
            and min(p.cover_a, p.cover_b) >= TURNED_COVER and p.agree >= TURNED_AGREE)


def whole(p: Partial) -> bool:
    """Is the pair a whole copy of one picture (both near-whole, SAME_FRAME, and moved; or a
    copy turned in place, turned_in_place)?"""
    return min(p.cover_a, p.cover_b) >= SAME_FRAME and moved(p) or turned_in_place(p)


def same_frame(p: Partial) -> bool:
    """Are the two pictures in one frame (both near-whole, SAME_FRAME, laid over each other in
    place: not moved)?"""
    return min(p.cover_a, p.cover_b) >= SAME_FRAME and not moved(p)


#: A model that rests on few keypoints (fewer than FEW_INLIERS inliers) is believed only when
#: the pictures' thumbnails agree over the overlap it claims (Partial.agree, at least
#: FEW_AGREE). Corners are alike at every scale and turn: the corners of flat shapes in two
#: unrelated drawings, or the icons of one toolbar around different photos, let RANSAC fit a
#: similarity through a few dozen of them, shrunk and often turned (19, 57, 89, 107 degrees),
#: whose overlap shows different pictures. Ours, calibrated on ../shared/bench's dev and
#: smooth pools and outside case 22, every pair dedupe placed at session 10's code: the
#: different pictures on fewer than 40 inliers agree 0.0-0.096 (case 22 at K=500: 22-37
#: inliers; both pools: a distractor pair on 27); the copies of one picture on fewer than 40
#: (smooth: a rot_15 on 24, a perspective on 33; dev: a rot_15 on 39) 0.59-0.99. Not higher:
#: from 40 to 64 inliers copies of one picture agree as little as different ones (smooth: a
#: screenshot against a turned copy on 43, 0.0; a perspective on 50, 0.17), and a
#: perspective copy fitted by a similarity agrees 0.0 on 97-197.
FEW_INLIERS = 40
FEW_AGREE = 0.3


def few_keypoints_disagree(p: Partial) -> bool:
    """Does a keypoint model of fewer than FEW_INLIERS inliers show pictures that do not agree
    over its overlap (Partial.agree under FEW_AGREE)? A part view (no keypoints: its own
    evidence is the global fingerprint's) never does."""
    return 0 < p.inliers < FEW_INLIERS and p.agree < FEW_AGREE


def groupable(p: Partial) -> bool:
    """Is a verified partial pair a relation a duplicate group shows (see CONTAINED,
    SAME_FRAME, NEAR_WHOLE, FEW_INLIERS)?"""
    lo, hi = min(p.cover_a, p.cover_b), max(p.cover_a, p.cover_b)
    if p.agree < MIN_AGREE and (lo >= NEAR_WHOLE or (lo >= MOSTLY and _across(p))):
        return False
    if few_keypoints_disagree(p):
        return False
    return (hi >= CONTAINED or turned_in_place(p)) and not same_frame(p)

#: A picture that lies wholly inside another (CONTAINED) was cut from it, and the other is its
#: source (the more complete picture: the likely original, a group's first file), only when
#: the other shows the shared content at least this large (Partial.scale, linear, in each
#: file's own pixels): a crop keeps its picture's pixel density (scale 1.0). A picture shown
#: smaller inside another (a photo shrunk into a screenshot, a collage or a page: 0.75-0.8 in
#: the new-user trial's cases) is the picture itself, and the other merely shows it: never
#: ranked before the picture or a whole copy of it. partial.describe's "shown ... as large"
#: threshold (SCALE_MIN, 1.15): the keypoints' scale is measured to a few percent. What the
#: scale cannot tell apart: a photo shown at full size inside a screenshot counts as cut from it.
SAME_DENSITY = 1 / SCALE_MIN


#: A crop is cut square to its picture: a picture turned by at least this much (degrees) or
#: skewed (a "homography" model) inside another is a turned or perspective copy set in a
#: larger canvas (a rotation with expand=True holds the whole photo at scale 1.0), never the
#: other's source. 1.5 was partial.describe's "rotated" threshold when this was set (a9a7576);
#: describe has since said "rotated" only from TURN_MIN (2.5: RANSAC reads a degree or two on
#: unturned copies), but nothing measured moved SQUARE: a crop whose fit reads a turn of
#: 1.5-2.5 degrees is still not taken as cut from the other.
SQUARE = 1.5


#: ... and a picture that shows the other smaller than this (Partial.scale) on a near-uniform
#: rest (Partial.spread_b under UNIFORM: bars, a window's margins, app chrome) merely shows
#: it, whatever SAME_DENSITY allows: a phone screenshot of a 1200 px photo across its 1080 px
#: width (0.9x) is not the photo's source (new-user trial of session 10: it headed the
#: photo's group, beyond, from a thumbnail too smooth to tell, reading 1.0). A crop keeps its
#: picture's density: generated crops read 0.997-1.005 (tests/test_whole_copies_stay.py).
SHOWN_SMALLER = 0.97


def is_source(p: Partial) -> bool:
    """Is picture b the source of picture a: a lies wholly inside b (b not inside a), square
    to it (SQUARE), b shows it at no smaller a scale (SAME_DENSITY), by a similarity (not a
    perspective, nor a part view: a collage's half or a window's inner picture), and b goes on
    past a (not on_canvas: a fill around a is no picture it was cut from; nor shown smaller,
    SHOWN_SMALLER, on a near-uniform rest)? A crop and the
    picture it was cut from: True; a photo and a screenshot or collage that shows it shrunk
    or letterboxed, or a turned or skewed copy of it on a canvas: False."""
    return (p.cover_a >= CONTAINED and p.cover_b < CONTAINED and p.scale >= SAME_DENSITY
            and abs(p.rotation) < SQUARE and p.model == "similarity" and not p.mirrored
            and not on_canvas(p)
            and not (p.scale < SHOWN_SMALLER and p.spread_b < UNIFORM))


def outranks_copies(p: Partial, a_pixels: int, copies_pixels: int) -> bool:
    """Does picture b rank before picture a and a's whole copies as the likely original?

    *p*: how a and b overlap (a as a); *a_pixels*: a's pixels; *copies_pixels*: the most
    pixels among a and its whole copies. True when b is a's source (is_source) and shows a's
    content with at least SAME_DENSITY^2 of the pixels of the biggest whole copy: a picture
    that merely contains a (a screenshot, a collage) never outranks a whole copy."""
    shown = a_pixels * p.scale ** 2
    return is_source(p) and shown >= SAME_DENSITY ** 2 * copies_pixels


#: (row a, row b) -> how they overlap (Partial with a as a), or None when not verified
Verify = Callable[[int, int], "Partial | None"]


#: Where partial pairs go (place): joins by group, the new groups as (first row, members), and
#: the groups shown from a partial member they were cut from (group -> (first row, members))
Placed = tuple[dict[int, list[tuple[int, Partial]]], list[tuple[int, list[tuple[int, Partial]]]],
               dict[int, tuple[int, list[tuple[int, Partial]]]]]


#: Ranks two rows as whole copies are ranked (group.order_members): does row y come before
#: row x as the likely original?
Ranks = Callable[[int, int], bool]

#: Are rows x and y of one group whole copies in mirror image of each other?
Reflected = Callable[[int, int], bool]

#: (row a, row c, Partial with c as a) -> the same overlap seen from a, where c is a whole copy
#: of a in mirror image (partial.through_orientation): keypoints are not mirror-invariant, so a
#: crop of the mirror image verifies against the mirror image only
Through = Callable[[int, int, Partial], Partial]

#: Covers closer than this say nothing about which picture lies inside the other: two turned
#: copies of one square picture (a photo and the same photo rotated 15 degrees without
#: expanding, black corners: covers 0.90 and 0.90 in the new-user trial) each hold about as
#: much of the other. Such a pair is ordered as whole copies are (Ranks).
EVEN = 0.05


def place(groups: Sequence[Sequence[int]], pairs: Sequence[tuple[int, int, Partial]],
          verify: Verify, ranks: Ranks | None = None,
          reflected: Reflected | None = None, through: Through | None = None) -> Placed:
    """Decide where partial pairs go.

    Args:
        groups: the global groups, as rows; ``groups[g][0]`` is group g's first file.
        pairs: verified partial pairs (row x, row y, Partial with x as a).
        verify: verifies two rows (used against a group's first file).
        ranks: orders two rows as whole copies (for pairs whose covers are EVEN); None:
            such pairs keep the first found.
        reflected: are two rows of one group whole copies in mirror image (the global
            match's orientation a reflection)? A group whose first file is the mirror image
            of a member that more partial matches verify against is shown from that member
            (in ``promoted``, the member a file of the group itself). None: never.

    Returns:
        ``(joins, new, promoted)``: ``joins[g]`` lists (row, Partial seen from group g's
        first) of the partial members that join group g; ``new`` lists the new groups as
        (first row c, [(row, Partial seen from c), ...]), the first the most complete picture
        (source_first); ``promoted[g]`` = (row s, [(row, Partial seen from s), ...]): group
        g's first file was cut from its partial member s (is_source), so g is shown from s,
        its other files (whole copies and partial members alike) partial members of s; or
        s is one of g's own files (``s in groups[g]``, see *reflected*): g is shown from s,
        its whole copies kept, its partial members those given. Such a g has no entry in
        ``joins``. The files of every group stay the same.
    """
    group_of: dict[int, int] = {}
    for g, rows in enumerate(groups):
        for r in rows:
            group_of.setdefault(r, g)
    joins: dict[int, list[tuple[int, Partial]]] = {}
    joined: set[tuple[int, int]] = set()
    mirror: dict[int, dict[int, list[tuple[int, Partial]]]] = {}  # g -> copy -> its partials
    new: dict[int, list[tuple[int, Partial]]] = {}
    in_new: set[tuple[int, int]] = set()
    ordered = sorted((t for t in pairs if groupable(t[2])), key=lambda t: -t[2].inliers)
    for x, y, p in ordered:
        gx, gy = group_of.get(x), group_of.get(y)
        if gx is not None and gx == gy:
            continue
        if gx is not None and gy is not None:
            continue  # two groups: never merged through a partial match
        if gx is None and gy is None:
            continue  # second pass
        g, outsider, inside_p = (gy, x, p.swapped()) if gy is not None else (gx, y, p)
        if (g, outsider) in joined:
            continue
        first, inside = groups[g][0], (y if gy is not None else x)
        against = inside_p if inside == first else verify(first, outsider)
        if against is None or not groupable(against):
            if inside != first and reflected is not None and reflected(first, inside):
                mirror.setdefault(g, {}).setdefault(inside, []).append((outsider, inside_p))
            continue
        joined.add((g, outsider))
        joins.setdefault(g, []).append((outsider, against))
    # A group whose first file is the mirror image of one of its whole copies, when more
    # pictures partly matched verify against that copy than against the first: the copy is
    # the picture (a mirror is an edit, like a crop; keypoints are not mirror-invariant, so
    # the crops and turned copies of the photo fail against its mirror image). The group is
    # shown from that copy (returned in promoted, as a first file of the group's own).
    reheaded: dict[int, tuple[int, list[tuple[int, Partial]]]] = {}
    for g, by_copy in mirror.items():
        head, adds = max(by_copy.items(), key=lambda kv: (len(kv[1]), -kv[0]))
        kept = list({r: (r, a) for r, a in reversed(adds)}.values())[::-1]  # once each
        if len(kept) <= len(joins.get(g, ())):
            continue
        first = groups[g][0]
        for r, p_first in joins.pop(g, []):  # the first's partial members: seen from the head
            if all(r != k for k, _ in kept):
                seen = verify(head, r)
                if (seen is None or not groupable(seen)) and through is not None \
                        and p_first.inliers > 0:  # keypoints, not a part view (_through)
                    seen = through(head, first, p_first)  # the first is the head's mirror
                if seen is not None and groupable(seen):
                    kept.append((r, seen))
        for copy, adds in by_copy.items():  # other mirrored copies' members (once each)
            if copy != head and through is not None:
                kept += _through(first, copy, adds, {r for r, _ in kept}, head, through,
                                 verify)
        for r, _ in kept:
            joined.add((g, r))
        reheaded[g] = (head, kept)
    # ... else the members found only through a mirror image join the group as it is, seen
    # from its first file through the mirror (a crop of the older mirrored copy beside the
    # photo's own crops: trial of session 11, dropped from every group).
    for g, by_copy in mirror.items():
        if g in reheaded or through is None:
            continue
        first = groups[g][0]
        for copy, adds in sorted(by_copy.items()):
            for r, seen in _through(first, copy, adds, {r for gg, r in joined if gg == g},
                                    first, through, verify):
                joined.add((g, r))
                joins.setdefault(g, []).append((r, seen))
    groups_joined: dict[int, set[int]] = {}
    for g, r in joined:
        groups_joined.setdefault(r, set()).add(g)
    in_group: dict[int, set[int]] = {}  # row -> the new groups (by centre) it is in
    for x, y, p in ordered:
        if x in group_of or y in group_of:
            continue
        if groups_joined.get(x, set()) & groups_joined.get(y, set()):
            continue  # both are partial members of one group already
        if in_group.get(x, set()) & in_group.get(y, set()):
            continue  # ... or of one new group
        if whole(p) and (in_group.get(x) or in_group.get(y)):
            # a whole copy of a picture already in a new group joins that group, verified
            # against its first (groups stay stars), rather than start another around itself
            for c in sorted(in_group.get(x, set()) | in_group.get(y, set())):
                outsider = y if c in in_group.get(x, set()) else x
                seen_c = p if (c, outsider) == (x, y) else p.swapped() \
                    if (c, outsider) == (y, x) else verify(c, outsider)
                if seen_c is not None and groupable(seen_c):
                    in_new.add((c, outsider))
                    new.setdefault(c, []).append((outsider, seen_c))
                    in_group.setdefault(outsider, set()).add(c)
                    break
            continue
        # around the picture that lies wholly inside the other, or that the other shows on a
        # canvas of fill (a copy turned in place loses as much of itself as its original)
        centre, member, seen = (x, y, p) if a_is_centre(p) else (y, x, p.swapped())
        if (centre, member) not in in_new:
            in_new.add((centre, member))
            new.setdefault(centre, []).append((member, seen))
            in_group.setdefault(centre, set()).add(centre)
            in_group.setdefault(member, set()).add(centre)
    promoted = dict(reheaded)
    for g, adds in joins.items():
        shown = source_first(groups[g][0], adds, verify, groups[g][1:], ranks)
        if shown[0] != groups[g][0]:
            promoted[g] = shown
    return once(groups, {g: adds for g, adds in joins.items() if g not in promoted},
                [source_first(c, adds, verify, (), ranks) for c, adds in new.items()], promoted,
                verify)


def _through(first: int, copy: int, adds: list[tuple[int, Partial]], have: set[int],
             head: int, through: Through, verify: Verify) -> list[tuple[int, Partial]]:
    """The partial members *adds* of *copy* (seen from it), a whole copy of a group's *first*
    in mirror image, seen from *head*: through the mirror when head is the first, else (head
    a promoted copy in the copy's orientation) verified directly; each once, none in *have*
    (updated), only groupable ones."""
    out = []
    for r, p in adds:
        if r in have or r == head:
            continue
        if p.inliers <= 0:
            continue  # a part view: the global fingerprint's evidence of a half, too weak
            # to stand for a pair no keypoints verify against the first (bench smooth pool:
            # a turned copy of another wallpaper joined a group of 39 through a flip_h copy)
        seen = through(first, copy, p) if head == first else verify(head, r)
        if seen is not None and groupable(seen):
            out.append((r, seen))
            have.add(r)
    return out


def once(groups: Sequence[Sequence[int]], joins: dict[int, list[tuple[int, Partial]]],
         new: list[tuple[int, list[tuple[int, Partial]]]],
         promoted: dict[int, tuple[int, list[tuple[int, Partial]]]],
         verify: Verify) -> Placed:
    """*joins*, *new* and *promoted* (as place returns them) with no picture shown twice: each
    picture lying inside another is the centre of its own new group (place), so the same
    photo headed two groups (its crop's, shown from the photo by source_first, and its own
    around its screenshot) and their shared members were listed in both (new-user trial of
    session 9: the plan was refused, "is in the plan twice").

    New groups with one first file are one group (its members in the order found), and go
    largest first (a photo with its crop and screenshot before its turned copy's group of
    the photo alone). A new group whose first file is in a group already (a global group's file or partial member,
    a promoted first, an earlier new group's first or member) is no group of its own: its
    members join that group, each verified against that group's first (groups stay stars),
    unless in it already; one that does not verify is left out. What stays shown in several
    groups is a picture that contains several others (a collage of different photos: a
    partial member of each of their groups, which are never merged); the plan lists it once
    (planner). Joins and promoted groups are returned as given."""
    owner: dict[int, object] = {}  # row -> the group it is shown in first: g, or ("new", first)
    for g, rows in enumerate(groups):
        for r in rows:
            owner.setdefault(r, g)
    for g in sorted({*joins, *promoted}):
        if g in promoted:
            owner.setdefault(promoted[g][0], g)
        for r, _ in (promoted[g][1] if g in promoted else joins[g]):
            owner.setdefault(r, g)
    out_joins = {g: list(adds) for g, adds in joins.items()}
    merged: dict[int, list[tuple[int, Partial]]] = {}
    for first, adds in new:
        have = merged.setdefault(first, [])
        have += [(r, p) for r, p in adds if r != first and all(r != h for h, _ in have)]
    kept: dict[int, list[tuple[int, Partial]]] = {}
    for first in sorted(merged, key=lambda c: -len(merged[c])):  # the most complete first
        adds = merged[first]
        at = owner.get(first)
        if at is None:
            kept[first] = adds
            owner[first] = ("new", first)
            for r, _ in adds:
                owner.setdefault(r, ("new", first))
            continue
        if isinstance(at, tuple):
            head, into = at[1], kept[at[1]]
        elif at in promoted:
            head, into = promoted[at][0], promoted[at][1]
        else:
            head, into = groups[at][0], out_joins.setdefault(at, [])
        inside = {head, *(r for r, _ in into)} | (set(groups[at]) if isinstance(at, int) else set())
        for r, _ in adds:
            if r in inside:
                continue
            seen = verify(head, r)
            if seen is not None and groupable(seen):
                into.append((r, seen))
                inside.add(r)
                owner.setdefault(r, at)
    return ({g: a for g, a in out_joins.items() if a}, [(c, a) for c, a in kept.items() if a],
            promoted)


def source_first(centre: int, adds: list[tuple[int, Partial]], verify: Verify,
                 copies: Sequence[int] = (), ranks: Ranks | None = None
                 ) -> tuple[int, list[tuple[int, Partial]]]:
    """A group around *centre* (its partial members *adds*, seen from it; its whole copies
    *copies*), with the most complete picture first: the partial member *centre* was cut
    from (is_source; the one of most inliers when several), so that a crop is never its
    picture's "original" nor the file a keep-the-first script keeps. Every other file must
    verify (groupable) against that member, or the group stays as found (centre first, the
    answer (centre, adds)): groups stay stars. A screenshot or collage that shows the centre
    shrunk is not its source: the centre stays first. A member the centre shows on a canvas
    of fill (on_canvas: the centre is its copy turned or skewed in place) comes first. A
    member whose covers are EVEN with the centre's comes first when *ranks* puts it first,
    unless it is the centre on a canvas of fill."""
    source = next(((r, p) for r, p in adds if is_source(p)), None)
    if source is None:  # the centre shows r on a canvas of fill: r is the picture
        source = next(((r, p) for r, p in adds if on_canvas(p.swapped())), None)
    if source is None and ranks is not None:
        source = next(((r, p) for r, p in adds
                       if abs(p.cover_a - p.cover_b) < EVEN and not on_canvas(p)
                       and ranks(centre, r)), None)
    if source is None:
        return centre, adds
    first, p = source
    rest = []
    for r in [*copies, *(r for r, _ in adds)]:
        if r == first:
            continue
        seen = verify(first, r)
        if seen is None or not groupable(seen):
            return centre, adds
        rest.append((r, seen))
    return first, [(centre, p.swapped()), *rest]


def b_first(p: Partial, b_ranks_first: Callable[[], bool]) -> bool:
    """In a group of pictures a and b alone (*p*: how they overlap, a as a), is b the first
    file, as place and source_first decide it? The centre is the picture the other shows on
    a canvas of fill, else the one lying inside the other; its member comes first when it is
    the centre's source, or the picture the centre shows on a canvas, or (covers EVEN) when
    whole copies rank it first (*b_ranks_first*: does b rank before a as whole copies do?).
    Used by query, so that its likely original is dedupe's first file."""
    a_centre = a_is_centre(p)
    seen = p if a_centre else p.swapped()
    member_first = (is_source(seen) or on_canvas(seen.swapped())
                    or (abs(seen.cover_a - seen.cover_b) < EVEN and not on_canvas(seen)
                        and (b_ranks_first() if a_centre else not b_ranks_first())))
    return member_first if a_centre else not member_first
