"""The records that flow between imgfind's stages: plain frozen dataclasses, no behaviour."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .fingerprint import Fingerprint


def display(path: bytes) -> str:
    """Return a stored (bytes) path as str; undecodable bytes survive as surrogate escapes."""
    return os.fsdecode(path)


@dataclass(frozen=True, slots=True)
class FileStat:
    """A file the crawler found: where it is and the stat fields that say it changed."""

    path: bytes  # absolute, os.fsencode'd: lossless for names that are not UTF-8
    size: int
    mtime_ns: int


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


@dataclass(frozen=True, slots=True)
class Fingerprinted:
    """The outcome of fingerprinting one file: a fingerprint, or the reason there is none."""

    stat: FileStat
    info: ImageInfo | None
    fingerprint: Fingerprint | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What one ``Index.update`` did; ``problems`` lists (path, reason) for unreadable files."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    unreadable: int = 0
    problems: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileRecord:
    """An indexed image as the store knows it."""

    id: int
    path: str
    bytes: int
    mtime_ns: int
    width: int
    height: int
    format: str
    metadata: dict[str, str] = field(default_factory=dict)
    content: float = 1.0  # fraction of the picture left after trimming uniform borders

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def content_pixels(self) -> int:
        """Pixels of the picture itself: a copy with a border added is not 'larger'."""
        return round(self.pixels * self.content)


@dataclass(frozen=True, slots=True)
class Match:
    """One indexed file that matches a query, with how it relates to the query."""

    file: FileRecord
    distance: int  # smallest pHash Hamming distance over views and orientations
    relation: str  # e.g. "same orientation", "mirrored", "rotated 90° clockwise"
    similarity: float | None  # verified similarity of aligned thumbnails (None: not verified)
    larger: bool  # more pixels than the query
    likely_original: bool = False


@dataclass(frozen=True, slots=True)
class Member:
    """One file of a duplicate group, with its distance to the group's first file."""

    file: FileRecord
    distance: int
    relation: str


@dataclass(frozen=True, slots=True)
class Group:
    """A set of files that are copies of one picture; ``members[0]`` is the likely original."""

    members: tuple[Member, ...]
    max_distance: int  # largest distance between any two members
