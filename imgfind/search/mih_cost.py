"""The cost model of multi-index hashing: substring layouts, and which one is cheapest.

A plan cuts the 64 bits into ``m`` substrings with a search radius each; :func:`choose_plan`
estimates every valid plan's nanoseconds from constants fitted on the benchmark machine and
returns the cheapest, or None when comparing everything is cheaper.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from . import arrays


def ball_size(bits: int, radius: int) -> int:
    """Return how many ``bits``-bit keys lie within ``radius`` of a given key."""
    return sum(math.comb(bits, i) for i in range(min(radius, bits) + 1))


@dataclass(frozen=True, slots=True)
class Plan:
    """Substring layout and search radii for one threshold: bits [offset, offset + width)."""

    offsets: tuple[int, ...]
    widths: tuple[int, ...]
    radii: tuple[int, ...]


def layouts(k: int) -> Iterable[Plan]:
    """Yield every pigeonhole-valid plan with 1..k+1 near-equal substrings.

    If two values are within ``k`` and the substrings' radii satisfy
    ``sum(r_j + 1) >= k + 1``, some substring differs by at most its radius (else the
    distance would be at least ``k + 1``), so probing each substring's ball finds them.
    The spare radius goes to the widest substrings, whose balls are sparsest.
    """
    for m in range(1, min(k + 1, 16) + 1):
        yield layout(m, k)


def layout(m: int, k: int) -> Plan:
    """Return the plan with ``m`` near-equal substrings for threshold ``k``.

    With more substrings than ``k + 1``, only the first ``k + 1`` are probed (radius 0);
    the others get radius -1, meaning "not probed".
    """
    widths = [64 // m + (1 if j < 64 % m else 0) for j in range(m)]
    spare = k + 1 - m
    if spare >= 0:
        radii = [spare // m + (1 if j < spare % m else 0) for j in range(m)]
    else:
        radii = [0] * (k + 1) + [-1] * (m - k - 1)
    offsets = [sum(widths[:j]) for j in range(m)]
    return Plan(tuple(offsets), tuple(widths), tuple(radii))


# Nanoseconds per unit of work, fitted to timings on the 2-vCPU benchmark machine
# (benchmarks/bench_search.py; 10^5 and 10^6 clustered values, m = 2..6): a probe of a
# dense table or of a sorted key array, a verified candidate, the per-value setup of one
# substring (sorting, tables, expanding results), the fixed cost of probing one substring
# for one batch of queries, and a brute-force comparison in pairs and in queries. Only
# their ratios matter: they choose m, and whether to compare everything instead.
NS_PROBE_DENSE = 11.0
NS_PROBE_SPARSE = 19.0
NS_CANDIDATE = 3.8
NS_SETUP = 155.0
NS_CALL = 40_000.0
NS_BRUTE_PAIR = 2.3
NS_BRUTE_QUERY = 0.55
MAX_BALL = 1 << 16  # never enumerate more flip masks per substring than this
DENSE_MAX_BITS = 22


def is_dense(width: int, n: int) -> bool:
    """Use a direct-address table when it is small, in absolute terms and next to ``n``."""
    return width <= DENSE_MAX_BITS and (1 << width) <= max(16 * n, 1 << 16)


def plan_cost(
    plan: Plan,
    n: int,
    queries: int | None,
    built: frozenset[tuple[int, int]] = frozenset(),
    prepaid: bool = False,
) -> float:
    """Estimate a plan's nanoseconds; ``queries=None`` means the self-join ``pairs``.

    Values are taken as uniformly random, so a ball of ``b`` keys around a ``w``-bit key
    holds ``n * b / 2**w`` values. Clustered data costs a little more; the fit above is
    on clustered data. Queries pay for building a table unless it is in ``built``
    (``(offset, width)`` pairs) or ``prepaid``, so a batch does not build a layout to save
    less than the building costs, and memory does not fill with layouts.
    """
    balls = [ball_size(w, r) for w, r in zip(plan.widths, plan.radii) if r >= 0]
    if max(balls) > MAX_BALL:
        return math.inf
    batches = 1 if queries is None else math.ceil(queries * max(balls) / arrays.BLOCK)
    cost = 0.0
    for offset, width, radius in zip(plan.offsets, plan.widths, plan.radii):
        if radius < 0:
            continue
        ball = ball_size(width, radius)
        space = 2.0**width
        probe = NS_PROBE_DENSE if is_dense(width, n) else NS_PROBE_SPARSE
        if queries is None:
            occupied = space * -math.expm1(-n / space)
            cost += NS_SETUP * n + probe * occupied / 2 * (ball - 1)
            cost += NS_CANDIDATE * n * n / 2 * ball / space
        else:
            cost += NS_CALL * batches
            if (offset, width) not in built and not prepaid:
                cost += NS_SETUP * n
            cost += queries * (probe * ball + NS_CANDIDATE * n * ball / space)
    return cost


@functools.lru_cache(maxsize=256)
def choose_plan(
    n: int,
    k: int,
    queries: int | None,
    built: frozenset[tuple[int, int]] = frozenset(),
    prepaid: bool = False,
) -> Plan | None:
    """Return the cheapest plan, or ``None`` when comparing everything is cheaper.

    ``built`` and ``prepaid`` are passed on to :func:`plan_cost`.
    """
    if queries is None:
        brute = NS_BRUTE_PAIR * n * n / 2
    else:
        brute = NS_BRUTE_QUERY * queries * n
    best, best_cost = None, brute
    for plan in layouts(k):
        cost = plan_cost(plan, n, queries, built, prepaid)
        if cost < best_cost:
            best, best_cost = plan, cost
    return best
