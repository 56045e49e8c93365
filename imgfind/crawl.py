"""Walk folders and yield the image files in them; a bad entry is a warning, never a stop."""

from __future__ import annotations

import fnmatch
import os
import stat as statmod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .decoders import HEAD_BYTES, REGISTRY, Registry
from .errors import not_regular
from .model import FileStat

#: Extensions picked up by the crawl (case-insensitive): those some installed decoder reads
#: (imgfind.decoders). The real format is read from the content, so a PNG named .jpg is still
#: indexed correctly.
IMAGE_EXTENSIONS = REGISTRY.extensions()


@dataclass(frozen=True, slots=True)
class CrawlOptions:
    """Which files a crawl picks: exclusions, hidden files, symbolic links."""

    exclude: tuple[str, ...] = ()
    hidden: bool = False
    follow_symlinks: bool = False


def _extension(name: bytes, known: frozenset[str] | None = None) -> str:
    """The extension of a file name, lower case (``.jpg``). A name with a query string, as
    ``wget --mirror`` saves ``logo.png?v=3``, has the extension before the ``?`` when its own
    (``.png?v=3``) is none of *known* (default: the registry's and the missing decoders')."""
    ext = os.path.splitext(name)[1].lower().decode("ascii", "replace")
    if b"?" in name:
        known = known if known is not None else REGISTRY.known_extensions()
        if ext not in known:
            before = os.path.splitext(name.split(b"?", 1)[0])[1].lower().decode("ascii", "replace")
            if before in known:
                return before
    return ext


def is_image_name(name: bytes, registry: Registry | None = None) -> bool:
    """True when some decoder of *registry* (default: imgfind's) reads files with this
    name's extension (wget's ``logo.png?v=3`` included)."""
    reg = registry or REGISTRY
    readable = reg.extensions()
    # the known formats matter only for a name with a query string (the crawl's hot path)
    return _extension(name, reg.known_extensions() if b"?" in name else readable) in readable


def _excluded(path: bytes, name: bytes, options: CrawlOptions) -> bool:
    if not options.exclude:
        return False
    spath, sname = os.fsdecode(path), os.fsdecode(name)
    return any(fnmatch.fnmatch(sname, g) or fnmatch.fnmatch(spath, g) for g in options.exclude)


def file_stat(path: bytes, st: os.stat_result) -> FileStat:
    """The FileStat of *path* from its stat: change key and identity."""
    return FileStat(path, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, st.st_ctime_ns)


def _no_decoder(path: bytes) -> str | None:
    """Why a file named directly is skipped: its extension is a known format no installed
    decoder reads (REGISTRY.skip_reason) and no decoder recognises its first bytes either
    (a JPEG named .dng is read). None: it is taken."""
    why = REGISTRY.skip_reason(_extension(os.path.basename(path)))
    if why is None:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError:
        return why
    return None if any(d.sniff(head) for d in REGISTRY.decoders) else why


#: Why a symbolic link (to a picture or a folder) was passed over by a crawl.
SYMLINK_NOT_FOLLOWED = "symbolic link, not followed (--follow-symlinks follows it)"


def walk(roots: Sequence[bytes], options: CrawlOptions,
         warn: Callable[[bytes, str], None] = lambda _path, _msg: None,
         skip: Callable[[bytes, str], None] = lambda _path, _why: None,
         same: Callable[[bytes, bytes], None] = lambda _path, _kept: None) -> Iterator[FileStat]:
    """Yield a FileStat for every image file under *roots* (absolute, fsencoded paths).

    A root may be a single file, which is taken whatever its extension, unless its extension
    is a known format without decoder (skipped, as in a folder, unless its content is a
    format some decoder reads); a root is followed
    if it is a symbolic link. Folders are walked iteratively (no recursion limit), in sorted
    order so that runs are reproducible. Symbolic links are skipped unless ``follow_symlinks``
    (those to a picture name or a folder told to ``skip``, SYMLINK_NOT_FOLLOWED).

    One file is yielded once, under the first name that reaches it: a (device, inode) already
    yielded is skipped, whether reached again by a hard link, a followed symbolic link, a
    root given twice, a root inside another root, or a folder reached by two names (a
    symlinked or bind-mounted alias). Each folder is entered at most once, so a link loop
    ends. With ``follow_symlinks``, files reached through a symbolic link to a file come
    last, so that a file seen both directly and through a link keeps its own name. FIFOs,
    sockets and devices are never opened. Each name left out that way is told to
    ``same(path, kept)`` (*kept*: the name yielded), for callers that list what they skip.
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[tuple[int, int], bytes] = {}  # identity -> the name yielded
    linked: list[tuple[bytes, os.stat_result]] = []
    hard: dict[tuple[int, int], list[tuple[bytes, os.stat_result]]] = {}
    for root in roots:
        try:
            st = os.stat(root)
        except OSError as exc:
            warn(root, exc.strerror or str(exc))
            continue
        if statmod.S_ISREG(st.st_mode):
            why = _no_decoder(root)
            if why is not None:  # as in a folder: counted and skipped with its reason
                skip(root, why)
                continue
            if (st.st_dev, st.st_ino) not in seen_files:
                seen_files[(st.st_dev, st.st_ino)] = root
                yield file_stat(root, st)
            elif seen_files[(st.st_dev, st.st_ino)] != root:
                same(root, seen_files[(st.st_dev, st.st_ino)])
            continue
        if not statmod.S_ISDIR(st.st_mode):
            warn(root, "not a file or folder")
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            continue  # the same folder again, or one already walked inside another root
        yield from _walk_dir(root, st, options, seen_dirs, seen_files, linked, hard, warn, skip, same)
    # A file with several hard links is yielded once, under its plainest name: the shortest
    # (``a.jpg`` rather than ``a-hard.jpg`` or ``copy of a.jpg``), then the first in order.
    for identity, names in hard.items():
        if identity not in seen_files:
            path, st = min(names, key=lambda n: (len(os.path.basename(n[0])), n[0]))
            seen_files[identity] = path
            yield file_stat(path, st)
        for other, _ in names:
            if other != seen_files[identity]:
                same(other, seen_files[identity])
    for path, st in linked:
        if (st.st_dev, st.st_ino) not in seen_files:
            seen_files[(st.st_dev, st.st_ino)] = path
            yield file_stat(path, st)
        else:
            same(path, seen_files[(st.st_dev, st.st_ino)])


def _walk_dir(root: bytes, root_stat: os.stat_result, options: CrawlOptions,
              seen_dirs: set[tuple[int, int]], seen_files: dict[tuple[int, int], bytes],
              linked: list[tuple[bytes, os.stat_result]],
              hard: dict[tuple[int, int], list[tuple[bytes, os.stat_result]]],
              warn: Callable[[bytes, str], None],
              skip: Callable[[bytes, str], None],
              same: Callable[[bytes, bytes], None]) -> Iterator[FileStat]:
    stack = [root]
    seen_dirs.add((root_stat.st_dev, root_stat.st_ino))
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            warn(folder, exc.strerror or str(exc))
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if not options.hidden and name.startswith(b"."):
                continue
            if _excluded(entry.path, name, options):
                continue
            try:
                is_link = entry.is_symlink()
                if is_link and not options.follow_symlinks:
                    # said, not silent: a folder of links would otherwise index as empty
                    if is_image_name(name) or entry.is_dir(follow_symlinks=True):
                        skip(entry.path, SYMLINK_NOT_FOLLOWED)
                    continue
                if entry.is_dir(follow_symlinks=options.follow_symlinks):
                    st = entry.stat(follow_symlinks=True)
                    key = (st.st_dev, st.st_ino)
                    if key not in seen_dirs:
                        seen_dirs.add(key)
                        subdirs.append(entry.path)
                    continue
                if not is_image_name(name):
                    why = REGISTRY.skip_reason(_extension(name))
                    if why is not None:
                        skip(entry.path, why)
                    continue
                st = entry.stat(follow_symlinks=options.follow_symlinks)
            except OSError as exc:
                warn(entry.path, exc.strerror or str(exc))
                continue
            if not statmod.S_ISREG(st.st_mode):  # counted in the summary, never opened
                skip(entry.path, not_regular(st.st_mode))
                continue
            if is_link:
                linked.append((entry.path, st))
            elif st.st_nlink > 1:  # more names may follow: choose one at the end
                hard.setdefault((st.st_dev, st.st_ino), []).append((entry.path, st))
            elif (st.st_dev, st.st_ino) not in seen_files:
                seen_files[(st.st_dev, st.st_ino)] = entry.path
                yield file_stat(entry.path, st)
            else:
                same(entry.path, seen_files[(st.st_dev, st.st_ino)])
        stack.extend(reversed(subdirs))
