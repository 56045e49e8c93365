"""Matching: which pairs of fingerprints are copies of the same picture. Pure.

Two named stages, each replaceable: candidates.py (which hash columns are searched against
which, at which radius -> Candidates) and decide.py (alignment and verification of the
candidate pairs -> PairMatch). side.py holds a set of fingerprints as both stages see it.
"""

from __future__ import annotations

import numpy as np

from .candidates import (Channel, Candidates, StageProgress, channels, find_candidates,
                         iter_candidates)
from .decide import decide, verify_pairs
from .group import Links
from .model import PairMatch, Rule
from .side import Side

__all__ = ["Candidates", "Channel", "PairMatch", "Side", "StageProgress", "channels", "find_pairs",
           "verify_pairs"]


def find_pairs(query: Side, index: Side, rule: Rule, *, same: bool,
               links: Links | None = None, progress: StageProgress | None = None) -> list[PairMatch]:
    """Return the matching pairs between query rows and library rows.

    With ``same`` the two sides are one set (dedupe): self-pairs are dropped and each pair is
    reported once with a < b. With ``links`` (dedupe, when only the groups matter), pairs are
    decided nearest first, a pair already linked through earlier matches is not verified,
    and every match found is linked: the components come out the same, for far less work.
    """
    if len(query) == 0 or len(index) == 0:
        return []
    if links is not None and rule.verified:
        return _stream_pairs(query, index, rule, same, links, progress)
    cands = find_candidates(query, index, rule, same=same, progress=progress)
    out = decide(query, index, rule, cands, same=same, links=links, progress=progress)
    if links is not None:
        for p in out:
            links.link(p.a, p.b)
    return out


def _stream_pairs(query: Side, index: Side, rule: Rule, same: bool, links: Links,
                  progress: StageProgress | None) -> list[PairMatch]:
    """find_pairs for dedupe under a verified rule: candidates streamed in chunks bounded by
    their hits, each decided (nearest first, linked pairs skipped) before the next is searched,
    and pairs already linked dropped before they are sorted. Memory follows the chunk and the
    pairs verified, not the candidate pairs: a family of k copies costs about k
    verifications, not k^2/2 candidate rows. The components are those of find_candidates:
    a pair is verified unless already linked, from either of its rows."""

    # Component labels as an array, so a chunk's millions of hits are tested at once; a
    # merge relabels the smaller component (n log n relabels in all).
    label = np.arange(max(len(query), len(index)), dtype=np.int64)
    members: dict[int, list[int]] = {}

    def link(a: int, b: int) -> None:
        la, lb = int(label[a]), int(label[b])
        if la != lb:
            ma, mb = members.pop(la, [la]), members.pop(lb, [lb])
            if len(ma) < len(mb):
                la, ma, mb = lb, mb, ma
            label[mb] = la
            ma.extend(mb)
            members[la] = ma

    def linked(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return label[a] == label[b]

    out: list[PairMatch] = []
    for cands in iter_candidates(query, index, rule, same=same, drop=linked, progress=progress):
        if len(cands):
            for p in decide(query, index, rule, cands, same=same, links=links):
                links.link(p.a, p.b)
                link(p.a, p.b)
                out.append(p)
    return out
