"""Tests for imgfind.bktree: the BK-tree agrees with a brute-force scan."""

from __future__ import annotations

import doctest
import inspect
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from imgfind.search import bktree
from imgfind.bits import MASK64, hamming
from imgfind.search.bktree import BKTree

BITS = st.integers(min_value=0, max_value=63)
U64 = st.integers(min_value=0, max_value=MASK64)


@st.composite
def near_values(draw: st.DrawFn) -> list[int]:
    """Draw values clustered around a few bases, so small thresholds find something."""
    bases = draw(st.lists(U64, min_size=1, max_size=3))
    values = []
    for _ in range(draw(st.integers(min_value=0, max_value=40))):
        mask = 0
        for bit in draw(st.lists(BITS, max_size=5)):
            mask |= 1 << bit
        values.append(draw(st.sampled_from(bases)) ^ mask)
    return values


def brute_find(values: list[int], query: int, k: int) -> list[tuple[int, int]]:
    return sorted((hamming(v, query), i) for i, v in enumerate(values) if hamming(v, query) <= k)


def test_doctests() -> None:
    assert doctest.testmod(bktree).failed == 0


def test_hamming_masks_to_64_bits() -> None:
    assert hamming(-1, MASK64) == 0
    assert hamming(0, MASK64) == 64
    assert hamming(1 << 64, 0) == 0


@settings(max_examples=150, deadline=None)
@given(near_values(), U64, st.integers(min_value=0, max_value=64))
def test_find_equals_brute_force(values: list[int], query: int, k: int) -> None:
    tree = BKTree(values)
    unique = list(dict.fromkeys(values))
    assert tree.values == unique
    assert len(tree) == len(unique)
    assert tree.find(query, k) == brute_find(unique, query, k)
    for value in unique[:5]:
        assert tree.find(value, k) == brute_find(unique, value, k)


@settings(max_examples=100, deadline=None)
@given(near_values(), st.integers(min_value=0, max_value=64))
def test_pairs_equals_brute_force(values: list[int], k: int) -> None:
    tree = BKTree(values)
    unique = tree.values
    expected = [
        (i, j, hamming(unique[i], unique[j]))
        for i in range(len(unique))
        for j in range(i + 1, len(unique))
        if hamming(unique[i], unique[j]) <= k
    ]
    assert tree.pairs(k) == expected


@settings(max_examples=50, deadline=None)
@given(near_values())
def test_add_returns_index_and_deduplicates(values: list[int]) -> None:
    tree = BKTree()
    first_seen: dict[int, int] = {}
    for value in values:
        expected = first_seen.setdefault(value, len(first_seen))
        assert tree.add(value) == expected
        assert value in tree
    assert len(tree) == len(first_seen)
    assert list(tree) == list(first_seen)


def test_signed_and_unsigned_are_one_value() -> None:
    tree = BKTree([-1])
    assert tree.add(MASK64) == 0
    assert tree.find(MASK64, 0) == [(0, 0)]


def test_empty_tree_and_negative_threshold() -> None:
    assert BKTree().find(5, 64) == []
    assert BKTree().pairs(64) == []
    assert BKTree([1, 2]).find(1, -1) == []


def test_200k_sequential_adds_do_not_recurse() -> None:
    # imagededup's recursive tree raises RecursionError near 180k values; this one loops.
    # Leave only 30 frames of headroom, so any recursion in add/find would fail loudly.
    depth = len(inspect.stack(0))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 30)
    try:
        tree = BKTree(range(200_000))
        found = tree.find(123_456, 1)
    finally:
        sys.setrecursionlimit(limit)
    assert len(tree) == 200_000
    neighbours = [123_456 ^ (1 << b) for b in range(64)] + [123_456]
    assert found == sorted((hamming(v, 123_456), v) for v in neighbours if v < 200_000)
