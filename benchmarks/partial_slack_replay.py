"""Replay of the findHomography calls of a dedupe's lone pictures against the consensus
bound at several slacks (partial.HOMOGRAPHY_SLACK), on a generated index (bench_consensus.py
does the same from a whole dedupe of a small index).

Records every findHomography call that partial.fit_model makes, both ways, for the candidate
pairs of --sample pictures with the bound switched off; then, for each slack, counts the
calls whose reported inlier count (5 or more) the bound rules out ("misses"; a miss with 10
or more, partial.GUIDE_FROM, could change an answer) and the calls it would skip at need 10.

Usage: python benchmarks/partial_slack_replay.py DB --sample 300 --seed 2 [--slack 1 1.5 2]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from partial_sample import sampled_candidates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db")
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--slack", type=float, nargs="+", default=[1.0, 1.1, 1.25, 1.5, 2.0])
    args = ap.parse_args()
    import cv2

    from imgfind import Index, consensus, partial

    calls = []
    real = cv2.findHomography

    def kept(pa, pb, *a, **k):  # type: ignore[no-untyped-def]
        hom, inl = real(pa, pb, *a, **k)
        calls.append((np.array(pa), np.array(pb), 0 if hom is None else int(inl.sum())))
        return hom, inl

    cv2.findHomography = kept
    partial.homography_may_reach = lambda *a: True
    with Index.open(args.db, readonly=True) as ix:
        prints, _ = ix.search_side()
        index, _ = ix.local_side()
        _, asking, found = sampled_candidates(prints, index, args.sample, args.seed)
        for a, rs in zip(asking, found):
            for b in rs:
                if b >= 0:
                    fa, fb = index.features[a], index.features[int(b)]
                    if partial.fit_model(fa, fb) is None:
                        partial.fit_model(fb, fa)
    small = [c for c in calls if len(c[0]) <= consensus.MAX_MATCHES]
    print(json.dumps({"calls": len(calls), "at_most_max_matches": len(small)}), flush=True)
    for slack in args.slack:
        radius = slack * partial.RANSAC_PIXELS
        miss = [(k, nh, len(pa)) for k, (pa, pb, nh) in enumerate(small)
                if nh >= 5 and not consensus.homography_may_reach(pa, pb, nh, radius)]
        skipped = sum(not consensus.homography_may_reach(pa, pb, partial.GUIDE_FROM, radius)
                      for pa, pb, _ in small)
        print(json.dumps({"slack": slack, "misses": len(miss),
                          "misses_reporting_10_or_more": sum(m[1] >= partial.GUIDE_FROM for m in miss),
                          "miss_examples (call, reported, matches)": miss[:8],
                          "skipped_at_need_10": skipped}), flush=True)


if __name__ == "__main__":
    main()
