import sys, time, math, numpy as np, cv2
from imgfind import Index, partial, consensus
db, count = sys.argv[1], int(sys.argv[2])
calls = []
orig = cv2.findHomography
def logged(pa, pb, *a, **k):
    t = time.process_time(); hom, inl = orig(pa, pb, *a, **k); dt = time.process_time() - t
    calls.append((np.array(pa), np.array(pb), 0 if hom is None else int(inl.sum()), dt)); return hom, inl
cv2.findHomography = logged
needs = []
of = partial.homography_may_reach
def lm(pa, pb, need, radius):
    r = of(pa, pb, need, radius)
    if r: needs.append(need)
    return r
partial.homography_may_reach = lm
with Index.open(db, readonly=True) as ix:
    prints, side = ix.search_side()
    index, _ = ix.local_side()
    rng = np.random.default_rng(1)
    rows = sorted(rng.choice(len(prints), count, replace=False).tolist())
    local_row = {int(i): r for r, i in enumerate(index.ids)}
    asking = [local_row[int(prints.ids[r])] for r in rows if int(prints.ids[r]) in local_row]
    found, _ = index.candidates_many([np.asarray(index.desc[index.starts[a]:index.starts[a + 1]]) for a in asking], exclude=asking)
    for a, rs in zip(asking, found):
        for b in rs:
            if b < 0: continue
            fa, fb = index.features[a], index.features[int(b)]
            if partial.verify(fa, fb) is None: partial.verify(fb, fa)
print("findHomography calls", len(calls), "CPU s", round(sum(c[3] for c in calls), 2), "reaching need:", sum(c[2] >= n for c, n in zip(calls, needs)))
for slack in (1.0, 1.1, 1.5, 2.0):
    kept = [of(c[0], c[1], n, slack * partial.RANSAC_PIXELS) for c, n in zip(calls, needs)]
    below = sum((not k) and c[2] >= n for k, c, n in zip(kept, calls, needs))
    print("slack", slack, "calls left", sum(kept), "CPU s left", round(sum(c[3] for k, c in zip(kept, calls) if k), 2), "bound below a reported count", below)
