"""Screenshots: a picture shown at about half its size inside an application window (title,
tool and status bars, a side panel). Two such screenshots of different soft pictures share
most of their pixels (the window), so their global fingerprints agree; frames.py tells them
apart by their local features, and dedupe searches a screenshot's partial matches again
without the window's keypoints (index._without_frame)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_partial import soft, window

from imgfind import Index, frames, keypoints, partial
from imgfind.recipe import KEYPOINTS


def _detail(im: Image.Image) -> np.ndarray:
    g = im.convert("L")
    g.thumbnail((384, 384), Image.Resampling.BOX)
    return np.asarray(g)


def _view(im: Image.Image) -> np.ndarray:
    """The whole picture as global verification compares it: grey, 24 px square."""
    return np.asarray(im.convert("L").resize((24, 24), Image.Resampling.BOX), np.float32)


def _features(im: Image.Image):
    return keypoints.extract(_detail(im))


def test_two_windows_around_different_soft_pictures_share_only_a_frame():
    a, b = window(soft(0)), window(soft(10))
    assert frames.shared_frame(_view(a), _view(b)) is not None  # the window, at 24 px
    assert frames.frame_only(_view(a), _view(b), _features(a), _features(b))


def test_a_copy_of_a_screenshot_is_more_than_a_frame():
    a = window(soft(0))
    darker = a.point(lambda v: int(v * 0.8))  # differs everywhere, window and picture alike
    for b in (darker, a.resize((a.width // 2, a.height // 2), Image.Resampling.LANCZOS)):
        assert not frames.frame_only(_view(a), _view(b), _features(a), _features(b))


def test_a_crop_laid_elsewhere_gets_no_frame_verdict():
    # A crop is matched by a crop view, not whole picture over whole picture: its keypoint
    # model is a zoom, so the whole views' differing region says nothing (frames._in_place).
    a = soft(3)
    b = a.crop((144, 90, 816, 510))
    fa, fb = _features(a), _features(b)
    fitted = partial.fit_model(fa, fb) or partial.fit_model(fb, fa)
    assert fitted is not None
    assert not frames.frame_only(_view(a), _view(b), fa, fb)


def test_without_local_features_there_is_no_verdict():
    a, b = window(soft(0)), window(soft(10))
    assert not frames.frame_only(_view(a), _view(b), None, _features(b))


def test_keypoints_budget_is_256():
    # A picture at half its size inside a screenshot keeps few of its full-size copy's
    # strongest corners among 128 (recipe.KEYPOINTS).
    assert KEYPOINTS == 256
    f = _features(soft(8))
    assert f is not None and f.n > 128


@pytest.mark.slow
def test_dedupe_never_groups_screenshots_of_different_soft_pictures(tmp_path):
    # Twelve soft wallpapers and a screenshot of each in one window. Before frames.py,
    # dedupe put eleven of the screenshots in one group (the window is most of each), among
    # them window(soft(0)) and window(soft(10)), whose pictures differ at 24 px.
    lib = tmp_path / "lib"
    lib.mkdir()
    for s in range(12):
        soft(s).save(lib / f"wall{s}.jpg", quality=92)
        window(soft(s)).save(lib / f"shot{s}.png")
    with Index.open(tmp_path / "i.db") as idx:
        idx.update([lib])
        groups = idx.groups()
    names = [{m.file.path.rsplit("/", 1)[-1] for m in g.members} for g in groups]
    assert not any({"shot0.png", "shot10.png"} <= g for g in names), names
    assert max(len({n for n in g if n.startswith("shot")}) for g in names) < 11, names
