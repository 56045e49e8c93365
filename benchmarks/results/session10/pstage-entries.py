import sys, numpy as np
from imgfind import Index, local_index
db = sys.argv[1]
with Index.open(db, readonly=True) as ix:
    prints, side = ix.search_side()
    index, _ = ix.local_side()
    rng = np.random.default_rng(1)
    rows = rng.choice(len(index.ids), 10, replace=False)
    tot = npass = fpass = 0
    per = []
    for r in rows:
        q = np.asarray(index.desc[index.starts[r]:index.starts[r + 1]])
        chunk, start, length = index._probes(q)
        for j in range(len(q)):
            e = 0
            for t in range(20):
                c, s, L = chunk[j, t], start[j, t], length[j, t]
                nb = np.asarray(index.near[c, s:s + L]); fb = np.asarray(index.far[c, s:s + L])
                d = np.bitwise_count(nb ^ local_index.near_bits(q[j:j+1], c)[0]).astype(int)
                tot += L; e += L
                npass += (d <= 4).sum()
                fpass += ((d + np.bitwise_count(fb ^ local_index.far_bits(q[j:j+1], c)[0])) <= 4).sum()
            per.append(e)
    print("entries/desc mean", tot / len(per), "median", np.median(per), "p90", np.percentile(per, 90), "near pass frac", npass / tot, "full pass frac", fpass / tot)
