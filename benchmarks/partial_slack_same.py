"""Do two values of partial.HOMOGRAPHY_SLACK give the same verification answers? Every
candidate pair of --sample lone pictures of an index, verified as dedupe does (partial.verify
a -> b with thumbnails, then b -> a when that fails), once at each slack in this process;
the Partial records (matrix-derived floats included) must be equal. Also counts the
findHomography calls each slack makes, and their CPU.

Usage: python benchmarks/partial_slack_same.py DB --sample 1000 --seed 3 --slack 2.0 1.5
"""

from __future__ import annotations

import argparse
import json
import os
import time

from partial_sample import sampled_candidates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db")
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--slack", type=float, nargs="+", default=[2.0, 1.5])
    args = ap.parse_args()
    import cv2

    from imgfind import Index, partial
    from imgfind.fingerprint import thumb_parts

    calls = [0, 0.0]
    real = cv2.findHomography

    def counted(*a, **k):  # type: ignore[no-untyped-def]
        t = time.process_time()
        out = real(*a, **k)
        calls[0] += 1
        calls[1] += time.process_time() - t
        return out

    cv2.findHomography = counted
    with Index.open(args.db, readonly=True) as ix:
        prints, _ = ix.search_side()
        index, _ = ix.local_side()
        sizes = ix.store.sizes()
        _, asking, found = sampled_candidates(prints, index, args.sample, args.seed)
        pairs = [(a, int(b)) for a, rs in zip(asking, found) for b in rs if b >= 0]
        index.features.prefetch({a for a, _ in pairs} | {b for _, b in pairs})
        ids = {int(index.ids[r]) for p in pairs for r in p}
        thumbs = {i: thumb_parts(blob)[0] for i, blob in ix.store.thumbs(ids).items()}
        answers = {}
        for slack in args.slack:
            partial.HOMOGRAPHY_SLACK = slack
            calls[:] = [0, 0.0]
            t = time.process_time()
            got = []
            for a, b in pairs:
                fa, fb = index.features[a], index.features[b]
                ida, idb = int(index.ids[a]), int(index.ids[b])
                both = (thumbs[ida], thumbs[idb]) if ida in thumbs and idb in thumbs else None
                p = partial.verify(fa, fb, sizes.get(ida), sizes.get(idb), both)
                got.append(p if p is not None else partial.verify(fb, fa, sizes.get(idb), sizes.get(ida), None))
            answers[slack] = got
            print(json.dumps({"slack": slack, "pairs": len(pairs), "pictures": len(asking),
                              "verified": sum(p is not None for p in got),
                              "findHomography_calls": calls[0],
                              "findHomography_cpu_s": round(calls[1], 2),
                              "verify_cpu_ms_per_picture": round(1000 * (time.process_time() - t) / len(asking), 2),
                              "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}), flush=True)
    first = answers[args.slack[0]]
    for slack in args.slack[1:]:
        diff = [k for k, (p, q) in enumerate(zip(first, answers[slack])) if p != q]
        print(json.dumps({"same_as": args.slack[0], "slack": slack, "differing_pairs": len(diff),
                          "first_differing": [pairs[k] for k in diff[:10]]}), flush=True)


if __name__ == "__main__":
    main()
