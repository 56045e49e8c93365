"""The bound on a homography's consensus (consensus.py) that lets verification skip RANSAC: it
never rules out what findHomography reports, a true partial match (a crop, a 10-degree turn)
verifies exactly as without it, and unrelated pictures are rejected before findHomography."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import textured
from PIL import Image
from test_partial import _fit_both

from imgfind import consensus, keypoints, partial

pytestmark = pytest.mark.skipif(consensus._kernel() is None, reason="needs numba (fast extra)")

SLACK_RADIUS = partial.HOMOGRAPHY_SLACK * partial.RANSAC_PIXELS


def _matches(rng: np.random.Generator, n: int, kept: int, noise: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """n matches in a 384x288 picture: *kept* of them follow a random mild homography with
    Gaussian noise of *noise* pixels, the others are random pairs."""
    pa = (rng.random((n, 2)) * [384, 288]).astype(np.float32)
    pb = (rng.random((n, 2)) * [384, 288]).astype(np.float32)
    h = np.array([[1 + rng.normal(0, .1), rng.normal(0, .1), rng.uniform(-50, 50)],
                  [rng.normal(0, .1), 1 + rng.normal(0, .1), rng.uniform(-50, 50)],
                  [rng.normal(0, 3e-4), rng.normal(0, 3e-4), 1.0]])
    ph = np.hstack([pa[:kept], np.ones((kept, 1))]) @ h.T
    pb[:kept] = ph[:, :2] / ph[:, 2:] + rng.normal(0, noise, (kept, 2))
    if n > 6:  # two keypoints at one place, as stored positions have
        pa[5], pb[5] = pa[4], pb[4]
    return pa, pb


@pytest.mark.parametrize("seed", range(4))
def test_the_bound_never_rules_out_what_findhomography_reports(seed):
    rng = np.random.default_rng(seed)
    for _ in range(150):
        n = int(rng.integers(10, consensus.MAX_MATCHES + 1))
        pa, pb = _matches(rng, n, int(rng.integers(0, n + 1)), rng.uniform(0.3, 3.5))
        hom, inl = cv2.findHomography(pa, pb, cv2.RANSAC, partial.RANSAC_PIXELS,
                                      maxIters=1000, confidence=0.995)
        found = 0 if hom is None else int(inl.sum())
        if found >= 5:
            assert consensus.homography_may_reach(pa, pb, found, SLACK_RADIUS)


def test_random_matches_are_ruled_out_and_exact_ones_are_not():
    rng = np.random.default_rng(7)
    for n in (12, 25, consensus.MAX_MATCHES):
        pa, pb = _matches(rng, n, 0, 0.0)
        assert not consensus.homography_may_reach(pa, pb, 10, SLACK_RADIUS)
        pa, pb = _matches(rng, n, 10, 0.0)
        assert consensus.homography_may_reach(pa, pb, 10, partial.RANSAC_PIXELS)
    # more matches than is worth enumerating, or fewer than needed: not told / told at once
    pa, pb = _matches(rng, consensus.MAX_MATCHES + 1, 0, 0.0)
    assert consensus.homography_may_reach(pa, pb, 10, SLACK_RADIUS)
    assert not consensus.homography_may_reach(pa[:9], pb[:9], 10, SLACK_RADIUS)


@pytest.mark.parametrize("seed", range(4))
def test_fit_with_few_matches_answers_as_fitting_both_models(seed):
    """partial._fit with the bound gives what fitting both models always gave, where the
    bound is asked (at most MAX_MATCHES matches): similar, skewed and unrelated matches."""
    rng = np.random.default_rng(seed)
    a = b = keypoints.LocalFeatures(384, 288, b"", b"")
    for kind in ("similar", "skewed", "noise"):
        n = int(rng.integers(12, consensus.MAX_MATCHES + 1))
        pa = (rng.random((n, 2)) * [384, 288]).astype(np.float32)
        if kind == "similar":
            t = np.deg2rad(rng.uniform(-20, 20))
            pb = 0.8 * pa @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]]) + 30
        elif kind == "skewed":
            h = np.array([[0.9, 0.1, 10], [0.05, 1.0, 5], [0.0009, 0.0004, 1.0]])
            ph = np.hstack([pa, np.ones((n, 1))]) @ h.T
            pb = ph[:, :2] / ph[:, 2:]
        else:
            pb = rng.random((n, 2)) * [384, 288]
        wrong = rng.random(n) < 0.3
        pb = np.where(wrong[:, None], rng.random(pb.shape) * [384, 288], pb).astype(np.float32)
        for least in (partial.GUIDE_FROM, partial.MIN_INLIERS):
            got, want = partial._fit(pa, pb, a, b, least), _fit_both(pa, pb, a, b, least)
            assert (got is None) == (want is None)
            if got is not None:
                assert got[2] == want[2]
                assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def _features(im: Image.Image, n: int = 128) -> keypoints.LocalFeatures:
    g = im.convert("L")
    g.thumbnail((384, 384), Image.Resampling.BOX)
    f = keypoints.extract(np.asarray(g), n)
    assert f is not None
    return f


@pytest.fixture
def homography_calls(monkeypatch):
    """The sizes of the match sets findHomography (the real one) is called on."""
    calls: list[int] = []
    real = cv2.findHomography

    def counted(pa, pb, *args, **kwargs):
        calls.append(len(pa))
        return real(pa, pb, *args, **kwargs)

    monkeypatch.setattr(cv2, "findHomography", counted)
    return calls


def test_a_crop_and_a_turned_copy_verify_as_without_the_bound(monkeypatch):
    source = textured(3, 800, 600)
    crop = source.crop((120, 90, 680, 510))
    turned = source.rotate(10, resample=Image.Resampling.BICUBIC, expand=True)
    a = _features(source, 256)
    got = [partial.verify(a, _features(c, 256)) for c in (crop, turned)]
    monkeypatch.setattr(partial, "homography_may_reach", lambda *args: True)
    want = [partial.verify(a, _features(c, 256)) for c in (crop, turned)]
    assert got == want and all(p is not None for p in got)
    assert 0.4 < got[0].cover_a < 0.6 and abs(abs(got[1].rotation) - 10) < 2


@pytest.mark.parametrize("seed", [10, 12, 14])
def test_unrelated_pictures_are_rejected_before_findhomography(seed, homography_calls,
                                                                monkeypatch):
    a, b = _features(textured(seed, 800, 600)), _features(textured(seed + 20, 800, 600))
    assert partial.verify(a, b) is None and homography_calls == []
    # ... where, without the bound, findHomography ran on their 10-40 matches
    monkeypatch.setattr(partial, "homography_may_reach", lambda *args: True)
    assert partial.verify(a, b) is None
    assert homography_calls and all(10 <= n <= consensus.MAX_MATCHES for n in homography_calls)


def test_findhomography_is_skipped_when_no_model_explains_enough_within_the_slack(
        homography_calls):
    """Matches that a homography explains within 2x RANSAC's radius but not within
    HOMOGRAPHY_SLACK (1.5x): four exact matches, six displaced by 1.7x RANSAC_PIXELS, the
    rest unrelated. Not a homography RANSAC could report with the 10 matches an answer needs,
    so findHomography is not run (at slack 2 it was)."""
    rng = np.random.default_rng(3)
    h = np.array([[0.9, 0.15, 20], [-0.1, 1.05, 10], [8e-4, -5e-4, 1.0]])
    pa = (rng.random((26, 2)) * [384, 288]).astype(np.float64)
    ph = np.hstack([pa, np.ones((26, 1))]) @ h.T
    pb = ph[:, :2] / ph[:, 2:]
    angle = rng.uniform(0, 2 * np.pi, 6)
    pb[4:10] += 1.7 * partial.RANSAC_PIXELS * np.stack([np.cos(angle), np.sin(angle)], 1)
    pb[10:] = rng.random((16, 2)) * [384, 288]
    pa, pb = pa.astype(np.float32), pb.astype(np.float32)
    assert consensus.homography_may_reach(pa, pb, 10, 2.0 * partial.RANSAC_PIXELS)
    assert not consensus.homography_may_reach(pa, pb, 10, SLACK_RADIUS)
    f = keypoints.LocalFeatures(384, 288, b"", b"")
    assert partial._fit(pa, pb, f, f, partial.GUIDE_FROM) is None
    assert homography_calls == []


def _explained_one(h: np.ndarray, x: float, y: float, u: float, v: float, radius: float) -> bool:
    """Does *h* put match (x, y) -> (u, v) within *radius* (+ the rounding allowance)? One
    match at a time in Python floats (IEEE doubles, the operations in the kernel's order):
    the definition the compiled kernel's vector loop must answer exactly."""
    w = h[2, 0] * x + h[2, 1] * y + 1.0
    size = abs(h[2, 0] * x) + abs(h[2, 1] * y) + 1.0
    if abs(w) <= 1e-4 * size:
        return True  # near the horizon: counted
    u0 = h[0, 0] * x + h[0, 1] * y + h[0, 2]
    u1 = h[1, 0] * x + h[1, 1] * y + h[1, 2]
    terms = (abs(h[0, 0] * x) + abs(h[0, 1] * y) + abs(h[0, 2])
             + abs(h[1, 0] * x) + abs(h[1, 1] * y) + abs(h[1, 2])
             + size * (abs(u0) + abs(u1)) / abs(w)) / abs(w)
    dx, dy = u0 / w - u, u1 / w - v
    lim = radius + consensus.MARGIN + consensus.REL * terms
    return dx * dx + dy * dy <= lim * lim


@pytest.mark.parametrize("seed", range(3))
def test_the_vector_count_answers_as_one_match_at_a_time(seed):
    """The kernel's branch-free count (all matches at once, divisions by w = 0 computed and
    ignored) flags exactly the matches the one-at-a-time definition does: matches at the
    horizon (w = 0 exactly and nearly), on the radius' edge, far, and at the model."""
    from imgfind import _consensus_kernels as kernels

    rng = np.random.default_rng(seed)
    for _ in range(60):
        h = np.array([[1 + rng.normal(0, .2), rng.normal(0, .2), rng.uniform(-50, 50)],
                      [rng.normal(0, .2), 1 + rng.normal(0, .2), rng.uniform(-50, 50)],
                      [rng.normal(0, 3e-3), rng.normal(0, 3e-3), 1.0]])
        n = int(rng.integers(5, 70))
        a = rng.random((n, 2)) * [384, 288]
        if h[2, 1] != 0:  # two matches on the horizon: w = 0 exactly, and nearly
            a[0, 1] = -(1.0 + h[2, 0] * a[0, 0]) / h[2, 1]
            a[1, 1] = a[0, 1] * (1 + 1e-9)
        ph = np.hstack([a, np.ones((n, 1))]) @ h.T
        with np.errstate(divide="ignore", invalid="ignore"):
            b = ph[:, :2] / ph[:, 2:]
        b = np.where(np.isfinite(b), b, 0.0)
        radius = float(rng.uniform(2, 10))
        turn = rng.uniform(0, 2 * np.pi, n)
        edge = radius + consensus.MARGIN * rng.uniform(0.5, 1.5, n)  # about where lim is
        step = np.where(rng.random(n) < 0.5, edge, rng.uniform(0, 40, n))  # there, or anywhere
        b = b + np.stack([np.cos(turn), np.sin(turn)], axis=1) * step[:, None]
        flag = np.zeros(n, np.int64)
        count = kernels._explained(a[:, 0].copy(), a[:, 1].copy(), b[:, 0].copy(),
                                   b[:, 1].copy(), h, radius, consensus.MARGIN, consensus.REL,
                                   flag)
        want = [_explained_one(h, *a[p], *b[p], radius) for p in range(n)]
        assert flag.tolist() == [int(x) for x in want]
        assert count == sum(want)
        if h[2, 1] != 0:
            assert flag[0] == 1  # at the horizon: counted
