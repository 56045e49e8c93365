"""Dedupe's partial stage verifies candidate pairs on worker threads (verify_threads): the
same answers, in the same order, as verifying them one after the other."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from helpers import invoke_json, textured
from PIL import Image

from imgfind import keypoints, partial, verify_threads


def _features(im: Image.Image) -> keypoints.LocalFeatures:
    g = im.convert("L")
    g.thumbnail((384, 384), Image.Resampling.BOX)
    f = keypoints.extract(np.asarray(g))
    assert f is not None
    return f


def _jobs() -> list[verify_threads.Job | None]:
    source = textured(3, 800, 600)
    copies = [source.crop((120, 90, 680, 510)),
              source.rotate(10, resample=Image.Resampling.BICUBIC, expand=True),
              textured(40, 800, 600), textured(41, 640, 640)]
    a = _features(source)
    jobs: list[verify_threads.Job | None] = []
    for c in copies:
        b = _features(c)
        jobs += [(a, b, (800, 600), c.size, None), (b, a, c.size, (800, 600), None), None]
    return jobs * 3


def test_answers_on_threads_are_the_serial_answers_in_order():
    jobs = _jobs()
    serial = list(verify_threads.verify_many(jobs, 1))
    assert serial == [None if j is None else verify_threads.both_ways(*j) for j in jobs]
    assert sum(p is not None for p in serial) == 12  # the crop and the turn, both ways, x3
    for threads in (2, 3):
        assert list(verify_threads.verify_many(iter(jobs), threads)) == serial


def test_both_ways_asks_from_the_other_picture_when_the_first_fails(monkeypatch):
    a, b = _features(textured(3, 800, 600)), _features(textured(4, 800, 600))
    asked = []
    real = partial.verify

    def verify(x, y, *args):
        asked.append((x is a, y is a))
        return real(x, y, *args)

    monkeypatch.setattr(partial, "verify", verify)
    assert verify_threads.both_ways(a, b, None, None, None) is None
    assert asked == [(True, False), (False, True)]


def test_threads_default_to_the_cores_and_follow_the_environment(monkeypatch):
    monkeypatch.delenv(verify_threads.THREADS_ENV, raising=False)
    assert 1 <= verify_threads.default_threads() <= verify_threads.MAX_THREADS
    monkeypatch.setenv(verify_threads.THREADS_ENV, "3")
    assert verify_threads.default_threads() == 3
    monkeypatch.setenv(verify_threads.THREADS_ENV, "0")
    assert verify_threads.default_threads() == 1
    monkeypatch.setenv(verify_threads.THREADS_ENV, "many")
    assert 1 <= verify_threads.default_threads() <= verify_threads.MAX_THREADS


@pytest.fixture
def library(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    source = textured(5, 900, 700)
    source.save(lib / "a.jpg", quality=92)
    source.crop((150, 100, 780, 600)).save(lib / "a-crop.jpg", quality=92)
    source.rotate(10, resample=Image.Resampling.BICUBIC, expand=True).save(
        lib / "a-turned.jpg", quality=92)
    for seed in range(50, 56):
        textured(seed, 800, 600).save(lib / f"other-{seed}.jpg", quality=92)
    return lib


def test_dedupe_verifies_on_worker_threads_with_the_serial_answer(runner, tmp_path, library,
                                                                  monkeypatch):
    where: set[str] = set()
    real = partial.verify

    def verify(*args, **kwargs):
        where.add(threading.current_thread().name.split("_")[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(partial, "verify", verify)
    docs = []
    for threads, db in (("1", "one.db"), ("2", "two.db")):
        monkeypatch.setenv(verify_threads.THREADS_ENV, threads)
        where.clear()
        docs.append(invoke_json(runner, str(tmp_path / db), "dedupe", str(library)))
        # the candidates on the workers (placing the pairs may verify a few more, here)
        assert ("imgfind-verify" in where) == (threads == "2")
    one, two = docs
    assert one["groups"] == two["groups"]
    names = sorted(f["path"].rsplit("/", 1)[1] for f in one["groups"][0]["files"])
    assert len(one["groups"]) == 1 and names == ["a-crop.jpg", "a-turned.jpg", "a.jpg"]
