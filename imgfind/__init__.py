"""imgfind: reverse image search and near-duplicate finding over a local SQLite index.

>>> from imgfind import Index
>>> with Index.open("photos.db") as idx:          # doctest: +SKIP
...     idx.update(["~/Photos"])
...     for group in idx.groups():
...         print([m.file.path for m in group.members])
"""

from __future__ import annotations

from ._version import __version__
from .analyse import fingerprint_file
from .errors import DecodeError, ImgfindError, SchemaError, StoreError
from .index import Index, Settings
from .model import PRESETS, Fingerprint, QueryResult, Rule

__all__ = [
    "DecodeError", "Fingerprint", "ImgfindError", "Index", "PRESETS", "QueryResult", "Rule", "SchemaError",
    "Settings", "StoreError", "__version__", "fingerprint_file",
]
