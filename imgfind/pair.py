"""Two specific files: their content keys, and whether they match directly under a rule.

``content_key`` names a picture's content as imgfind sees it (a SHA-256 of its hash columns),
so it survives renames and moves: plans record it, apply re-checks it, ignore keys on it.
``match_pair`` decides one pair of fingerprints with the library's own matching stages
(candidates, then decide) — the same decision ``dedupe`` makes, but for this pair only, never
through a chain of other files.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from .analyse import analyse
from .errors import DecodeError
from .index import query_side
from .match import find_pairs
from .model import FileStat, Fingerprint, PairMatch, Rule


def content_key(hashes: np.ndarray) -> str:
    """Hex SHA-256 of a fingerprint's hash columns (little-endian uint64): 64 characters."""
    return hashlib.sha256(np.asarray(hashes, dtype="<u8").tobytes()).hexdigest()


def fingerprint_file(path: str | bytes) -> tuple[FileStat, Fingerprint]:
    """Decode and fingerprint one file now, with the stat of what was read.

    Raises:
        DecodeError: the file is missing or cannot be read as an image.
    """
    raw = os.fsencode(os.path.abspath(path))
    try:
        st = os.stat(raw)
    except OSError as exc:
        raise DecodeError(f"{os.fsdecode(raw)}: {exc.strerror or exc}") from None
    result = analyse(FileStat(raw, st.st_size, st.st_mtime_ns))
    if result.fingerprint is None:
        raise DecodeError(f"{os.fsdecode(raw)}: {result.error}")
    return result.stat, result.fingerprint


def match_pair(a: Fingerprint, b: Fingerprint, rule: Rule) -> PairMatch | None:
    """The direct match of picture *b* to picture *a* under *rule*, or None if they differ."""
    pairs = find_pairs(query_side([a]), query_side([b]), rule, same=False)
    return min(pairs, key=lambda p: p.distance) if pairs else None
