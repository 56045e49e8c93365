"""Remembered decisions: pairs the user says are not duplicates, keyed by content.

A pair is stored as the two files' content keys (pair.content_key: a SHA-256 of the hash
columns), so renaming or moving either file keeps the decision; the paths are stored only to
show. The list lives in ``<index>.act/ignore.json`` (written to a temporary name and renamed).
``split_groups`` applies it at group time: no two files of an ignored pair are ever in one
group, even through a third file.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ImgfindError
from .group import order_members
from .layout import ORIENTATION_NAMES, distance_matrix
from .match import Side, find_pairs
from .model import Group, Member, Rule
from .journal import act_dir
from .pair import content_key


def _file(db: str) -> str:
    return os.path.join(act_dir(db), "ignore.json")


def load(db: str) -> list[dict[str, Any]]:
    """The ignored pairs: dicts with keys a, b (content keys, a < b), a_path, b_path, added."""
    try:
        with open(_file(db), encoding="utf-8") as f:
            return list(json.load(f)["pairs"])
    except (FileNotFoundError, NotADirectoryError):
        # NotADirectoryError: a file stands where a folder of --db should be, so there is no
        # index and no list either; the command's own index check says so ("no index at").
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ImgfindError(f"cannot read {_file(db)}: {exc}") from None


def _save(db: str, pairs: list[dict[str, Any]]) -> None:
    path = _file(db)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": "imgfind-ignore/1", "pairs": pairs}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ImgfindError(f"cannot write {path}: {exc.strerror or exc}") from None


def keyset(db: str) -> set[tuple[str, str]]:
    return {(p["a"], p["b"]) for p in load(db)}


def add(db: str, key_a: str, key_b: str, path_a: str = "", path_b: str = "") -> bool:
    """Remember that these two contents are not duplicates; False if already remembered.

    Raises:
        ImgfindError: the two keys are equal (identical pictures cannot be kept apart).
    """
    if key_a == key_b:
        raise ImgfindError("the two files have identical fingerprints: imgfind cannot tell "
                           "them apart, so it cannot keep them apart")
    if key_b < key_a:
        key_a, key_b, path_a, path_b = key_b, key_a, path_b, path_a
    pairs = load(db)
    if any(p["a"] == key_a and p["b"] == key_b for p in pairs):
        return False
    pairs.append({"a": key_a, "b": key_b, "a_path": path_a, "b_path": path_b,
                  "added": time.strftime("%Y-%m-%dT%H:%M:%S")})
    _save(db, pairs)
    return True


def remove(db: str, key_a: str, key_b: str) -> bool:
    """Forget an ignored pair; False if it was not remembered."""
    a, b = sorted((key_a, key_b))
    pairs = load(db)
    kept = [p for p in pairs if not (p["a"] == a and p["b"] == b)]
    if len(kept) == len(pairs):
        return False
    _save(db, kept)
    return True


def split_groups(groups: Sequence[Group], side: Side, row_of: dict[int, int], rule: Rule,
                 ignored: set[tuple[str, str]]) -> list[Group]:
    """Split every group that holds both files of an ignored pair.

    *side* holds the fingerprints the groups were made from, *row_of* maps a file id to its
    row. Within such a group the pairs are decided again (each pair, no shortcut through
    links), ignored pairs are dropped, and members are placed greedily, best first, into the
    first part whose first file they match directly and with none of whose members they have
    an ignored pair. Parts of one file vanish.
    """
    if not ignored:
        return list(groups)
    keys = {}
    out: list[Group] = []
    for g in groups:
        rows = [row_of[m.file.id] for m in g.members]
        gkeys = [keys.setdefault(r, content_key(side.hashes[r])) for r in rows]
        bad = {(i, j) for i in range(len(rows)) for j in range(len(rows))
               if (gkeys[i], gkeys[j]) in ignored}
        if not bad:
            out.append(g)
            continue
        sub = side.subset(rows)
        edges = {(p.a, p.b) for p in find_pairs(sub, sub, rule, same=True)}
        edges = {e for e in edges if e not in bad and e[::-1] not in bad}
        parts: list[list[int]] = []
        for i in range(len(rows)):
            for part in parts:
                # a star, as groups are: a member joins a part whose first file it matches
                # directly (never through another member), and has no ignored pair in it
                if ((min(i, part[0]), max(i, part[0])) in edges
                        and not any((i, j) in bad or (j, i) in bad for j in part)):
                    part.append(i)
                    break
            else:
                parts.append([i])
        for part in parts:
            if len(part) < 2:
                continue
            members = order_members([g.members[i].file for i in part])
            hashes = side.hashes[np.array([row_of[m.id] for m in members])]
            dist, orient = distance_matrix(hashes)
            out.append(Group(tuple(Member(m, int(dist[0, j]), ORIENTATION_NAMES[int(orient[0, j])])
                                   for j, m in enumerate(members)), int(dist.max())))
    out.sort(key=lambda g: (-len(g.members), g.members[0].file.path))
    return out
