"""The plan file: what `dedupe --plan` decided and `apply` carries out. Pure (JSON in, JSON out).

A plan is versioned JSON (``"format": "imgfind-plan/1"``), meant to be reviewed and edited by
hand. Fields may be added within a version, never renamed or removed::

    {"format": "imgfind-plan/1", "version": "...", "created": "2024-05-01T10:00:00",
     "similarity": "normal", "keep_rules": ["resolution", ...], "references": ["/abs/dir"],
     "base": "/abs/common/folder",
     "match_rule": {"threshold": 10, "min_similarity": 0.8, "min_window": 0.4},
     "groups": [{"kept": "/abs/a.jpg", "rule": "resolution", "first_partial": false,
                 "files": [{"path": "/abs/a.jpg", "action": "keep", "bytes": 1234,
                            "mtime_ns": 1714550000000000000, "fingerprint": "9f...",
                            "width": 640, "height": 480, "format": "JPEG", "taken": "",
                            "distance": 0, "similarity": 1.0, "relation": "same orientation",
                            "reference": false, "joined_by": "kept"},
                           {"path": "/abs/b.jpg", "action": "remove", ...}]}]}

``action`` is ``keep`` or ``remove`` (how to remove is apply's choice: trash, move, link,
delete); a file the user says is not a duplicate of the kept one has ``"action": "keep",
"ignore": true`` and apply remembers the pair. ``fingerprint`` is the content key of the file
as indexed (ignore.content_key: a SHA-256 of its hash columns), re-checked before acting.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ._version import __version__
from .errors import ImgfindError
from .model import Rule

FORMAT = "imgfind-plan/1"
ACTIONS = ("keep", "remove")


class PlanError(ImgfindError):
    """A plan file that cannot be read or does not make sense (one-line message)."""


@dataclass(frozen=True, slots=True)
class PlanFile:
    """One file of a planned group, with its state as indexed (what apply re-checks)."""

    path: str
    action: str  # "keep" | "remove"
    bytes: int
    mtime_ns: int
    fingerprint: str  # content key as indexed (hex)
    width: int = 0
    height: int = 0
    format: str = ""
    taken: str = ""
    distance: int | None = None  # pHash distance to the kept file
    similarity: float | None = None  # verified similarity to the kept file
    relation: str = ""  # how this file relates to the kept one ("mirrored", ...)
    reference: bool = False  # under a reference folder: never acted on
    ignore: bool = False  # the user says: not a duplicate of the kept file
    #: how it matched the kept file when planned, under the plan's rule: "pHash" (a distance
    #: within the rule's threshold), "dHash" (verified, found by its upright dHash: its pHash
    #: distance is beyond the threshold), "through another copy" (no direct match), "kept",
    #: "partial"; "" in plans written before it (apply then asks what it always asked)
    joined_by: str = ""


@dataclass(frozen=True, slots=True)
class PlanGroup:
    kept: str
    rule: str  # the keep rule that decided
    files: tuple[PlanFile, ...]
    #: the group's first file is a picture its whole copies were cut from, listed as a
    #: partial match and kept (model.Group.first_partial; the dedupe reports say it too)
    first_partial: bool = False

    def kept_file(self) -> PlanFile:
        return next(f for f in self.files if f.path == self.kept)


@dataclass(frozen=True, slots=True)
class Plan:
    groups: tuple[PlanGroup, ...]
    similarity: str | None = None
    keep_rules: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    base: str = "/"
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    version: str = __version__
    #: the rule that made the groups (threshold, min_similarity, min_window); None in plans
    #: written before it. apply re-checks each file at least as strictly (act.recheck_rule).
    match_rule: Rule | None = None


def to_json(plan: Plan) -> dict[str, Any]:
    """The plan as a JSON-ready dict (the versioned document above)."""
    return {
        "format": FORMAT, "version": plan.version, "created": plan.created,
        "similarity": plan.similarity, "keep_rules": list(plan.keep_rules),
        "references": list(plan.references), "base": plan.base,
        **({} if (r := plan.match_rule) is None else {"match_rule": {
            "threshold": r.threshold, "min_similarity": r.min_similarity, "min_window": r.min_window}}),
        "groups": [{"kept": g.kept, "rule": g.rule, "first_partial": g.first_partial,
                    "files": [asdict(f) for f in g.files]}
                   for g in plan.groups],
    }


def dumps(plan: Plan) -> str:
    return json.dumps(to_json(plan), indent=1) + "\n"


def _need(obj: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise PlanError(f"{where}: missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PlanError(f"{where}: {key!r} has the wrong type")
    return value


def from_json(doc: Any) -> Plan:
    """Read and check a plan document.

    Raises:
        PlanError: not an imgfind plan, a newer version, a missing or mistyped field, a group
            without exactly one kept file, the kept file not kept, or a file in two groups.
    """
    if not isinstance(doc, dict) or not str(doc.get("format", "")).startswith("imgfind-plan/"):
        raise PlanError("not an imgfind plan (no \"format\": \"imgfind-plan/1\")")
    if doc["format"] != FORMAT:
        raise PlanError(f"plan format {doc['format']} is newer than this imgfind reads ({FORMAT})")
    groups = []
    seen: set[str] = set()
    for gi, g in enumerate(_need(doc, "groups", list, "plan")):
        where = f"group {gi + 1}"
        if not isinstance(g, dict):
            raise PlanError(f"{where}: not an object")
        kept = _need(g, "kept", str, where)
        files = []
        for fi, f in enumerate(_need(g, "files", list, where)):
            fw = f"{where}, file {fi + 1}"
            if not isinstance(f, dict):
                raise PlanError(f"{fw}: not an object")
            action = _need(f, "action", str, fw)
            if action not in ACTIONS:
                raise PlanError(f"{fw}: action {action!r} is not one of {', '.join(ACTIONS)}")
            path = _need(f, "path", str, fw)
            if not os.path.isabs(path):
                raise PlanError(f"{fw}: path {path!r} is not absolute")
            if path in seen:
                raise PlanError(f"{fw}: {path} is in the plan twice")
            seen.add(path)
            sim = f.get("similarity")
            files.append(PlanFile(
                path, action, _need(f, "bytes", int, fw), _need(f, "mtime_ns", int, fw),
                _need(f, "fingerprint", str, fw), int(f.get("width") or 0),
                int(f.get("height") or 0), str(f.get("format") or ""), str(f.get("taken") or ""),
                f.get("distance") if isinstance(f.get("distance"), int) else None,
                float(sim) if isinstance(sim, (int, float)) else None,
                str(f.get("relation") or ""), bool(f.get("reference")), bool(f.get("ignore")),
                str(f.get("joined_by") or "")))
        kept_files = [f for f in files if f.path == kept]
        if len(kept_files) != 1:
            raise PlanError(f"{where}: the kept file {kept} is not among its files")
        if kept_files[0].action != "keep":
            raise PlanError(f"{where}: the kept file {kept} has action {kept_files[0].action!r}")
        groups.append(PlanGroup(kept, str(g.get("rule") or "edited"), tuple(files),
                                bool(g.get("first_partial"))))
    return Plan(tuple(groups), doc.get("similarity"), tuple(doc.get("keep_rules") or ()),
                tuple(doc.get("references") or ()), str(doc.get("base") or "/"),
                str(doc.get("created") or ""), str(doc.get("version") or ""), _rule(doc))


def _rule(doc: dict) -> Rule | None:
    """The plan's "match_rule", the rule that made its groups (None when it has none: a plan
    written before session 11). A group's "rule" is the keep rule that chose its kept file."""
    if "match_rule" not in doc:
        return None
    r = _need(doc, "match_rule", dict, "plan")
    threshold = _need(r, "threshold", int, "plan match_rule")
    if not 0 <= threshold <= 64:
        raise PlanError("plan match_rule: 'threshold' is not 0..64")
    sim, window = r.get("min_similarity"), r.get("min_window", 0.0)
    if (sim is not None and not isinstance(sim, (int, float))) or not isinstance(window, (int, float)) \
            or isinstance(sim, bool) or isinstance(window, bool):
        raise PlanError("plan match_rule: 'min_similarity' or 'min_window' has the wrong type")
    return Rule(threshold, None if sim is None else float(sim), float(window))


def load(path: str | os.PathLike[str]) -> Plan:
    """Read a plan file.

    Raises:
        PlanError: the file cannot be read, is not JSON, or is not a valid plan.
    """
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise PlanError(f"cannot read plan {os.fsdecode(path)}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PlanError(f"plan {os.fsdecode(path)} is not JSON: {exc}") from None
    return from_json(doc)
