"""ahead.py: an iterator run one item ahead in a thread gives the same items in the same
order, raises its errors at the same item, makes at most one item ahead, and stops when the
caller stops."""

from __future__ import annotations

import threading
import time

import pytest

from imgfind.ahead import ahead


def test_same_items_in_the_same_order():
    assert list(ahead(iter(range(100)))) == list(range(100))
    assert list(ahead([])) == []


def test_an_error_of_the_iterator_is_raised_at_its_item():
    def items():
        yield 1
        yield 2
        raise ValueError("bad chunk")

    got = []
    with pytest.raises(ValueError, match="bad chunk"):
        for x in ahead(items()):
            got.append(x)
    assert got == [1, 2]


def test_at_most_one_item_is_made_ahead_of_the_caller():
    made = []

    def items():
        for n in range(10):
            made.append(n)
            yield n

    for x in ahead(items()):
        # While the caller holds item x, the thread may have made x + 1, never x + 2. Wait
        # until it has made what it is allowed to (or finished).
        want = min(x + 2, 10)
        deadline = time.monotonic() + 60
        while len(made) < want and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.01)  # had it gone on, it would have made x + 2 by now
        assert len(made) == want


def test_the_thread_stops_when_the_caller_stops():
    closed = threading.Event()

    def items():
        try:
            for n in range(1000):
                yield n
        finally:
            closed.set()

    it = ahead(items())
    assert next(it) == 0
    it.close()
    assert closed.wait(10)
