"""The Index facade: update from folders, query by image, group duplicates.

This is the Python API the CLI calls; it raises ImgfindError subclasses and never prints.
Stages: crawl -> compare with the store -> fingerprint in worker processes -> save in batched
transactions (the main process is the only SQLite writer) -> remove what disappeared.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from . import partial
from .analyse import analyse, analyse_batch
from .crawl import CrawlOptions, file_stat, walk
from .errors import DecodeError, ImgfindError
from .fingerprint import stored_thumb
from .group import Links, order_members, star_components
from .indexer import Executor, batches_for, default_executor, diff
from .layout import ORIENTATION_NAMES, distance_matrix, pair_distance
from .match import Side, channels, find_pairs, verify_pairs
from .match import StageProgress
from .presence import MISSING, PRESENT, UNAVAILABLE, OnDisk, link_kind, look
from .model import (DEFAULT_PRESET, PRESETS, FileRecord, FileStat, Fingerprint, Fingerprinted,
                    Group, IndexStats, Known, Match, Member, Partial, QueryResult, Rule, display)
from .partial_groups import place
from .keypoints import KEYPOINTS, QUERY_KEYPOINTS
from .recipe import THUMB_SIZE
from .store import Prints, Store

#: Told how many more files were fingerprinted and saved (one call per committed batch).
FileProgress = Callable[[int], None]
#: Index.warm builds the tables best for a query's batch of about this many hashes.
WARM_QUERIES = 16


@dataclass(frozen=True, slots=True)
class Settings:
    """How an index run behaves; passed explicitly, never global."""

    jobs: int | None = None  # worker processes; None = every core
    crawl: CrawlOptions = field(default_factory=CrawlOptions)
    batch_files: int = 16  # files per worker task
    commit_every: int = 512  # results per transaction
    commit_seconds: float = 2.0  # ... or this often, whichever comes first
    #: Where files are fingerprinted (indexer.Executor); None: worker processes on this
    #: machine when there is enough work, else this process.
    executor: Executor | None = field(default=None, compare=False)


def default_rule() -> Rule:
    """Return the rule used when none is given: the default preset."""
    return PRESETS[DEFAULT_PRESET]


def _abs(path: str | os.PathLike[str] | bytes) -> bytes:
    return os.fsencode(os.path.abspath(os.fsencode(path)))


class Index:
    """An imgfind index on disk. ``Index.open(path)`` creates it on first use."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._whole: tuple[int, Prints, Side] | None = None
        self._local: tuple[int, partial.LocalIndex, dict[int, tuple[int, int]]] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], settings: Settings | None = None, *,
             readonly: bool = False) -> Index:
        return cls(Store(path, readonly=readonly), settings or Settings())

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ update
    def update(self, roots: Sequence[str | os.PathLike[str]], *,
               on_total: Callable[[int], None] | None = None,
               on_progress: FileProgress | None = None) -> IndexStats:
        """Bring the index up to date with the files under *roots*.

        The crawl is compared with the store by ``indexer.diff``: unchanged files (same size,
        mtime, inode and ctime, current recipe) are not decoded again; a file already stored
        under another name (a hard link, an aliased folder) is not stored twice; changed
        ones are re-fingerprinted by the executor; files under a root that are gone are removed. Results are
        committed in batches, so an interrupted run keeps everything committed so far.

        Raises:
            ImgfindError: a root does not exist.
        """
        abs_roots = [_abs(r) for r in roots]
        for root in abs_roots:
            if not os.path.lexists(root):
                raise ImgfindError(f"no such file or folder: {display(root)}")
        warnings: list[str] = []
        failed_dirs: list[bytes] = []

        def warn(path: bytes, message: str) -> None:
            warnings.append(f"{display(path)}: {message}")
            failed_dirs.append(path.rstrip(b"/") + b"/")

        skipped: dict[str, int] = {}

        def skip(_path: bytes, why: str) -> None:
            skipped[why] = skipped.get(why, 0) + 1

        stats = list(walk(abs_roots, self.settings.crawl, warn, skip))
        warnings.extend(f"{n} {'file' if n == 1 else 'files'} skipped: {why}"
                        for why, n in sorted(skipped.items()))
        known = self.store.known_under(abs_roots)
        plan = diff(stats, known, elsewhere=self._aliases_elsewhere(stats, known),
                    kept=lambda p: any(p.startswith(d) for d in failed_dirs))
        todo = plan.todo
        if on_total:
            on_total(len(todo))
        with self.store.transaction():
            self.store.remember_roots(_root_devices(abs_roots))
            if plan.refresh:
                self.store.refresh(plan.refresh)
        problems: list[tuple[str, str]] = []
        for result in self._save_all(self._fingerprint(todo), on_progress):
            if result.error is not None:
                problems.append((display(result.stat.path), result.error))
            elif result.info is not None and result.info.warning:
                warnings.append(f"{display(result.stat.path)}: {result.info.warning}")
        with self.store.transaction():
            removed = self.store.delete(plan.gone)
        return IndexStats(len(plan.new), len(plan.changed),
                          len(plan.unchanged) + len(plan.aliases), removed, len(problems),
                          tuple(problems), tuple(warnings))

    def _aliases_elsewhere(self, stats: list[FileStat], known: dict[bytes, Known]
                           ) -> dict[tuple[int, int], Known]:
        """Stored files outside *known* that are the file of a crawled path not stored yet
        (same device and inode) and whose stored path still reaches that file on disk."""
        fresh = [st for st in stats if st.path not in known and st.ino]
        out: dict[tuple[int, int], Known] = {}
        for identity, rows in self.store.known_by_identity(st.identity for st in fresh).items():
            for k in rows:
                if k.path in known:
                    continue
                try:
                    st = os.stat(k.path)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) == identity:
                    out[identity] = k
                    break
        return out

    def _fingerprint(self, todo: list[FileStat]) -> Iterator[Fingerprinted]:
        """Yield results from the executor (``Settings.executor``, or worker processes when
        there is enough work for them)."""
        jobs = self.settings.jobs or os.cpu_count() or 1
        executor = self.settings.executor or default_executor(jobs, len(todo))
        for results in executor.map_batches(analyse_batch, batches_for(todo, jobs, self.settings.batch_files)):
            yield from results

    def _save_all(self, results: Iterable[Fingerprinted], on_progress: FileProgress | None
                  ) -> Iterator[Fingerprinted]:
        batch: list[Fingerprinted] = []
        last = time.monotonic()
        for r in results:
            batch.append(r)
            if len(batch) >= self.settings.commit_every or time.monotonic() - last > self.settings.commit_seconds:
                self._commit(batch, on_progress)
                yield from batch
                batch, last = [], time.monotonic()
        if batch:
            self._commit(batch, on_progress)
            yield from batch

    def _commit(self, batch: list[Fingerprinted], on_progress: FileProgress | None) -> None:
        with self.store.transaction():
            self.store.save(batch)
        if on_progress:
            on_progress(len(batch))

    # ------------------------------------------------------------------ search
    def search_side(self, under: Sequence[str | os.PathLike[str]] | None = None
                    ) -> tuple[Prints, Side]:
        """Return the index's fingerprints (all, or those under *under*) as arrays and as a
        search side; the whole index is kept between calls (with its search engines and
        thumbnails) until the store's generation changes."""
        if under:
            prints = self.store.load_prints(self.store.ids_under([_abs(p) for p in under]))
            return prints, self._make_side(prints)
        generation = self.store.generation()
        if self._whole is None or self._whole[0] != generation:
            prints = self.store.load_prints()
            self._whole = (generation, prints, self._make_side(prints))
        return self._whole[1], self._whole[2]

    def local_side(self, under: set[int] | None = None
                   ) -> tuple[partial.LocalIndex, dict[int, tuple[int, int]]]:
        """Return the local features of the index (all, or the files in *under*) as a
        partial.LocalIndex, with every file's (width, height); the whole index is kept
        between calls until the store's generation changes."""
        if under is not None:
            feats = self.store.local_features(under)
            return partial.LocalIndex.build(feats), self.store.sizes()
        generation = self.store.generation()
        if self._local is None or self._local[0] != generation:
            self._local = (generation, partial.LocalIndex.build(self.store.local_features()),
                           self.store.sizes())
        return self._local[1], self._local[2]

    def _make_side(self, prints: Prints) -> Side:
        return Side(prints.ids, prints.hashes, prints.trims, prints.flat,
                    lambda want: self.store.thumbs(want.tolist()))

    def warm(self, rule: Rule | None = None) -> None:
        """Load the index and build its search tables now (seconds at 10^6 files).

        For programs that keep an Index open and query it many times: every query after
        this one takes milliseconds. Without it, the first few queries scan the index (a
        one-shot query should not pay for tables) and the tables come after.
        """
        _, side = self.search_side()
        for channel in channels(rule or default_rule(), same=False):
            side.engine(channel.library_cols, WARM_QUERIES, channel.radius, build=True)

    def query(self, image: str | os.PathLike[str], rule: Rule | None = None, *,
              limit: int | None = None, partial: bool = True) -> QueryResult:
        """Find every indexed copy of *image* (which is fingerprinted, not stored).

        With *partial* (the default), pictures that share a region with it (it is a crop of
        them, they are inside it, or a turned or skewed copy) are found through local
        features too (partial.py): such matches carry ``Match.partial``.

        Raises:
            DecodeError: *image* cannot be read as an image.
        """
        return self.query_many([image], rule, limit=limit, partial=partial)[0]

    def query_many(self, images: Sequence[str | os.PathLike[str]], rule: Rule | None = None, *,
                   limit: int | None = None, partial: bool = True) -> list[QueryResult]:
        rule = rule or default_rule()
        prepared = []
        for image in images:
            path = _abs(image)
            if os.path.isdir(path):
                raise DecodeError(f"{display(path)}: is a folder; query takes image files")
            st = _stat(path)
            result = analyse(st, QUERY_KEYPOINTS if partial else KEYPOINTS)
            if result.fingerprint is None or result.info is None:
                raise DecodeError(f"{display(path)}: {result.error}")
            prepared.append(result)
        with self.store.snapshot():  # one state of the index for the whole answer
            prints, library_side = self.search_side()
            fps = [r.fingerprint for r in prepared]
            pairs = find_pairs(query_side(fps), library_side, rule, same=False)
            found_partial = (self._query_partial(prepared, pairs, prints) if partial
                             else [[] for _ in prepared])
            records = self.store.records([int(prints.ids[p.b]) for p in pairs]
                                         + [fid for hits in found_partial for fid, _ in hits])
            roots = self.store.roots()
            row_of = {int(i): r for r, i in enumerate(prints.ids)}
        disk = look([os.fsencode(rec.path) for rec in records.values()], roots)
        out = []
        for qrow, result in enumerate(prepared):
            info = result.info
            fp = result.fingerprint
            if info is None or fp is None:  # analyse gives both or an error, checked above
                raise ImgfindError(f"{display(result.stat.path)}: no fingerprint ({result.error})")
            qpath = display(result.stat.path)
            q_identity = (result.stat.dev, result.stat.ino)
            mine = [p for p in pairs if p.a == qrow]
            matches = []
            for p in mine:
                rec = records.get(int(prints.ids[p.b]))
                if rec is None:
                    continue  # removed by an index run meanwhile
                now = disk[os.fsencode(rec.path)]
                if rec.path == qpath or (now.identity is not None and now.identity == q_identity):
                    continue  # the query file itself, already indexed (under this or another name)
                matches.append((p, replace(rec, state=now.state) if not now.state == PRESENT else rec))
            matches.sort(key=lambda m: (m[0].distance, -(m[0].similarity or 0), m[1].path))
            extra = []
            for fid, pm in found_partial[qrow]:
                rec = records.get(fid)
                if rec is None or fid not in row_of:
                    continue
                now = disk[os.fsencode(rec.path)]
                if rec.path == qpath or (now.identity is not None and now.identity == q_identity):
                    continue
                extra.append((pm, pair_distance(fp.hashes, prints.hashes[row_of[fid]]),
                              replace(rec, state=now.state) if not now.state == PRESENT else rec))
            l, t, r, b = fp.trim
            q_rec = FileRecord(-1, qpath, result.stat.size, result.stat.mtime_ns, info.width,
                               info.height, info.format, info.metadata, (r - l) * (b - t))
            # The likely original is the query or a match that is on disk now.
            best = order_members([q_rec] + [rec for _, rec in matches if rec.present])[0]
            found = [Match(rec, p.distance, ORIENTATION_NAMES[p.orientation], p.similarity,
                           rec.content_pixels > q_rec.content_pixels, rec.path == best.path,
                           p.checks)
                     for p, rec in matches]
            # Partial matches after the copies, most keypoints first; never "the original".
            found += [Match(rec, dist, partial_describe(pm, "the query"), None,
                            rec.content_pixels > q_rec.content_pixels, False, ("keypoints",), pm)
                      for pm, dist, rec in extra]
            if limit is not None:
                found = found[:limit]
            out.append(QueryResult(
                qpath, info.width, info.height, result.stat.size, info.format, info.metadata,
                tuple(found), best.path))
        return out

    def _query_partial(self, prepared: list[Fingerprinted], pairs: list, prints: Prints
                       ) -> list[list[tuple[int, Partial]]]:
        """Per query, the indexed files that share a region with it (file id, Partial with
        the query as a), leaving out those the global fingerprint already matched."""
        index, sizes = self.local_side()
        out: list[list[tuple[int, Partial]]] = []
        for qrow, result in enumerate(prepared):
            if result.local is None or result.info is None or not len(index):
                out.append([])  # too few keypoints: the global path alone
                continue
            known = [int(prints.ids[p.b]) for p in pairs if p.a == qrow]
            out.append(partial.search(index, result.local, (result.info.width, result.info.height),
                                      sizes, skip=known))
        return out

    def groups(self, rule: Rule | None = None, *,
               under: Sequence[str | os.PathLike[str]] | None = None,
               on_progress: StageProgress | None = None, partial: bool = True) -> list[Group]:
        """Return groups of copies among the indexed files (only those under *under*, if given).

        Every member is looked at on disk (``presence.look``): members that are gone are
        marked ``state="missing"``, those under an indexed root that is not there now
        ``"unavailable"``; a second name of a file already in the group (a hard link, a path
        through a symbolic link) is marked ``same_file_as`` with the relation "same file
        (...)". The likely original (``members[0]``) is a present file whenever the group
        has one; a group left with fewer than two distinct files that are present or
        unavailable is dropped.

        Groups are stars (group.star_components): every member is verified directly against
        the group's first file, so one weak link cannot merge two families; members that fail
        form groups of their own. Each member carries its own ``similarity`` to the first and
        the ``checks`` that pair passed.

        *on_progress* is told (stage, done, total) while searching and verifying: minutes at
        10^6 files.

        With *partial* (the default), pictures that share a region with a group's first file
        (a crop of it, a screenshot or collage that shows it, a turned or skewed copy), found
        through local features (partial.py), join that group as partial members
        (``Member.partial``); groups are never merged through them, and a collage is a
        partial member of each of its photos' groups (partial_groups.place).
        """
        rule = rule or default_rule()
        with self.store.snapshot():  # one state of the index, whatever an index run writes
            prints, side = self.search_side(under)
            links = Links(len(prints))
            found = find_pairs(side, side, rule, same=True, links=links, progress=on_progress)
            comps = links.components()
            records = self.store.records(int(prints.ids[r]) for comp in comps for r in comp)
            roots = self.store.roots()
            disk = look([os.fsencode(rec.path) for rec in records.values()], roots)
            row_of = {int(i): r for r, i in enumerate(prints.ids)}
            arranged: dict[int, tuple[FileRecord, str | None]] = {}  # row -> (record, relation)
            ordered = []
            for comp in comps:
                found_recs = [records[i] for i in (int(prints.ids[r]) for r in comp) if i in records]
                members = _arrange(found_recs, disk)
                if members is None:
                    continue
                rows = [row_of[m.id] for m, _ in members]
                arranged.update(zip(rows, members))
                ordered.append(rows)
            # Stars, not chains: every member verified against its group's first file (the
            # thumbnails are read in the same snapshot as the hashes).
            stars, evidence = star_components(
                ordered, found, rule, lambda rule_, pairs: verify_pairs(side, rule_, pairs),
                side.hashes)
        groups = []
        group_rows = []
        for star in stars:
            members = [arranged[r] for r in star]
            if not _viable(members):
                continue
            group_rows.append(list(star))
            rows = np.array(star)
            dist, orient = distance_matrix(prints.hashes[rows])
            ev = [None] + [evidence.get((star[0], r)) for r in star[1:]]
            groups.append(Group(
                tuple(Member(m, int(dist[0, j]), relation or ORIENTATION_NAMES[int(orient[0, j])],
                             None if e is None else e.similarity, () if e is None else e.checks)
                      for j, ((m, relation), e) in enumerate(zip(members, ev))),
                int(dist.max())))
        if partial:
            groups = self._partial_groups(groups, group_rows, prints, bool(under))
        groups.sort(key=lambda g: (-len(g.members), g.members[0].file.path))
        return groups

    def _partial_groups(self, groups: list[Group], group_rows: list[list[int]], prints: Prints,
                        subset: bool) -> list[Group]:
        """Add partial members to *groups* and new groups of partial matches (see groups)."""
        with self.store.snapshot():
            index, sizes = self.local_side({int(i) for i in prints.ids} if subset else None)
            if len(index) < 2:
                return groups
            local_row = {int(i): r for r, i in enumerate(index.ids)}
            print_row = {int(i): r for r, i in enumerate(prints.ids)}

            def verify(ra: int, rb: int) -> Partial | None:
                if ra < 0 or rb < 0:
                    return None
                ia, ib = int(index.ids[ra]), int(index.ids[rb])
                p = partial.verify(index.features[ra], index.features[rb], sizes.get(ia),
                                   sizes.get(ib))
                if p is None:  # the ratio test is one-sided: ask from the other picture too
                    q = partial.verify(index.features[rb], index.features[ra], sizes.get(ib),
                                       sizes.get(ia))
                    p = None if q is None else q.swapped()
                return p

            # Only pictures in no group ask for candidates: a pair of two grouped pictures is
            # never used (groups are not merged through partial matches), and a pair of a
            # grouped picture and a lone one is found from the lone one.
            grouped = {int(prints.ids[r]) for rows in group_rows for r in rows}
            pairs, seen = [], set()
            for ra, fid in enumerate(index.ids):
                if int(fid) in grouped or int(fid) not in print_row:
                    continue
                for rb, _score in index.candidates(index.features[ra], exclude=ra):
                    if (min(ra, rb), max(ra, rb)) in seen or int(index.ids[rb]) not in print_row:
                        continue
                    seen.add((min(ra, rb), max(ra, rb)))
                    p = verify(ra, rb)
                    if p is not None:
                        pairs.append((ra, rb, p))
            if not pairs:
                return groups
            # global groups in local rows (a member without local features: a row of its own)
            lgroups = [[local_row.get(int(prints.ids[r]), -1 - n) for n, r in enumerate(rows)]
                       for rows in group_rows]
            joins, new = place(lgroups, pairs, verify)
            want = {int(index.ids[r]) for adds in [*joins.values(), *new.values()] for r, _ in adds}
            want |= {int(index.ids[c]) for c in new}
            records = self.store.records(want)
            roots = self.store.roots()
        disk = look([os.fsencode(rec.path) for rec in records.values()], roots)

        def member(first_id: int, row: int, p: Partial) -> Member | None:
            fid = int(index.ids[row])
            rec = records.get(fid)
            if rec is None:
                return None
            now = disk[os.fsencode(rec.path)]
            rec = rec if now.state == PRESENT else replace(rec, state=now.state)
            dist = pair_distance(prints.hashes[print_row[first_id]], prints.hashes[print_row[fid]])
            return Member(rec, dist, partial.describe(p, "the first file"), None, ("keypoints",), p)

        out = list(groups)
        for g, adds in joins.items():
            first_id = out[g].members[0].file.id
            extra = [m for m in (member(first_id, r, p) for r, p in adds) if m is not None]
            out[g] = replace(out[g], members=out[g].members + tuple(extra))
        for centre, adds in new.items():
            cid = int(index.ids[centre])
            crec = records.get(cid)
            if crec is None:
                continue
            now = disk[os.fsencode(crec.path)]
            if now.state == MISSING:
                continue
            crec = crec if now.state == PRESENT else replace(crec, state=now.state)
            extra = [m for m in (member(cid, r, p) for r, p in adds)
                     if m is not None and m.file.state != MISSING]
            if extra:
                out.append(Group((Member(crec, 0, "same orientation"), *extra),
                                 max(m.distance for m in extra)))
        return out

    def problems(self) -> list[tuple[str, str]]:
        return self.store.problems()


partial_describe = partial.describe


def _arrange(records: list[FileRecord], disk: dict[bytes, OnDisk]
             ) -> list[tuple[FileRecord, str | None]] | None:
    """Order a group's records for display and mark what the disk says about each.

    Present files first (likely original first, group.order_members), then unavailable, then
    missing ones. A present record whose (device, inode) an earlier one already has is a
    second name of that file: kept with the relation "same file (...)". Returns None when
    fewer than two distinct files are present or unavailable (no group left to show).
    """
    by_state: dict[str, list[FileRecord]] = {PRESENT: [], UNAVAILABLE: [], MISSING: []}
    for rec in records:
        by_state[disk[os.fsencode(rec.path)].state].append(rec)
    out: list[tuple[FileRecord, str | None]] = []
    first_name: dict[tuple[int, int], FileRecord] = {}
    for rec in order_members(by_state[PRESENT]):
        identity = disk[os.fsencode(rec.path)].identity or (-1, rec.id)
        other = first_name.get(identity)
        if other is None:
            first_name[identity] = rec
            out.append((rec, None))
        else:
            out.append((replace(rec, same_file_as=other.path),
                        link_kind(os.fsencode(rec.path), os.fsencode(other.path))))
    for state in (UNAVAILABLE, MISSING):
        out.extend((replace(rec, state=state), None) for rec in order_members(by_state[state]))
    if len(first_name) + len(by_state[UNAVAILABLE]) < 2:
        return None
    return out


def _viable(members: list[tuple[FileRecord, str | None]]) -> bool:
    """A star group is shown when at least two distinct files of it are present or unavailable
    (as _arrange asks of a whole component): not a second name, not missing."""
    return sum(1 for m, _ in members if m.same_file_as is None and m.state != MISSING) >= 2


def _root_devices(roots: Sequence[bytes]) -> list[tuple[bytes, int]]:
    out = []
    for root in roots:
        try:
            out.append((root, os.stat(root).st_dev))
        except OSError:
            pass
    return out


def query_side(fps: Sequence[Fingerprint]) -> Side:
    """Fingerprints that are not in the index (query images) as a search side, ids -1, -2, ..."""
    ids = -np.arange(1, len(fps) + 1, dtype=np.int64)
    thumbs = {int(i): np.frombuffer(stored_thumb(fp), np.uint8).reshape(-1, THUMB_SIZE)
              for i, fp in zip(ids, fps)}
    return Side(ids, np.stack([fp.hashes for fp in fps]),
                np.array([fp.trim for fp in fps], dtype=np.float32),
                np.array([fp.flat for fp in fps]),
                lambda want: {int(i): thumbs[int(i)] for i in want})


def _stat(path: bytes) -> FileStat:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DecodeError(f"{display(path)}: no such file") from None
    except OSError as exc:
        raise DecodeError(f"{display(path)}: {exc.strerror or exc}") from None
    return file_stat(path, st)
