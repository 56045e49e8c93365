"""Grouping: union-find components equal brute-force components, deterministically."""

from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from imgfind.group import components, order_members
from imgfind.model import FileRecord


def brute_components(n, pairs):
    adj = {i: set() for i in range(n)}
    for a, b in pairs:
        adj[a].add(b)
        adj[b].add(a)
    seen, out = set(), []
    for start in range(n):
        if start in seen:
            continue
        stack, comp = [start], []
        seen.add(start)
        while stack:
            x = stack.pop()
            comp.append(x)
            for y in adj[x] - seen:
                seen.add(y)
                stack.append(y)
        if len(comp) > 1:
            out.append(sorted(comp))
    return sorted(out)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))))
def test_components_equal_brute_force_and_ignore_order(case):
    n, pairs = case
    pairs = [(a, b) for a, b in pairs if a != b]
    expected = brute_components(n, pairs)
    assert components(n, pairs) == expected
    shuffled = pairs[:]
    random.Random(0).shuffle(shuffled)
    assert components(n, [(b, a) for a, b in shuffled]) == expected


MINUTE = 60 * 10**9


def rec(i, w, h, size=1000, mtime=0, meta=None, content=1.0):
    return FileRecord(i, f"/p/{i}.jpg", size, mtime, w, h, "JPEG", meta or {}, content)


def test_original_is_the_largest_picture_not_the_largest_canvas():
    bordered = rec(1, 1200, 800, mtime=5 * MINUTE, content=0.7)  # a border added later around it
    original = rec(2, 1000, 667)
    small = rec(3, 500, 333)
    assert [r.id for r in order_members([small, bordered, original])][0] == 2


def test_among_equal_sizes_camera_exif_then_oldest_wins():
    a = rec(1, 1000, 667, mtime=5 * MINUTE)
    b = rec(2, 1000, 667, mtime=9 * MINUTE, meta={"camera_model": "X"})
    c = rec(3, 1000, 667, mtime=1 * MINUTE)
    assert [r.id for r in order_members([a, b, c])] == [2, 3, 1]


def test_copies_named_after_the_original_come_after_it():
    copy = FileRecord(1, "/p/photo (1).jpg", 2000, 0, 1000, 667, "JPEG", {}, 1.0)
    original = FileRecord(2, "/p/photo.jpg", 1000, 0, 1000, 667, "JPEG", {}, 1.0)
    bordered = FileRecord(3, "/p/framed.png", 9000, 0, 1100, 767, "PNG", {}, 0.79)
    assert [r.id for r in order_members([copy, bordered, original])] == [2, 1, 3]


def test_least_recompressed_copy_is_the_original_whatever_its_metadata_weighs():
    """Two copies alike in pixels, time and name: the higher JPEG quality wins, even when the
    other file is larger because of junk metadata (file size is only the last resort)."""
    q92 = FileRecord(1, "/p/b.jpg", 10_000, 0, 800, 600, "JPEG", {"jpeg_quality": "92"})
    q70_padded = FileRecord(2, "/p/a.jpg", 90_000, 0, 800, 600, "JPEG", {"jpeg_quality": "70"})
    assert order_members([q70_padded, q92])[0] is q92
    # Without a quality (another lossy format), size still decides; same quality: the path.
    web_small = FileRecord(3, "/p/c.webp", 5_000, 0, 800, 600, "WEBP", {})
    web_big = FileRecord(4, "/p/d.webp", 7_000, 0, 800, 600, "WEBP", {})
    assert order_members([web_small, web_big])[0] is web_big
    twin_a = FileRecord(5, "/p/a.jpg", 10_000, 0, 800, 600, "JPEG", {"jpeg_quality": "90"})
    twin_b = FileRecord(6, "/p/b.jpg", 99_000, 0, 800, 600, "JPEG", {"jpeg_quality": "90"})
    assert order_members([twin_b, twin_a])[0] is twin_a
