"""The frame checks of a dedupe find every grouped picture's inner box (inner_box.py); at
10^5 files that was a fifth of the dedupe's CPU, most of it a Python loop over thumbnail rows.
inner_boxes answers for many thumbnails at once and must answer exactly as inner_box does,
one by one: framed pictures (a box), plain ones, noise, drawn rectangles without a flat frame,
thumbnails too small for a box and thumbnails of other shapes, mixed in one call."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_inner_views import gradient, radial
from test_partial import window

from imgfind.inner_box import _has_run, _longest_runs, inner_box, inner_boxes


def _runs_by_rows(edges: np.ndarray) -> np.ndarray:
    """The longest run of True down each column, one row at a time (the reference)."""
    best = np.zeros(edges.shape[1], np.int64)
    run = np.zeros(edges.shape[1], np.int64)
    for row in edges:
        run = np.where(row, run + 1, 0)
        best = np.maximum(best, run)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_longest_runs_are_the_row_by_row_runs(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        rows, cols = (int(x) for x in rng.integers(0, 30, 2))
        edges = rng.random((rows, cols)) < rng.random()
        assert np.array_equal(_longest_runs(edges), _runs_by_rows(edges))
    # a stack: each array its own runs
    stack = rng.random((5, 17, 9)) < 0.7
    assert np.array_equal(_longest_runs(stack), np.stack([_runs_by_rows(e) for e in stack]))


@pytest.mark.parametrize("seed", range(4))
def test_has_run_is_longest_runs_at_least(seed):
    # inner_boxes' first pass asks only whether a run reaches a fractional length (0.2 x 48
    # = 9.6...): the window test must say exactly what the runs say, at every threshold.
    rng = np.random.default_rng(seed)
    for _ in range(300):
        rows, cols = (int(x) for x in rng.integers(0, 30, 2))
        edges = rng.random((rows, cols)) < rng.random()
        runs = _runs_by_rows(edges)
        for least in (-1.0, 0.0, 0.5, 1.0, 2.0, 0.2 * rows, 0.2 * 48, 7.5, rows, rows + 0.1):
            assert np.array_equal(_has_run(edges, least), runs >= least), (rows, cols, least)
    stack = rng.random((5, 17, 9)) < 0.8
    assert np.array_equal(_has_run(stack, 4.2), _longest_runs(stack) >= 4.2)


def _grey(im: Image.Image, size: tuple[int, int] = (48, 48)) -> np.ndarray:
    return np.asarray(im.convert("L").resize(size, Image.Resampling.LANCZOS))


def _drawn(seed: int, frame_flat: bool) -> np.ndarray:
    """A 48 px thumbnail with a bright rectangle on a flat or a noisy ground."""
    rng = np.random.default_rng(seed)
    g = (np.full((48, 48), 40, np.uint8) if frame_flat
         else rng.integers(0, 256, (48, 48)).astype(np.uint8))
    x0, y0 = (int(v) for v in rng.integers(2, 16, 2))
    x1, y1 = (int(v) for v in rng.integers(30, 46, 2))
    g[y0:y1, x0:x1] = rng.integers(150, 256)
    return g


def test_inner_boxes_answer_as_inner_box_one_by_one():
    greys = [_grey(window(gradient(s))) for s in range(3)]
    greys += [_grey(window(radial(s))) for s in range(2)]
    greys += [_grey(gradient(5)), _grey(radial(6))]
    greys += [_drawn(s, flat) for s in range(6) for flat in (True, False)]
    greys += [np.random.default_rng(9).integers(0, 256, (48, 48)).astype(np.uint8)]
    greys += [_grey(window(gradient(7)), (40, 30)), _grey(gradient(8), (40, 30)),
              np.zeros((10, 48), np.uint8), np.zeros((0, 48), np.uint8)]
    one_by_one = [inner_box(g) for g in greys]
    assert sum(b is not None for b in one_by_one) >= 5  # the windows and flat-ground boxes
    assert sum(b is None for b in one_by_one) >= 5
    assert inner_boxes(greys) == one_by_one
    assert inner_boxes(greys[::-1]) == one_by_one[::-1]
    assert inner_boxes([]) == []


def test_inner_boxes_in_small_batches_answer_alike(monkeypatch):
    from imgfind import inner_box as module

    greys = [_grey(window(gradient(s))) for s in range(3)] + [_drawn(s, True) for s in range(7)]
    one_by_one = [inner_box(g) for g in greys]
    monkeypatch.setattr(module, "BATCH", 3)
    assert inner_boxes(greys) == one_by_one
