"""imgfind: reverse image search and near-duplicate finding over a local SQLite index.

>>> from imgfind import Index
>>> with Index.open("photos.db") as idx:          # doctest: +SKIP
...     idx.update(["~/Photos"])
...     for group in idx.groups():
...         print([m.file.path for m in group.members])
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import DecodeError, ImgfindError, SchemaError, StoreError  # noqa: E402
from .index import Index, QueryResult, Settings  # noqa: E402
from .match import PRESETS, Rule  # noqa: E402
from .analyse import fingerprint_file  # noqa: E402

__all__ = [
    "DecodeError", "ImgfindError", "Index", "PRESETS", "QueryResult", "Rule", "SchemaError",
    "Settings", "StoreError", "__version__", "fingerprint_file",
]
