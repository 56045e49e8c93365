"""Remembered pair decisions: a repeated dedupe does not verify the same pairs again.

Verifying a pair (decide.verify_alignments, decide.decide_flat) is a pure function of the two
files' fingerprints (hashes, trim box, flat flag, thumbnail), the rule, the alignments tried
and the code that decides. A dedupe of an index where nothing changed asks the same questions
as the last one, and verification was 80-90% of a warm dedupe (benchmarks/RESULTS.md, "Warm
dedupe"). The answers are kept in the index's ``decisions`` table, keyed by

- the pair of file ids, as verified (a, b: direction matters, b is compared to a),
- ``rule``: a 64-bit digest of the rule's parameters, the recipe (recipe.recipe_id), numpy's
  version and the source text of the imgfind package (any code change makes new keys),
- ``aligns``: what the alignments tried come from: a 63-bit digest of the pair's candidate
  rows (:func:`rows_keys`), or OWN for a pair verified directly (its alignments are a function
  of the two hash rows), or FLAT for two flat pictures,

and hold the answer: rejected (orientation NULL), or the PairMatch fields (distance,
orientation, similarity, checks). A file that is fingerprinted again (or removed) loses its
rows in the same transaction, by triggers on the prints and thumbs tables that any writer
fires (:data:`SCHEMA`), so an answer is never read for fingerprints it was not made from.
Rows of other code (``code``, :func:`code_key`) are pruned when new ones are saved.

``decisions_found`` keeps the pairs a whole search found (match.find_pairs), zlib-compressed
JSON, keyed by rule, the set of file ids searched, the code, and the index state (generation
and write token, which every write changes): a dedupe of an unchanged index does not search.
The same table keeps what later stages found in that state (``found_stage``/``keep_stage``:
the partial members of index.groups, whose keypoint verification is most of a dedupe with
local features), under a key of the rule, the stage's name and what it was given.

Dedupe reads the index in one snapshot; the answers it computed are written afterwards in one
short transaction (:meth:`DecisionCache.save`), only if the index is still in the state they
were computed from (its generation), only where the index can be written, and never at the
cost of the dedupe: a locked, read-only or full index keeps the answers it has. Ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .model import PairMatch, Rule

#: Bump when the meaning of a stored row changes (the source digest covers code changes).
CACHE_VERSION = 1

#: The table and the triggers that keep it valid. WITHOUT ROWID: the key is the row.
SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    a           INTEGER NOT NULL,  -- files.id of the pair's first member (b is compared to a)
    b           INTEGER NOT NULL,  -- files.id of the second
    rule        INTEGER NOT NULL,  -- decision_cache.rule_key: rule, recipe, code
    code        INTEGER NOT NULL,  -- decision_cache.code_key: recipe, code (older ones pruned)
    aligns      INTEGER NOT NULL,  -- rows_keys of the candidate rows; OWN (-3), FLAT (-1, -2)
    distance    INTEGER,           -- the PairMatch when it matched; orientation NULL: rejected
    orientation INTEGER,
    similarity  REAL,
    checks      TEXT,
    PRIMARY KEY (a, b, rule, aligns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decisions_b ON decisions(b);
-- The pairs a whole search found (match.find_pairs of a dedupe), for the index state they were
-- found in (generation and write token: any write makes them stale) and the set of files.
CREATE TABLE IF NOT EXISTS decisions_found (
    rule   INTEGER NOT NULL,       -- rule_key
    files  INTEGER NOT NULL,       -- files_key of the file ids searched
    code   INTEGER NOT NULL,       -- code_key (older ones pruned)
    state  TEXT NOT NULL,          -- meta generation and write_token when found (others pruned)
    pairs  BLOB NOT NULL,          -- zlib JSON [[id a, id b, distance, orientation, similarity, checks]]
    PRIMARY KEY (rule, files)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS decisions_prints_insert AFTER INSERT ON prints BEGIN
    DELETE FROM decisions WHERE a = NEW.file_id; DELETE FROM decisions WHERE b = NEW.file_id; END;
CREATE TRIGGER IF NOT EXISTS decisions_prints_update AFTER UPDATE ON prints BEGIN
    DELETE FROM decisions WHERE a = OLD.file_id; DELETE FROM decisions WHERE b = OLD.file_id; END;
CREATE TRIGGER IF NOT EXISTS decisions_prints_delete AFTER DELETE ON prints BEGIN
    DELETE FROM decisions WHERE a = OLD.file_id; DELETE FROM decisions WHERE b = OLD.file_id; END;
CREATE TRIGGER IF NOT EXISTS decisions_thumbs_insert AFTER INSERT ON thumbs BEGIN
    DELETE FROM decisions WHERE a = NEW.file_id; DELETE FROM decisions WHERE b = NEW.file_id; END;
CREATE TRIGGER IF NOT EXISTS decisions_thumbs_update AFTER UPDATE ON thumbs BEGIN
    DELETE FROM decisions WHERE a = OLD.file_id; DELETE FROM decisions WHERE b = OLD.file_id; END;
CREATE TRIGGER IF NOT EXISTS decisions_thumbs_delete AFTER DELETE ON thumbs BEGIN
    DELETE FROM decisions WHERE a = OLD.file_id; DELETE FROM decisions WHERE b = OLD.file_id; END;
"""

#: The tables' columns, in order (migrate drops a table of another layout).
_COLUMNS = {"decisions": ["a", "b", "rule", "code", "aligns", "distance", "orientation",
                           "similarity", "checks"],
            "decisions_found": ["rule", "files", "code", "state", "pairs"]}

#: A dedupe waits at most this long (seconds) for an index run's write lock before it gives
#: up saving its answers (they are computed again next time).
SAVE_TIMEOUT = 0.5

_CHECKS_SEP = "\n"


def migrate(db: sqlite3.Connection) -> None:
    """Create the decisions table and its triggers if missing (idempotent; inside the caller's
    transaction). Needs the prints and thumbs tables (schema 2 and later). A table of another
    layout (an earlier CACHE_VERSION) is dropped: it only holds answers that can be made again."""
    for table, want in _COLUMNS.items():
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        if columns and columns != want:
            db.execute(f"DROP TABLE {table}")
    for statement in _statements(SCHEMA):
        db.execute(statement)


def complete(db: sqlite3.Connection) -> bool:
    """True when the index has both tables and all the triggers of SCHEMA (another branch's
    migration that rebuilds the prints or thumbs table drops the triggers with it)."""
    names = {name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE name LIKE 'decisions%'")}
    return _NAMES <= names


def _statements(script: str) -> list[str]:
    """Split SCHEMA into statements (a trigger's body holds ';' of its own)."""
    out, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current)
        if sqlite3.complete_statement(text):
            out.append(text)
            current = []
    return out


#: The tables and triggers SCHEMA makes (``complete`` checks them).
_NAMES = frozenset(re.findall(r"CREATE (?:TABLE|TRIGGER) IF NOT EXISTS (\w+)", SCHEMA))

_SOURCE_DIGEST: str | None = None
_CODE_KEY: int | None = None


def _source_digest() -> str:
    """A digest of the imgfind package's source (every .py file, path and text): the code
    that decides. Computed once per process (a few milliseconds)."""
    global _SOURCE_DIGEST
    if _SOURCE_DIGEST is None:
        h = hashlib.blake2b(digest_size=16)
        root = os.path.dirname(os.path.abspath(__file__))
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    h.update(os.path.relpath(path, root).encode())
                    with open(path, "rb") as f:
                        h.update(f.read())
        _SOURCE_DIGEST = h.hexdigest()
    return _SOURCE_DIGEST


def code_key() -> int:
    """The signed 64-bit key of the code that decides: CACHE_VERSION, the recipe (with
    Pillow's version), numpy's version and the source digest. Rows of another are pruned."""
    from .recipe import recipe_id

    text = repr((CACHE_VERSION, recipe_id(), np.__version__, _source_digest()))
    return _signed(hashlib.blake2b(text.encode(), digest_size=8).digest())


def rule_key(rule: Rule) -> int:
    """The signed 64-bit key of everything besides the pair that a decision depends on: the
    rule's parameters (not its name) and :func:`code_key`."""
    text = repr((rule.threshold, rule.min_similarity, rule.min_window, rule.min_colour,
                 code_key()))
    return _signed(hashlib.blake2b(text.encode(), digest_size=8).digest())


#: The keys of two flat pictures' decision (no alignments: decide.decide_flat), the query row
#: being the pair's first member (FLAT) or its second (FLAT - 1).
FLAT = -1
#: The key of a pair verified directly (decide.verify_pairs): its alignments are those
#: decide.pair_candidates finds, a function of the two hash rows and the rule alone.
OWN = -3

_MIX = 0x9E3779B97F4A7C15

#: The rule under which pixel-identical pairs are remembered (same_pixels.py): whether two
#: files hold the same pixels depends on no rule, so one answer serves every threshold.
PIXELS_RULE = Rule(-1, None, name="same pixels")


def pixels_key(a: tuple[int, int], b: tuple[int, int]) -> int:
    """The ``aligns`` key of a same-pixels decision: a digest of the two files' stored change
    keys (size in bytes, mtime in ns) as negative 62-bit number below OWN, so it never meets
    rows_keys (>= 0), FLAT or OWN. A file indexed again gets a new key (and its rows are
    dropped by the triggers anyway)."""
    digest = hashlib.blake2b(repr((a, b)).encode(), digest_size=8).digest()
    return -(struct.unpack("<Q", digest)[0] >> 2) - 4




def rows_keys(first: np.ndarray, q_row: np.ndarray, q_col: np.ndarray, i_col: np.ndarray,
              starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Keys of pairs' candidate rows (decide's input: the alignments are a function of them
    and of the two files' trim boxes), all at once: for pair j, rows starts[j]:ends[j], in
    order, each as (query row is the pair's *first* member, query column, library column).
    A polynomial hash over the rows, mixed (splitmix64), sign bit cleared so that it never
    meets FLAT or OWN: int64 (pairs,)."""
    lengths = (ends - starts).astype(np.int64)
    if not len(starts):
        return np.empty(0, np.int64)
    total = int(lengths.sum())
    base = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    rows = np.arange(total, dtype=np.int64) + base
    pos = rows - np.repeat(starts, lengths)
    powers = np.ones(int(lengths.max()) + 1, np.uint64)
    acc = 1
    for k in range(len(powers)):
        acc = acc * _MIX % (1 << 64)
        powers[k] = acc
    first_rows = np.repeat(first, lengths)
    v = ((q_row[rows] == first_rows).astype(np.uint64) + 2 * q_col[rows].astype(np.uint64)
         + 256 * i_col[rows].astype(np.uint64) + np.uint64(1))
    h = np.add.reduceat(v * powers[pos], np.concatenate([[0], np.cumsum(lengths)[:-1]]))
    h = h + lengths.astype(np.uint64)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return (h & np.uint64(0x7FFF_FFFF_FFFF_FFFF)).astype(np.int64)


def _signed(digest: bytes) -> int:
    return struct.unpack("<q", digest)[0]


#: A remembered answer: None (rejected) or (distance, orientation, similarity, checks).
Answer = tuple[int, int, float | None, tuple[str, ...]] | None


class DecisionCache:
    """The remembered decisions of one index in one state, and the new ones of this run.

    *ids* are the side's file ids by row (pairs are asked by row, stored by file id).
    ``lookup`` and ``remember`` are called by the decision stage (decide.py) with rows;
    ``save`` writes what was learnt.
    """

    def __init__(self, ids: np.ndarray, known: dict[tuple[int, int, int, int], Answer],
                 path: str | None = None, generation: int | None = None,
                 db: sqlite3.Connection | None = None, state: str = ""):
        self.ids = ids
        self.known = known
        self.new: dict[tuple[int, int, int, int], Answer] = {}
        self.path, self.generation = path, generation
        self._db, self.state = db, state
        self._rule_keys: dict[Rule, int] = {}
        self._loaded: set[int] = set()
        self._found: dict[int, bytes] = {}
        self.hits = self.misses = 0

    @classmethod
    def load(cls, db: sqlite3.Connection, ids: np.ndarray, path: str | None,
             generation: int) -> DecisionCache:
        """The decisions stored in *db*, read in the caller's snapshot (the decisions of a rule
        when it is first asked about; none when the table is missing): the cache must be used
        inside that snapshot. *path* and *generation* say where and for which state new ones
        are saved."""
        try:
            token = db.execute("SELECT value FROM meta WHERE key = 'write_token'").fetchone()
        except sqlite3.OperationalError:
            token = None
        state = f"{generation} {token[0]}" if token else ""
        return cls(ids, {}, path, generation, db, state)

    def _load_rule(self, key: int) -> None:
        self._loaded.add(key)
        if self._db is None:
            return
        try:
            rows = self._db.execute("SELECT a, b, aligns, distance, orientation, similarity, checks"
                                    " FROM decisions WHERE rule = ?", (key,)).fetchall()
        except sqlite3.OperationalError:  # no table yet (an index never opened for writing since)
            return
        known = self.known
        for a, b, aligns, distance, orientation, similarity, checks in rows:
            known[(a, b, key, aligns)] = None if orientation is None else (
                distance, orientation, similarity, tuple(checks.split(_CHECKS_SEP)) if checks else ())

    def files_key(self) -> int:
        """The key of the set of file ids searched (the whole index or those under folders)."""
        return _signed(hashlib.blake2b(np.ascontiguousarray(self.ids, dtype="<i8").tobytes(),
                                       digest_size=8).digest())

    def found_pairs(self, rule: Rule) -> list[PairMatch] | None:
        """The pairs the last search of these files under *rule* found (PairMatch of rows), if
        it was made in this very state of the index (generation and write token); else None."""
        pairs = self._found_json(self.key(rule))
        if pairs is None:
            return None
        try:  # a garbled row is a cache miss, never an error (the search runs again)
            if not pairs:
                return []
            want = np.array([[p[0], p[1]] for p in pairs], dtype=np.int64)
            rows = np.searchsorted(self.ids, want)
            if np.any(rows >= len(self.ids)) or np.any(self.ids[rows] != want):
                return None
            out = []
            for (ra, rb), (_, _, distance, orientation, similarity, checks) in zip(rows.tolist(),
                                                                                  pairs):
                out.append(PairMatch(ra, rb, int(distance), int(orientation), similarity,
                                     tuple(checks)))
            return out
        except (ValueError, TypeError, IndexError, OverflowError):
            return None

    def keep_found(self, rule: Rule, found: Sequence[PairMatch]) -> None:
        """Remember what a search found (saved by :meth:`save`, for this state only)."""
        self._keep_json(self.key(rule), [[int(self.ids[p.a]), int(self.ids[p.b]), p.distance,
                                           p.orientation, p.similarity, list(p.checks)]
                                          for p in found])

    def _found_json(self, key: int) -> Any | None:
        """The JSON value kept under *key* for these files, in this very state of the index
        and by this code; None when there is none, or it is garbled (a cache miss)."""
        if self._db is None or not self.state:
            return None
        try:
            row = self._db.execute("SELECT pairs FROM decisions_found WHERE rule = ? AND files = ?"
                                   " AND state = ? AND code = ?",
                                   (key, self.files_key(), self.state, code_key())).fetchone()
        except sqlite3.OperationalError:
            return None
        if row is None:
            return None
        try:
            return json.loads(zlib.decompress(row[0]))
        except (zlib.error, ValueError):
            return None

    def _keep_json(self, key: int, value: Any) -> None:
        """Keep a JSON-able *value* under *key* for this state (written by :meth:`save`)."""
        if self.state:
            self._found[key] = zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 6)

    def current(self) -> bool:
        """True when the index is still in the state this cache was loaded in (generation and
        write token): what is computed now may be kept for that state."""
        if self._db is None or not self.state:
            return False
        try:
            rows = dict(self._db.execute(
                "SELECT key, value FROM meta WHERE key IN ('generation', 'write_token')"))
        except sqlite3.OperationalError:
            return False
        return self.state == f"{rows.get('generation', 0)} {rows.get('write_token')}"

    def _stage_key(self, rule: Rule, stage: str, salt: bytes) -> int:
        return _signed(hashlib.blake2b(repr((self.key(rule), stage)).encode() + salt,
                                       digest_size=8).digest())

    def found_stage(self, rule: Rule, stage: str, salt: bytes) -> Any | None:
        """What a later stage of dedupe (*stage*, e.g. "partial") kept with :meth:`keep_stage`
        for these files under *rule* and the input *salt* (bytes naming what the stage was
        given), if kept in this very state of the index and by this code; else None."""
        return self._found_json(self._stage_key(rule, stage, salt))

    def keep_stage(self, rule: Rule, stage: str, salt: bytes, value: Any) -> None:
        """Remember a later stage's result (JSON-able) for this state (saved by :meth:`save`)."""
        self._keep_json(self._stage_key(rule, stage, salt), value)

    def key(self, rule: Rule) -> int:
        k = self._rule_keys.get(rule)
        if k is None:
            k = self._rule_keys[rule] = rule_key(rule)
        if k not in self._loaded:
            self._load_rule(k)
        return k

    def lookup(self, rule: Rule, a: int, b: int, aligns: int) -> tuple[bool, PairMatch | None]:
        """(known, match): whether the pair of rows (a, b) was decided with these alignments
        under *rule*, and the match it made (None: rejected)."""
        k = (int(self.ids[a]), int(self.ids[b]), self.key(rule), aligns)
        if k in self.known:
            answer = self.known[k]
        elif k in self.new:
            answer = self.new[k]
        else:
            self.misses += 1
            return False, None
        self.hits += 1
        if answer is None:
            return True, None
        return True, PairMatch(a, b, answer[0], answer[1], answer[2], answer[3])

    def knows(self, rule: Rule, a: int, b: int, aligns: int) -> bool:
        """Whether :meth:`lookup` would answer the pair (without counting a hit or miss)."""
        k = (int(self.ids[a]), int(self.ids[b]), self.key(rule), aligns)
        return k in self.known or k in self.new

    def remember(self, rule: Rule, a: int, b: int, aligns: int, match: PairMatch | None) -> None:
        """Record the decision of rows (a, b) (a PairMatch of rows a, b, or None)."""
        k = (int(self.ids[a]), int(self.ids[b]), self.key(rule), aligns)
        self.new[k] = None if match is None else (match.distance, match.orientation,
                                                  match.similarity, tuple(match.checks))

    def save(self) -> bool:
        """Write the new decisions into the index, if it is still in the state they were made
        from. Returns True when written (or nothing to write); False when the index could not
        be written (read-only, locked by an index run for SAVE_TIMEOUT, changed meanwhile, a
        full disk): nothing is raised, the decisions are only made again next time."""
        if not self.new and not self._found:
            return True
        if self.path is None or not _writable(self.path):
            return False
        try:
            db = sqlite3.connect(self.path, timeout=SAVE_TIMEOUT, isolation_level=None)
        except sqlite3.Error:
            return False
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
                if (int(row[0]) if row else 0) != self.generation:
                    db.execute("ROLLBACK")
                    return False
                migrate(db)
                code = code_key()
                db.execute("DELETE FROM decisions WHERE code != ?", (code,))
                db.executemany(
                    "INSERT OR REPLACE INTO decisions(a, b, rule, code, aligns, distance,"
                    " orientation, similarity, checks) VALUES (?,?,?,?,?,?,?,?,?)",
                    _rows(self.new.items(), code))
                token = db.execute("SELECT value FROM meta WHERE key = 'write_token'").fetchone()
                if self._found and token and self.state == f"{self.generation} {token[0]}":
                    db.execute("DELETE FROM decisions_found WHERE state != ? OR code != ?",
                               (self.state, code))
                    files = self.files_key()
                    db.executemany("INSERT OR REPLACE INTO decisions_found(rule, files, code, state,"
                                   " pairs) VALUES (?,?,?,?,?)",
                                   ((rule, files, code, self.state, pairs)
                                    for rule, pairs in self._found.items()))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error:
            return False
        finally:
            db.close()
        self.known.update(self.new)
        self.new, self._found = {}, {}
        return True


def _rows(items: Iterable[tuple[tuple[int, int, int, int], Answer]], code: int) -> Iterable[tuple]:
    for (a, b, rule, aligns), answer in items:
        if answer is None:
            yield (a, b, rule, code, aligns, None, None, None, None)
        else:
            yield (a, b, rule, code, aligns, answer[0], answer[1], answer[2],
                   _CHECKS_SEP.join(answer[3]))


def _writable(path: str) -> bool:
    """The index file and its folder (for the -wal and -shm files) can be written."""
    folder = os.path.dirname(os.path.abspath(path))
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK)
