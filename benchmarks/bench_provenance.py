"""What reading XMP, IPTC and GPS at index time costs: provenance.read per file, against the
decoder's whole metadata step (decoders.pillow._metadata, which now includes it).

    python benchmarks/bench_provenance.py FOLDER

Opens every jpg/png/webp under FOLDER once with Pillow (header only, as the decoder does
before decoding) and prints the mean microseconds per file of each step and how many files
gave XMP or IPTC fields. Single process; run with ``nice`` on a shared machine.
"""

from __future__ import annotations

import glob
import os
import sys
import time

from PIL import Image

from imgfind import provenance
from imgfind.decoders import pillow


def main(folder: str) -> None:
    files = sorted(f for f in glob.glob(os.path.join(os.path.expanduser(folder), "**", "*"), recursive=True)
                   if f.rsplit(".", 1)[-1].lower() in ("jpg", "jpeg", "png", "webp"))
    if not files:
        raise SystemExit(f"no jpg/png/webp under {folder}")
    t_meta = t_prov = 0.0
    with_xmp = with_iptc = 0
    for f in files:
        with Image.open(f) as im:
            t0 = time.perf_counter()
            pillow._metadata(im)
            t1 = time.perf_counter()
            out = provenance.read(im)
            t2 = time.perf_counter()
        t_meta += t1 - t0
        t_prov += t2 - t1
        with_xmp += any(k.startswith("xmp_") for k in out)
        with_iptc += any(k.startswith("iptc_") for k in out)
    n = len(files)
    print(f"{n} files; decoder metadata (provenance included) {t_meta / n * 1e6:.0f} us/file, "
          f"provenance.read alone {t_prov / n * 1e6:.0f} us/file; files with XMP fields "
          f"{with_xmp}, with IPTC fields {with_iptc}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
