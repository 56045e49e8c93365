"""Run an iterator one item ahead in a thread, so that its work overlaps the caller's.

A dedupe's candidate search (compiled kernels and numpy sorts, which release the GIL) makes
chunk k+1 while the caller verifies chunk k (Python and small numpy arrays, which hold it):
the two use both cores of a two-core machine. Exactly one item is made ahead: memory is the
caller's item and the next one, never more. The items are the iterator's own, in its order;
an exception raised by the iterator is raised by :func:`ahead` at the same item.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def ahead(items: Iterable[T]) -> Iterator[T]:
    """Yield *items*' items in order, made one ahead by a daemon thread.

    The thread makes the next item while the caller holds the current one, then waits until
    the caller asks for it. When the caller stops early (``close``, an exception, Ctrl-C),
    the thread stops after the item it is making (it is a daemon: an interrupted process does
    not wait for it). Anything *items* shares with the caller must be safe to read from two
    threads (the dedupe guards its links with a lock).
    """
    ready = threading.Semaphore(0)  # an item (or the end) is in `slot`
    taken = threading.Semaphore(0)  # the caller took it: make the next one
    slot: list[object] = []
    stop = threading.Event()

    def run() -> None:
        it = iter(items)
        try:
            while not stop.is_set():
                try:
                    item: object = next(it)
                except StopIteration:
                    slot.append((True, _DONE))
                    ready.release()
                    return
                except BaseException as exc:  # handed to the caller, raised there
                    slot.append((False, exc))
                    ready.release()
                    return
                slot.append((True, item))
                del item
                ready.release()
                taken.acquire()
        finally:
            close = getattr(it, "close", None)
            if close is not None and stop.is_set():
                close()

    thread = threading.Thread(target=run, name="imgfind-ahead", daemon=True)
    thread.start()
    try:
        while True:
            ready.acquire()
            ok, item = slot.pop()
            if not ok:
                raise item  # type: ignore[misc]
            if item is _DONE:
                thread.join()
                return
            taken.release()  # the thread starts on the next item while the caller works
            yield item  # type: ignore[misc]
            del item
    finally:
        if thread.is_alive():
            stop.set()
            taken.release()
