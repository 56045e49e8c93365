import sys, numpy as np
from imgfind import Index, local_index, partial
db = sys.argv[1]
with Index.open(db, readonly=True) as ix:
    index, _ = ix.local_side()
    owner = index.owner
    n = len(index.ids); cap = int(partial.stop_cap(n))
    rng = np.random.default_rng(1)
    rows = rng.choice(n, 8, replace=False)
    reads = {"current": 0, "exact-first": 0}
    stops = 0; nd = 0
    for r in rows:
        q = np.asarray(index.desc[index.starts[r]:index.starts[r + 1]])
        chunk, start, length = index._probes(q)
        for j in range(len(q)):
            nd += 1
            segs = []
            for t in range(20):
                c, s, L = chunk[j, t], start[j, t], length[j, t]
                nb = np.asarray(index.near[c, s:s + L]); fb = np.asarray(index.far[c, s:s + L])
                d = np.bitwise_count(nb ^ local_index.near_bits(q[j:j+1], c)[0]).astype(int) + np.bitwise_count(fb ^ local_index.far_bits(q[j:j+1], c)[0]) + (t in range(1, 17))
                hits = np.nonzero(d <= 4)[0]
                segs.append((L, owner[np.asarray(index.tables[c, s + hits]).astype(np.int64)], hits))
            for name, order in (("current", list(range(20))), ("exact-first", [0, 17, 18, 19] + list(range(1, 17)))):
                seen = set(); read = 0; stop = False
                for t in order:
                    L, own, hits = segs[t]
                    for h, o in zip(hits, own):
                        if o == r: continue
                        seen.add(int(o))
                        if len(seen) > cap:
                            read += h + 1; stop = True; break
                    if stop: break
                    read += L
                reads[name] += read
                if name == "current": stops += stop
    print("cap", cap, "desc", nd, "stop words", stops, {k: v / nd for k, v in reads.items()})
