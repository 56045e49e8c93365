"""Turn matching pairs into duplicate groups, and pick each group's likely original. Pure."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence

from .model import FileRecord


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


#: Picture sizes closer than this ratio are treated as the same size.
SIZE_STEP = 1.05


def original_key(record: FileRecord, name_root: bool = False) -> tuple:
    """Sort key that puts the likely original first.

    The original is usually the copy with the most picture (pixels inside any added border);
    among equals, the one whose file says who took it (camera, EXIF date, artist), then the
    one without an added border, then the oldest (copies are made later), then the one whose
    name the others extend (``photo.jpg`` before ``photo-small.jpg`` or ``photo (1).jpg``),
    then the least recompressed copy (``fidelity``), then the path so that ties are deterministic.
    """
    meta = record.metadata
    has_origin = bool(meta.get("taken") or meta.get("camera_model") or meta.get("artist"))
    # Border trimming is measured on a small working picture, so sizes within a few percent
    # count as equal.
    size_class = round(math.log(max(1, record.content_pixels)) / math.log(SIZE_STEP))
    # Copies made within the same minute (a download, a checkout) are equally old.
    minute = record.mtime_ns // 60_000_000_000
    # A copy with a border added has its picture measured after trimming, which is a little
    # uncertain: it must be a size class larger to count as larger.
    bordered = record.content < 0.98
    size_class -= bordered
    return (-size_class, not has_origin, bordered, minute, not name_root, fidelity(record),
            record.path)


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


def order_members(records: Sequence[FileRecord]) -> list[FileRecord]:
    """Sort a group's files with the likely original first (see original_key)."""
    stems = [os.path.splitext(os.path.basename(r.path))[0] for r in records]
    roots = [any(o != s and o.startswith(s) for o in stems) for s in stems]
    keyed = sorted(zip(records, roots), key=lambda rr: original_key(rr[0], rr[1]))
    return [r for r, _ in keyed]
