"""Matching: which pairs of fingerprints are copies of the same picture. Pure.

Two named stages, each replaceable: candidates.py (which hash columns are searched against
which, at which radius -> Candidates) and decide.py (alignment and verification of the
candidate pairs -> PairMatch). side.py holds a set of fingerprints as both stages see it.
"""

from __future__ import annotations

from .candidates import Channel, Candidates, StageProgress, channels, find_candidates
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
    cands = find_candidates(query, index, rule, same=same, progress=progress)
    out = decide(query, index, rule, cands, same=same, links=links, progress=progress)
    if links is not None:
        for p in out:
            links.link(p.a, p.b)
    return out
