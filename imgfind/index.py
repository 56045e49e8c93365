"""The Index facade: update from folders, query by image, group duplicates.

This is the Python API the CLI calls; it raises ImgfindError subclasses and never prints.
Stages: crawl -> compare with the store -> fingerprint in worker processes -> save in batched
transactions (the main process is the only SQLite writer) -> remove what disappeared.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass, field, replace

import numpy as np

from . import damaged, partial, same_pixels, verify_threads
from .analyse import analyse, analyse_batch
from .answers import rank_originals, with_pages
from . import crawl
from .cores import usable_cores
from .crawl import CrawlOptions, file_stat, walk
from .errors import DecodeError, ImgfindError, missing
from .decision_cache import DecisionCache
from .fingerprint import stored_thumb, thumb_parts
from .frames import frame_only, same_place, shared_frame
from .group import Links, order_members, star_components
from .indexer import Executor, batches_for, default_executor, diff
from .decide import VERIFY_SIZE
from .layout import (ORIENTATION_NAMES, WHOLE, distance_matrix, invert, pair_distance, reflects,
                     star_distances)
from .match import Side, channels, find_pairs, verifiable, verify_pairs
from .side import TableLoader
from .match import StageProgress
from .presence import MISSING, PRESENT, UNAVAILABLE, OnDisk, link_how, link_kind, look
from .model import (DAMAGED, DEFAULT_PRESET, FORMER_FIRST_CHECK, PRESETS, FileRecord, FileStat, Fingerprint,
                    Fingerprinted, Group, IndexStats, Known, Match, Member, MergeStats, PairMatch, Partial,
                    QueryResult, Rule, SiteReading, display)
from .local_index import DescriptorIndex
from .partial_groups import (CONTAINED, MIN_AGREE, TURNED_AGREE, Placed, b_first, is_source,
                             on_canvas, outranks_copies, place, same_frame, whole)
from .keypoints import QUERY_KEYPOINTS
from .keypoints import density_outside
from .keypoints import outside as keypoints_outside
from .inner_box import inner_boxes
from .part_views import area as view_area, inner_print, ramp, uniform, view_prints
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


#: Pairs whose shared frame is judged at a time in a dedupe (Index._not_frames).
FRAME_BATCH = 4096

#: query: the keypoints outside every partial match's region are searched again on their own
#: at most this many times, when at least REGION_KEYPOINTS of them are left (a collage of four
#: photos whose first search found two or three of them: ours, generated collages).
REGION_PASSES = 2
REGION_KEYPOINTS = 48
#: query: at most this many pictures the query lies inside are verified against each other
#: (Index._not_merely_containing): pairs of them, a dozen verifications at most.
MAX_HOLDERS = 5
#: query: at most this many whole copies in mirror image of the query are searched for the
#: pictures that partly match them (Index._partly_matched)
MAX_MIRRORED = 3
#: ... and at most this many of the query's own partial matches (most inliers first) are
#: verified against each such copy too: one the copy lays over it with more inliers is its
#: match seen through the mirror, the query's a spurious overlap of a mirror image (ours).
MAX_AGAIN = 16
#: query: at most this many of the query's partial matches (most inliers first) are searched
#: for their whole copies in mirror image, listed as partial matches of the query seen through
#: the mirror (Index._mirror_copies_of_partials): the mirrored copy of the photo a crop was
#: cut from is that crop's family too (new-user trial 11b).
MAX_PARTIAL_MIRRORS = 4
#: ... and one that holds next to no keypoints outside the other (keypoints.density_outside
#: under this) shows it on a canvas (a phone screenshot's bars, whose 48 px thumbnail is too
#: smooth for partial.beyond to tell): never its source. Ours: screenshots 0.0-0.007,
#: sources of a crop 0.37-0.50 (generated pictures).
SPARSE_OUTSIDE = 0.1


def _real(path: bytes) -> bool:
    """Whether *path* names its file directly: no symbolic link in it, itself included."""
    return os.path.realpath(path) == path


def _other_files(found: Iterable[tuple[int, Partial]], records: Mapping[int, FileRecord],
                 row_of: Mapping[int, int], disk: Mapping[bytes, OnDisk], query_hashes: np.ndarray,
                 hashes: np.ndarray, qpath: str, q_identity: tuple[int, int]
                 ) -> list[tuple[Partial, int, FileRecord]]:
    """A query's partial matches *found* (file id, Partial) as (Partial, pHash distance to the
    query, record with its state on disk), in the given order: files no longer indexed
    (missing from *records* or *row_of*) and the query file itself (same path, or same device
    and inode) left out. *hashes* are the prints' rows (row_of maps file id -> row)."""
    out = []
    for fid, pm in found:
        rec = records.get(fid)
        if rec is None or fid not in row_of:
            continue
        now = disk[os.fsencode(rec.path)]
        if rec.path == qpath or (now.identity is not None and now.identity == q_identity):
            continue
        out.append((pm, pair_distance(query_hashes, hashes[row_of[fid]]),
                    replace(rec, state=now.state) if not now.state == PRESENT else rec))
    return out

class Index:
    """An imgfind index on disk. ``Index.open(path)`` creates it on first use."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._whole: tuple[int, Prints, Side] | None = None
        self._local: tuple[int, partial.LocalIndex | DescriptorIndex,
                           Mapping[int, tuple[int, int]]] | None = None

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
        ones are re-fingerprinted by the executor (and so are files recorded as having no
        decoder when a decoder for their format is installed now); files under a root that are gone are removed. Results are
        committed in batches, so an interrupted run keeps everything committed so far.

        Raises:
            ImgfindError: a root does not exist or is empty ("" would be the current folder).
        """
        if any(not os.fspath(r) for r in roots):
            raise ImgfindError("an empty path is not a file or folder")
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

        passed_over: set[bytes] = set()

        def skip(path: bytes, why: str) -> None:
            skipped[why] = skipped.get(why, 0) + 1
            if why.startswith("no decoder"):  # a picture, unreadable here now: not gone
                passed_over.add(path)

        other_names: list[tuple[bytes, bytes]] = []  # (a second name, the name crawled)

        def same(path: bytes, kept: bytes) -> None:
            other_names.append((path, kept))

        stats = list(walk(abs_roots, self.settings.crawl, warn, skip, same))
        known = self.store.known_under(abs_roots)
        elsewhere = self._aliases_elsewhere(stats, known)
        plan = diff(stats, known, elsewhere=elsewhere,
                    # A file skipped for want of a decoder (its extra uninstalled since) is
                    # still on disk: kept as it was, not removed.
                    kept=lambda p: p in passed_over or any(p.startswith(d) for d in failed_dirs),
                    retry=crawl.REGISTRY.resolves)
        todo = plan.todo
        if on_total:
            on_total(len(todo))
        with self.store.transaction():
            self.store.remember_roots(_root_devices(abs_roots))
            if plan.refresh:
                self.store.refresh(plan.refresh)
        problems: list[tuple[str, str]] = []
        failed: set[bytes] = set()
        for result in self._save_all(self._fingerprint(todo), on_progress):
            if result.error is not None:
                problems.append((display(result.stat.path), result.error))
                failed.add(result.stat.path)
            elif result.info is not None and result.info.warning:
                warnings.append(f"{display(result.stat.path)}: {result.info.warning}")
        # Unchanged files recorded unreadable by an earlier run: still unreadable, and counted
        # so (not as unchanged), so the four counts add up to the files crawled.
        still = [st for st in plan.unchanged if known[st.path].error is not None]
        problems += [(display(st.path), str(known[st.path].error)) for st in still]
        with self.store.transaction():
            removed = self.store.delete(plan.gone)
        # Other names of one file: shown beside it by dedupe, never as a copy. A crawled name
        # whose file is stored under a path outside these roots is one too (plan.aliases).
        indexed_as = {st.identity: elsewhere[st.identity].path for st in plan.aliases
                      if st.identity in elsewhere}
        # A file first stored under a symbolic link (a folder of links indexed with
        # --follow-symlinks) and crawled now under its real path: the real path becomes the
        # file and the link its other name, whatever the order the folders were indexed in.
        swaps = [(indexed_as[st.identity], st.path) for st in plan.aliases
                 if st.identity in indexed_as and _real(st.path) and not _real(indexed_as[st.identity])]
        self.store.rename_files(swaps)
        swapped = {real: link for link, real in swaps}
        names = list(other_names) + [
            (swapped[st.path], st.path) if st.path in swapped else (st.path, indexed_as[st.identity])
            for st in plan.aliases if st.identity in indexed_as]
        self.store.replace_aliases(abs_roots, [
            (name, kept, link_how(name, kept)) for name, kept in names])
        self._refresh_metadata(abs_roots)
        return IndexStats(sum(st.path not in failed for st in plan.new),
                          sum(st.path not in failed for st in plan.changed),
                          len(plan.unchanged) - len(still) + len(plan.aliases), removed,
                          len(problems), tuple(problems), tuple(warnings),
                          tuple(sorted(skipped.items())))

    def _aliases_elsewhere(self, stats: list[FileStat], known: dict[bytes, Known]
                           ) -> dict[tuple[int, int], Known]:
        """Stored files outside *known* that are the file of a crawled path not stored yet
        (same device and inode) and whose stored path still reaches that file on disk.

        A crawled path is never another name of itself: another index run of these roots
        may have stored it since *known* was read (the look-up by identity comes later),
        and then it is the file, stored already, not an alias of it."""
        crawled = {st.path for st in stats}
        fresh = [st for st in stats if st.path not in known and st.ino]
        out: dict[tuple[int, int], Known] = {}
        for identity, rows in self.store.known_by_identity(st.identity for st in fresh).items():
            for k in rows:
                if k.path in known or k.path in crawled:
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
        jobs = self.settings.jobs or usable_cores()
        executor = self.settings.executor or default_executor(jobs, len(todo))
        jobs = getattr(executor, "workers", jobs)  # a cluster's threads, for the batch size
        for results in executor.map_batches(analyse_batch, batches_for(todo, jobs, self.settings.batch_files)):
            yield from results

    def _save_all(self, results: Iterable[Fingerprinted], on_progress: FileProgress | None
                  ) -> Iterator[Fingerprinted]:
        batch: list[Fingerprinted] = []
        last = time.monotonic()
        try:
            for r in results:
                batch.append(r)
                if len(batch) >= self.settings.commit_every or time.monotonic() - last > self.settings.commit_seconds:
                    self._commit(batch, on_progress)
                    yield from batch
                    batch, last = [], time.monotonic()
        except ImgfindError:
            # The executor gave up (a Dask cluster left without workers): keep what was
            # fingerprinted before, so the next run resumes after it.
            if batch:
                self._commit(batch, on_progress)
            raise
        if batch:
            self._commit(batch, on_progress)
            yield from batch

    def _commit(self, batch: list[Fingerprinted], on_progress: FileProgress | None) -> None:
        with self.store.transaction():
            self.store.save(batch)
        if on_progress:
            on_progress(len(batch))

    # ------------------------------------------------------------------ merge
    def merge(self, others: Sequence[str | os.PathLike[str]], *,
              maps: Sequence[str] = (), checked: bool = False) -> list[MergeStats]:
        """Merge indexes built elsewhere into this one (merge.merge_all): *maps* are
        ``FROM=TO`` path prefix rewrites; for a path both hold, the newer record wins.
        *checked*: the caller has just run merge.check_sources on *others* (not again).

        Raises:
            ImgfindError: a malformed map, an index that is missing, is this one, or holds
                fingerprints of another recipe (checked before anything is copied).
        """
        from .merge import merge_all, parse_map

        stats = merge_all(self.store, [os.fspath(o) for o in others], parse_map(maps),
                          checked=checked)
        self._whole = None
        return stats

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
            self._whole = (generation, prints, self._make_side(
                prints, lambda cols, k: self.store.hash_tables(prints, cols, k)))
        return self._whole[1], self._whole[2]

    def local_side(self, under: set[int] | None = None
                   ) -> tuple[partial.LocalIndex | DescriptorIndex, Mapping[int, tuple[int, int]]]:
        """Return the local features of the index (all, or the files in *under*), searchable,
        with every file's (width, height): the whole index's descriptor index comes from its
        sidecar (local_index.py), kept between calls until the store's generation changes; a
        subset's is built in memory (partial.LocalIndex: the same candidates)."""
        if under is not None:
            feats = self.store.local_features(under)
            return partial.LocalIndex.build(feats), self.store.sizes()
        generation = self.store.generation()
        if self._local is None or self._local[0] != generation:
            self._local = (generation, self.store.descriptor_index(), _Sizes(self.store))
        return self._local[1], self._local[2]

    def _make_side(self, prints: Prints, tables: TableLoader | None = None) -> Side:
        return Side(prints.ids, prints.hashes, prints.trims, prints.flat,
                    lambda want: self.store.thumbs(want.tolist()), tables)

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
                   limit: int | None = None, names: Sequence[str | None] | None = None,
                   skip: Callable[[str, str], None] | None = None,
                   partial: bool = True) -> list[QueryResult]:
        """Reverse search for each of *images* (files); one QueryResult each, in order.

        *names*, when given, are what each query is called in the results (a URL or "(stdin)"
        for a downloaded or piped image saved to a temporary file); None keeps the path. With
        *skip*, an image that cannot be read is reported to ``skip(name, reason)`` and left
        out (a batch goes on); without, it raises. When every image is skipped, the answer
        is []. With *partial*, files that share a region with a query (crops, screenshots,
        collages: partial.py) follow its copies.

        Raises:
            DecodeError: an image is a folder or cannot be read, and *skip* is None.
        """
        rule = rule or default_rule()
        prepared = []
        labels: list[str | None] = []
        for i, image in enumerate(images):
            path = _abs(image)
            label = names[i] if names is not None else None
            shown = label if label is not None else display(path)
            try:
                if not os.fspath(image):
                    raise DecodeError("an empty path is not an image file")
                if os.path.isdir(path):
                    raise DecodeError("is a folder, not an image file (the query command "
                                      "takes folders: each image in it is a query)")
                result = analyse(_stat(path), QUERY_KEYPOINTS if partial else 0, spread=True)
                if result.fingerprint is None or result.info is None:
                    raise DecodeError(str(result.error))
            except DecodeError as exc:
                if skip is None:
                    raise DecodeError(f"{shown}: {exc}") from None
                skip(shown, str(exc))
                continue
            prepared.append(result)
            labels.append(label)
        if not prepared:  # every image was skipped: nothing to search for
            return []
        with self.store.snapshot():  # one state of the index for the whole answer
            prints, library_side = self.search_side()
            fps = [r.fingerprint for r in prepared]
            pairs = find_pairs(query_side(fps), library_side, rule, same=False)
            pairs = self._query_twins(prepared, prints, pairs)
            found_partial = (self._query_partial(prepared, pairs, prints, library_side, rule)
                             if partial else [[] for _ in prepared])
            if partial:
                found_partial = self._mirror_copies_of_partials(found_partial, pairs, prints,
                                                                library_side, rule)
            records = self.store.records([int(prints.ids[p.b]) for p in pairs]
                                         + [fid for hits in found_partial for fid, _ in hits])
            roots = self.store.roots()
            # rows of the partial matches only (a dict of every row costs 0.15 s at 10^5)
            want = np.fromiter({fid for hits in found_partial for fid, _ in hits}, np.int64)
            row_of = {int(prints.ids[r]): int(r) for r in np.nonzero(np.isin(prints.ids, want))[0]}
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
            same_file = None
            same_rec: FileRecord | None = None
            for p in mine:
                rec = records.get(int(prints.ids[p.b]))
                if rec is None:
                    continue  # removed by an index run meanwhile
                now = disk[os.fsencode(rec.path)]
                if rec.path == qpath or (now.identity is not None and now.identity == q_identity):
                    # the query file itself, already indexed (under this or another name)
                    if same_file is None or rec.path == qpath:
                        same_file, same_rec = rec.path, rec
                    continue
                matches.append((p, replace(rec, state=now.state) if not now.state == PRESENT else rec))
            matches.sort(key=lambda m: (m[0].distance, -(m[0].similarity or 0), m[1].path))
            extra = _other_files(found_partial[qrow], records, row_of, disk, fp.hashes,
                                 prints.hashes, qpath, q_identity)
            l, t, r, b = fp.trim
            q_rec = FileRecord(-1, qpath, result.stat.size, result.stat.mtime_ns, info.width,
                               info.height, info.format, info.stored_metadata, (r - l) * (b - t))
            # A lossless copy of a JPEG is not the original beside that JPEG (group.original_key).
            twin_recs = [rec for p, rec in matches if same_pixels.SAME_PIXELS in p.checks]
            if info.format == "JPEG":
                matches = [(p, replace(rec, pixels_of=qpath)
                            if same_pixels.SAME_PIXELS in p.checks and rec.format != "JPEG" else rec)
                           for p, rec in matches]
            if same_rec is not None:
                # The query is an indexed file (by this name, a hard link or a symlink): it
                # competes for "original" as that record (its path, metadata and file time),
                # so the answer is the same by any name.
                q_rec = replace(same_rec, id=-1, state=PRESENT, same_file_as=None)
            if info.format != "JPEG" and any(rec.format == "JPEG" for rec in twin_recs):
                # the query and its other lossless twins were all saved from that JPEG
                source = next(rec.path for rec in twin_recs if rec.format == "JPEG")
                q_rec = replace(q_rec, pixels_of=source)
                matches = [(p, replace(rec, pixels_of=source)
                            if same_pixels.SAME_PIXELS in p.checks and rec.format != "JPEG" else rec)
                           for p, rec in matches]
            # The likely original is the query or a match that is on disk now, among every
            # match: a --limit cuts the list shown, not the copies the original is chosen from.
            # A picture the keypoints lay over the query in its own frame, agreeing over the
            # whole of it (same_frame, Partial.agree TURNED_AGREE or more: a recompressed copy
            # whose pHash strayed past the rule), is a whole copy of the query too; two
            # screenshots that share a window around different pictures disagree inside it.
            frame_copies = [rec for pm, _, rec in extra if rec.present and same_frame(pm)
                            and pm.agree >= TURNED_AGREE]
            best = rank_originals([q_rec] + [rec for _, rec in matches if rec.present]
                                  + frame_copies)[0]
            # A mirror image is an edit, like a crop (dedupe: partial_groups.place's
            # reflected): a whole copy in mirror image of the query that more pictures partly
            # match than the query itself is the picture, the query its mirrored copy.
            mirrored = [rec for p, rec in matches if rec.present and reflects(p.orientation)
                        and same_pixels.SAME_PIXELS not in p.checks][:MAX_MIRRORED]
            # The pictures that partly match such a copy are partial matches of the query
            # too, seen through the mirror (seen). The query's own partial matches are
            # searched again from the copy: one found from it with more inliers (better) was
            # a spurious overlap of the query's keypoints over a mirror image, and replaces
            # the query's own, which then counts for the copy, not for the query.
            seen: list[tuple[Partial, int, FileRecord]] = []
            better: set[int] = set()
            if mirrored and result.local is not None:
                through = self._partly_matched(
                    mirrored, {rec.id for _, rec in matches}
                    | ({same_rec.id} if same_rec is not None else set()),
                    [fid for fid, _ in found_partial[qrow]][:MAX_AGAIN])
                if partial:
                    seen = self._seen_through_mirror(
                        through, [(p, rec) for p, rec in matches if rec in mirrored], q_rec,
                        qpath, q_identity, (info.width, info.height), fp, prints)
                mine_by = {rec.id: pm.inliers for pm, _, rec in extra}
                better = {rec.id for pm, _, rec in seen if pm.inliers > mine_by.get(rec.id, -1)}
                own = sum(rec.id not in better for _, _, rec in extra)
                counts = {i: len(hits) for i, hits in through.items()}
                picked = [rec for rec in mirrored if counts[rec.id] > own]
                if picked:
                    best = rank_originals(picked)[0]
                elif best in mirrored and counts[best.id] < own:
                    # ... and the query, that more pictures partly match, is the picture
                    best = rank_originals([q_rec] + [rec for _, rec in matches if rec.present
                                                     and rec not in mirrored] + frame_copies)[0]
            # A picture the query lies wholly inside holds more picture than any whole copy
            # of the query: the likely source, and a candidate for the biggest version, when
            # the query was cut from it (it shows the query at the query's size or larger,
            # and at least as large as the biggest whole copy: partial_groups
            # .outranks_copies). A screenshot or collage that shows the query shrunk merely
            # contains it: listed, never the original or the biggest.
            whole_px = max([q_rec.content_pixels]
                           + [rec.content_pixels for _, rec in matches if rec.present])
            holders = [rec for pm, _, rec in extra
                       if rec.present and outranks_copies(pm, q_rec.content_pixels, whole_px)]
            if len(holders) > 1:
                holders = self._not_merely_containing(holders)
            contains = bool(holders)
            if contains:
                best = rank_originals(holders)[0]
            # The query turned or skewed on its own canvas (corners of fill) is a copy of the
            # upright picture it shows: that picture is the likely original when dedupe would
            # put it first in the query's group (partial_groups.b_first; source_first: the
            # fill, else, covers even, whole copies' ranking). So is a picture the query
            # shows whole on a canvas of fill (a screenshot that letterboxes or frames it).
            # The query's group holds its whole copies too (global matches, frame copies):
            # the picture is ranked against the first of them, as dedupe ranks it against the
            # group's first file (a pair: a name the query's copies extend ranks no file of
            # another name). (Ranked against the query alone, a quality-35 query of a photo
            # named the photo's turned copy, session 9; skipped whenever the query had a whole
            # copy, the query of a copy of a turned copy named itself or that copy, session 10.)
            # Not by ranking when a whole copy is the query's mirror image: dedupe promotes a
            # partial member only when every whole copy verifies against it, and keypoints
            # never lay a mirror image over it (source_first).
            head = best  # the first of the query's whole copies (the query among them)
            upright = [] if contains else [
                rec for pm, _, rec in extra if rec.present and (
                    whole(pm) and b_first(
                        pm, lambda rec=rec: not mirrored and rank_originals([head, rec])[0] is rec)
                    or pm.cover_b >= CONTAINED and on_canvas(pm.swapped()))]
            if upright:
                best = rank_originals(upright)[0]
                holders = upright
            weighed = tuple([rec for _, rec in matches if rec.present] + frame_copies + holders)
            if limit is not None:
                matches = matches[:limit]
            shown = labels[qrow] if labels[qrow] is not None else qpath
            is_query = best.id == -1  # the query (or its own indexed record)
            original = shown if is_query else best.path
            found = [Match(rec, p.distance, same_pixels.SAME_PIXELS
                           if same_pixels.SAME_PIXELS in p.checks
                           else ORIENTATION_NAMES[p.orientation], p.similarity,
                           rec.content_pixels > q_rec.content_pixels, rec.path == best.path,
                           p.checks)
                     for p, rec in matches]
            # Pictures that partly match a whole copy in mirror image of the query (its crop,
            # its turned copy: keypoints are not mirror-invariant, so the query's own search
            # misses them) are partial matches of the query too, seen through that copy (seen).
            if better:
                extra = [e for e in extra if e[2].id not in better] + [
                    e for e in seen if e[2].id in better]
            # Partial matches after the copies: the likely original among them first, then the
            # pictures the query was cut from (is_source), then the rest, each part most
            # keypoints first (a copy of the source turned or skewed on its own canvas can
            # hold more keypoints than the source: it was listed above it).
            named = contains or bool(upright)
            extra.sort(key=lambda e: (not ((named or e[2] in frame_copies)
                                           and e[2].path == best.path), not is_source(e[0])))
            found += [Match(rec, dist, partial_describe(pm, "the query"), None,
                            rec.content_pixels > q_rec.content_pixels,
                            (named or rec in frame_copies) and rec.path == best.path,
                            ("keypoints",), pm)
                      for pm, dist, rec in extra]
            if limit is not None:
                found = found[:limit]
            out.append(QueryResult(
                shown, info.width, info.height, result.stat.size, info.format, q_rec.metadata,
                tuple(found), original, same_file, mtime_ns=result.stat.mtime_ns,
                content=q_rec.content, original_file=None if is_query else best,
                weighed=weighed, original_contains=contains, pixels_of=q_rec.pixels_of,
                original_upright=bool(upright)))
        return out

    def _mirror_copies_of_partials(self, found: list[list[tuple[int, Partial]]],
                                   pairs: list[PairMatch], prints: Prints, side: Side,
                                   rule: Rule) -> list[list[tuple[int, Partial]]]:
        """Each query's partial matches *found* (file id, Partial with the query as a),
        followed by the whole copies in mirror image (global matches under *rule*, a
        reflecting orientation) of its first MAX_PARTIAL_MIRRORS partial matches, seen from
        the query through the mirror (partial.through_orientation): each file once, none of
        the query's own matches (*pairs*), from the partial match of most inliers."""
        _, sizes = self.local_side()
        out = []
        for qrow, hits in enumerate(found):
            own = dict(hits)  # a hit the mirror lays over with more inliers is replaced: the
            # query's keypoints found a spurious overlap on a mirror image (_partly_matched)
            have = {int(prints.ids[p.b]) for p in pairs if p.a == qrow}
            ranked = sorted(hits, key=lambda h: -h[1].inliers)[:MAX_PARTIAL_MIRRORS]
            rows = np.nonzero(np.isin(prints.ids, np.fromiter((f for f, _ in ranked),
                                                              np.int64)))[0]
            if not len(rows):
                out.append(hits)
                continue
            by_id = dict(ranked)
            sub = side.subset(rows)
            added: dict[int, Partial] = {}
            for p in find_pairs(sub, side, rule, same=False):
                mid, cid = int(sub.ids[p.a]), int(prints.ids[p.b])
                if cid in have or cid == mid or not reflects(p.orientation):
                    continue
                pm = by_id[mid]  # c = k(m): m is c's copy in orientation k^-1
                m_size, c_size = sizes.get(mid), sizes.get(cid)
                if m_size is None or c_size is None:
                    continue
                seen = partial.through_orientation(pm.swapped(), int(invert(p.orientation)),
                                                   c_size, m_size).swapped()
                if (cid not in added or added[cid].inliers < seen.inliers) and (
                        cid not in own or own[cid].inliers < seen.inliers):
                    added[cid] = seen
            kept = [(f, p) for f, p in hits if f not in added]
            out.append(kept + sorted(added.items(), key=lambda h: -h[1].inliers))
        return out

    def _partly_matched(self, copies: list[FileRecord], known: set[int], again: list[int]
                        ) -> dict[int, list[tuple[int, Partial]]]:
        """For each of *copies* (whole copies of a query in mirror image of it), by file id:
        the indexed pictures that partly match it (partial.search with its stored features:
        (file id, Partial with the copy as a)), leaving out the query's matches *known*, the
        copies and *again* (the query's own partial matches, which would take the search's
        places), which are verified against each copy directly instead; none without
        features."""
        index, sizes = self.local_side()
        feats = self.store.local_features([r.id for r in copies] + list(again))
        skip = sorted(known | set(again) | {r.id for r in copies})
        out: dict[int, list[tuple[int, Partial]]] = {}
        for rec in copies:
            f = feats.get(rec.id)
            if f is None:
                out[rec.id] = []
                continue
            found = partial.search(index, f, (rec.width, rec.height), sizes, skip=skip)
            for fid in again:
                g = feats.get(fid)
                p = None if g is None or fid == rec.id else partial.verify(
                    f, g, (rec.width, rec.height), sizes.get(fid))
                if p is not None:
                    found.append((fid, p))
            out[rec.id] = found
        return out

    def _seen_through_mirror(self, through: dict[int, list[tuple[int, Partial]]],
                             copies: list[tuple[PairMatch, FileRecord]], q_rec: FileRecord,
                             qpath: str, q_identity: tuple[int, int], q_size: tuple[int, int],
                             fp: Fingerprint, prints: Prints
                             ) -> list[tuple[Partial, int, FileRecord]]:
        """The partial matches *through* found for the query's whole copies in mirror image
        (*copies*: their global match and record), as (Partial seen from the query
        (partial.through_orientation), pHash distance, record): each file once, from the copy
        of most inliers; files gone from the index, the query itself and its copies left out."""
        orient = {rec.id: (p.orientation, rec) for p, rec in copies}
        best: dict[int, tuple[Partial, FileRecord]] = {}
        for cid, hits in through.items():
            if cid not in orient:
                continue
            k, crec = orient[cid]
            for fid, pc in hits:
                if fid in orient or fid == q_rec.id or (
                        fid in best and best[fid][0].inliers >= pc.inliers):
                    continue
                best[fid] = (partial.through_orientation(pc, k, q_size,
                                                         (crec.width, crec.height)), crec)
        if not best:
            return []
        records = self.store.records(best)
        rows = np.nonzero(np.isin(prints.ids, np.fromiter(best, np.int64)))[0]
        row_of = {int(prints.ids[r]): int(r) for r in rows}
        disk = look([os.fsencode(rec.path) for rec in records.values()], self.store.roots())
        out = _other_files(((fid, pq) for fid, (pq, _) in best.items()), records, row_of, disk,
                           fp.hashes, prints.hashes, qpath, q_identity)
        out.sort(key=lambda e: -e[0].inliers)
        return out

    def _not_merely_containing(self, holders: list[FileRecord]) -> list[FileRecord]:
        """*holders* (pictures a query lies inside, its sources) without those that merely
        contain another of them: a picture that lies wholly inside another (CONTAINED), verified
        by their stored local features and thumbnails, is the picture, and the other its source
        only when it shows it cut from it (partial_groups.is_source); a phone screenshot that
        letterboxes the photo (on_canvas) or a collage that shows it shrunk merely contains it,
        never the query's original (new-user trial of session 10: a crop of the photo named
        the screenshot, which has more pixels). The MAX_HOLDERS with most pixels are compared
        (pairs of them); the rest stay."""
        looked = sorted(holders, key=lambda r: -r.pixels)[:MAX_HOLDERS]
        feats = self.store.local_features(r.id for r in looked)
        thumbs = self.store.thumbs([r.id for r in looked])
        grey = {i: thumb_parts(b)[0] for i, b in thumbs.items() if b is not None}
        dropped: set[int] = set()
        for i, a in enumerate(looked):
            for b in looked[i + 1:]:
                fa, fb = feats.get(a.id), feats.get(b.id)
                if fa is None or fb is None:
                    continue
                pair = (grey[a.id], grey[b.id]) if a.id in grey and b.id in grey else None
                p = partial.verify(fa, fb, (a.width, a.height), (b.width, b.height), pair)
                if p is None:
                    continue
                if p.cover_a >= CONTAINED and p.cover_b < CONTAINED and not (
                        is_source(p) and density_outside(fb, p.box_b) >= SPARSE_OUTSIDE):
                    dropped.add(b.id)  # b shows a, not cut from it
                elif p.cover_b >= CONTAINED and p.cover_a < CONTAINED and not (
                        is_source(p.swapped()) and density_outside(fa, p.box_a) >= SPARSE_OUTSIDE):
                    dropped.add(a.id)
        kept = [r for r in holders if r.id not in dropped]
        return kept or holders

    def _query_twins(self, prepared: list[Fingerprinted], prints: Prints, pairs: list[PairMatch]
                     ) -> list[PairMatch]:
        """*pairs* with each query's pixel-identical files (same_pixels.query_rows) as pairs at
        distance 0 with the check "same pixels", in place of any pair found for the same rows."""
        if not len(prints.ids):
            return pairs
        twins = []
        for qrow, result in enumerate(prepared):
            info, fp = result.info, result.fingerprint
            if info is None or fp is None:
                continue
            for r in same_pixels.query_rows(prints, self.store.records, result.stat.path,
                                            info.width, info.height, info.format, fp.phash,
                                            fp.flat):
                twins.append(PairMatch(qrow, r, 0, 0, 1.0, (same_pixels.SAME_PIXELS,)))
        if not twins:
            return pairs
        keys = {(p.a, p.b) for p in twins}
        return [p for p in pairs if (p.a, p.b) not in keys] + twins

    def _query_partial(self, prepared: list[Fingerprinted], pairs: list, prints: Prints,
                       library_side: Side, rule: Rule) -> list[list[tuple[int, Partial]]]:
        """Per query, the indexed files that share a region with it (file id, Partial with
        the query as a), leaving out those the global fingerprint already matched: through
        local features, then through its halves (part_views.py)."""
        index, sizes = self.local_side()
        out: list[list[tuple[int, Partial]]] = []
        owners, fps = [], []

        def grey_of(fid: int) -> np.ndarray | None:
            blob = self.store.thumbs([fid]).get(fid)
            return None if blob is None else thumb_parts(blob)[0]
        for qrow, result in enumerate(prepared):
            fp, info = result.fingerprint, result.info
            known = [int(prints.ids[p.b]) for p in pairs if p.a == qrow]
            blob = None if fp is None else np.frombuffer(stored_thumb(fp), np.uint8).reshape(
                -1, THUMB_SIZE)
            if result.local is None or info is None or not len(index):
                out.append([])  # too few keypoints: the global path alone
            else:
                thumbs = None if blob is None else (thumb_parts(blob)[0], grey_of)
                found = partial.search(index, result.local, (info.width, info.height), sizes,
                                       skip=known, thumbs=thumbs)
                # Pictures inside the query (a collage's photos) each explain the keypoints in
                # their region; the query's keypoints spread over its picture (keypoints
                # .extract's spread) that lie outside every match are searched again on their
                # own (REGION_PASSES): the strongest keypoints anywhere leave a photo shown
                # small in a collage too few. Only from pictures found inside the query, and
                # only pictures inside it are kept from there, with thumbnails that agree:
                # spread keypoints reach flat and filled regions, where a whole-picture search
                # with them verified an unrelated picture (ours, a skewed copy's black corners).
                for _ in range(REGION_PASSES):
                    boxes = [p.box_a for _, p in found if p.cover_b >= CONTAINED]
                    rest = keypoints_outside(result.spread, boxes) \
                        if boxes and result.spread is not None else None
                    if rest is None or rest.n < REGION_KEYPOINTS:
                        break
                    more = [(f, p) for f, p in partial.search(
                        index, rest, (info.width, info.height), sizes,
                        skip=[*known, *(f for f, _ in found)], thumbs=thumbs)
                        if p.cover_b >= CONTAINED and p.agree >= MIN_AGREE]
                    if not more:
                        break
                    found = sorted(found + more, key=lambda x: -x[1].inliers)
                out.append(found)
            if blob is not None and not fp.flat and not ramp(blob):
                for box, vfp in view_prints(blob):
                    owners.append((qrow, box))
                    fps.append(vfp)
        if fps:
            found = find_pairs(query_side(fps), library_side, rule, same=False)
            for p in self._not_uniform(found, fps, prints):
                qrow, box = owners[p.a]
                fid = int(prints.ids[p.b])
                if fid in {int(prints.ids[x.b]) for x in pairs if x.a == qrow} \
                        or any(f == fid for f, _ in out[qrow]):
                    continue
                info = prepared[qrow].info
                out[qrow].append((fid, view_partial(
                    box, (info.width, info.height) if info else None, sizes.get(fid))))
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
        partial member of each of its photos' groups (partial_groups.place); no other file
        is shown twice (partial_groups.once).
        """
        rule = rule or default_rule()
        with self.store.snapshot():  # one state of the index, whatever an index run writes
            prints, side = self.search_side(under)
            # Pairs decided by an earlier dedupe of this state are not verified again.
            cache = DecisionCache.load(self.store.db, prints.ids, self.store.path,
                                       self.store.generation())
            links = Links(len(prints))
            # The inner-picture box of each row's thumbnail (inner_box), found once for both
            # frame checks (after the search and in the star checks).
            boxes: dict[int, tuple[float, float, float, float] | None] = {}
            # ... and the pairs of a search made in this very state are not searched again.
            known = cache.found_pairs(rule)
            if known is None:
                found = find_pairs(side, side, rule, same=True, links=links, progress=on_progress,
                                   cache=cache)
                # A shared frame alone is no copy (frames.py, by the stored local features);
                # kept with the search's pairs, so a warm dedupe does not judge them again.
                kept = self._not_frames(found, side, prints, rule, boxes=boxes)
                if len(kept) < len(found):
                    found = kept
                    links = Links(len(prints))
                    for p in found:
                        links.link(p.a, p.b)
                cache.keep_found(rule, found)
            else:
                found = known
                for p in found:  # find_pairs links exactly the pairs it finds
                    links.link(p.a, p.b)
            # Files with exactly the same pixels (a JPEG and a lossless copy of it): distance
            # 0 whatever their fingerprints say (same_pixels.py), decided after the search.
            twins = same_pixels.library_pairs(self.store, prints, cache)
            found = _with_twins(found, twins, links)
            # A JPEG damaged after its first bytes (a glitch band: libjpeg's warnings) beside
            # its intact original, compared over the rows that agree (damaged.py).
            broken, why_broken = damaged.library_pairs(self.store, prints, cache)
            found = _with_damaged(found, broken, links)
            broken_keys = {(p.a, p.b) for p in broken}
            twin_of: dict[int, set[int]] = {}  # row -> rows with the same pixels
            for p in twins:
                twin_of.setdefault(p.a, set()).add(p.b)
                twin_of.setdefault(p.b, set()).add(p.a)
            comps = links.components()
            records = self.store.records(int(prints.ids[r]) for comp in comps for r in comp)
            records = _mark_copies(records, twins, prints.ids)
            records = _mark_damaged(records, why_broken, prints.ids)
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
            # thumbnails are read in the same snapshot as the hashes). The frame verdicts of
            # the pairs it verifies are kept for this state of the index, as the pairs are.
            usable = cache.current()
            kept_frames = cache.found_stage(rule, "frames", b"") if usable else None
            memo: dict[tuple[int, int], bool] = {}
            try:
                memo = {(int(a), int(b)): bool(v) for a, b, v in (kept_frames or [])}
            except (TypeError, ValueError):  # garbled: judged again
                memo = {}
            judged = len(memo)
            stars, evidence = star_components(
                ordered, found, rule, lambda rule_, pairs: self._verified_not_frames(
                    verify_pairs(side, rule_, pairs, cache), side, prints, rule_, memo, boxes),
                side.hashes, lambda rule_, pairs: verifiable(side, rule_, pairs))
            if usable and len(memo) > judged:
                cache.keep_stage(rule, "frames", b"", [[a, b, int(v)] for (a, b), v in memo.items()])
            groups = []
            group_rows = []
            for star in stars:
                members = [arranged[r] for r in star]
                if not _viable(members):
                    continue
                group_rows.append(list(star))
                rows = np.array(star)
                same = _twin_matrix(star, twin_of) if twin_of else None
                # A damaged copy is joined by its own test (damaged.py), not by the pHash
                # rule: its distance is shown, but max_distance covers only the members the
                # rule joined (with same-pixel twins at 0), so it never exceeds what they show.
                by_rule = np.array([j == 0 or (min(star[0], r), max(star[0], r)) not in broken_keys
                                    for j, r in enumerate(star)])
                if same is not None:
                    dist, orient = distance_matrix(prints.hashes[rows])
                    dist[same] = 0
                    first, first_orient = dist[0], orient[0]
                    top = int(dist[np.ix_(by_rule, by_rule)].max())
                else:  # row 0 and the largest only: O(k) memory beyond k^2 bytes (issue 15)
                    first, first_orient, top = star_distances(prints.hashes[rows])
                    if not by_rule.all():
                        top = star_distances(prints.hashes[rows[by_rule]])[2]
                ev = [None] + [evidence.get((star[0], r)) for r in star[1:]]
                groups.append(Group(
                    tuple(Member(m, int(first[j]),
                                 relation or (same_pixels.SAME_PIXELS
                                              if same is not None and same[0, j]
                                              else damaged.DAMAGED_COPY
                                              if (min(star[0], star[j]), max(star[0], star[j]))
                                              in broken_keys
                                              else ORIENTATION_NAMES[int(first_orient[j])]),
                                 None if e is None else e.similarity,
                                 () if e is None else e.checks)
                          for j, ((m, relation), e) in enumerate(zip(members, ev))),
                    top))
            if partial:  # in the same snapshot: the rows name the files of this state
                groups = self._partial_groups(groups, group_rows, prints, side, rule, bool(under),
                                              cache)
            else:
                groups = self._mirror_heads(groups, group_rows, prints, rule, bool(under), cache)
        cache.save()  # after the snapshot: only if the index is still in that state
        groups = self._with_other_names(groups)
        groups.sort(key=lambda g: (-len(g.members), g.members[0].file.path))
        return groups

    def _with_other_names(self, groups: list[Group]) -> list[Group]:
        """*groups* with each present member's other names (store.aliases) that still reach
        its file on disk (same device and inode, presence.look) in ``FileRecord.other_names``."""
        names = self.store.aliases({m.file.id for g in groups for m in g.members if m.file.present})
        if not names:
            return groups
        listed = {m.file.id: m.file.path for g in groups for m in g.members if m.file.id in names}
        on_disk = look({os.fsencode(p) for i, found in names.items() if i in listed
                        for p in (listed[i], *(name for name, _ in found))}, {})

        def identity(path: str) -> tuple[int, int] | None:
            return on_disk[os.fsencode(path)].identity

        out = []
        for g in groups:
            members = []
            for m in g.members:
                found = names.get(m.file.id) if m.file.present else None
                if found:
                    own = identity(m.file.path)
                    reach = tuple((p, how) for p, how in found if p != m.file.path
                                  and own is not None and identity(p) == own)
                    if reach:
                        m = replace(m, file=replace(m.file, other_names=reach))
                members.append(m)
            out.append(replace(g, members=tuple(members)))
        return out

    def _not_frames(self, pairs: Sequence[PairMatch], side: Side, prints: Prints, rule: Rule,
                    memo: dict[tuple[int, int], bool] | None = None,
                    boxes: dict[int, tuple[float, float, float, float] | None] | None = None
                    ) -> list[PairMatch]:
        """*pairs* without those whose agreement is only a frame both pictures share (two
        screenshots of one application around different pictures: frames.frame_only, judged
        by the local features of the pairs whose 24 px views share a frame; when either has
        none, a soft picture, by the pictures inside the frame: _inner_differ). *memo* (file
        id pair -> only a frame) answers pairs judged before and learns the others; *boxes*
        (row of *side* -> its inner_box) alike for the rows' inner pictures."""
        memo = {} if memo is None else memo
        boxes = {} if boxes is None else boxes

        def ids(p: PairMatch) -> tuple[int, int]:
            return int(prints.ids[p.a]), int(prints.ids[p.b])

        same = [p for p in pairs
                if p.orientation == 0 and p.similarity is not None and ids(p) not in memo]
        for lo in range(0, len(same), FRAME_BATCH):
            # in batches, the thumbnails and views dropped after each: memory follows the
            # batch, not the pairs of a whole library
            batch = same[lo:lo + FRAME_BATCH]
            side.prefetch(np.array(sorted({r for p in batch for r in (p.a, p.b)}), np.int64))
            xs = side.views([(p.a, WHOLE) for p in batch], VERIFY_SIZE)
            ys = side.views([(p.b, WHOLE) for p in batch], VERIFY_SIZE)
            framed = [(p, x, y) for p, x, y in zip(batch, xs, ys)
                      if shared_frame(x, y) is not None]
            # Pairs whose pictures each show a picture inside a frame, in the same place: the
            # frame can be most of both even where their 24 px views differ too little to
            # show it (two dark soft pictures in one window).
            # (not "set - boxes.keys()": that copies every key already measured, every batch)
            new = sorted(r for r in {r for p in batch for r in (p.a, p.b)} if r not in boxes)
            boxes.update(zip(new, inner_boxes([side.thumb(r) for r in new])))
            boxed = [p for p in batch if boxes[p.a] is not None and boxes[p.b] is not None
                     and same_place(boxes[p.a], boxes[p.b])]
            side.forget()
            feats = self.store.local_features({i for p, _, _ in framed for i in ids(p)}) \
                if framed else {}
            for p in batch:
                memo[ids(p)] = False
            for p, x, y in framed:
                memo[ids(p)] = frame_only(x, y, feats.get(ids(p)[0]), feats.get(ids(p)[1]))
            # The pictures inside the frame tell what the frame's keypoints cannot (a soft
            # picture has almost none of its own) and the 24 px views too little.
            boxed = [p for p in boxed if not memo[ids(p)]]
            if boxed:
                thumbs = self.store.thumbs({i for p in boxed for i in ids(p)})
                for p in boxed:
                    memo[ids(p)] = _inner_differ(thumbs.get(ids(p)[0]), thumbs.get(ids(p)[1]),
                                                 rule)
        return [p for p in pairs if not memo.get(ids(p), False)]

    def _verified_not_frames(self, verified: dict[tuple[int, int], PairMatch], side: Side,
                             prints: Prints, rule: Rule, memo: dict[tuple[int, int], bool],
                             boxes: dict[int, tuple[float, float, float, float] | None] | None = None
                             ) -> dict[tuple[int, int], PairMatch]:
        """verify_pairs' answer without frame-only pairs (_not_frames)."""
        if not verified:
            return verified
        kept = {(p.a, p.b) for p in self._not_frames(list(verified.values()), side, prints,
                                                     rule, memo, boxes)}
        return {k: p for k, p in verified.items() if (p.a, p.b) in kept}

    def _mirror_heads(self, groups: list[Group], group_rows: list[list[int]], prints: Prints,
                      rule: Rule, subset: bool, cache: DecisionCache) -> list[Group]:
        """*groups* (without partial members: dedupe --no-partial), each whose first file is
        the mirror image of one of its whole copies shown from the copy that more indexed
        pictures partly match than the first (partial.search with the stored local features,
        the group's own files left out; at most MAX_MIRRORED copies, the first in the group's
        order; a tie keeps the group as it is). The rule the partial stage applies with its
        partial members (partial_groups.place's reflected) and query (MAX_MIRRORED): a mirror
        image is an edit, like a crop, and the crops and turned copies of a photo are the
        photo's, not its mirror image's. Only the ranking uses them: no partial member is
        added. Groups without a mirror image cost nothing."""
        todo = []
        for g, rows in enumerate(group_rows):
            if len(rows) < 2:
                continue
            _, orient, _ = star_distances(prints.hashes[np.array(rows)])
            flipped = [rows[j] for j in range(1, len(rows)) if reflects(int(orient[j]))]
            if flipped:
                todo.append((g, flipped[:MAX_MIRRORED]))
        if not todo:
            return groups
        # the heads found for this state of the index and these groups are kept (the
        # decision cache, as the partial stage's placement): a second run searches nothing
        salt = _groups_salt(group_rows, prints.ids, subset)
        usable = cache.current()
        kept = cache.found_stage(rule, "mirror-heads", salt) if usable else None
        out = list(groups)
        if isinstance(kept, list):
            row = {int(prints.ids[r]): r for g, _ in todo for r in group_rows[g]}
            try:
                for g, head in kept:
                    out[int(g)] = _shown_from(groups[int(g)], group_rows[int(g)],
                                              row[int(head)], prints)
                return out
            except (TypeError, ValueError, KeyError, IndexError):  # garbled: decided again
                out = list(groups)
        index, sizes = self.local_side({int(i) for i in prints.ids} if subset else None)
        ids = {r: int(prints.ids[r]) for g, flipped in todo for r in [group_rows[g][0], *flipped]}
        feats = self.store.local_features(ids.values())
        heads = []
        for g, flipped in todo:
            rows = group_rows[g]
            skip = sorted(int(prints.ids[r]) for r in rows)
            by_file = {m.file.id: m.file for m in groups[g].members}

            def matched(r: int) -> int:
                f, rec = feats.get(ids[r]), by_file.get(ids[r])
                if f is None or rec is None:
                    return 0
                return len(partial.search(index, f, (rec.width, rec.height), sizes, skip=skip))

            first = matched(rows[0])
            count, head = max((matched(r), -k, r) for k, r in enumerate(flipped))[::2]
            if count > first:
                out[g] = _shown_from(groups[g], rows, head, prints)
                heads.append([g, ids[head]])
        if usable:
            cache.keep_stage(rule, "mirror-heads", salt, heads)
        return out

    def _partial_groups(self, groups: list[Group], group_rows: list[list[int]], prints: Prints,
                        side: Side, rule: Rule, subset: bool,
                        cache: DecisionCache | None = None) -> list[Group]:
        """Add partial members to *groups* and new groups of partial matches (see groups).

        Rows here are rows of *prints*. Only pictures in no group look for partial matches:
        a pair of two grouped pictures is never used (groups are not merged through partial
        matches) and a pair of a grouped picture and a lone one is found from the lone one.
        With *cache*, what this stage placed is remembered for the index's state and the
        groups it was given: a dedupe of an unchanged index does not search or verify again.
        """
        with self.store.snapshot():  # the caller's, when it has one (groups does)
            salt = _groups_salt(group_rows, prints.ids, subset)
            usable = cache is not None and cache.current()
            kept = cache.found_stage(rule, "partial", salt) if usable else None
            placed = None
            if kept is not None:
                try:
                    placed = _placed_from_json(kept, prints.ids)
                    if any(not 0 <= g < len(group_rows) for g in [*placed[0], *placed[2]]):
                        placed = None
                except (KeyError, TypeError, ValueError, IndexError):  # garbled: search again
                    placed = None
            if placed is not None:
                joins, new, promoted = placed
            else:
                joins, new, promoted = self._place_partial(group_rows, prints, side, rule, subset)
                if usable:
                    cache.keep_stage(rule, "partial", salt,
                                     _placed_to_json((joins, new, promoted), prints.ids))
            if not joins and not new and not promoted:
                return groups
            shown = [*new, *promoted.values()]
            want = {int(prints.ids[r]) for adds in [*joins.values(), *(a for _, a in shown)]
                    for r, _ in adds}
            want |= {int(prints.ids[c]) for c, _ in shown}
            records = self.store.records(want)
            roots = self.store.roots()
        return self._with_partial_members(groups, group_rows, prints, (joins, new, promoted),
                                          records, roots)

    def _place_partial(self, group_rows: list[list[int]], prints: Prints, side: Side, rule: Rule,
                       subset: bool) -> Placed:
        """Search and verify the lone pictures' partial matches and place them (partial_groups
        .place): (joins by group, new groups as (first row, members)), inside the caller's snapshot."""
        grouped = {r for rows in group_rows for r in rows}
        lone = [r for r in range(len(prints)) if r not in grouped]
        index, sizes = self.local_side({int(i) for i in prints.ids} if subset else None)
        if isinstance(sizes, _Sizes):
            sizes = self.store.sizes()  # most of them are asked for: read at once
        local_row = {int(i): r for r, i in enumerate(index.ids)}
        lrow = [local_row.get(int(i), -1) for i in prints.ids]  # print row -> local row

        def size(r: int) -> tuple[int, int] | None:
            return sizes.get(int(prints.ids[r]))

        grey: dict[int, np.ndarray | None] = {}

        def thumb(r: int) -> np.ndarray | None:
            if r not in grey:
                blob = self.store.thumbs([int(prints.ids[r])]).get(int(prints.ids[r]))
                grey[r] = None if blob is None else thumb_parts(blob)[0]
            return grey[r]

        def job(a: int, b: int) -> verify_threads.Job | None:
            """What verifying a against b needs (read on this thread: SQLite), or None."""
            la, lb = lrow[a], lrow[b]
            if la < 0 or lb < 0:
                return None
            ta, tb = thumb(a), thumb(b)
            both = (ta, tb) if ta is not None and tb is not None else None
            return index.features[la], index.features[lb], size(a), size(b), both

        def by_keypoints(a: int, b: int) -> Partial | None:
            todo = job(a, b)
            return None if todo is None else verify_threads.both_ways(*todo)

        pairs: list[tuple[int, int, Partial]] = []
        seen: set[tuple[int, int]] = set()
        print_of_local = {lr: r for r, lr in enumerate(lrow) if lr >= 0}
        asking = [a for a in lone if lrow[a] >= 0]
        if isinstance(index, DescriptorIndex):  # all lone pictures in one compiled pass
            found_rows, _ = index.candidates_many(
                [index.desc[index.starts[lrow[a]]:index.starts[lrow[a] + 1]] for a in asking],
                exclude=[lrow[a] for a in asking])
            index.features.prefetch({lrow[a] for a in asking}
                                    | {int(r) for r in found_rows.ravel() if r >= 0})
            found = {a: [(int(r), 0.0) for r in rs if r >= 0]
                     for a, rs in zip(asking, found_rows)}
        else:
            found = {a: index.candidates(index.features[lrow[a]], exclude=lrow[a])
                     for a in asking}
        framed: dict[int, list[int]] = {}  # a -> pictures in one frame with a (SAME_FRAME)

        def check(asked: Iterable[tuple[int, Iterable[int]]]) -> None:
            """Verify each picture a against its candidates (local rows), each pair once, in
            this order; the pairs on worker threads (verify_threads: the same answers)."""
            todo = []
            for a, candidates in asked:
                for lb in candidates:
                    b = print_of_local.get(lb)
                    if b is None or (min(a, b), max(a, b)) in seen:
                        continue
                    seen.add((min(a, b), max(a, b)))
                    todo.append((a, b))
            answers = verify_threads.verify_many(job(a, b) for a, b in todo)
            for (a, b), p in zip(todo, answers):
                if p is not None:
                    pairs.append((a, b, p))
                    if same_frame(p):
                        framed.setdefault(a, []).append(b)

        check((a, (lb for lb, _score in found[a])) for a in asking)
        # A lone picture whose candidates included pictures in the same frame as itself (two
        # screenshots of one application around different pictures) asks again without the
        # frame's keypoints: the frame's votes crowd out the picture it shows.
        check(self._without_frame(index, lrow, framed).items())
        views = self._view_pairs(lone, prints, side, rule, size)
        pairs += [(a, b, p) for (a, b), p in views.items() if (min(a, b), max(a, b)) not in seen]

        def verify(a: int, b: int) -> Partial | None:
            if (b, a) in views:
                return views[(b, a)].swapped()
            return by_keypoints(a, b)

        if not pairs:
            return {}, [], {}
        def ranks(x: int, y: int) -> bool:
            """Does row y come before row x as whole copies are ordered (group.order_members)?"""
            recs = self.store.records([int(prints.ids[x]), int(prints.ids[y])])
            rx, ry = recs.get(int(prints.ids[x])), recs.get(int(prints.ids[y]))
            return rx is not None and ry is not None and order_members([rx, ry])[0] is ry

        def orientation(x: int, y: int) -> int:
            """The orientation k of row y as a whole copy of row x (y ~ k(x); layout)."""
            return int(distance_matrix(prints.hashes[[x, y]])[1][0, 1])

        def reflected(x: int, y: int) -> bool:
            """Are rows x and y whole copies in mirror image (layout.reflects)?"""
            return reflects(orientation(x, y))

        def through(a: int, c: int, p: Partial) -> Partial:
            """*p* (how a picture overlaps row c, a whole copy of row a in mirror image) seen
            from row a (partial.through_orientation, c ~ k(a))."""
            k = orientation(a, c)
            sa, sc = size(a), size(c)
            return partial.through_orientation(p, k, sa or (1, 1), sc or sa or (1, 1))

        return place(group_rows, pairs, verify, ranks, reflected, through)

    @staticmethod
    def _without_frame(index: partial.LocalIndex | DescriptorIndex, lrow: list[int],
                       framed: dict[int, list[int]]) -> dict[int, list[int]]:
        """The candidates (local rows) of each picture in *framed* (print row -> print rows of
        pictures it shares a frame with) searched by its keypoints outside that frame only:
        those the verified model of the picture and a frame-mate explains are the frame
        (partial.shared). Pictures left with fewer than partial.MIN_INLIERS keypoints, or
        none in a frame, ask nothing. Ours (bench smooth and dev pools: a screenshot's
        window found the other screenshots first, its picture's copies ranked 10th-35th)."""
        asking, queries = [], []
        for a, mates in framed.items():
            fa = index.features[lrow[a]]
            frame = np.zeros(fa.n, bool)
            for b in mates:
                frame |= partial.shared(fa, index.features[lrow[b]])[0]
            rest = partial.descriptors(fa)[~frame]
            if frame.any() and len(rest) >= partial.MIN_INLIERS:
                asking.append(a)
                queries.append(rest)
        if not asking:
            return {}
        if isinstance(index, DescriptorIndex):
            found_rows, _ = index.candidates_many(queries, exclude=[lrow[a] for a in asking])
            index.features.prefetch({int(r) for r in found_rows.ravel() if r >= 0})
            return {a: [int(r) for r in rs if r >= 0] for a, rs in zip(asking, found_rows)}
        out = {}
        for a, rest in zip(asking, queries):
            qi, items, _ = index.engine.find_many(rest, partial.CANDIDATE_BITS)
            out[a] = [r for r, _s in partial.vote(qi, index.owner[items], len(rest),
                                                   len(index.ids), exclude=lrow[a])]
        return out

    def _with_partial_members(self, groups: list[Group], group_rows: list[list[int]],
                              prints: Prints, placed: Placed,
                              records: dict[int, FileRecord], roots: dict[bytes, int]) -> list[Group]:
        """*groups* with the placed partial members added (files gone from disk left out), and
        the groups partial_groups.place promoted shown from the picture their first was cut
        from (all their files kept, whatever their state)."""
        joins, new, promoted = placed
        disk = look([os.fsencode(rec.path) for rec in records.values()], roots)

        def member(first: int, row: int, p: Partial) -> Member | None:
            rec = records.get(int(prints.ids[row]))
            if rec is None:
                return None
            now = disk[os.fsencode(rec.path)]
            rec = rec if now.state == PRESENT else replace(rec, state=now.state)
            dist = pair_distance(prints.hashes[first], prints.hashes[row])
            return Member(rec, dist, partial_describe(p, "the first file"), None,
                          ("keypoints",) if p.model != VIEW_MODEL else ("part view",), p)

        out = list(groups)
        for g, adds in joins.items():
            first = group_rows[g][0]
            extra = [m for m in (member(first, r, p) for r, p in adds) if m is not None]
            out[g] = replace(out[g], members=out[g].members + tuple(extra))
        for g, (first, adds) in promoted.items():
            if first in group_rows[g]:  # one of its own files: shown from it (a mirror's copy)
                out[g] = _shown_from(out[g], group_rows[g], first, prints)
                extra = [m for m in (member(first, r, p) for r, p in adds) if m is not None]
                out[g] = replace(out[g], members=out[g].members + tuple(extra))
                continue
            frec = records.get(int(prints.ids[first]))
            own = set(group_rows[g])
            extra = [member(first, r, p) for r, p in adds if r not in own]
            if frec is None or any(m is None for m in extra):  # removed meanwhile: as it was
                continue
            now = disk[os.fsencode(frec.path)]
            frec = frec if now.state == PRESENT else replace(frec, state=now.state)
            # The group's own files stay whole copies of each other, as the global stage
            # found them (their distance and relation against their own first): a crop or
            # screenshot taken as their source (rightly or not) never turns a q35 copy beside
            # its q92 copy into a "partial match" a plan keeps. Its first file is a partial
            # relation of theirs (first_partial): a plan keeps it and chooses among them.
            out[g] = Group((Member(frec, 0, "same orientation"), *out[g].members, *extra),
                           out[g].max_distance, first_partial=True)
        for centre, adds in new:
            crec = records.get(int(prints.ids[centre]))
            if crec is None:
                continue
            now = disk[os.fsencode(crec.path)]
            if now.state == MISSING:
                continue
            crec = crec if now.state == PRESENT else replace(crec, state=now.state)
            extra = [m for m in (member(centre, r, p) for r, p in adds)
                     if m is not None and m.file.state != MISSING]
            if extra:
                # No whole copy in this group: max_distance counts whole copies only.
                out.append(Group((Member(crec, 0, "same orientation"), *extra), 0))
        return out

    def _view_pairs(self, rows: list[int], prints: Prints, side: Side, rule: Rule,
                    size: Callable[[int], tuple[int, int] | None]
                    ) -> dict[tuple[int, int], Partial]:
        """Part views (part_views.py) of the pictures at *rows* matched against the whole
        of the others by the global stages: {(row a, row b): Partial with a the picture whose
        half is b}."""
        thumbs = self.store.thumbs(int(prints.ids[r]) for r in rows)
        owners, fps = [], []
        for r in rows:
            blob = thumbs.get(int(prints.ids[r]))
            if blob is None or prints.flat[r] or ramp(blob):
                continue  # a plain ramp has no parts: each half of it is a ramp (part_views.ramp)
            for box, fp in view_prints(blob):
                owners.append((r, box))
                fps.append(fp)
        out: dict[tuple[int, int], Partial] = {}
        if not fps:
            return out
        for p in self._not_uniform(find_pairs(query_side(fps), side, rule, same=False), fps,
                                   prints):
            a, box = owners[p.a]
            if p.b == a:
                continue
            pm = view_partial(box, size(a), size(p.b))
            if (a, p.b) not in out or pm.cover_a > out[(a, p.b)].cover_a:
                out[(a, p.b)] = pm
        return out

    def _not_uniform(self, found: list[PairMatch], views: Sequence[Fingerprint], prints: Prints
                     ) -> list[PairMatch]:
        """The pairs of part views (*views*, rows a) and indexed pictures (rows b of *prints*)
        in *found* where neither is a uniform fill (part_views.uniform): a solid black
        picture is not a part of every drawing with a black rectangle in it."""
        if not found:
            return found
        thumbs = self.store.thumbs({int(prints.ids[p.b]) for p in found})
        out = []
        for p in found:
            blob = thumbs.get(int(prints.ids[p.b]))
            view = np.frombuffer(stored_thumb(views[p.a]), np.uint8).reshape(-1, THUMB_SIZE)
            if blob is not None and not uniform(blob) and not uniform(view):
                out.append(p)
        return out

    def problems(self) -> list[tuple[str, str]]:
        return self.store.problems()

    def _refresh_metadata(self, roots: Sequence[bytes]) -> None:
        """Files read before the index was upgraded to schema 3 get the XMP, IPTC and GPS
        fields once, from their headers (no decode; fingerprints kept), in this process,
        committed in batches: about 5 ms per file (bench dev pool, 2207 files: 11.7 s against
        1.5 s for an unchanged run)."""
        stale = self.store.stale_metadata(roots)
        if not stale:
            return
        from .decoders.pillow import header_metadata  # noqa: PLC0415

        for start in range(0, len(stale), self.settings.commit_every):
            chunk = stale[start:start + self.settings.commit_every]
            read = [(path, header_metadata(path)) for path in chunk]
            with self.store.transaction():
                self.store.set_metadata(read)

    # ------------------------------------------------------------------ web pages
    def read_pages(self, source: str | os.PathLike[str], base_url: str | None = None,
                   files: str | os.PathLike[str] | None = None) -> SiteReading:
        """Read the pages of a local site copy (pages.read_site) and record which page shows
        which image file, replacing what was recorded for *source* before.

        Raises:
            ImgfindError: *source* is missing or not readable as a site (pages.read_site).
        """
        from .pages import read_site  # noqa: PLC0415 - Beautiful Soup only for this command

        reading = read_site(os.fsdecode(source), base_url,
                            os.fsdecode(files) if files is not None else None)
        with self.store.transaction():
            self.store.save_pages(_abs(source), (
                (p.url, p.title, os.fsencode(p.source),
                 [(os.fsencode(path), url, how) for path, url, how in p.images])
                for p in reading.pages))
        return reading

    def page_sources(self) -> list[tuple[str, int, int, float]]:
        """The sources ``read_pages`` recorded: (path, pages, image references, last read)."""
        return self.store.page_sources()

    def forget_pages(self, source: str | os.PathLike[str]) -> int:
        """Drop what reading *source* recorded (it need not exist any more); return the
        number of pages dropped (0: nothing was recorded for it)."""
        with self.store.transaction():
            return self.store.forget_pages(_abs(source))

    def not_indexed(self, paths: Iterable[str]) -> list[str]:
        """The given image paths that the index does not hold (to tell the user to index them)."""
        wanted = list(dict.fromkeys(paths))
        have = self.store.known_paths(os.fsencode(p) for p in wanted)
        return [p for p in wanted if os.fsencode(p) not in have]

    def with_pages(self, results: Sequence[QueryResult]) -> list[QueryResult]:
        """Return *results* with the web pages that show the query and each match
        (QueryResult.pages, Match.pages), as recorded by read_pages."""
        wanted = [p for r in results for p in (r.path, *(m.file.path for m in r.matches))]
        pages = self.store.pages_showing(wanted)
        return [with_pages(r, pages) for r in results]


partial_describe = partial.describe


class _Sizes(Mapping[int, tuple[int, int]]):
    """Files' (width, height) by id, read from the store when first asked for (a query
    needs those of the few files it verifies, not the 10^5 of a whole index: 0.2-0.4 s)."""

    def __init__(self, store: Store):
        self._store, self._got = store, {}

    def __getitem__(self, fid: int) -> tuple[int, int]:
        if fid not in self._got:
            self._got.update(self._store.sizes([fid]))
            self._got.setdefault(fid, None)
        found = self._got[fid]
        if found is None:
            raise KeyError(fid)
        return found

    def __len__(self) -> int:
        return sum(v is not None for v in self._got.values())

    def __bool__(self) -> bool:
        return True  # not "empty" before anything was read

    def __iter__(self):
        return (k for k, v in self._got.items() if v is not None)


def _groups_salt(group_rows: list[list[int]], ids: np.ndarray, subset: bool) -> bytes:
    """What the partial stage is given, as bytes for its cache key: the groups (file ids)."""
    return json.dumps([subset, [[int(ids[r]) for r in rows] for rows in group_rows]],
                      separators=(",", ":")).encode()


def _placed_to_json(placed: Placed, ids: np.ndarray) -> dict:
    """The partial stage's placement with rows as file ids (decision_cache.keep_stage)."""
    def adds(items: list[tuple[int, Partial]]) -> list:
        return [[int(ids[r]), list(astuple(p))] for r, p in items]
    joins, new, promoted = placed
    return {"joins": [[g, adds(items)] for g, items in joins.items()],
            "new": [[int(ids[c]), adds(items)] for c, items in new],
            "promoted": [[g, int(ids[c]), adds(items)] for g, (c, items) in promoted.items()]}


def _placed_from_json(kept: dict, ids: np.ndarray) -> Placed:
    """The inverse of _placed_to_json, for the same file ids (rows by ids)."""
    row = {int(i): r for r, i in enumerate(ids)}

    def adds(items: list) -> list[tuple[int, Partial]]:
        out = []
        for fid, f in items:
            out.append((row[fid], Partial(f[0], f[1], tuple(f[2]), tuple(f[3]), *f[4:])))
        return out
    return ({int(g): adds(items) for g, items in kept["joins"]},
            [(row[c], adds(items)) for c, items in kept["new"]],
            {int(g): (row[c], adds(items)) for g, c, items in kept["promoted"]})


#: Partial.model of a match found through a part view
VIEW_MODEL = "part view"


def view_partial(box: tuple[float, float, float, float], a_size: tuple[int, int] | None,
                 b_size: tuple[int, int] | None) -> Partial:
    """The Partial of a part view of picture a (the half *box*) that is picture b
    whole, stretched to fit: scale is the linear ratio of b's pixels to the part's."""
    (aw, ah), (bw, bh) = a_size or (1, 1), b_size or (1, 1)
    part = max(1e-9, (box[2] - box[0]) * (box[3] - box[1]) * aw * ah)
    return Partial(round(view_area(box), 4), 1.0, box, (0.0, 0.0, 1.0, 1.0),
                   round(float(np.sqrt(bw * bh / part)), 4), 0.0, VIEW_MODEL, 0)


def _shown_from(group: Group, rows: list[int], head: int, prints: Prints) -> Group:
    """*group* (its files at *rows*, whole copies) with the file at row *head* first: each
    other member's distance and orientation measured against it again (a relation of its own,
    same pixels, a damaged copy or a second name, is kept; the first's former first takes the
    orientation it shows the new one in). max_distance is over the same files: unchanged."""
    at = rows.index(head)
    order = [at] + [j for j in range(len(rows)) if j != at]
    dist, orient, _ = star_distances(prints.hashes[np.array([rows[j] for j in order])])
    members = []
    for k, j in enumerate(order):
        m = group.members[j]
        if k == 0:
            members.append(replace(m, distance=0, relation=ORIENTATION_NAMES[0], similarity=None,
                                   checks=()))
            continue
        own = m.relation not in ORIENTATION_NAMES
        # The evidence stays what joined it: the former first was verified against the new
        # one (the same pair), the others against the former first, not against the new one
        # their distance is measured to now (report.words.joined_by says so beyond the rule's
        # threshold).
        checks = (group.members[at].checks if j == 0
                  else tuple(c for c in m.checks if c != FORMER_FIRST_CHECK) + (FORMER_FIRST_CHECK,))
        similarity = group.members[at].similarity if j == 0 else m.similarity
        members.append(replace(m, distance=int(dist[k]), checks=checks, similarity=similarity,
                               relation=m.relation if own else ORIENTATION_NAMES[int(orient[k])]))
    return replace(group, members=tuple(members))


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


def _with_twins(found: list[PairMatch], twins: list[PairMatch], links: Links) -> list[PairMatch]:
    """The pairs a search found with the pixel-identical pairs *twins* in place of any found
    for the same two rows (rows a < b in both), every twin linked in *links*."""
    if not twins:
        return found
    keys = {(p.a, p.b) for p in twins}
    for p in twins:
        links.link(p.a, p.b)
    return [p for p in found if (min(p.a, p.b), max(p.a, p.b)) not in keys] + twins


def _with_damaged(found: list[PairMatch], broken: list[PairMatch], links: Links
                  ) -> list[PairMatch]:
    """The pairs a search found and the damaged-copy pairs *broken* (rows a < b) that it did
    not find (a damaged copy the global fingerprint still matched keeps that evidence), every
    one linked in *links*."""
    if not broken:
        return found
    keys = {(min(p.a, p.b), max(p.a, p.b)) for p in found}
    for p in broken:
        links.link(p.a, p.b)
    return found + [p for p in broken if (p.a, p.b) not in keys]


def _mark_damaged(records: dict[int, FileRecord], why: dict[int, str], ids: np.ndarray
                  ) -> dict[int, FileRecord]:
    """*records* (by file id) with every file found damaged at dedupe (damaged.py: row ->
    reason) marked so (model.DAMAGED, FileRecord.warning), unless the index marked it already
    (a truncated file): never the likely original or the kept file beside an intact copy."""
    for row, text in why.items():
        rec = records.get(int(ids[row]))
        if rec is not None and rec.warning is None:
            records[rec.id] = replace(rec, metadata={**rec.metadata, DAMAGED: text})
    return records


def _twin_matrix(star: list[int], twin_of: dict[int, set[int]]) -> np.ndarray | None:
    """Which members of a group (rows *star*) show the same pixels as which: bool (k, k), or
    None when none does (cost: the members' twins, not k^2)."""
    pos = {r: i for i, r in enumerate(star) if r in twin_of}
    if len(pos) < 2:
        return None
    same = np.zeros((len(star), len(star)), dtype=bool)
    for r, i in pos.items():
        for other in twin_of[r]:
            j = pos.get(other)
            if j is not None:
                same[i, j] = True
    return same if same.any() else None


def _mark_copies(records: dict[int, FileRecord], twins: list[PairMatch], ids: np.ndarray
                 ) -> dict[int, FileRecord]:
    """*records* (by file id) with every non-JPEG member of a pixel-identical pair marked
    ``pixels_of`` the JPEG's path (group.original_key puts the JPEG first, keep.choose weighs
    the JPEG for it) and given the JPEG's trimmed fraction (``content``): the same picture,
    whose trim box was measured on another decode."""
    for p in twins:
        for copy, source in ((p.a, p.b), (p.b, p.a)):
            rc, rs = records.get(int(ids[copy])), records.get(int(ids[source]))
            if rc is not None and rs is not None and rs.format == "JPEG" \
                    and rc.format != "JPEG" and rc.pixels_of is None:
                records[rc.id] = replace(rc, pixels_of=rs.path, content=rs.content)
    return records


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


def _inner_differ(a: np.ndarray | None, b: np.ndarray | None, rule: Rule) -> bool:
    """Do two pictures that share a frame show different pictures inside it? Their stored
    thumbnails *a*, *b* each hold an inner picture (part_views.inner_print) in the same
    place (frames.same_place), and the two inner pictures do not match under *rule*. False
    when either has no inner picture or they are in different places (nothing to tell by).
    For pictures without local features (a soft gradient shown in a window), whose frame
    is then all frames.frame_only could compare."""
    if a is None or b is None:
        return False
    inner_a, inner_b = inner_print(a), inner_print(b)
    if inner_a is None or inner_b is None or not same_place(inner_a[0], inner_b[0]):
        return False
    return not find_pairs(query_side([inner_a[1]]), query_side([inner_b[1]]), rule, same=False)


def query_side(fps: Sequence[Fingerprint]) -> Side:
    """Fingerprints that are not in the index (query images) as a search side, ids -1, -2, ...

    Raises:
        ValueError: *fps* is empty (a side needs at least one fingerprint).
    """
    if not fps:
        raise ValueError("query_side needs at least one fingerprint")
    ids = -np.arange(1, len(fps) + 1, dtype=np.int64)
    thumbs = {int(i): np.frombuffer(stored_thumb(fp), np.uint8).reshape(-1, THUMB_SIZE)
              for i, fp in zip(ids, fps)}
    return Side(ids, np.stack([fp.hashes for fp in fps]),
                np.array([fp.trim for fp in fps], dtype=np.float32),
                np.array([fp.flat for fp in fps]),
                lambda want: {int(i): thumbs[int(i)] for i in want})


def _stat(path: bytes) -> FileStat:
    """The FileStat of *path*; DecodeError (the reason alone, no path) when it cannot be."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DecodeError(missing(path, "no such file")) from None
    except OSError as exc:
        raise DecodeError(str(exc.strerror or exc)) from None
    return file_stat(path, st)
