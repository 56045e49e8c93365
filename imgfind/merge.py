"""Merge indexes built elsewhere into this one: sharded indexing without a cluster.

Each machine indexes its share of the files into its own index (``imgfind --db part.db index
/mnt/a``); ``imgfind merge part.db`` copies their rows, fingerprints and thumbnails into this
index, rewriting path prefixes (``--map /mnt/a=/data/a``) so that the paths name the files as
this machine sees them. The fingerprint recipe must be this imgfind's: fingerprints made by
another recipe cannot be compared with these. For a path both indexes hold, the newer record
wins (store.put_files). Merged rows carry no device, inode or ctime (another machine's mean
nothing here): the next ``imgfind index`` re-uses them on size and mtime and records this
machine's (indexer.is_current). The result then holds the same rows as an index built in one piece; a
merge is a union (files deleted since are removed by the next ``imgfind index`` of their
folder) and is idempotent.

Rows are copied in transactions of COMMIT_ROWS: an interrupted merge keeps what it copied
and can simply be run again. Every transaction changes the index's write token, so the
fingerprint sidecar (prints_cache) no longer matches and is rebuilt; ``merge`` rebuilds it
at the end so that the first query after a merge is fast.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import replace
from itertools import islice

from .errors import ImgfindError
from .model import MergeStats, StoredFile
from .presence import kind_of
from .recipe import recipe_id
from .store import SQLITE_MAGIC, Store

#: Rows per transaction.
COMMIT_ROWS = 5000

PrefixMap = tuple[tuple[bytes, bytes], ...]


def parse_map(specs: Sequence[str]) -> PrefixMap:
    """Parse ``FROM=TO`` path prefix rewrites (absolute paths, split at the first '=').

    Raises:
        ImgfindError: a spec has no '=' or a side is not an absolute path.
    """
    out = []
    for spec in specs:
        src, sep, dst = spec.partition("=")
        if not sep or not src.startswith("/") or not dst.startswith("/"):
            raise ImgfindError(f"--map {spec!r}: expected FROM=TO with two absolute paths, "
                               "e.g. --map /mnt/a=/data/a")
        out.append((_folder(os.fsencode(src)), _folder(os.fsencode(dst))))
    return tuple(sorted(out, key=lambda m: -len(m[0])))  # the longest prefix first


def _folder(path: bytes) -> bytes:
    return path.rstrip(b"/") or b"/"


def map_path(path: bytes, maps: PrefixMap) -> bytes:
    """Rewrite *path* by the first (longest) prefix that names it or a folder above it."""
    for src, dst in maps:
        if path == src:
            return dst
        prefix = src if src.endswith(b"/") else src + b"/"
        if path.startswith(prefix):
            return (dst if dst.endswith(b"/") else dst + b"/") + path[len(prefix):]
    return path


def check_recipe(other: Store) -> None:
    """Raises ImgfindError unless every fingerprint in *other* was made by this recipe."""
    mine = recipe_id()
    foreign = sorted(other.recipes() - {mine})
    if foreign:
        raise ImgfindError(
            f"{other.path} holds fingerprints of recipe {foreign[0]!r}, this imgfind makes "
            f"{mine!r}: they cannot be compared; index its folders again with this version "
            f"(imgfind --db {other.path} index ...) and merge then")


def check_sources(target: str, other_paths: Sequence[str]) -> None:
    """Check, before the index at *target* is opened or created, that every path in
    *other_paths* is an imgfind index other than *target*, of this imgfind's recipe.

    Raises:
        ImgfindError: an other path is missing, is *target*, is not a regular file, is not an
            SQLite database or not an imgfind index (said so: never "rebuild it"), or holds
            fingerprints of another recipe.
    """
    for path in other_paths:
        _check_other(target, path)
        _check_is_index_file(path)
        with Store(path, readonly=True) as other:
            check_recipe(other)


def merge_all(store: Store, other_paths: Sequence[str], maps: PrefixMap = (), *,
              checked: bool = False) -> list[MergeStats]:
    """Merge every index in *other_paths* into *store*, in order (a later one wins a tie),
    after checking all of them first (check_sources: a foreign recipe stops the merge before
    any row is copied; *checked*: the caller has just done so, as the CLI does before it
    opens or creates the index); then rebuild the fingerprint sidecar.

    Raises:
        ImgfindError: a check fails (before anything is written), or an other index cannot
            be read (StoreError).
    """
    if not checked:
        check_sources(store.path, other_paths)
    out = [_merge_one(store, path, maps) for path in other_paths]
    store.load_prints()  # the write token changed: write the sidecar for the merged state
    return out




def _check_is_index_file(path: str) -> None:
    """Refuse a path to merge from that cannot be an index, naming what it is: the store's
    "damaged; rebuild it: delete it" would tell the user to delete a photo given by mistake."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImgfindError(f"no index at {path}: nothing to merge") from None
    except OSError as exc:
        raise ImgfindError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ImgfindError(f"{path} is {kind_of(st.st_mode)}, not an imgfind index: nothing to merge")
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ImgfindError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise ImgfindError(f"{path} is an empty file, not an imgfind index: nothing to merge")
    if head != SQLITE_MAGIC:
        raise ImgfindError(f"{path} is not an imgfind index (not an SQLite database); "
                           "merge takes index files made by 'imgfind --db FILE index DIR'")


def _check_other(target: str, other_path: str) -> None:
    if os.path.exists(other_path) and os.path.exists(target) \
            and os.path.samefile(other_path, target):
        raise ImgfindError(f"{other_path} is the index being merged into")


def _merge_one(store: Store, other_path: str, maps: PrefixMap = ()) -> MergeStats:
    """Merge the index at *other_path*, checked by check_sources, into *store* (see the module
    docstring)."""
    with Store(other_path, readonly=True) as other:
        rows = (_mapped(f, maps) for f in other.stored_files())
        added = replaced = kept = 0
        for chunk in _chunks(rows, COMMIT_ROWS):
            with store.transaction():
                a, r, k = store.put_files(chunk)
            added, replaced, kept = added + a, replaced + r, kept + k
        roots = []
        for path, dev, when in other.root_rows():
            local = map_path(path, maps)
            try:
                dev = os.stat(local).st_dev  # the device it is on here
            except OSError:
                pass  # not here (yet): the other machine's number, "unavailable" until then
            roots.append((local, dev, when))
        with store.transaction():
            store.put_roots(roots)
    return MergeStats(other_path, added, replaced, kept)


def _mapped(f: StoredFile, maps: PrefixMap) -> StoredFile:
    """*f* under its mapped path, without its device, inode and ctime: those are the other
    machine's and would make the next ``imgfind index`` read every file again (the change
    key, indexer.is_current). Stored as unknown, the record is re-used when size and mtime
    match (a ``cp -p`` or rsync copy) and takes this filesystem's identity on that run."""
    return replace(f, path=map_path(f.path, maps), dev=None, ino=None, ctime_ns=None)


def _chunks(items: Iterator[StoredFile], n: int) -> Iterator[list[StoredFile]]:
    while chunk := list(islice(items, n)):
        yield chunk
