"""The records that cross module boundaries: frozen dataclasses, no numpy import.

Fingerprints, match rules and their presets, candidate and verified pairs, file records,
query results, groups and the report header all live here, so every stage speaks one
vocabulary. Arrays inside records (``Fingerprint.hashes``) are typed for readers only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is only named in annotations here, never imported
    import numpy as np


def display(path: bytes) -> str:
    """Return a stored (bytes) path as str; undecodable bytes survive as surrogate escapes."""
    return os.fsdecode(path)


#: The metadata key under which the index keeps why a file was read only in part.
DAMAGED = "damaged"
#: The metadata key of a JPEG's head digest (decoders.pillow.jpeg_head): files that share it
#: are the same bytes up to HEAD_BYTES (damaged.py looks for damaged copies among them).
JPEG_HEAD = "jpeg_head"
#: The metadata key that says a file stores no colour: "grey" (Pillow modes L, LA, I, I;16,
#: F: one channel of levels) or "bilevel" (mode 1: black and white). Absent for colour files
#: (and for files indexed before it was recorded). A grey or bilevel copy of a colour picture
#: is made from it, never the reverse: group.original_key ranks colour first, other things
#: equal.
COLOUR = "colour"

@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Everything imgfind stores about a picture's content.

    ``hashes`` is a uint64 array in the hash layout (see layout.py): the whole picture and its
    trimmed view in all eight orientations, then the crop views (upright only), then dHash.
    """

    phash: int  # upright pHash of the whole picture: what imagehash.phash would give
    dhash: int  # upright dHash of the whole picture
    hashes: np.ndarray  # uint64, (layout.N_HASHES,)
    trim: tuple[float, float, float, float]  # trimmed box as fractions (left, top, right, bottom)
    thumb: bytes  # THUMB_SIZE x THUMB_SIZE greyscale of the whole upright picture, row-major
    flat: bool  # too little detail to tell apart from other flat pictures
    #: Cb, Cr of the upright picture at recipe.COLOUR_SIZE^2 (uint8, 2 * COLOUR_SIZE^2 bytes,
    #: Cb plane then Cr plane), or b"" for a picture stored without colour (greyscale modes).
    #: Stored after the thumbnail (fingerprint.stored_thumb / thumb_parts).
    colour: bytes = b""


#: The default rule's colour threshold (Rule.min_colour; verify.colour_similarity scores).
MIN_COLOUR = 0.90


@dataclass(frozen=True, slots=True)
class Rule:
    """How near two pictures must be to count as copies.

    A rule is *plain* (``min_similarity`` None: a pHash distance within ``threshold`` bits
    decides) or *verified* (candidates within ``threshold`` are checked on their thumbnails).
    ``name`` is the preset the rule comes from, if any (shown in reports).
    """

    threshold: int  # pHash Hamming distance for candidates (0..64)
    min_similarity: float | None  # verification: minimum correlation; None = pHash alone
    min_window: float = 0.40  # verification: minimum local agreement (window_similarity)
    name: str | None = field(default=None, compare=False)
    #: verification: minimum colour-layout agreement (verify.colour_similarity) when both
    #: views have colour
    min_colour: float = MIN_COLOUR

    @property
    def verified(self) -> bool:
        """True when candidates are verified on thumbnails, False for the plain pHash rule."""
        return self.min_similarity is not None


#: Named operating points. "normal" is the default, calibrated on ../shared/bench (README).
PRESETS: dict[str, Rule] = {
    "strict": Rule(8, 0.85, 0.45, "strict"),
    "normal": Rule(10, 0.80, 0.40, "normal"),
    "loose": Rule(10, 0.80, 0.35, "loose"),
}
DEFAULT_PRESET = "normal"


@dataclass(frozen=True, slots=True)
class PairMatch:
    """A decided pair: rows a and b of the two fingerprint sets, and how b relates to a."""

    a: int
    b: int
    distance: int  # layout.pair_distance of the two rows
    orientation: int  # b looks like a transformed by layout.ORIENTATIONS[orientation]
    similarity: float | None  # verified similarity (None: plain rule, or two flat pictures)
    #: the checks the pair passed ("hash", "similarity", "texture", "frame", "window",
    #: "colour", "flat", "flat_colour", ...), in the order they were made
    checks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LocalFeatures:
    """A picture's local features (keypoints.extract): ORB keypoints of its detail picture.

    ``xy`` holds ``n`` (x, y) positions as uint16 little-endian fractions of the detail
    picture's width and height (0..65535); ``desc`` ``n`` descriptors as uint64 little-endian
    (recipe.DESCRIPTOR_BITS of ORB's 256). ``width``/``height`` are the detail picture's
    pixels: positions are compared in them (the aspect ratio matters to angles and areas).
    """

    width: int
    height: int
    xy: bytes
    desc: bytes

    @property
    def n(self) -> int:
        return len(self.desc) // 8


@dataclass(frozen=True, slots=True)
class Partial:
    """How two pictures *a* and *b* overlap, from matched keypoints verified by RANSAC.

    ``cover_a`` is the fraction of picture a's area that shows content also in b, ``cover_b``
    the same for b; ``box_a``/``box_b`` the overlap's bounding box in each, as fractions
    (left, top, right, bottom). ``scale`` is how much larger the shared content is in b than
    in a (linear, in each file's own pixels: a 70% crop of a picture, stored at the same
    pixel density, has 1.0; a photo shrunk into a screenshot < 1), ``rotation`` the angle
    (degrees, counter-clockwise) by which the content is turned in b, ``model`` the RANSAC
    model that explained the matches ("similarity" or "homography"), ``inliers`` how many.
    ``seen_a``/``seen_b``: how much of the overlap's box the inliers themselves span in each
    picture (the smaller of the width and height fractions of their bounding box; 1.0 when
    not measured, as for a part view): an overlap vouched for by keypoints in one corner of it
    only is an overlap of that corner. ``agree``: how well the two pictures' stored
    thumbnails agree over the whole overlap, mapped by the fitted transform (partial.agreement:
    1.0 identical, 0 unrelated; 1.0 when not measured). ``stretch``: the longer over the
    shorter axis scale of the transform at the overlap's centre (1.0: no stretch; a collage
    cell squeezed to fit reads 2.0); ``keystone``: how far the transform departs from a flat
    (affine) map at the overlap's corners, as a fraction of b's diagonal (0.0 for a
    similarity or a stretch; a perspective view a few percent). Both 'not measured' when at
    their defaults; stretch reads the same from either picture, keystone about the same.
    ``beyond_a``/``beyond_b``: how much picture each has outside the overlap, as the density
    of its keypoints there over its density overall (partial.beyond: about 1.0 where the
    picture goes on past the overlap, as a crop's source does; near 0 where it is a fill, as
    the black, white or blurred corners of a copy turned or skewed on its own canvas are, or
    the bars around a picture shown letterboxed); 1.0 when there is too little outside to
    tell or it was not measured. ``spread_a``/``spread_b``: how far the grey levels outside
    the overlap spread (partial.spread: their interquartile range, grey levels of the
    thumbnail; 0.0 when nothing lies outside or it was not measured): a canvas fill is
    near-uniform (bars, margins, black or white corners), a blurred background is not.
    ``mirrored``: b shows the content in mirror image (the fitted map reverses orientation:
    a homography whose linear part has a negative determinant); ``rotation`` is then the turn
    after mirroring a left to right (b = turn(mirror(a))), so a mirrored copy turned 8
    degrees reads 8, not the 172 a rotation of the reflection reads.
    """

    cover_a: float
    cover_b: float
    box_a: tuple[float, float, float, float]
    box_b: tuple[float, float, float, float]
    scale: float
    rotation: float
    model: str
    inliers: int
    seen_a: float = 1.0
    seen_b: float = 1.0
    agree: float = 1.0
    stretch: float = 1.0
    keystone: float = 0.0
    beyond_a: float = 1.0
    beyond_b: float = 1.0
    spread_a: float = 0.0
    spread_b: float = 0.0
    mirrored: bool = False

    def swapped(self) -> Partial:
        """The same overlap seen from b. (b = turn(t, mirror(a)) gives a = turn(t, mirror(b)):
        a mirrored turn keeps its sign both ways; a plain turn is reversed.)"""
        return Partial(self.cover_b, self.cover_a, self.box_b, self.box_a,
                       round(1.0 / self.scale, 4) if self.scale else 0.0,
                       self.rotation if self.mirrored else -self.rotation,
                       self.model, self.inliers, self.seen_b, self.seen_a, self.agree,
                       self.stretch, self.keystone, self.beyond_b, self.beyond_a,
                       self.spread_b, self.spread_a, self.mirrored)


@dataclass(frozen=True, slots=True)
class FileStat:
    """A file the crawler found: where it is and the stat fields that say it changed."""

    path: bytes  # absolute, os.fsencode'd: lossless for names that are not UTF-8
    size: int
    mtime_ns: int
    dev: int = 0  # st_dev and st_ino: which file this is, whatever name reached it
    ino: int = 0  # (0: not known, e.g. a FileStat made by hand)
    ctime_ns: int = 0  # changes with a chmod or a rewrite whose mtime was restored

    @property
    def identity(self) -> tuple[int, int]:
        """(device, inode): one file reached by several paths has one identity."""
        return (self.dev, self.ino)


@dataclass(frozen=True, slots=True)
class Known:
    """What the index remembers of a file, enough to decide whether to read it again.

    ``dev``, ``ino`` and ``ctime_ns`` are None for rows written before schema 2.
    """

    id: int
    path: bytes
    size: int
    mtime_ns: int
    recipe: int | str | None  # recipe.recipe_id() of its fingerprint (an int before it); None: unreadable
    error: str | None  # why it could not be fingerprinted
    dev: int | None = None
    ino: int | None = None
    ctime_ns: int | None = None


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What decoding learned about a file besides its fingerprint."""

    format: str
    width: int
    height: int
    mode: str
    frames: int
    orientation: int
    metadata: dict[str, str] = field(default_factory=dict)  # EXIF/PNG text: creator, dates
    warning: str | None = None  # read, but not entirely: "truncated: 98% of the rows decoded"

    @property
    def stored_metadata(self) -> dict[str, str]:
        """The metadata the index keeps: the file's own, and ``damaged`` (the warning) when it
        was read only in part (FileRecord.warning reads it back)."""
        return {**self.metadata, DAMAGED: self.warning} if self.warning else self.metadata


@dataclass(frozen=True, slots=True)
class Fingerprinted:
    """The outcome of fingerprinting one file: a fingerprint, or the reason there is none."""

    stat: FileStat
    info: ImageInfo | None
    fingerprint: Fingerprint | None
    error: str | None = None
    #: local features (None: too few keypoints, or none made): the partial-match stage
    local: LocalFeatures | None = None
    #: a query's keypoints spread over its picture too (keypoints.extract's spread; None
    #: unless asked): searched where the pictures found inside it leave a region unexplained
    spread: LocalFeatures | None = None


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What one ``Index.update`` did; ``problems`` lists (path, reason) for unreadable files,
    ``skipped`` (reason, count) for files of a known image format that no installed decoder
    reads (the reason names the extra to install).

    Each file crawled is counted once: ``new``, ``changed`` and ``unchanged`` count readable
    files (fingerprinted now, or kept as they were); ``unreadable`` counts every crawled file
    the index holds as unreadable after the run, read now or recorded unreadable before and
    unchanged since (``problems`` lists both). ``removed`` counts stored files that are gone.
    """

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    unreadable: int = 0
    problems: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    skipped: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file's row as the index stores it, fingerprint and thumbnail included (for merging
    indexes and exporting them). The fingerprint fields are None for an unreadable file.

    ``phash``/``dhash`` are unsigned 64-bit; ``hashes`` is the uint64 little-endian hash
    columns (layout.N_HASHES of them), ``trim`` 4 float32 little-endian, ``thumb`` the stored
    thumbnail bytes (fingerprint.stored_thumb), ``local`` its keypoints.
    """

    path: bytes
    size: int
    mtime_ns: int
    indexed_at: float  # seconds since the epoch
    recipe: str | None
    error: str | None
    format: str | None
    width: int | None
    height: int | None
    metadata: str | None  # JSON text
    dev: int | None
    ino: int | None
    ctime_ns: int | None
    phash: int | None = None
    dhash: int | None = None
    hashes: bytes | None = None
    trim: bytes | None = None
    flat: bool | None = None
    thumb: bytes | None = None
    local: LocalFeatures | None = None  # the keypoints (partial matching), when stored


@dataclass(frozen=True, slots=True)
class MergeStats:
    """What one merge of another index did: files added, replaced (the other's record was
    newer) and kept (this index's record was newer or the same)."""

    source: str
    added: int = 0
    replaced: int = 0
    kept: int = 0


@dataclass(frozen=True, slots=True)
class FileRecord:
    """An indexed image as the store knows it."""

    id: int
    path: str
    size: int  # bytes
    mtime_ns: int
    width: int
    height: int
    format: str
    metadata: dict[str, str] = field(default_factory=dict)
    content: float = 1.0  # fraction of the picture left after trimming uniform borders
    #: On disk when the result was made: "present", "missing" (deleted, or no longer a file)
    #: or "unavailable" (its indexed root is not there: an unplugged drive; the row is kept).
    state: str = "present"
    same_file_as: str | None = None  # this name reaches the file of that path (a link)
    #: this file shows exactly the pixels of the JPEG at that path (a lossless copy saved
    #: from it: same_pixels.py); such a copy is never the likely original beside its JPEG
    pixels_of: str | None = None
    #: Other names of this very file that index runs reached and that still reach it: (path,
    #: "hard link" or "symbolic link"). The same file, never a copy that could be removed.
    other_names: tuple[tuple[str, str], ...] = ()

    @property
    def present(self) -> bool:
        return self.state == "present"

    @property
    def warning(self) -> str | None:
        """Why the file was read only in part ("truncated: 94% of the rows decoded"), or None
        for an intact file: a damaged copy, never the likely original or the kept file."""
        return self.metadata.get(DAMAGED)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def content_pixels(self) -> int:
        """Pixels of the picture itself: a copy with a border added is not 'larger'."""
        return round(self.pixels * self.content)


@dataclass(frozen=True, slots=True)
class PageRef:
    """A web page that shows an image file (recorded by ``imgfind pages``)."""

    url: str
    title: str
    how: str  # "img", "srcset", "css", "link", "meta", or "resized copy <url>" (WordPress)
    image_url: str  # the URL the page uses for it


@dataclass(frozen=True, slots=True)
class Match:
    """One indexed file that matches a query, with how it relates to the query."""

    file: FileRecord
    distance: int  # smallest pHash Hamming distance over views and orientations
    relation: str  # e.g. "same orientation", "mirrored", "rotated 90° clockwise"
    similarity: float | None  # verified similarity of aligned thumbnails (None: not verified)
    larger: bool  # more pixels than the query
    likely_original: bool = False
    checks: tuple[str, ...] = ()  # the checks the pair passed (PairMatch.checks)
    #: a partial match (found by local features, not by the global fingerprint): how the
    #: query (a) and this file (b) overlap; None for a global match
    partial: Partial | None = None
    pages: tuple[PageRef, ...] = ()  # web pages that show this file (Index.with_pages)


#: The relations (layout.ORIENTATION_NAMES) of whole copies in mirror image (layout.reflects),
#: spelled out here so that the reports need not import layout (numpy).
MIRROR_RELATIONS = frozenset(("mirrored", "flipped upside down", "transposed", "transverse"))
#: The relation of a group's first file when it is the picture its whole copies were cut from
#: (Group.first_partial), as the plan and the CSV both say it.
PARTIAL_HEAD = "partial: the picture the whole copies were cut from"
#: PairMatch.checks of a member that joined its group through other members instead of
#: its own verification against the group's first file (group.star_components: the end of
#: "verified with N members verified against the first").
LINKS_CHECK = "members verified against the first"
#: Member.checks of a member verified against the file that headed its group before the
#: group was shown from another of its files (index._shown_from); its distance is measured
#: against the file shown first now, which it was not verified against.
FORMER_FIRST_CHECK = "verified against the group's former first file"


@dataclass(frozen=True, slots=True)
class Member:
    """One file of a duplicate group, with its distance to the group's first file."""

    file: FileRecord
    distance: int
    relation: str
    #: verified similarity to the group's first file (None for the first itself, or a flat
    #: picture matched on its thumbnail) and the checks that pair passed (PairMatch.checks)
    similarity: float | None = None
    checks: tuple[str, ...] = ()
    #: a partial member (found by local features): how the group's first file (a) and this
    #: one (b) overlap. A partial member may be a partial member of other groups too.
    partial: Partial | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """A set of files that are copies of one picture; ``members[0]`` is the likely original."""

    members: tuple[Member, ...]
    #: largest Hamming distance between any two of the group's first file and the members
    #: the pHash rule joined (same-pixel twins at 0); members joined by a test of their own
    #: are not counted: partial members (their ``partial`` set) and damaged copies (relation
    #: "damaged copy"), so a group of such members only has 0
    max_distance: int
    #: the first file is a picture shown first by partial matching (the picture the others
    #: were cut from), not a whole copy of the others: the members without ``partial`` after
    #: it are whole copies of each other, their distance and relation measured against the
    #: first of them (members[1]), and a plan keeps or removes among those only (planner)
    first_partial: bool = False


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The answer to one reverse image search."""

    path: str
    width: int
    height: int
    size: int  # bytes
    format: str
    metadata: dict[str, str]
    matches: tuple[Match, ...]
    original: str  # the likely original among the query and its matches
    #: The indexed path that is this very file (the query itself, or another name of it: a
    #: hard link, an aliased folder), left out of the matches; None when it is not indexed.
    same_file: str | None = None
    pages: tuple[PageRef, ...] = ()  # web pages that show the query file itself (Index.with_pages)
    mtime_ns: int = 0  # the query file's modification time
    content: float = 1.0  # fraction of the query's picture inside any added border
    #: The likely original's record when it is a match (None: the query itself); kept when
    #: --limit leaves it out of the matches shown, so the answer does not depend on the limit.
    original_file: FileRecord | None = None
    #: Every match on disk the answers weigh (whole copies, and pictures the query lies
    #: wholly inside), before --limit cut the matches: the biggest copy and the original's
    #: reasons do not depend on the limit. Empty: weigh the matches.
    weighed: tuple[FileRecord, ...] = ()
    #: True when the likely original is a picture that contains the query (the query is a
    #: crop of it or lies inside it): a partial match, not a whole copy.
    original_contains: bool = False
    #: True when the likely original is a partial match the query shows on a canvas of fill:
    #: the query is a copy of it turned or skewed on its own canvas (partial_groups.whole and
    #: b_first), or a screenshot that letterboxes or frames it (on_canvas).
    original_upright: bool = False
    #: The query shows exactly the pixels of this JPEG among the matches (a lossless copy
    #: saved from it: same_pixels.py); None otherwise.
    pixels_of: str | None = None


@dataclass(frozen=True, slots=True)
class ReportHeader:
    """What a report says about itself: document format, program version, the rule used."""

    format: str  # e.g. "imgfind-dedupe/1"
    version: str
    rule: Rule


@dataclass(frozen=True, slots=True)
class Credit:
    """One statement of who made a picture, and which copies make it (answers.credits)."""

    field: str  # "artist", "copyright", "creator (XMP)", "camera", "captured", "gps", ...
    value: str
    paths: tuple[str, ...]  # the copies whose metadata says it (the query included)


@dataclass(frozen=True, slots=True)
class Answer:
    """What one reverse search says about a picture (answers.summarize, from the records)."""

    biggest: str  # the copy with the most pixels (the query or a match)
    biggest_width: int
    biggest_height: int
    factor: float  # its linear scale against the query: sqrt(pixels / query pixels)
    original: str  # the likely original (QueryResult.original)
    reasons: tuple[str, ...]  # why that one, in words
    places: tuple[tuple[str, tuple[str, ...]], ...]  # (folder, file names) of every match
    credits: tuple[Credit, ...]  # who made it, as the copies' metadata says
    pages: tuple[tuple[PageRef, str], ...]  # (web page, the copy it shows)


@dataclass(frozen=True, slots=True)
class SitePage:
    """One web page read from a local site copy (pages.read_site): what it shows."""

    url: str
    title: str
    source: str  # the local HTML or WXR file
    images: tuple[tuple[str, str, str], ...]  # (local image path, URL used, how)


@dataclass(frozen=True, slots=True)
class SiteReading:
    """What reading a site found: its pages, and the references that lead to no local file."""

    pages: tuple[SitePage, ...]
    external: int = 0  # image URLs on another site (or outside the base URL)
    missing: tuple[str, ...] = ()  # image URLs under the base URL with no local file
    unreadable: tuple[tuple[str, str], ...] = ()  # (file, reason) of pages that could not be read
    skipped: tuple[tuple[str, str], ...] = ()  # (file, reason): not read (a FIFO, binary content)
    not_images: int = 0  # references to local files that are no images (a .css, a .woff2)
    unpublished: int = 0  # WXR posts not published (draft, pending, private, future, trash)
    notes: tuple[str, ...] = ()  # what the user should know about the source (one line each)
