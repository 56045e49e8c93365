"""Turn matching pairs into duplicate groups, and pick each group's likely original. Pure.

Groups are stars, not chains (issue 10): a component of verified pairs is split so that every
member of a group is verified against the group's first file (:func:`star_groups`,
:func:`star_components`); one weak link cannot merge two families.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np

from .keep import size_class
from .layout import distance_matrix
from .model import COLOUR, LINKS_CHECK, FileRecord, PairMatch, Rule
from .quality import ijg_scale


class Links:
    """Which of the items 0..n-1 are already connected (union-find with path halving).

    Dedupe only needs connected components, so a candidate pair whose files are already
    linked through verified pairs need not be verified itself: in a family of k copies that
    is k - 1 verifications instead of k(k - 1)/2.
    """

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def linked(self, a: int, b: int) -> bool:
        return self.find(a) == self.find(b)

    def link(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb

    def components(self) -> list[list[int]]:
        """The components of two or more items: members ascending, by smallest member."""
        groups: dict[int, list[int]] = {}
        for x in range(len(self.parent)):
            groups.setdefault(self.find(x), []).append(x)
        return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def components(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Return the connected components (size >= 2) of the graph on 0..n-1 with these edges.

    The output is deterministic whatever the order of the pairs: members sorted ascending,
    groups sorted by their smallest member.
    """
    links = Links(n)
    for a, b in pairs:
        links.link(a, b)
    return links.components()


def original_key(record: FileRecord, name_root: bool = False, outnumbered: bool = False,
                 degraded: bool = False) -> tuple:
    """Sort key that puts the likely original first.

    A file read only in part (``record.warning``: truncated, "97% of the rows decoded") is
    never the likely original beside intact copies: it is a damaged copy. A lossless copy of a JPEG in the same results (``record.pixels_of``: it shows exactly
    that JPEG's pixels, so it was saved from it) comes after the files that are not (their
    trim boxes may differ by a hair: one was measured on a reduced-scale decode). Then the
    original is usually the copy with the most picture (pixels inside any added border);
    among equals, one that is not a visibly degraded re-encode (*degraded*: a JPEG that
    quantises clearly more coarsely than another JPEG of as much picture and colour, see
    clearly_degraded: it cannot be the source of the finer copy, whatever its file time, name
    or metadata say), then the one whose file says who took it (camera, EXIF date, artist), then the
    one without an added border, then a colour file before a grey one before a bilevel one
    (``metadata["colour"]``, see colour_rank: a grey or black-and-white copy is made from a
    colour picture, never the reverse), then a lossless file before a lossy one only when the lossy
    one has no more exact copies in the group (*outnumbered*: a lossless file with fewer
    copies than a lossy version of the picture, see exact_copies: the version people kept
    copies of is the one they made, an edit saved once as PNG is not), then the
    oldest (copies are made later), then the one whose
    name the others extend (``photo.jpg`` before ``photo-small.jpg`` or ``photo (1).jpg``),
    then the least recompressed copy (``fidelity``), then the path so that ties are deterministic.
    """
    meta = record.metadata
    has_origin = bool(meta.get("taken") or meta.get("camera_model") or meta.get("artist"))
    # Copies made within the same minute (a download, a checkout) are equally old.
    minute = record.mtime_ns // 60_000_000_000
    return (record.warning is not None, record.pixels_of is not None, -size_class(record), degraded,
            not has_origin, record.content < 0.98, colour_rank(record), outnumbered, minute,
            not name_root, fidelity(record), record.path)


#: colour_rank of each model.COLOUR value; a file without one is a colour file (or was
#: indexed before it was recorded: ranked as before).
COLOUR_RANKS = {"grey": 1, "bilevel": 2}


def colour_rank(record: FileRecord) -> int:
    """How much colour a file stores, most first: 0 colour (or not recorded), 1 grey levels,
    2 black and white (``metadata["colour"]``, recorded at index time from the Pillow mode)."""
    return COLOUR_RANKS.get(record.metadata.get(COLOUR, ""), 0)


def exact_copies(records: Sequence[FileRecord]) -> list[int]:
    """For each record, how many records of *records* (itself included) are exact copies of
    it, told without reading a file: the same format, pixel size and byte size (two different
    encodings of one size in bytes are rare; ours). A file and its backups count together."""
    counts: dict[tuple, int] = {}
    keys = [(r.format, r.width, r.height, r.size) for r in records]
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    return [counts[k] for k in keys]


#: Formats that keep every pixel as decoded.
LOSSLESS_FORMATS = frozenset({"PNG", "BMP", "TIFF", "PPM", "QOI"})


def fidelity(record: FileRecord) -> tuple[int, int]:
    """Sort key of how little a copy was recompressed, least first: a lossless file, then a
    JPEG by its estimated quality (from its quantisation tables, recorded at index time as
    ``metadata["jpeg_quality"]``), then other formats by file size. File size is the last
    resort only: it counts metadata too, so junk EXIF would make a copy look better."""
    if record.format in LOSSLESS_FORMATS:
        return (0, 0)
    quality = record.metadata.get("jpeg_quality", "")
    if quality.isdigit():
        return (1, -int(quality))
    return (2, -record.size)


#: A JPEG whose quantisation is at least this many times as coarse as another's (the ratio of
#: their IJG scales, quality.ijg_scale: quality 92 -> 16%, 85 -> 30%, 80 -> 40%, 35 -> 143%)
#: is a visibly degraded copy beside it: quality 92 against 84 or below, 90 against 80, 75
#: against 50, 50 against 25. Ours, measured on generated pictures at three sizes
#: (benchmarks/jpeg_fidelity_gap.py; RESULTS.md, "A worse JPEG named the original", session
#: 10): from twice as coarse on, a copy made from the finer file has a median 1.32x its luma
#: error or more (2.4 dB) for every pair of qualities, 1.08x on the least affected picture;
#: pairs 1.25x apart (92/90, 88/85, 80/75, 60/50) 1.19x or less, too close to overrule file
#: times and names. The pairs between (92/88, 92/85: 1.4-1.7x) are left to time and name
#: too, a margin for encoders whose tables are not IJG-scaled (quality.py's estimate, exact
#: for libjpeg/Pillow files, only ranks theirs).
CLEAR_STEP = 2.0


def jpeg_scale(record: FileRecord) -> float | None:
    """How coarsely a JPEG quantises (quality.ijg_scale of ``metadata["jpeg_quality"]``, in
    percent of Annex K's tables), or None for another format or a JPEG without a recorded
    quality."""
    quality = record.metadata.get("jpeg_quality", "")
    if record.format != "JPEG" or not quality.isdigit():
        return None
    return ijg_scale(int(quality))


def clearly_degraded(records: Sequence[FileRecord]) -> list[bool]:
    """For each record, True when it is a visibly degraded re-encode beside another record of
    the same picture: a JPEG that quantises at least CLEAR_STEP times as coarsely as an intact
    JPEG (not a lossless copy's source twin) of as much picture (the same size_class) and at
    least as much colour (colour_rank). A heavier re-encode cannot be the source of the finer
    copy: what it lost is not in it. (The reverse can happen: a coarse file re-saved at a
    higher quality has fine tables and the coarse file's losses; keeping it then loses nothing
    the coarse file had, while keeping the coarse file could lose the only good copy.) Only
    JPEGs are weighed: lossless against lossy is the outnumbered rule's (see original_key)."""
    scales = [jpeg_scale(r) for r in records]
    classes = [size_class(r) for r in records]
    finest: dict[int, list[tuple[int, float]]] = {}  # size class -> [(colour rank, scale)]
    for r, s, c in zip(records, scales, classes):
        if s is not None and r.warning is None and r.pixels_of is None:
            finest.setdefault(c, []).append((colour_rank(r), s))
    return [s is not None and any(rank <= colour_rank(r) and s >= CLEAR_STEP * scale
                                  for rank, scale in finest.get(c, ()))
            for r, s, c in zip(records, scales, classes)]


def order_members(records: Sequence[FileRecord]) -> list[FileRecord]:
    """Sort a group's files with the likely original first (see original_key)."""
    keys = original_keys(records)
    order = sorted(range(len(records)), key=keys.__getitem__)
    return [records[i] for i in order]


#: What each place of original_key says of the file that comes first when it is the first
#: place two files differ (answers.reasons names the one that decided, never the list).
ORIGINAL_KEY_WORDS = (
    "intact", "not a lossless copy saved from another copy", "more picture",
    "not a visibly heavier JPEG re-encode", "its file says who took it", "no added border",
    "more colour", "lossless, and not outnumbered by a lossy version's copies",
    "older file (by a minute or more)", "shorter name (extended by theirs)",
    "less recompressed", "path order (a tie on everything else)")


def deciding_place(first: tuple, other: tuple) -> int | None:
    """The first place where two original_key values differ, when *first* sorts before
    *other* there; None when they are equal or *other* sorts first."""
    for i, (x, y) in enumerate(zip(first, other)):
        if x != y:
            return i if x < y else None
    return None


def original_keys(records: Sequence[FileRecord]) -> list[tuple]:
    """original_key of each record, with the flags it takes measured over all *records*."""
    stems = [os.path.splitext(os.path.basename(r.path))[0] for r in records]
    # A stem that another (different) stem extends: in sorted order the stems that start
    # with s come right after it, so looking at the next distinct stem is enough (k log k,
    # not k^2: groups of thousands of frames).
    distinct = sorted(set(stems))
    extended = {s for s, nxt in zip(distinct, distinct[1:]) if nxt.startswith(s)}
    roots = [s in extended for s in stems]
    copies = exact_copies(records)
    lossy = max((c for r, c in zip(records, copies) if r.format not in LOSSLESS_FORMATS),
                default=0)
    outnumbered = [r.format in LOSSLESS_FORMATS and c < lossy for r, c in zip(records, copies)]
    degraded = clearly_degraded(records)
    return [original_key(*rr) for rr in zip(records, roots, outnumbered, degraded)]


#: A member that fails against its group's first file still joins when it is verified against at
#: least this many members that are themselves verified DIRECTLY against the first (two
#: independent pieces of evidence; star_components). One link is what chains families.
#: Calibrated by replaying the candidate pairs of both bench pools: with links into directly
#: verified members, no copy of one smooth wallpaper joined another's group, while on the dev
#: pool two links bring back the contrast, bright, border and logo copies that fail against an
#: upscaled first file (easy 99.8 -> 99.9, medium 98.9 -> 99.6). Counting links into members
#: that joined by links themselves lets them grow a chain: one rotated copy of xfce-blue joined
#: the spacefun group (37 false pairs). Three links lose medium recall again (99.1).
TWO_LINKS = 2


def star_groups(members: Sequence[int], verify_against: Callable[[int, Sequence[int]], set[int]],
                edges: Iterable[tuple[int, int]] = ()) -> list[list[int]]:
    """Split a component into star groups: every member verified against its group's first.

    *members* come ordered with the likely original first. The first becomes a group's
    keeper; the members *verify_against(keeper, others)* accepts join it; the rest are split
    again into the components that *edges* (verified pairs) leave among them and processed
    the same way. One weak link can no longer merge two families: a member joins a group only
    on its own evidence against the group's first file. Groups of one are dropped.
    """
    out: list[list[int]] = []
    todo = [list(members)]
    while todo:
        rest = todo.pop()
        if len(rest) < 2:
            continue
        keeper, others = rest[0], rest[1:]
        ok = verify_against(keeper, others)
        group = [keeper] + [m for m in others if m in ok]
        if len(group) >= 2:
            out.append(group)
        left = [m for m in others if m not in ok]
        if len(left) < 2:
            continue
        pos = {m: i for i, m in enumerate(left)}
        links = Links(len(left))
        for x, y in edges:
            if x in pos and y in pos:
                links.link(pos[x], pos[y])
        for comp in links.components():
            todo.append([left[i] for i in comp])  # ascending = the original order kept
    return out


#: Verifies pairs of rows under a rule, all in one batch: (rule, [(a, b), ...]) -> the pairs
#: that pass, keyed as given (decide.verify_pairs on one side).
PairVerifier = Callable[[Rule, list[tuple[int, int]]], dict[tuple[int, int], PairMatch]]
#: Says which pairs of rows the verifier could pass at all under a rule (bool per pair, from
#: the hashes: decide.verifiable); the others are not verified, and not remembered.
PairPossible = Callable[[Rule, list[tuple[int, int]]], np.ndarray]


def star_components(components: list[list[int]], found: Sequence[PairMatch], rule: Rule,
                    verify: PairVerifier, hashes: np.ndarray, possible: PairPossible | None = None
                    ) -> tuple[list[list[int]], dict[tuple[int, int], PairMatch]]:
    """Turn components of verified pairs (rows, ordered likely original first) into star
    groups (star_groups): every member verified directly against its group's first.

    *found* are the pairs the search verified (their a/b are rows), *hashes* the rows' hash
    rows (layout.N_HASHES columns; for the distance of a member joined through links).
    Returns the groups and the evidence of each (first, member) pair. A pair already verified
    is not verified again; the rest are verified in one batch per round.

    With *possible*, pairs it rules out are taken as failed without asking *verify* and
    without being recorded (in a component of k files split into g groups, a star group's
    first is tried against all the rest: about k g / 2 pairs, nearly all far apart in their
    hashes; what is held and verified is then the pairs that are near, issue 15). The groups
    are the same when *possible* only rules out pairs *verify* would fail.
    """
    direct = {(min(p.a, p.b), max(p.a, p.b)): p for p in found}
    edges: dict[int, list[tuple[int, int]]] = {}
    comp_of = {r: c for c, comp in enumerate(components) for r in comp}
    for a, b in direct:
        if a in comp_of:
            edges.setdefault(comp_of[a], []).append((a, b))
    evidence: dict[tuple[int, int], PairMatch] = {}

    neighbours: dict[int, set[int]] = {}
    for a, b in direct:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    # The second chance: every test but the local window one (which a border or crop cut
    # from the small stored thumbnail can fail by a hair) against the first file itself.
    relaxed = replace(rule, min_window=-1.0)

    tried: dict[tuple[bool, tuple[int, int]], PairMatch | None] = {}

    def verify_many(rule_: Rule, todo: list[tuple[int, int]]) -> None:
        """Verify pairs not tried yet with this rule, all in one batch (one thumbnail load)."""
        want = [p for p in todo if (rule_ is rule, p) not in tried]
        if possible is not None and want:
            # Pairs ruled out are not recorded: asked again if met again (cheap, and the
            # record of every pair tried was most of a large family's memory).
            want = [p for p, ok in zip(want, possible(rule_, want).tolist()) if ok]
        passed = verify(rule_, want) if want else {}
        for p in want:
            tried[(rule_ is rule, p)] = passed.get(p)

    def verify_against(keeper: int, others: Sequence[int]) -> set[int]:
        ok = set()
        todo = [(keeper, m) for m in others if (min(keeper, m), max(keeper, m)) not in direct]
        verify_many(rule, todo)
        for m in others:
            p = direct.get((min(keeper, m), max(keeper, m))) or tried.get((True, (keeper, m)))
            if p is not None:
                evidence[(keeper, m)] = p
                ok.add(m)
        # Two more ways in, each of two pieces of evidence, so a single weak link still cannot
        # chain: (1) a member that failed only the window test against the first joins when it
        # is also verified against a member that passed in full; (2) a member verified against
        # at least TWO_LINKS members that are themselves verified directly against the first.
        direct_ok = sorted(ok)
        # Links of the members that failed into the directly verified ones: pairs the search
        # verified, else verified now (one batch; the search skips pairs already linked).
        fail = [m for m in others if m not in ok]
        verify_many(rule, [(j, m) for m in fail for j in direct_ok
                           if (min(j, m), max(j, m)) not in direct])
        links_of = {m: [p for p in (direct.get((min(j, m), max(j, m))) or tried.get((True, (j, m)))
                                    for j in direct_ok) if p is not None] for m in fail}
        while True:
            second = [(keeper, m) for m in others if m not in ok and neighbours.get(m, set()) & ok]
            verify_many(relaxed, second)
            passed = [(k, m) for k, m in second if tried.get((False, (k, m))) is not None]
            two = [m for m in fail if m not in ok and (keeper, m) not in passed
                   and len(links_of[m]) >= TWO_LINKS]
            if not passed and not two:
                return ok
            for k, m in passed:
                p = tried[(False, (k, m))]
                assert p is not None
                evidence[(k, m)] = replace(p, checks=tuple(c for c in p.checks if c != "window")
                                           + ("verified with a member",))
                ok.add(m)
            for m in two:
                # The member's evidence is its links: the weakest one's similarity and checks.
                weakest = min(links_of[m], key=lambda p: p.similarity if p.similarity is not None else 1.0)
                dist, orient = distance_matrix(hashes[[keeper, m]])
                evidence[(keeper, m)] = PairMatch(
                    keeper, m, int(dist[0, 1]), int(orient[0, 1]), weakest.similarity,
                    weakest.checks + (f"verified with {len(links_of[m])} {LINKS_CHECK}",))
                ok.add(m)

    # First round for every component at once: each member against the component's first, in
    # one batch; only components where someone fails go on, one by one (rare).
    verify_many(rule, [(comp[0], m) for comp in components if len(comp) > 2 for m in comp[1:]
                       if (min(comp[0], m), max(comp[0], m)) not in direct])
    # ... and the second round too, for every component with a member that failed: its links
    # into the members that passed, and the relaxed test against the first where it has a
    # verified neighbour among them (what verify_against asks for first; then cached).
    links_todo, relaxed_todo = [], []
    for comp in components:
        if len(comp) <= 2:
            continue
        k = comp[0]
        passed = {m for m in comp[1:] if (min(k, m), max(k, m)) in direct or tried.get((True, (k, m)))}
        for m in comp[1:]:
            if m not in passed:
                links_todo += [(j, m) for j in sorted(passed) if (min(j, m), max(j, m)) not in direct]
                if neighbours.get(m, set()) & passed:
                    relaxed_todo.append((k, m))
    verify_many(rule, links_todo)
    verify_many(relaxed, relaxed_todo)
    stars: list[list[int]] = []
    for c, comp in enumerate(components):
        if len(comp) == 2:  # its one pair was verified directly
            stars.append(comp)
            p = direct.get((min(comp), max(comp)))
            if p is not None:
                evidence[(comp[0], comp[1])] = p
            continue
        stars += star_groups(comp, verify_against, edges.get(c, ()))
    return stars, evidence
