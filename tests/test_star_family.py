"""Star groups of a large family (issue 15): a component of overlapping crops split into many
groups costs the pairs whose hashes are near, not every (first, member) pair."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from imgfind.analyse import analyse
from imgfind.decide import pair_candidates, verifiable, verify_pairs
from imgfind.group import Links, star_components
from imgfind.index import default_rule, query_side
from imgfind.match import channels, find_pairs
from imgfind.model import FileStat

from helpers import make_image


def _fingerprint(path):
    st = path.stat()
    return analyse(FileStat(bytes(path), st.st_size, st.st_mtime_ns)).fingerprint


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """172 windows of one smooth picture (400 x 300 of 1200 x 900), 7 px apart down two
    columns 40 px apart: neighbours are near-identical, so the verified pairs chain them into
    one component that star groups split into about ten groups."""
    d = tmp_path_factory.mktemp("crops")
    wall = make_image(seed=7, size=(300, 225)).resize((1200, 900), Image.Resampling.BICUBIC)
    fps = []
    for x in (0, 40):
        for y in range(0, 601, 7):
            path = d / f"{x}-{y}.jpg"
            wall.crop((x, y, x + 400, y + 300)).save(path, quality=90)
            fps.append(_fingerprint(path))
    return fps


def test_star_groups_of_overlapping_crops_verify_only_pairs_with_near_hashes(crops):
    side = query_side(crops)
    rule = default_rule()
    links = Links(len(crops))
    found = find_pairs(side, side, rule, same=True, links=links)
    comps = links.components()
    assert max(len(c) for c in comps) >= 100  # one long chain of crops

    def run(possible):
        asked = []

        def verify(rule_, pairs):
            asked.extend(pairs)
            return verify_pairs(side, rule_, pairs)

        return star_components(comps, found, rule, verify, side.hashes, possible), asked

    (stars, evidence), asked_all = run(None)
    (stars_near, evidence_near), asked_near = run(lambda r, p: verifiable(side, r, p))
    assert stars_near == stars and evidence_near == evidence
    assert len(stars) >= 5
    # The bound: only pairs that have a hash alignment are asked about, each at most once a
    # rule (the strict and the relaxed one), never the component's every (first, member) pair.
    chans = channels(rule, True)
    assert all(len(pair_candidates(side, chans, a, b)) for a, b in asked_near)
    members = [r for c in comps for r in c]
    near = int(verifiable(side, rule, list(itertools.combinations(members, 2))).sum())
    assert len(asked_near) <= 2 * near
    assert len(asked_near) * 3 < len(asked_all)


def test_verifiable_is_the_test_verify_pairs_applies_first(crops, tmp_path):
    """verifiable says True exactly for two flat pictures or a pair with a candidate
    alignment (pair_candidates), whichever way round; and verify_pairs passes none of the
    pairs it rules out."""
    fps = list(crops[:40:3])
    grey = tmp_path / "grey.png"
    Image.new("RGB", (300, 200), (120, 120, 120)).save(grey)
    Image.new("RGB", (300, 200), (121, 120, 120)).save(tmp_path / "grey2.png")
    turned = tmp_path / "turned.png"
    make_image(seed=7, size=(400, 300)).transpose(Image.Transpose.ROTATE_90).save(turned)
    make_image(seed=7, size=(400, 300)).save(tmp_path / "upright.png")
    fps += [_fingerprint(p) for p in (grey, tmp_path / "grey2.png", turned, tmp_path / "upright.png")]
    side = query_side(fps)
    rule = default_rule()
    chans = channels(rule, True)
    pairs = [(a, b) for a in range(len(fps)) for b in range(len(fps)) if a != b]
    got = verifiable(side, rule, pairs)
    want = np.array([bool(side.flat[a] and side.flat[b]) or len(pair_candidates(side, chans, a, b)) > 0
                     for a, b in pairs])
    assert (got == want).all()
    assert got.any() and not got.all()
    assert side.flat.sum() == 2
    ruled_out = [p for p, ok in zip(pairs, got) if not ok]
    assert not verify_pairs(side, rule, ruled_out)
    assert verifiable(side, rule, []).shape == (0,)
