"""The sample the partial-stage calibration scripts share (partial_slack_replay.py,
partial_slack_same.py, partial_verify_digest.py): pictures drawn at random from an index and
their keypoint candidates, searched as dedupe's partial stage searches them."""
from __future__ import annotations

import numpy as np


def sampled_candidates(prints, index, count: int, seed: int):
    """*count* rows of the prints side *prints* drawn without replacement by
    ``numpy.random.default_rng(seed)``; those with keypoints are asked, as rows of the local
    side *index*, through ``DescriptorIndex.candidates_many`` (as ``Index._place_partial``
    calls it: every asked picture excluded from the others' answers).

    Returns (sampled: number of rows drawn, asking: list of local rows asked,
    found: per asked row, an array of candidate local rows, -1 where there is none).
    """
    rng = np.random.default_rng(seed)
    rows = sorted(rng.choice(len(prints), min(count, len(prints)), replace=False).tolist())
    local_row = {int(i): r for r, i in enumerate(index.ids)}
    asking = [local_row[int(prints.ids[r])] for r in rows if int(prints.ids[r]) in local_row]
    found, _ = index.candidates_many(
        [np.asarray(index.desc[index.starts[a]:index.starts[a + 1]]) for a in asking],
        exclude=asking)
    return len(rows), asking, found
