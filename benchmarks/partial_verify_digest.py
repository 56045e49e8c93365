"""One digest of the verification answers of a sample of a dedupe's candidate pairs, so that
two codes can be compared answer for answer (run it under each code's PYTHONPATH).

Every candidate pair of --sample pictures of an index drawn at random (--seed), as
Index._place_partial lists them (DescriptorIndex.candidates_many, each pair once), verified
as dedupe does (verify_threads.both_ways: a -> b with thumbnails, then b -> a), on this
thread. Prints one JSON line: pairs, verified, the SHA-256 of every answer's repr in order
(None or the Partial record, floats included), and the verification's process CPU.

Usage: python benchmarks/partial_verify_digest.py DB --sample 300 --seed 3 [--out answers.txt]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time

import numpy as np
from partial_sample import sampled_candidates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db")
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", help="also write every answer's repr, one a line")
    args = ap.parse_args()
    import imgfind
    from imgfind import Index, verify_threads
    from imgfind.fingerprint import thumb_parts

    with Index.open(args.db, readonly=True) as ix:
        prints, _side = ix.search_side()
        index, _ = ix.local_side()
        sizes = ix.store.sizes()
        sampled, la, found = sampled_candidates(prints, index, args.sample, args.seed)
        pairs, seen = [], set()
        for x, rs in zip(la, found):
            for y in rs:
                y = int(y)
                if y >= 0 and (min(x, y), max(x, y)) not in seen:
                    seen.add((min(x, y), max(x, y)))
                    pairs.append((x, y))
        index.features.prefetch({x for p in pairs for x in p})
        thumbs: dict[int, np.ndarray | None] = {}

        def thumb(i: int) -> np.ndarray | None:
            if i not in thumbs:
                blob = ix.store.thumbs([i]).get(i)
                thumbs[i] = None if blob is None else thumb_parts(blob)[0]
            return thumbs[i]

        jobs = []
        for x, y in pairs:
            ida, idb = int(index.ids[x]), int(index.ids[y])
            ta, tb = thumb(ida), thumb(idb)
            jobs.append((index.features[x], index.features[y], sizes.get(ida), sizes.get(idb),
                         (ta, tb) if ta is not None and tb is not None else None))
        t = time.process_time()
        answers = [verify_threads.both_ways(*job) for job in jobs]
        cpu = time.process_time() - t
    lines = [repr(p) for p in answers]
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    print(json.dumps({"db": args.db, "imgfind": os.path.dirname(imgfind.__file__),
                      "sample": sampled, "pairs": len(pairs),
                      "verified": sum(p is not None for p in answers),
                      "sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
                      "verify_cpu_ms_per_picture": round(1000 * cpu / max(1, sampled), 2),
                      "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}))


if __name__ == "__main__":
    main()
