"""indexer: the pure diff of a crawl against the store, and the executors."""

from __future__ import annotations

import os

from conftest import make_image

from imgfind import Index, Settings
from imgfind.indexer import (InlineExecutor, Plan, ProcessExecutor, batches_for,
                             default_executor, diff, is_current)
from imgfind.model import FileStat, Known
from imgfind.recipe import RECIPE_VERSION, recipe_id


def st(path: bytes, size: int = 10, mtime: int = 100, ino: int = 1, ctime: int = 100,
       dev: int = 7) -> FileStat:
    return FileStat(path, size, mtime, dev, ino, ctime)


def known(file_id: int, path: bytes, size: int = 10, mtime: int = 100, ino: int | None = 1,
          ctime: int | None = 100, dev: int | None = 7, recipe: int | str | None = None,
          error: str | None = None) -> Known:
    return Known(file_id, path, size, mtime, recipe_id() if recipe is None and error is None else recipe,
                 error, dev, ino, ctime)


def test_new_changed_unchanged_gone():
    stats = [st(b"/r/new.jpg", ino=1), st(b"/r/same.jpg", ino=2), st(b"/r/grown.jpg", size=11, ino=3)]
    k = {b"/r/same.jpg": known(1, b"/r/same.jpg", ino=2), b"/r/grown.jpg": known(2, b"/r/grown.jpg", ino=3),
         b"/r/away.jpg": known(3, b"/r/away.jpg", ino=4)}
    plan = diff(stats, k)
    assert [s.path for s in plan.new] == [b"/r/new.jpg"]
    assert [s.path for s in plan.changed] == [b"/r/grown.jpg"]
    assert [s.path for s in plan.unchanged] == [b"/r/same.jpg"]
    assert plan.gone == (3,)
    assert plan.refresh == () and plan.aliases == ()
    assert [s.path for s in plan.todo] == [b"/r/new.jpg", b"/r/grown.jpg"]


def test_replacement_with_same_size_and_mtime_is_a_change():
    """mv scan2 scan1: same size and mtime, another inode."""
    plan = diff([st(b"/r/scan1.bmp", ino=9, ctime=200)], {b"/r/scan1.bmp": known(1, b"/r/scan1.bmp", ino=5)})
    assert [s.path for s in plan.changed] == [b"/r/scan1.bmp"]


def test_ctime_only_change_is_a_change_for_an_unreadable_file():
    """chmod 000 -> 644 changes only the ctime; the error row is read again."""
    k = known(1, b"/r/x.jpg", recipe=None, error="permission denied")
    assert is_current(k, st(b"/r/x.jpg"))
    assert not is_current(k, st(b"/r/x.jpg", ctime=101))


def test_recipe_change_rereads_readable_files_only():
    assert not is_current(known(1, b"/a", recipe=RECIPE_VERSION - 1), st(b"/a"))
    assert is_current(known(1, b"/a", recipe=None, error="not an image"), st(b"/a"))


def test_rows_from_before_schema_2_are_compared_on_size_and_mtime_and_refreshed():
    old = known(1, b"/r/a.jpg", ino=None, ctime=None, dev=None)
    plan = diff([st(b"/r/a.jpg", ino=42, ctime=555)], {b"/r/a.jpg": old})
    assert [s.path for s in plan.unchanged] == [b"/r/a.jpg"]
    assert [s.ino for s in plan.refresh] == [42]
    assert plan.todo == []


def test_identity_from_another_filesystem_is_compared_on_size_and_mtime_and_refreshed():
    """An index copied from another machine: its device, inode and ctime are that machine's."""
    foreign = known(1, b"/r/a.jpg", ino=5, ctime=100, dev=99)
    plan = diff([st(b"/r/a.jpg", ino=42, ctime=555, dev=7)], {b"/r/a.jpg": foreign})
    assert [s.path for s in plan.unchanged] == [b"/r/a.jpg"] and plan.todo == []
    assert [(s.dev, s.ino, s.ctime_ns) for s in plan.refresh] == [(7, 42, 555)]
    grown = diff([st(b"/r/a.jpg", size=11, ino=42, dev=7)], {b"/r/a.jpg": foreign})
    assert [s.path for s in grown.changed] == [b"/r/a.jpg"]


def test_a_file_already_stored_under_another_name_is_an_alias():
    plan = diff([st(b"/alias/a.jpg", ino=3)], {}, elsewhere={(7, 3): known(5, b"/photos/a.jpg", ino=3)})
    assert plan.new == () and [s.path for s in plan.aliases] == [b"/alias/a.jpg"]


def test_one_file_twice_in_the_crawl_is_counted_once():
    plan = diff([st(b"/r/a.jpg", ino=3), st(b"/r/a.jpg", ino=3), st(b"/r/hard.jpg", ino=3)], {})
    assert [s.path for s in plan.new] == [b"/r/a.jpg"]


def test_kept_paths_are_not_gone():
    k = {b"/r/locked/a.jpg": known(1, b"/r/locked/a.jpg"), b"/r/b.jpg": known(2, b"/r/b.jpg", ino=2)}
    plan = diff([], k, kept=lambda p: p.startswith(b"/r/locked/"))
    assert plan.gone == (2,)


def test_plan_is_a_plain_record():
    assert Plan().todo == [] and Plan().gone == ()


def _double(batch):
    return [2 * x for x in batch]


def test_executors_map_every_batch():
    batches = batches_for(list(range(50)), jobs=2, batch_files=16)
    assert sum(len(b) for b in batches) == 50 and max(len(b) for b in batches) <= 16
    inline = [x for r in InlineExecutor().map_batches(_double, batches) for x in r]
    assert inline == [2 * x for x in range(50)]
    pooled = [x for r in ProcessExecutor(2).map_batches(_double, batches) for x in r]
    assert sorted(pooled) == inline
    assert isinstance(default_executor(1, 1000), InlineExecutor)
    assert isinstance(default_executor(4, 3), InlineExecutor)
    assert isinstance(default_executor(2, 1000), ProcessExecutor)


class Recording:
    """An executor of our own (what a Dask client wrapper would be): runs inline, records."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def map_batches(self, fn, batches):
        for batch in reversed(list(batches)):  # any order is allowed
            self.batches.append(len(batch))
            yield fn(batch)


def test_index_update_uses_the_injected_executor(tmp_path):
    d = tmp_path / "lib"
    d.mkdir()
    for i in range(5):
        make_image(d / f"{i}.jpg", seed=i)
    make_image(d / "copy.png", seed=0)
    ex = Recording()
    with Index.open(tmp_path / "i.db", Settings(jobs=2, executor=ex)) as idx:
        stats = idx.update([d])
        assert stats.new == 6 and sum(ex.batches) == 6
        assert [len(g.members) for g in idx.groups()] == [2]
        os.utime(d / "1.jpg", ns=(1, 1))
        again = idx.update([d])
        assert (again.changed, again.unchanged) == (1, 5) and sum(ex.batches) == 7
