"""Export an index's fingerprints as Parquet: the interface to columnar engines (DuckDB,
Spark, Dask dataframes) that run the dedupe join at a scale one machine cannot.

One row per fingerprinted file (unreadable files have no fingerprint and are left out):

* ``path`` (binary: the bytes of the name, lossless), ``size`` (int64, bytes), ``mtime_ns``
  (int64), ``format`` (string), ``width``, ``height`` (int32, pixels), ``flat`` (bool);
* ``phash``, ``dhash`` (uint64): the upright whole-picture hashes;
* ``hashes`` (fixed-size list of layout.N_HASHES uint64): every hash column, in the order of
  layout.HASH_VIEW / layout.HASH_ORIENT (the file's key-value metadata names them);
* ``trim`` (fixed-size list of 4 float32): the trimmed box as fractions;
* ``thumb`` (binary, with ``thumbs=True``): the stored thumbnail, for verifying candidate pairs
  outside imgfind.

The file's metadata also carries ``imgfind.recipe`` (recipe.recipe_id()): fingerprints of
two exports compare only when their recipes are equal. Rows are written in row groups of
ROW_GROUP files as they are read, so memory stays flat. Needs pyarrow (imgfind's ``parquet`` extra).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from .errors import ImgfindError, extra_hint
from .layout import HASH_ORIENT, HASH_VIEW, N_HASHES, N_PHASH, ORIENTATION_NAMES
from .model import StoredFile
from .outfile import replacing
from .recipe import recipe_id

#: Files per Parquet row group.
ROW_GROUP = 50_000


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImgfindError("--parquet needs pyarrow: " + extra_hint("pyarrow", "parquet")) from None
    return pyarrow, pyarrow.parquet


def schema(thumbs: bool):
    """The Parquet schema of an export (see the module docstring)."""
    pa, _ = _pyarrow()
    fields = [pa.field("path", pa.binary()), pa.field("size", pa.int64()),
              pa.field("mtime_ns", pa.int64()), pa.field("format", pa.string()),
              pa.field("width", pa.int32()), pa.field("height", pa.int32()),
              pa.field("flat", pa.bool_()), pa.field("phash", pa.uint64()),
              pa.field("dhash", pa.uint64()),
              pa.field("hashes", pa.list_(pa.uint64(), N_HASHES)),
              pa.field("trim", pa.list_(pa.float32(), 4))]
    if thumbs:
        fields.append(pa.field("thumb", pa.binary()))
    columns = [{"view": int(v), "orientation": ORIENTATION_NAMES[int(o)],
                "hash": "phash" if i < N_PHASH else "dhash"}
               for i, (v, o) in enumerate(zip(HASH_VIEW, HASH_ORIENT))]
    meta = {"imgfind.recipe": recipe_id(), "imgfind.hash_columns": json.dumps(columns)}
    return pa.schema(fields, metadata=meta)


def write_parquet(files: Iterable[StoredFile], out: str | os.PathLike[str], *,
                  thumbs: bool = False) -> int:
    """Write the fingerprinted *files* (current recipe only) to the Parquet file *out*;
    return the number of rows written. Written beside *out* and renamed into place
    (outfile.replacing: a FIFO, device or directory at *out* is refused, a symlink written through).

    Raises:
        ImgfindError: pyarrow is missing, or *out* is not a regular file or cannot be written.
    """
    import numpy as np

    pa, pq = _pyarrow()
    sch = schema(thumbs)
    mine = recipe_id()
    rows = 0
    with replacing(out) as tmp:
        with pq.ParquetWriter(tmp, sch, compression="zstd") as writer:
            batch: list[StoredFile] = []

            def flush() -> None:
                n = len(batch)
                hashes = np.frombuffer(b"".join(f.hashes or b"" for f in batch), dtype="<u8")
                trims = np.frombuffer(b"".join(f.trim or b"" for f in batch), dtype="<f4")
                cols = [pa.array([f.path for f in batch], pa.binary()),
                        pa.array([f.size for f in batch], pa.int64()),
                        pa.array([f.mtime_ns for f in batch], pa.int64()),
                        pa.array([f.format for f in batch], pa.string()),
                        pa.array([f.width for f in batch], pa.int32()),
                        pa.array([f.height for f in batch], pa.int32()),
                        pa.array([bool(f.flat) for f in batch], pa.bool_()),
                        pa.array([f.phash for f in batch], pa.uint64()),
                        pa.array([f.dhash for f in batch], pa.uint64()),
                        pa.FixedSizeListArray.from_arrays(pa.array(hashes.astype(np.uint64)),
                                                          N_HASHES),
                        pa.FixedSizeListArray.from_arrays(pa.array(trims.astype(np.float32)), 4)]
                if thumbs:
                    cols.append(pa.array([f.thumb for f in batch], pa.binary()))
                writer.write_table(pa.Table.from_arrays(cols, schema=sch), row_group_size=n)
                batch.clear()

            for f in files:
                if f.hashes is None or f.recipe != mine:
                    continue
                batch.append(f)
                rows += 1
                if len(batch) >= ROW_GROUP:
                    flush()
            if batch:
                flush()
    return rows
