"""Matching: which pairs of fingerprints are copies of the same picture. Pure.

Two named stages, each replaceable: candidates.py (which hash columns are searched against
which, at which radius -> Candidates) and decide.py (alignment and verification of the
candidate pairs -> PairMatch). side.py holds a set of fingerprints as both stages see it.
"""

from __future__ import annotations

import threading

import numpy as np

from .candidates import (MAX_ALIGNMENTS, Channel, Candidates, StageProgress, best_per_pair,
                         channels, find_candidates, iter_candidates)
from .decide import decide, verifiable, verify_pairs
from .decision_cache import DecisionCache
from .group import Links
from .model import PairMatch, Rule
from .side import Side

__all__ = ["Candidates", "Channel", "PairMatch", "Side", "StageProgress", "channels", "find_pairs",
           "verifiable", "verify_pairs"]


def find_pairs(query: Side, index: Side, rule: Rule, *, same: bool,
               links: Links | None = None, progress: StageProgress | None = None,
               cache: DecisionCache | None = None) -> list[PairMatch]:
    """Return the matching pairs between query rows and library rows.

    With ``same`` the two sides are one set (dedupe): self-pairs are dropped and each pair is
    reported once with a < b. With ``links`` (dedupe, when only the groups matter), pairs are
    decided nearest first, a pair already linked through earlier matches is not verified,
    and every match found is linked: the components come out the same, for far less work.
    With *cache* (dedupe), pairs decided by an earlier run are answered from it
    (decision_cache.py).
    """
    if len(query) == 0 or len(index) == 0:
        return []
    if links is not None and rule.verified:
        return _stream_pairs(query, index, rule, same, links, progress, cache)
    cands = find_candidates(query, index, rule, same=same, progress=progress)
    out = decide(query, index, rule, cands, same=same, links=links, progress=progress,
                 cache=cache)
    if links is not None:
        for p in out:
            links.link(p.a, p.b)
    return out


#: A dedupe collects candidate rows up to this many and decides them all at once (as
#: find_candidates); beyond it (families of thousands of copies), chunk by chunk as they come.
STREAM_MIN_ROWS = 1_000_000


def _stream_pairs(query: Side, index: Side, rule: Rule, same: bool, links: Links,
                  progress: StageProgress | None, cache: DecisionCache | None = None
                  ) -> list[PairMatch]:
    """find_pairs for dedupe under a verified rule: candidates searched in chunks bounded by
    their hits. Up to STREAM_MIN_ROWS candidate rows, decided all at once exactly as
    find_candidates + decide; past that, each chunk is decided (nearest first, linked pairs
    skipped) before the next is searched, and pairs already linked are dropped before they
    are sorted, so memory follows the chunk and the pairs verified, not the candidate pairs:
    a family of k copies costs about k verifications, not k^2/2 candidate rows. Streamed, a
    pair met from both of its rows is tried with each side's alignments in turn (never fewer
    than find_candidates merges)."""

    # Component labels as an array, so a chunk's millions of hits are tested at once; a
    # merge relabels the smaller component (n log n relabels in all).
    label = np.arange(max(len(query), len(index)), dtype=np.int64)
    members: dict[int, list[int]] = {}
    # The search thread reads the labels (drop) while this one relabels (link).
    relabel = threading.Lock()

    def link(a: int, b: int) -> None:
        la, lb = int(label[a]), int(label[b])
        if la != lb:
            ma, mb = members.pop(la, [la]), members.pop(lb, [lb])
            if len(ma) < len(mb):
                la, ma, mb = lb, mb, ma
            with relabel:
                label[mb] = la
            ma.extend(mb)
            members[la] = ma

    def linked(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with relabel:
            return label[a] == label[b]

    # Until the candidates pass STREAM_MIN_ROWS rows they are only collected, and decided all
    # at once as find_candidates' (the same pairs, alignments and order: libraries without
    # huge families decide exactly as before); past it, each chunk is decided as it comes.
    streaming = False
    parts: list[Candidates] = []
    held = 0

    def drop(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return linked(a, b) if streaming else np.zeros(len(a), bool)

    out: list[PairMatch] = []

    def decide_now(cands: Candidates) -> None:
        for p in decide(query, index, rule, cands, same=same, links=links, progress=progress,
                        cache=cache):
            links.link(p.a, p.b)
            link(p.a, p.b)
            out.append(p)

    chunks = iter_candidates(query, index, rule, same=same, drop=drop, progress=progress)
    for cands in chunks:
        parts.append(cands)
        held += len(cands)
        if held > STREAM_MIN_ROWS:
            streaming = True
            merged = merge(parts, same, rule)
            parts = []
            del cands  # held only in the merged copy now
            decide_now(merged)
            break
    # Streaming: each chunk is searched once the last one is decided (a search thread running
    # one chunk ahead was measured in session 10: +141 MB and +7.8 CPU s at 10^6, no wall
    # gain shown, since the compiled search already uses every core).
    for cands in chunks if streaming else ():
        if len(cands):
            decide_now(cands)
    if parts:
        decide_now(merge(parts, same, rule))
    return out


def merge(parts: list[Candidates], same: bool, rule: Rule) -> Candidates:
    """One Candidates record of several chunks' (each pair's best alignments over all)."""
    hits = tuple(np.concatenate([getattr(p, name) for p in parts])
                 for name in ("q_row", "q_col", "i_row", "i_col", "distance"))
    return best_per_pair(hits, same, MAX_ALIGNMENTS if rule.verified else 1)
