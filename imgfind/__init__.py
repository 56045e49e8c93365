"""imgfind: reverse image search and near-duplicate finding over a local SQLite index.

>>> from imgfind import Index
>>> with Index.open("photos.db") as idx:          # doctest: +SKIP
...     idx.update(["~/Photos"])
...     for group in idx.groups():
...         print([m.file.path for m in group.members])

The public names below are imported on first use (PEP 562), not with the package: the
command line imports ``imgfind.cli`` through this package, and ``imgfind --help`` should not
pay for numpy, Pillow and the search engines that only the commands use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .numba_cache import prepare as _prepare_numba_cache

# Before any kernel module imports numba: a writable folder for its compiled kernels.
_prepare_numba_cache()

#: Public name -> the module that defines it.
_PUBLIC = {
    "fingerprint_file": "analyse",
    "DecodeError": "errors", "ImgfindError": "errors", "SchemaError": "errors", "StoreError": "errors",
    "Index": "index", "Settings": "index",
    "PRESETS": "model", "Fingerprint": "model", "QueryResult": "model", "Rule": "model",
}

__all__ = [
    "DecodeError", "Fingerprint", "ImgfindError", "Index", "PRESETS", "QueryResult", "Rule", "SchemaError",
    "Settings", "StoreError", "__version__", "fingerprint_file",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports them
    from .analyse import fingerprint_file
    from .errors import DecodeError, ImgfindError, SchemaError, StoreError
    from .index import Index, Settings
    from .model import PRESETS, Fingerprint, QueryResult, Rule


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'imgfind' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value  # once: later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
