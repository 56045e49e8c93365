"""A set of fingerprints as the matching stages see it: hash rows, their search engines, and
thumbnails loaded on demand (the index from the store, or query files fingerprinted in memory).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from .canonical import canonical_items
from .fingerprint import crop, thumb_parts
from .layout import view_boxes
from .resample import resize_many
from .search import Engine, MultiIndexHash, make_engine
from .search import join as compiled

#: Joins of at least this many query hashes against at least COMPILED_MIN_ITEMS hashes use the
#: compiled engine (search/join.py) when numba is installed. Below that the numpy engines are
#: as fast, and loading numba and its kernels costs 1-2 s: dedupe of a synthetic 10^4-file
#: index (160,000 query hashes) took 16.9 s compiled against 14.3 s, of 3x10^4 files (480,000)
#: 35.4 s against 47.7 s (benchmarks/RESULTS.md, "Scale on one machine").
COMPILED_MIN_QUERIES = 300_000
COMPILED_MIN_ITEMS = 20_000

#: Loads thumbnails by id: (ids) -> {id: (rows, THUMB_SIZE) uint8}, the stored blob: the grey
#: thumbnail's THUMB_SIZE rows, then the colour signature's (fingerprint.thumb_parts).
ThumbLoader = Callable[[np.ndarray], dict[int, np.ndarray]]
#: On-disk search tables by (columns, distance): an Engine, or None where they cannot serve.
TableLoader = Callable[[np.ndarray, int], "Engine | None"]

#: Searches of up to SCAN_QUERIES hashes scan the index, the first SCANS_BEFORE_TABLES times.
SCAN_QUERIES = 512
SCANS_BEFORE_TABLES = 2

#: :meth:`Side.forget` keeps the most recently used thumbnails up to this many bytes (about
#: 23,000 thumbnails of 2.8 kB): a dedupe's stages (verification, frame checks, star checks)
#: load the same files' thumbnails again and again, batch after batch; at 10^5 files each
#: thumbnail was read from SQLite and unpacked 3.3 times on average, once with this budget
#: (ours, issue 15: benchmarks/RESULTS.md, "Dedupe's stages after the search, session 12").
#: At ten times the files most rereads are stages apart and fall outside it (9% fewer reads
#: at a tenth of the budget there).
THUMB_CACHE_BYTES = 64 << 20


class Side:
    """One set of fingerprints (the index, or the query files) with lazily loaded thumbnails."""

    def __init__(self, ids: np.ndarray, hashes: np.ndarray, trims: np.ndarray, flat: np.ndarray,
                 load_thumbs: ThumbLoader, tables: TableLoader | None = None):
        self.ids, self.hashes, self.trims, self.flat = ids, hashes, trims, flat
        self._load = load_thumbs
        self._tables = tables
        self._thumbs: dict[int, np.ndarray] = {}  # by file id, least recently used first
        self._thumb_bytes = 0  # their size
        self._views: dict[tuple[int, int, int], np.ndarray | None] = {}
        self._engines: dict[bytes, Engine] = {}
        self._scans: dict[bytes, int] = {}
        self._canonical: tuple | None = None
        self._trimmed: list[bool] | None = None
        self._box_cache: dict[tuple[float, ...], list[tuple[float, float, float, float]]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, rows) -> "Side":
        """The fingerprints of *rows* (an index array or list of this side's rows, in that
        order) as a new Side reading thumbnails the same way (no tables: a small side's
        search builds its own engines)."""
        return Side(self.ids[rows], self.hashes[rows], self.trims[rows], self.flat[rows],
                    self._load)

    @property
    def engines(self) -> dict[bytes, Engine]:
        """The engines built and kept so far, by their index columns (``cols.tobytes()``)."""
        return dict(self._engines)

    def thumb(self, row: int) -> np.ndarray:
        """The grey thumbnail (THUMB_SIZE square, uint8) of a row (prefetched)."""
        return thumb_parts(self._thumbs[int(self.ids[row])])[0]

    def colour(self, row: int) -> np.ndarray | None:
        """The colour signature (2, COLOUR_SIZE, COLOUR_SIZE) uint8 of a row, None if grey."""
        return thumb_parts(self._thumbs[int(self.ids[row])])[1]

    def colour_view(self, row: int, view: int, size: int) -> np.ndarray | None:
        """A view's colour signature at *size* square, float32 (2, size, size); None if the
        picture has no colour (cached as the grey views are)."""
        key = (row, view, -size)
        if key not in self._views:
            c = self.colour(row)
            self._views[key] = None if c is None else self.colour_pixels(row, view, size, c)
        return self._views[key]

    def colour_pixels(self, row: int, view: int, size: int, chroma: np.ndarray) -> np.ndarray:
        """Cut view *view* out of a row's colour signature and bring it to *size* square."""
        box = view_boxes(tuple(float(x) for x in self.trims[row]))[view]
        out = []
        for c in chroma:
            part = crop(c, box)
            out.append(np.asarray(Image.fromarray(np.ascontiguousarray(part), "L")
                                  .resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32))
        return np.stack(out)

    def view(self, row: int, view: int, size: int) -> np.ndarray:
        """Return a view's pixels as float32 (cached as uint8: many pairs share a view)."""
        key = (row, view, size)
        cached = self._views.get(key)
        if cached is None:
            cached = self.pixels(row, view, size)
            self._views[key] = cached
        return cached.astype(np.float32)

    def views(self, keys: list[tuple[int, int]], size: int) -> list[np.ndarray]:
        """The views (row, view) at *size* square, uint8, the pixels :meth:`view` gives each
        (cached alike), made all at once: the missing ones are cut out and resized together,
        a stack per cut shape (resample.resize_many). Kept as uint8, not float32: a batch of
        4,096 pairs holds about 8,000 views at 24 and 48 px (23 MB, not 94 MB)."""
        views = self._views
        missing = [k for k in dict.fromkeys(keys) if (k[0], k[1], size) not in views]
        if missing:
            by_shape: dict[tuple[int, ...], list[tuple[tuple[int, int], np.ndarray]]] = {}
            for row, view in missing:
                part = crop(self.thumb(row), self._boxes(row)[view])
                by_shape.setdefault(part.shape, []).append(((row, view), part))
            for items in by_shape.values():
                out = resize_many(np.stack([p for _, p in items]), size)
                for ((row, view), _), o in zip(items, out):
                    views[(row, view, size)] = o
        return [views[(row, view, size)] for row, view in keys]

    def colour_views(self, keys: list[tuple[int, int]], size: int) -> list[np.ndarray | None]:
        """The colour views (row, view) at *size* square, as :meth:`colour_view` gives each
        (None for a picture without colour), made all at once as :meth:`views`."""
        views = self._views
        missing = [k for k in dict.fromkeys(keys) if (k[0], k[1], -size) not in views]
        if missing:
            by_shape: dict[tuple[int, ...], list[tuple[tuple[int, int], np.ndarray]]] = {}
            for row, view in missing:
                chroma = self.colour(row)
                if chroma is None:
                    views[(row, view, -size)] = None
                    continue
                box = self._boxes(row)[view]
                parts = np.stack([crop(c, box) for c in chroma])
                by_shape.setdefault(parts.shape, []).append(((row, view), parts))
            for shape, items in by_shape.items():
                flat = np.concatenate([p for _, p in items])  # (2 n, h, w): Cb, Cr of each
                out = resize_many(flat, size).astype(np.float32).reshape(len(items), 2, size, size)
                for ((row, view), _), o in zip(items, out):
                    views[(row, view, -size)] = o
        return [views[(row, view, -size)] for row, view in keys]

    def _boxes(self, row: int) -> list[tuple[float, float, float, float]]:
        """Every view's box of a row (layout.view_boxes of its trim), shared by equal trims."""
        trim = tuple(self.trims[row].tolist())  # Python floats, as float() of each
        boxes = self._box_cache.get(trim)
        if boxes is None:
            boxes = self._box_cache[trim] = view_boxes(trim)
        return boxes

    def engine(self, cols: np.ndarray, n_queries: int, k: int, *, build: bool = False,
               large: bool = False) -> Engine:
        """The search engine over these hash columns, for batches of *n_queries* at *k*.

        A few queries (one reverse search from the shell) are answered from the on-disk
        tables when the side has them (search.disk; Index gives them to the whole index), else
        by a scan: building
        multi-index tables over millions of hashes costs about a second. Once this side has
        been searched a few times (a program querying an open Index), or with *build*
        (``Index.warm``), the tables are built, kept and reused, and a query takes
        milliseconds.

        *large* says the caller's search as a whole (all its channels) reaches
        COMPILED_MIN_QUERIES, so the compiled engine is loaded anyway: then it serves every
        channel of more than SCAN_QUERIES queries (at 10^5 files it answers the 2x10^5 queries
        of the upright primary and dHash channels in a third of the numpy engine's CPU time).
        """
        key = np.asarray(cols).tobytes()
        engine = self._engines.get(key)
        if engine is None and not build and n_queries <= SCAN_QUERIES and self._tables is not None:
            on_disk = self._tables(np.asarray(cols), k)  # a one-shot query: read buckets only
            if on_disk is not None:
                return on_disk
        if engine is None:
            values = self.columns(cols)
            many = n_queries >= COMPILED_MIN_QUERIES or large and n_queries > SCAN_QUERIES
            if many and len(values) >= COMPILED_MIN_ITEMS and compiled.available():
                engine = self._engines[key] = compiled.CompiledJoin(values)
                return engine
            self._scans[key] = self._scans.get(key, 0) + 1
            if not build and n_queries <= SCAN_QUERIES and self._scans[key] <= SCANS_BEFORE_TABLES:
                return make_engine(values, "brute")
            engine = self._engines[key] = make_engine(values)
        if isinstance(engine, MultiIndexHash):
            engine.prepare(k, n_queries)  # builds nothing the second time
        return engine

    def canonical_join(self, k: int) -> tuple[tuple[np.ndarray, ...], Engine, np.ndarray]:
        """The canonical self-join over this side: its items (canonical.canonical_items: row,
        value, col_start, cols; sorted by row), an engine over their values ready for *k*,
        and each row's first item (n + 1 offsets: row r's items are
        ``starts[r]:starts[r + 1]``). Built on first use and kept."""
        if self._canonical is None:
            items = canonical_items(self.hashes)
            values = items[1]
            starts = np.searchsorted(items[0], np.arange(len(self) + 1))
            # Compiled from the size where a dedupe's other joins compile too (their 16 query
            # columns per file reach COMPILED_MIN_QUERIES at about 2x10^4 files), so small
            # libraries do not load numba for this one.
            if (len(self) * 16 >= COMPILED_MIN_QUERIES and len(values) >= COMPILED_MIN_ITEMS
                    and compiled.available()):
                engine: Engine = compiled.CompiledJoin(values)
            else:
                engine = make_engine(values)
            self._canonical = (items, engine, starts)
        engine = self._canonical[1]
        if isinstance(engine, MultiIndexHash):
            engine.prepare(k, len(self._canonical[0][1]))
        return self._canonical

    def columns(self, cols: np.ndarray) -> np.ndarray:
        """The hashes of these columns for every row, column after column (item = position of
        the column in *cols* x rows + row): a range of columns of a memory-mapped index is a
        view, not a copy."""
        by_column = self.hashes.T
        cols = np.asarray(cols)
        if len(cols) and np.array_equal(cols, np.arange(cols[0], cols[0] + len(cols))):
            return by_column[int(cols[0]):int(cols[0]) + len(cols)].reshape(-1)
        return by_column[cols].reshape(-1)

    def forget(self) -> None:
        """Drop the views and the least recently used thumbnails beyond THUMB_CACHE_BYTES
        (their memory grows with every pair decided; the others are often needed again)."""
        self._views.clear()
        thumbs = self._thumbs
        while self._thumb_bytes > THUMB_CACHE_BYTES and thumbs:
            self._thumb_bytes -= thumbs.pop(next(iter(thumbs))).nbytes

    def prefetch(self, rows: np.ndarray) -> None:
        """Load the thumbnails of these rows (an int array) not loaded yet; those loaded
        become the most recently used."""
        thumbs = self._thumbs
        want = []
        for i in np.unique(self.ids[rows]).tolist():
            t = thumbs.pop(i, None)
            if t is None:
                want.append(i)
            else:
                thumbs[i] = t
        if want:
            got = self._load(np.array(want, dtype=np.int64))
            thumbs.update(got)
            self._thumb_bytes += sum(t.nbytes for t in got.values())

    def pixels(self, row: int, view: int, size: int) -> np.ndarray:
        """Cut view *view* of a row's thumbnail and bring it to *size* square (uint8)."""
        box = view_boxes(tuple(float(x) for x in self.trims[row]))[view]
        part = crop(self.thumb(row), box)
        return np.asarray(Image.fromarray(np.ascontiguousarray(part), "L")
                          .resize((size, size), Image.Resampling.BILINEAR))

    @property
    def trimmed_rows(self) -> list[bool]:
        """:meth:`trimmed` of every row, as a list (made once)."""
        if self._trimmed is None:
            t = np.asarray(self.trims)
            self._trimmed = ((t[:, 0] > 0) | (t[:, 1] > 0) | (t[:, 2] < 1) | (t[:, 3] < 1)).tolist() \
                if len(t) else []
        return self._trimmed

    def trimmed(self, row: int) -> bool:
        """True when the row's picture has a border trimmed away (its views 0 and 1 differ)."""
        t = self.trims[row]
        return bool(t[0] > 0 or t[1] > 0 or t[2] < 1 or t[3] < 1)
