"""Turn duplicate groups into a plan: keep rules, content keys and per-pair evidence.

Reads the index's fingerprints (never decodes a picture; JPEG headers only for the
``quality`` rule) and returns a plan.Plan. The evidence of each file (distance, similarity,
relation) is measured directly against the kept file with the matching stages.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .group import clearly_degraded
from .keep import choose, under
from .layout import ORIENTATION_NAMES
from .match import Side, find_pairs
from .model import PARTIAL_HEAD, Group, Rule
from .pair import content_key
from .plan import Plan, PlanFile, PlanGroup
from .quality import jpeg_quality


#: The rule a plan names for a group whose other members are all partial matches.
ONLY_WHOLE_COPY = "only whole copy (the others are partial matches: other pictures, kept)"


def build_plan(groups: Sequence[Group], side: Side, row_of: dict[int, int], rule: Rule,
               keep_rules: Sequence[str], references: Sequence[str] = (),
               preset: str | None = None) -> Plan:
    """A plan for *groups*, whose files' fingerprints are rows of *side* (``row_of[file id]``).

    Raises:
        ValueError: an unknown keep rule.
    """
    refs = tuple(os.path.abspath(r) for r in references)
    out = []
    all_dirs = []
    listed: set[str] = set()
    for g in groups:
        # Only whole copies are kept or removed: a partial member (a crop, a screenshot, a
        # turned copy, a collage) is another picture, listed as kept, never the kept file.
        # The first file of a group shown from a picture its whole copies were cut from
        # (Group.first_partial) is such a picture too.
        head = g.members[:1] if g.first_partial else ()
        files = [m.file for m in g.members[len(head):] if m.partial is None]
        parts = [*head, *(m for m in g.members if m.partial is not None)]
        quality = {}
        if "quality" in keep_rules:
            quality = {f.path: q for f in files if (q := jpeg_quality(f.path)) is not None}
        decision = choose(files, keep_rules, refs, quality)
        kept = decision.kept
        rule_said = decision.rule
        runner = decision.runner_up
        if rule_said == "only file" and parts:
            # No rule chose: the others are partial matches (crops, screenshots, collages),
            # other pictures that are never removed; "only file" read as a group of one.
            rule_said = ONLY_WHOLE_COPY
        elif rule_said == "original" and runner is not None and \
                clearly_degraded([kept, runner]) == [False, True]:
            # The likely original won on fidelity, not on time or name: say so (the plan is
            # reviewed before apply, and "original" alone reads as "the older file").
            rule_said = (f"original: least compressed (JPEG quality "
                         f"{kept.metadata['jpeg_quality']}; {os.path.basename(runner.path)} is a "
                         f"visibly heavier re-encode at {runner.metadata['jpeg_quality']})")
        others = [f for f in files if f.path != kept.path]
        k_row = row_of[kept.id]
        o_rows = [row_of[f.id] for f in others]
        evidence = {}
        for p in find_pairs(side.subset([k_row]), side.subset(o_rows), rule, same=False) \
                if o_rows else ():
            if p.b not in evidence or p.distance < evidence[p.b].distance:
                evidence[p.b] = p
        entries = []
        for j, f in enumerate([kept] + others):
            row = row_of[f.id]
            ev = evidence.get(j - 1) if j else None
            dist = 0 if not j else (ev.distance if ev else None)
            ref = under(f.path, refs)
            # A verified rule's candidates come by pHash or by the upright dHash: a direct
            # match beyond the threshold is a dHash one (apply asks the same of it again).
            how = ("kept" if not j else "through another copy" if ev is None
                   else "pHash" if ev.distance <= rule.threshold else "dHash")
            entries.append(PlanFile(
                f.path, "keep" if (not j or ref) else "remove", f.size, f.mtime_ns,
                content_key(side.hashes[row]), f.width, f.height, f.format,
                f.metadata.get("taken", ""), dist,
                1.0 if not j else (ev.similarity if ev else None),
                "kept" if not j else (ORIENTATION_NAMES[ev.orientation] if ev else "through another copy"),
                ref, joined_by=how))
            all_dirs.append(os.path.dirname(f.path))
        for m in parts:
            f = m.file
            if f.path in listed:  # a collage, a partial member of each of its photos' groups:
                continue          # kept, and listed once (plan.read refuses a file twice)
            listed.add(f.path)
            entries.append(PlanFile(
                f.path, "keep", f.size, f.mtime_ns, content_key(side.hashes[row_of[f.id]]),
                f.width, f.height, f.format, f.metadata.get("taken", ""), None, None,
                PARTIAL_HEAD if head and m is head[0]
                else f"partial: {m.relation}", under(f.path, refs), joined_by="partial"))
            all_dirs.append(os.path.dirname(f.path))
        out.append(PlanGroup(kept.path, rule_said, tuple(entries), g.first_partial))
    base = os.path.commonpath(all_dirs) if all_dirs else "/"
    return Plan(tuple(out), preset, tuple(keep_rules), refs, base, match_rule=rule)


def group_rows(side: Side) -> dict[int, int]:
    """File id -> row of *side*."""
    return {int(i): r for r, i in enumerate(np.asarray(side.ids))}
