"""Verification shared with the helper process (verify_helper.py) decides exactly as one
process does: the same pairs, evidence and order from decide (a dedupe's candidates, linked
pairs skipped) and from verify_pairs (a star group's checks), mirrored, turned and rescaled
copies and a family of near-identical copies included; and the decision cache remembers the
same decisions."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imgfind import decide, verify_helper
from imgfind.analyse import analyse
from imgfind.candidates import find_candidates
from imgfind.group import Links
from imgfind.index import query_side
from imgfind.model import PRESETS, FileStat

from helpers import make_image


@pytest.fixture(scope="module")
def fingerprints(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("helper")
    fps = []

    def add(name, im):
        path = tmp / f"{name}.png"
        im.save(path)
        st = path.stat()
        fps.append(analyse(FileStat(bytes(path), st.st_size, st.st_mtime_ns)).fingerprint)

    for seed in range(6):
        im = make_image(seed=seed)
        for n, v in enumerate((im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                               im.transpose(Image.Transpose.ROTATE_90),
                               im.transpose(Image.Transpose.TRANSPOSE), im.resize((160, 120)))):
            add(f"{seed}-{n}", v)
    base = np.asarray(make_image(seed=7), np.float32)
    rng = np.random.default_rng(0)
    for n in range(10):
        add(f"family{n}", Image.fromarray(np.clip(base + rng.normal(0, 5, base.shape), 0, 255)
                                          .astype(np.uint8)))
    return fps


def _shared(monkeypatch, on: bool) -> list[int]:
    """Helper on (for batches of any size) or off; returns the list of job sizes sent."""
    sizes: list[int] = []
    if on:
        monkeypatch.setenv(verify_helper.ENV, "1")
        monkeypatch.setattr(decide, "HELPER_MIN_TASKS", 1)
        real = verify_helper.Helper.submit
        monkeypatch.setattr(verify_helper.Helper, "submit",
                            lambda self, side, rule, tasks: (sizes.append(len(tasks)),
                                                             real(self, side, rule, tasks))[1])
    else:
        monkeypatch.setenv(verify_helper.ENV, "0")
    return sizes


@pytest.mark.skipif((__import__("os").cpu_count() or 1) < 2, reason="one core: no helper")
def test_a_dedupe_verified_with_the_helper_decides_as_one_process(monkeypatch, fingerprints):
    rule = PRESETS["normal"]
    side = query_side(fingerprints)
    cands = find_candidates(side, side, rule, same=True)
    runs = []
    for on in (False, True):
        sizes = _shared(monkeypatch, on)
        links = Links(len(fingerprints))
        side = query_side(fingerprints)
        got = decide.decide(side, side, rule, cands, same=True, links=links)
        runs.append((got, links.components(), sizes))
    (want, want_comps, _), (got, comps, sizes) = runs
    assert sizes and sum(sizes) >= 5  # the helper verified pairs
    assert got == want and comps == want_comps
    assert [len(c) for c in comps] == [5] * 6 + [10]
    assert len({p.orientation for p in got}) >= 3  # upright, mirrored and turned pairs


@pytest.mark.skipif((__import__("os").cpu_count() or 1) < 2, reason="one core: no helper")
def test_star_checks_verified_with_the_helper_decide_as_one_process(monkeypatch, fingerprints):
    rule = PRESETS["normal"]
    n = len(fingerprints)
    pairs = [(a, b) for a in range(0, n, 3) for b in range(n) if a != b]
    runs = []
    for on in (False, True):
        sizes = _shared(monkeypatch, on)
        side = query_side(fingerprints)
        runs.append((decide.verify_pairs(side, rule, pairs), sizes))
    (want, _), (got, sizes) = runs
    assert sizes
    assert list(got.items()) == list(want.items())
    assert len(got) >= 20


@pytest.mark.skipif((__import__("os").cpu_count() or 1) < 2, reason="one core: no helper")
def test_a_helper_that_dies_leaves_its_pairs_to_the_caller(monkeypatch, fingerprints):
    rule = PRESETS["normal"]
    n = len(fingerprints)
    pairs = [(a, b) for a in range(0, n, 3) for b in range(n) if a != b]
    _shared(monkeypatch, False)
    want = decide.verify_pairs(query_side(fingerprints), rule, pairs)
    sizes = _shared(monkeypatch, True)
    monkeypatch.setattr(verify_helper, "_helper", None)
    monkeypatch.setattr(verify_helper, "_failed", False)
    helper = verify_helper.get()
    assert helper is not None
    helper._proc.kill()  # killed (out of memory, say) before the job is sent
    helper._proc.join(10)
    monkeypatch.setattr(verify_helper, "get", lambda: helper)
    got = decide.verify_pairs(query_side(fingerprints), rule, pairs)
    assert sizes and list(got.items()) == list(want.items())
    assert verify_helper._failed
