"""The apply journal: one append-only JSON-lines file per apply, beside the index.

Layout, next to the index file ``index.db``::

    index.db.act/journal/000001.jsonl   one apply: a header line, then one line per step
    index.db.act/holding/000001/...     originals kept so that links and metadata merges undo
    index.db.act/ignore.json            remembered "not a duplicate" pairs (ignore.py)

Every step is written and fsync'd *before* the file system is touched (``"state":
"intent"``) and again after (``"state": "done"``), so a kill at any moment leaves a journal
that says what may have happened; undo looks at the file system for steps without "done".
A plain folder rather than tables in the index: the index stays a cache that can be deleted
and rebuilt, while the journal and the held originals are the user's only way back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ImgfindError


class JournalError(ImgfindError):
    """The journal folder cannot be read or written."""


def act_dir(db: str | os.PathLike[str]) -> str:
    """The folder beside the index that holds journals, held originals and ignore.json."""
    return os.path.abspath(os.fspath(db)) + ".act"


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass
class Entry:
    """One apply as recorded: its number, header and steps (later lines update a step)."""

    number: int
    path: str
    header: dict[str, Any]
    steps: dict[int, dict[str, Any]]  # by step number, the latest record of each
    undone: bool

    @property
    def holding(self) -> str:
        return os.path.join(os.path.dirname(os.path.dirname(self.path)), "holding",
                            f"{self.number:06d}")


class Writer:
    """Appends the records of one apply, each fsync'd before it returns."""

    def __init__(self, db: str | os.PathLike[str], header: dict[str, Any]):
        folder = os.path.join(act_dir(db), "journal")
        try:
            os.makedirs(folder, exist_ok=True)
            numbers = [int(n.split(".")[0]) for n in os.listdir(folder) if n.split(".")[0].isdigit()]
            self.number = max(numbers, default=0) + 1
            self.path = os.path.join(folder, f"{self.number:06d}.jsonl")
            self._f = open(self.path, "x", encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise JournalError(f"cannot write the journal in {folder}: {exc.strerror or exc}") from None
        _fsync_dir(folder)
        self.holding = os.path.join(act_dir(db), "holding", f"{self.number:06d}")
        self._step = 0
        self.write({"kind": "apply", "time": time.time(), **header})

    def write(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(record, ensure_ascii=True) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def intent(self, record: dict[str, Any]) -> int:
        """Record a step about to happen; returns its number for ``done``."""
        self._step += 1
        self.write({"step": self._step, "state": "intent", **record})
        return self._step

    def done(self, step: int, **extra: Any) -> None:
        self.write({"step": step, "state": "done", **extra})

    def close(self) -> None:
        self._f.close()


def _read(path: str, number: int) -> Entry:
    header: dict[str, Any] = {}
    steps: dict[int, dict[str, Any]] = {}
    undone = False
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill: the step before it is what counts
            if rec.get("kind") == "apply":
                header = rec
            elif rec.get("kind") == "undone":
                undone = True
            elif "step" in rec:
                steps[rec["step"]] = {**steps.get(rec["step"], {}), **rec}
    return Entry(number, path, header, steps, undone)


def entries(db: str | os.PathLike[str]) -> Iterator[Entry]:
    """Every apply recorded for this index, oldest first."""
    folder = os.path.join(act_dir(db), "journal")
    if not os.path.isdir(folder):
        return
    for name in sorted(os.listdir(folder)):
        stem = name.split(".")[0]
        if name.endswith(".jsonl") and stem.isdigit():
            yield _read(os.path.join(folder, name), int(stem))


def mark_undone(entry: Entry, report: list[dict[str, Any]]) -> None:
    """Append the undo's outcome to the apply's journal: it is then no longer 'the last'."""
    with open(entry.path, "a", encoding="utf-8", errors="surrogateescape") as f:
        f.write(json.dumps({"kind": "undone", "time": time.time(), "report": report},
                           ensure_ascii=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
