"""The compiled kernel of local_index.py (numba; imported only when it is used): tf-idf voting
of query pictures' descriptors over the descriptor index, with stop words found on the way.

Module-level function, so numba caches its machine code next to this file (``cache=True``).
"""

import numba as nb
import numpy as np

from ._kernels import popcount


@nb.njit(parallel=True, cache=True, nogil=True)
def vote(qdesc, qstart, exclude, desc, starts, owner, tables, near, far, n_rows, k, cap,
         crowded, weights, min_votes, blocks, out_rows, out_scores, out_stats):
    """For each query picture p (descriptors qdesc[qstart[p]:qstart[p+1]]): every descriptor
    finds the pictures (rows) with a descriptor within k bits (exclude[p] left out); one that
    finds more than *cap* pictures is a stop word and votes for none (it stops looking as soon
    as it has found cap + 1), and so is one whose buckets hold more than *crowded* entries
    (crowded >= 0); the others vote weights[df] for each picture they found. Rows
    with at least min_votes votes and a positive score go to out_rows[p] / out_scores[p]
    (best first: score down, row up; -1 / 0 where fewer). *tables* is search/disk.build's
    (4, D + 65537) uint32 layout over *desc*: radius 1 in the first 16-bit chunk and 0 in
    the three others cover every distance up to 4 (pigeonhole). *near* (4, D) uint32 is
    local_index.build_near's: 32 other bits of each entry in table order, read first (a
    contiguous run); *far* (4, D) uint16 local_index.build_far's: the last 16 bits, read
    where those agree, so that with the bucket's key each entry's whole distance is known
    without reading ``desc`` at random (a cache miss an entry).
    out_stats[p] = (stop words, distinct (descriptor, row) hits)."""
    n_q = len(qstart) - 1
    per = (n_q + blocks - 1) // blocks
    for b in nb.prange(blocks):
        lo = b * per
        hi = min(n_q, lo + per)
        if lo < hi:
            _block(lo, hi, qdesc, qstart, exclude, desc, starts, owner, tables, near, far,
                   n_rows, k, cap, crowded, weights, min_votes, out_rows, out_scores, out_stats)


@nb.njit(cache=True, nogil=True)
def bucket_plan(v, tables, d_items, key_out, chunk_out):
    """The 20 bucket probes of descriptor v: key_out[t], chunk_out[t] (t < 20), the 17 of
    the radius-1 chunk first (its bucket, then its 16 one-bit neighbours), then the other
    three chunks' buckets; the radius-1 chunk is the one that makes the 20 buckets hold
    fewest entries (the lowest chunk on ties). Returns that number of entries."""
    best_c = 0
    best = np.int64(-1)
    exact = np.zeros(4, np.int64)
    for c in range(4):
        key = np.int64((v >> np.uint64(16 * c)) & np.uint64(0xFFFF))
        exact[c] = np.int64(tables[c, d_items + key + 1]) - np.int64(tables[c, d_items + key])
    for c in range(4):
        key = np.int64((v >> np.uint64(16 * c)) & np.uint64(0xFFFF))
        cost = np.int64(0)
        for c2 in range(4):
            cost += exact[c2]
        for b in range(16):
            probe = key ^ (np.int64(1) << np.int64(b))
            cost += np.int64(tables[c, d_items + probe + 1]) - np.int64(tables[c, d_items + probe])
        if best < 0 or cost < best:
            best = cost
            best_c = c
    key = np.int64((v >> np.uint64(16 * best_c)) & np.uint64(0xFFFF))
    key_out[0] = key
    chunk_out[0] = best_c
    for b in range(16):
        key_out[1 + b] = key ^ (np.int64(1) << np.int64(b))
        chunk_out[1 + b] = best_c
    t = 17
    for c in range(4):
        if c != best_c:
            key_out[t] = np.int64((v >> np.uint64(16 * c)) & np.uint64(0xFFFF))
            chunk_out[t] = c
            t += 1
    return best


@nb.njit(cache=True, nogil=True)
def _block(lo, hi, qdesc, qstart, exclude, desc, starts, owner, tables, near, far, n_rows, k,
           cap, crowded, weights, min_votes, out_rows, out_scores, out_stats):
    d_items = len(desc)
    qmax = 1
    for p in range(lo, hi):
        qmax = max(qmax, qstart[p + 1] - qstart[p])
    top = out_rows.shape[1]
    kk = np.uint64(k)
    if True:
        votes = np.zeros(n_rows, np.int32)
        score = np.zeros(n_rows, np.float64)
        mark = np.zeros(n_rows, np.int64)
        touched = np.empty(n_rows, np.int64)
        pend_r = np.empty(n_rows, np.int64)
        pend_s = np.empty(n_rows, np.float64)
        pend_v = np.empty(n_rows, np.int32)
        rowbuf = np.empty(cap + 1, np.int64)
        best_r = np.empty(top, np.int64)
        best_s = np.empty(top, np.float64)
        stopbuf = np.empty(qmax, np.uint64)
        keys = np.empty(20, np.int64)
        chunks = np.empty(20, np.int64)
        qnear = np.empty(4, np.uint64)
        qfar = np.empty(4, np.uint64)
        stamp = 0
        for p in range(lo, hi):
            n_touched = 0
            stops = 0
            hits = 0
            excl = exclude[p]
            for j in range(qstart[p], qstart[p + 1]):
                v = qdesc[j]
                stamp += 1
                cnt = 0
                stop = False
                entries = bucket_plan(v, tables, d_items, keys, chunks)
                for c in range(4):  # local_index.near_bits of v, per chunk
                    qnear[c] = (((v >> np.uint64(16 * ((c + 1) % 4))) & np.uint64(0xFFFF))
                                | (((v >> np.uint64(16 * ((c + 2) % 4))) & np.uint64(0xFFFF))
                                   << np.uint64(16)))
                    qfar[c] = (v >> np.uint64(16 * ((c + 3) % 4))) & np.uint64(0xFFFF)
                if crowded >= 0 and entries > crowded:
                    stop = True
                for t in range(20):
                    if stop:
                        break
                    c = chunks[t]
                    probe = keys[t]
                    s = np.int64(tables[c, d_items + probe])
                    e = np.int64(tables[c, d_items + probe + 1])
                    qn = qnear[c]
                    qf = qfar[c]
                    # every entry of the bucket has the probe as its chunk c: the distance
                    # is that chunk's, near's 32 bits' and far's 16 bits'
                    base = popcount(((v >> np.uint64(16 * c)) & np.uint64(0xFFFF))
                                    ^ np.uint64(probe))
                    for pos in range(s, e):
                        dist = base + popcount(qn ^ np.uint64(near[c, pos]))
                        if dist > kk:
                            continue
                        if dist + popcount(qf ^ np.uint64(far[c, pos])) > kk:
                            continue
                        item = tables[c, pos]
                        row = owner[item]
                        if row == excl or mark[row] == stamp:
                            continue
                        mark[row] = stamp
                        if cnt == cap:
                            stop = True
                            break
                        rowbuf[cnt] = row
                        cnt += 1
                if stop:
                    stopbuf[stops] = v
                    stops += 1
                    continue
                hits += cnt
                w = weights[cnt]
                for t in range(cnt):
                    r = rowbuf[t]
                    if votes[r] == 0:
                        touched[n_touched] = r
                        n_touched += 1
                    votes[r] += 1
                    score[r] += w
            # the best rows: score down, then row up (a stable sort of -score). A row with
            # fewer than min_votes votes may have more counting the stop words' (which weigh
            # nothing): those that could still make the list are checked against them.
            n_best = 0
            n_pend = 0
            for t in range(n_touched):
                r = touched[t]
                sc = score[r]
                voted = votes[r]
                votes[r] = 0
                score[r] = 0.0
                if sc <= 0.0:
                    continue
                if voted < min_votes:
                    if stops > 0:
                        pend_r[n_pend] = r
                        pend_s[n_pend] = sc
                        pend_v[n_pend] = voted
                        n_pend += 1
                    continue
                n_best = _insert(best_r, best_s, n_best, r, sc)
            if n_pend:
                order = np.argsort(-pend_s[:n_pend], kind="mergesort")
                for o in order:
                    r = pend_r[o]
                    sc = pend_s[o]
                    if n_best == top and sc < best_s[top - 1]:
                        break  # the rest score lower still (ties are left to _insert)
                    extra = 0
                    for u in range(stops):
                        s0 = stopbuf[u]
                        for i in range(starts[r], starts[r + 1]):
                            if popcount(s0 ^ desc[i]) <= kk:
                                extra += 1
                                break
                    if pend_v[o] + extra >= min_votes:
                        n_best = _insert(best_r, best_s, n_best, r, sc)
            for t in range(top):
                if t < n_best:
                    out_rows[p, t] = best_r[t]
                    out_scores[p, t] = best_s[t]
                else:
                    out_rows[p, t] = -1
                    out_scores[p, t] = 0.0
            out_stats[p, 0] = stops
            out_stats[p, 1] = hits


@nb.njit(inline="always")
def _insert(best_r, best_s, n_best, r, sc):
    """Put row r (score sc) into the best list (score down, row up); return its new length."""
    top = len(best_r)
    if n_best == top and (sc < best_s[top - 1] or (sc == best_s[top - 1] and r > best_r[top - 1])):
        return n_best
    at = n_best if n_best < top else top - 1
    while at > 0 and (best_s[at - 1] < sc or (best_s[at - 1] == sc and best_r[at - 1] > r)):
        best_s[at] = best_s[at - 1]
        best_r[at] = best_r[at - 1]
        at -= 1
    best_s[at] = sc
    best_r[at] = r
    return n_best + 1 if n_best < top else n_best
