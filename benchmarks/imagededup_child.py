"""The imagededup baseline of bench_index.py: PHash encodings of one folder, one JSON line.

Runs under imagededup's own interpreter (``--imagededup-python``), which has no imgfind:
``python imagededup_child.py FOLDER``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import types


def _stub_torchvision() -> None:
    """PyPI's torchvision wheel links CUDA torch; with the CPU torch wheel its import fails.
    imagededup imports it only for its CNN method; PHash never touches it, so stand-ins let
    the import chain finish without changing what is measured."""

    class Stub(types.ModuleType):
        def __getattr__(self, name: str) -> Stub:
            if name.startswith("__"):
                raise AttributeError(name)
            return Stub(f"{self.__name__}.{name}")

        def __call__(self, *a: object, **k: object) -> Stub:
            return self

    for mod in ("torchvision", "torchvision.models", "torchvision.transforms",
                "torchvision.models.vision_transformer"):
        sys.modules[mod] = Stub(mod)
    os.environ["IMAGEDEDUP_TORCHVISION_STUB"] = "1"


def encode(folder: str) -> dict:
    t0 = time.perf_counter()
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure of the CNN side: stub it
        _stub_torchvision()
    from imagededup.methods import PHash
    t1 = time.perf_counter()
    logging.disable(logging.CRITICAL)
    enc = PHash(verbose=False).encode_images(image_dir=folder)
    t2 = time.perf_counter()
    return {"import_s": t1 - t0, "work_s": t2 - t1, "n": len(enc)}


if __name__ == "__main__":
    print(json.dumps(encode(sys.argv[1])))
