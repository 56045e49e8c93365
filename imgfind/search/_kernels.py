"""The compiled kernels of search/join.py (numba; imported only when they are used).

Module-level functions, so numba caches their machine code next to this file (``cache=True``):
the first process compiles them (seconds), the next ones load them (~0.2 s).
"""

import numba as nb
import numpy as np

#: Queries per parallel block (a block writes its matches into its own slice of the output).
BLOCK_QUERIES = 4096
#: Queries per sub-block: a block's queries (sorted by the task's substring) go through every
#: probe mask SUB_QUERIES at a time, and the masks go in increasing order (join._ball), so the
#: masks that flip only low key bits read buckets a few kilobytes from the last ones, still in
#: the core's cache: at 10^6 files (168 items a bucket) the probes were bound by memory traffic,
#: each mask reading another megabytes of buckets for the whole block. Ours: 128 cut the crop
#: channels' join 1.4x there (benchmarks/RESULTS.md, session 11).
SUB_QUERIES = 128

m1 = np.uint64(0x5555555555555555)
m2 = np.uint64(0x3333333333333333)
m4 = np.uint64(0x0F0F0F0F0F0F0F0F)
h01 = np.uint64(0x0101010101010101)

@nb.njit(inline="always")
def popcount(x):
    x = x - ((x >> np.uint64(1)) & m1)
    x = (x & m2) + ((x >> np.uint64(2)) & m2)
    x = (x + (x >> np.uint64(4))) & m4
    return (x * h01) >> np.uint64(56)

@nb.njit(inline="always")
def any_within(v, values, s, e, kk):
    """True when some values[s:e] is within kk bits of v. A branch-free count over the
    bucket, which the compiler turns into vector popcounts; nearly every bucket holds no
    match, and the scalar loop that reports matches runs only for those that do."""
    # A slice indexed from 0 (not range(s, e) over the whole array, whose negative-index
    # handling keeps the loop scalar) and a uint64 sum: the form LLVM vectorizes (measured).
    w = values[s:e]
    n = np.uint64(0)
    for p in range(len(w)):
        n += np.uint64(popcount(v ^ w[p]) <= kk)
    return n != np.uint64(0)

@nb.njit(parallel=True, cache=True, nogil=True)
def sweep(queries, order, sorted_values, k, offsets, widths, radii, tab_values, tab_order, starts, start_base,
          masks, mask_lo, mask_hi, n_blocks, tasks, cap, out_q, out_i, out_d, counts):
    """Multi-index probes in a cache-friendly order: task (j, b) takes block b of the queries
    sorted by their substring j (order[j]; their values in that order, sorted_values[j], read
    one after the other) and runs each probe mask over the block (SUB_QUERIES queries at a
    time) before the next, so consecutive probes read nearby buckets (one query's probes, one
    after the other, read a random bucket each: a cache miss per probe). A match within k bits is
    reported by the first substring j where it is within radii[j] (the others skip it).
    Task jb = j * n_blocks + b; the t-th task run (tasks[t] = jb: every task, or again only
    those whose matches overflowed their slot) writes its matches into slot t of the outputs
    (cap each) and their count into counts[t]."""
    n = len(queries)
    kk = np.uint64(k)
    for t_ in nb.prange(len(tasks)):
        jb = tasks[t_]
        j = jb // n_blocks
        b = jb - j * n_blocks
        pos = t_ * cap
        end = pos + cap
        found = 0
        lo = b * BLOCK_QUERIES
        hi = min(n, lo + BLOCK_QUERIES)
        off = np.uint64(offsets[j])
        mask = (np.uint64(1) << np.uint64(widths[j])) - np.uint64(1)
        base = start_base[j]
        values_j = tab_values[j]
        for sub in range(lo, hi, SUB_QUERIES):
            for t in range(mask_lo[j], mask_hi[j]):
                flip = masks[t]
                for qq in range(sub, min(hi, sub + SUB_QUERIES)):
                    v = sorted_values[j, qq]
                    slot = base + np.int64(((v >> off) & mask) ^ flip)
                    s = starts[slot]
                    e = starts[slot + 1]
                    if not any_within(v, values_j, s, e, kk):
                        continue
                    for p in range(s, e):
                        x = v ^ values_j[p]
                        d = popcount(x)
                        if d > kk:
                            continue
                        dup = False
                        for jj in range(j):
                            mm = (np.uint64(1) << np.uint64(widths[jj])) - np.uint64(1)
                            if popcount((x >> np.uint64(offsets[jj])) & mm) <= np.uint64(radii[jj]):
                                dup = True
                                break
                        if dup:
                            continue
                        if pos < end:
                            out_q[pos] = order[j, qq]
                            out_i[pos] = tab_order[j, p]
                            out_d[pos] = np.uint8(d)
                            pos += 1
                        found += 1
        counts[t_] = found

@nb.njit(parallel=True, cache=True, nogil=True)
def brute(queries, items, k, cap, out_q, out_i, out_d, counts):
    n = len(queries)
    n_blocks = len(counts)
    kk = np.uint64(k)
    for b in nb.prange(n_blocks):
        pos = b * cap
        end = pos + cap
        found = 0
        lo = b * BLOCK_QUERIES
        hi = min(n, lo + BLOCK_QUERIES)
        for q in range(lo, hi):
            v = queries[q]
            for i in range(len(items)):
                d = popcount(v ^ items[i])
                if d <= kk:
                    if pos < end:
                        out_q[pos] = q
                        out_i[pos] = i
                        out_d[pos] = np.uint8(d)
                        pos += 1
                    found += 1
        counts[b] = found

@nb.njit(parallel=True, cache=True, nogil=True)
def nearest(q, i, dist, best):
    k = q.shape[0]
    for a in nb.prange(k):
        for b in range(k):
            low = np.uint64(65)
            at = 0
            for x in range(q.shape[1]):
                for y in range(i.shape[1]):
                    d = popcount(q[a, x] ^ i[b, y])
                    if d < low:
                        low = d
                        at = x * i.shape[1] + y
            dist[a, b] = low
            best[a, b] = at



