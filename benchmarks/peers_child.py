"""The peers of bench_peers.py, each one process: find the duplicates in one folder, print one
JSON line (the groups found, and the seconds spent importing the library and working).

Runs under the peers' own interpreter (``--peer-python``), which needs no imgfind:

    python peers_child.py czkawka FOLDER CACHE_DIR
    python peers_child.py imagededup FOLDER

* ``czkawka``: the PyPI package ``czkawka`` (PyO3 bindings of the Rust ``czkawka_core``),
  ``ImageSimilarity().find_similar()`` at the package's default similarity. czkawka keeps a
  hash cache in the user's cache folder; ``CACHE_DIR`` (a fresh folder per run) is given to it
  as XDG_CACHE_HOME/HOME by the caller so each run is cold.
* ``imagededup``: ``PHash().encode_images(FOLDER)`` (its own worker processes) and
  ``find_duplicates(encoding_map=..., max_distance_threshold=10)`` (its default). Its CNN side
  needs torchvision; when that import fails it is stubbed as in imagededup_child.py (PHash never
  touches it).

Output: ``{"groups": [[name, ...], ...], "import_s": ..., "work_s": ..., "version": ...}`` with
file names relative to FOLDER; for imagededup, whose answer is a map file -> duplicates, every
reported pair is one two-file group.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time


def czkawka(folder: str) -> dict:
    t0 = time.perf_counter()
    from importlib.metadata import version
    from pathlib import Path

    from czkawka import ImageSimilarity
    t1 = time.perf_counter()
    finder = ImageSimilarity()
    finder.set_directories([Path(folder)])
    groups = finder.find_similar()
    t2 = time.perf_counter()
    return {"groups": [[os.path.relpath(str(p), folder) for p in g] for g in groups],
            "import_s": t1 - t0, "work_s": t2 - t1, "version": version("czkawka")}


def imagededup(folder: str) -> dict:
    t0 = time.perf_counter()
    from importlib.metadata import version
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure of the CNN side: stub it
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from imagededup_child import _stub_torchvision
        _stub_torchvision()
    from imagededup.methods import PHash
    t1 = time.perf_counter()
    logging.disable(logging.CRITICAL)
    phash = PHash(verbose=False)
    enc = phash.encode_images(image_dir=folder)
    dups = phash.find_duplicates(encoding_map=enc, max_distance_threshold=10)
    t2 = time.perf_counter()
    pairs = sorted({tuple(sorted((a, b))) for a, bs in dups.items() for b in bs})
    return {"groups": [list(p) for p in pairs], "import_s": t1 - t0, "work_s": t2 - t1,
            "encoded": len(enc), "version": version("imagededup"),
            "torchvision_stub": os.environ.get("IMAGEDEDUP_TORCHVISION_STUB") == "1"}


if __name__ == "__main__":
    tool, folder = sys.argv[1], sys.argv[2]
    print(json.dumps({"czkawka": czkawka, "imagededup": imagededup}[tool](folder)))
