"""Side's thumbnails kept across forget(): loaded once while they fit THUMB_CACHE_BYTES, the
least recently used dropped beyond it, the same pixels either way (issue 15)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from imgfind import side as side_mod
from imgfind.layout import N_HASHES, WHOLE
from imgfind.side import Side


def _thumbs(n: int) -> dict[int, np.ndarray]:
    """n different 48 px grey thumbnails (Pillow gradients, turned and shifted)."""
    base = Image.linear_gradient("L").resize((48, 48))
    return {100 + i: np.asarray(base.rotate(37 * i, fillcolor=i * 9)) for i in range(n)}


def _side(thumbs: dict[int, np.ndarray], log: list[int]) -> Side:
    ids = np.array(sorted(thumbs), np.int64)
    n = len(ids)

    def load(want: np.ndarray) -> dict[int, np.ndarray]:
        log.extend(int(i) for i in want)
        return {int(i): thumbs[int(i)] for i in want}

    return Side(ids, np.zeros((n, N_HASHES), np.uint64),
                np.tile([0.0, 0.0, 1.0, 1.0], (n, 1)).astype(np.float32), np.zeros(n, bool), load)


def test_thumbnails_are_loaded_once_across_forget_while_they_fit():
    thumbs = _thumbs(6)
    log: list[int] = []
    s = _side(thumbs, log)
    for rows in ([0, 1, 2], [1, 2, 3], [0, 5, 3], [4, 5]):
        s.prefetch(np.array(rows))
        for r in rows:
            assert np.array_equal(s.thumb(r), thumbs[100 + r])
        s.forget()
    assert sorted(log) == [100, 101, 102, 103, 104, 105]


def test_least_recently_used_thumbnails_go_beyond_the_budget(monkeypatch):
    thumbs = _thumbs(5)
    monkeypatch.setattr(side_mod, "THUMB_CACHE_BYTES", 3 * 48 * 48)
    log: list[int] = []
    s = _side(thumbs, log)
    fresh = _side(thumbs, [])
    s.prefetch(np.array([0, 1, 2]))
    s.forget()  # three fit: none dropped
    s.prefetch(np.array([0]))  # 0 used again: 1 is now the least recently used
    s.prefetch(np.array([3]))
    s.forget()  # four: 1 goes
    log.clear()
    s.prefetch(np.array([0, 1, 2, 3]))
    assert log == [101]
    fresh.prefetch(np.arange(5))
    for r in range(4):
        assert np.array_equal(s.views([(r, WHOLE)], 24)[0], fresh.views([(r, WHOLE)], 24)[0])
