"""Matching mechanisms, each on generated pictures: what must match and what must not."""

from __future__ import annotations

import pytest
from helpers import make_image
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from imgfind import Index
from imgfind.index import default_rule


def family(tmp_path, variants):
    d = tmp_path / "lib"
    d.mkdir()
    base = make_image(None, seed=21, size=(480, 320))
    base.save(d / "original.jpg", quality=95)
    for name, im in variants(base).items():
        im.save(d / name)
    for s in (40, 41, 42):  # unrelated pictures that must stay out of every group
        make_image(d / f"other{s}.jpg", seed=s, size=(480, 320))
    with Index.open(str(tmp_path / "i.db")) as idx:
        idx.update([d])
        groups = idx.groups()
        q = idx.query(d / "original.jpg")
    return groups, q


def logo(im):
    im = im.convert("RGBA")
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).rounded_rectangle((20, 20, 130, 70), radius=10, fill=(200, 30, 30, 160))
    return Image.alpha_composite(im, layer).convert("RGB")


VARIANTS = {
    "mirrored": lambda b: {"v.jpg": b.transpose(Image.Transpose.FLIP_LEFT_RIGHT)},
    "rotated 90": lambda b: {"v.jpg": b.transpose(Image.Transpose.ROTATE_90)},
    "rotated 180": lambda b: {"v.jpg": b.transpose(Image.Transpose.ROTATE_180)},
    "flipped": lambda b: {"v.jpg": b.transpose(Image.Transpose.FLIP_TOP_BOTTOM)},
    "black border": lambda b: {"v.png": ImageOps.expand(b, border=(40, 26), fill=(0, 0, 0))},
    "white letterbox": lambda b: {"v.png": ImageOps.expand(b, border=(0, 60), fill=(255, 255, 255))},
    "crop 8% of one side": lambda b: {"v.jpg": b.crop((38, 0, 480, 320))},
    "crop 4% all round": lambda b: {"v.jpg": b.crop((19, 13, 461, 307))},
    "logo": lambda b: {"v.jpg": logo(b)},
    "brighter": lambda b: {"v.jpg": ImageEnhance.Brightness(b).enhance(1.2)},
    "half size": lambda b: {"v.jpg": b.resize((240, 160), Image.Resampling.LANCZOS)},
    "stretched": lambda b: {"v.jpg": b.resize((600, 320), Image.Resampling.BICUBIC)},
    "mirrored and cropped 10%": lambda b: {
        "v.jpg": b.transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop((0, 0, 432, 320))},
    "rotated 180 and cropped 12% at the top": lambda b: {
        "v.jpg": b.transpose(Image.Transpose.ROTATE_180).crop((0, 38, 480, 320))},
}


@pytest.mark.parametrize("edit", sorted(VARIANTS))
def test_edited_copy_matches_and_nothing_else_does(tmp_path, edit):
    groups, q = family(tmp_path, VARIANTS[edit])
    assert len(groups) == 1, edit
    names = sorted(m.file.path.rsplit("/", 1)[1] for m in groups[0].members)
    assert names[0] == "original.jpg" and names[1].startswith("v."), names
    assert len(names) == 2
    assert [m.file.path.rsplit("/", 1)[1] for m in q.matches][0].startswith("v.")


def test_relation_names_the_orientation(tmp_path):
    groups, q = family(tmp_path, VARIANTS["rotated 90"])
    assert q.matches[0].relation == "rotated 90° counter-clockwise"


def test_flat_pictures_do_not_match_everything(tmp_path):
    d = tmp_path / "flat"
    d.mkdir()
    for i, grey in enumerate((10, 60, 120, 200, 250)):
        Image.new("RGB", (200, 150), (grey, grey, grey)).save(d / f"flat{i}.png")
    Image.new("RGB", (100, 75), (120, 120, 120)).save(d / "flat-copy.png")
    make_image(d / "photo.jpg", seed=3)
    with Index.open(str(tmp_path / "i.db")) as idx:
        idx.update([d])
        groups = idx.groups()
    assert [sorted(m.file.path.rsplit("/", 1)[1] for m in g.members) for g in groups] == [
        ["flat-copy.png", "flat2.png"]]


def test_dedupe_verifies_less_but_groups_the_same(tmp_path):
    """Groups skip pairs already linked; the groups equal those of verifying every pair."""
    from imgfind.group import components
    from imgfind.match import find_pairs

    d = tmp_path / "lib"
    d.mkdir()
    for seed in (5, 6):
        base = make_image(None, seed=seed, size=(400, 300))
        for i, scale in enumerate((1.0, 0.8, 0.6, 0.5, 0.4)):
            size = (int(400 * scale), int(300 * scale))
            base.resize(size, Image.Resampling.LANCZOS).save(d / f"s{seed}-{i}.jpg", quality=90)
        ImageEnhance.Brightness(base).enhance(1.15).save(d / f"s{seed}-bright.jpg")
    make_image(d / "other.jpg", seed=9, size=(400, 300))
    with Index.open(str(tmp_path / "i.db")) as idx:
        idx.update([d])
        groups = idx.groups()
        prints, side = idx.search_side()
        every = find_pairs(side, side, default_rule(), same=True)
    row_of = {int(i): r for r, i in enumerate(prints.ids)}
    grouped = sorted(sorted(row_of[m.file.id] for m in g.members) for g in groups)
    assert grouped == sorted(components(len(prints), ((p.a, p.b) for p in every)))
    assert [len(g) for g in grouped] == [6, 6]
    assert len(every) == 2 * 15  # every pair of each family verifies, without links


def test_streamed_dedupe_of_a_large_family_links_every_copy_in_bounded_chunks(monkeypatch, tmp_path):
    """A family of near-identical copies: streamed candidates (tiny hit budget, so many
    chunks) give the same components as deciding every candidate at once, and far fewer
    pairs are verified than there are candidate pairs."""
    import numpy as np

    from imgfind import candidates, match
    from imgfind.analyse import analyse
    from imgfind.group import Links
    from imgfind.index import query_side
    from imgfind.model import PRESETS, FileStat

    from helpers import make_image

    base = np.asarray(make_image(seed=5), np.float32)
    rng = np.random.default_rng(0)
    fps = []
    for n in range(40):
        im = np.clip(base + rng.normal(0, 5, base.shape), 0, 255).astype(np.uint8)
        path = tmp_path / f"{n}.png"
        from PIL import Image
        Image.fromarray(im).save(path)
        st = path.stat()
        fps.append(analyse(FileStat(bytes(path), st.st_size, st.st_mtime_ns)).fingerprint)
    for seed in (11, 12):  # two unrelated pictures
        path = tmp_path / f"other{seed}.png"
        make_image(seed=seed).save(path)
        st = path.stat()
        fps.append(analyse(FileStat(bytes(path), st.st_size, st.st_mtime_ns)).fingerprint)
    rule = PRESETS["normal"]
    side = query_side(fps)
    cands = candidates.find_candidates(side, side, rule, same=True)
    assert len(np.unique(cands.a * 1000 + cands.b)) == 40 * 39 // 2  # every pair a candidate
    monkeypatch.setattr(match, "STREAM_MIN_ROWS", 0)
    monkeypatch.setattr(candidates, "STREAM_HITS", 500)
    monkeypatch.setattr(candidates, "STREAM_FIRST_ROWS", 2)
    chunks = []
    real = candidates.iter_candidates
    monkeypatch.setattr(match, "iter_candidates",
                        lambda *a, **k: (chunks.append(len(c)) or c for c in real(*a, **k)))
    links = Links(len(fps))
    found = match.find_pairs(side, side, rule, same=True, links=links)
    assert links.components() == [list(range(40))]
    assert len(chunks) >= 5
    assert 39 <= len(found) < 100  # about k verified pairs, not k^2/2


def test_dedupe_below_the_streaming_size_decides_exactly_as_find_candidates(tmp_path):
    """Under STREAM_MIN_ROWS candidate rows, the chunked search gives the very pairs (and
    evidence) of find_candidates + decide."""
    from PIL import Image

    from imgfind import match
    from imgfind.analyse import analyse
    from imgfind.candidates import find_candidates
    from imgfind.decide import decide
    from imgfind.group import Links
    from imgfind.index import query_side
    from imgfind.model import PRESETS, FileStat

    from helpers import make_image

    fps = []
    for seed in range(6):
        im = make_image(seed=seed)
        for n, v in enumerate((im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                               im.transpose(Image.Transpose.ROTATE_90), im.resize((160, 120)))):
            path = tmp_path / f"{seed}-{n}.png"
            v.save(path)
            st = path.stat()
            fps.append(analyse(FileStat(bytes(path), st.st_size, st.st_mtime_ns)).fingerprint)
    rule = PRESETS["normal"]
    side = query_side(fps)
    links = Links(len(fps))
    want = decide(side, side, rule, find_candidates(side, side, rule, same=True), same=True,
                  links=links)
    got = match.find_pairs(query_side(fps), query_side(fps), rule, same=True, links=Links(len(fps)))
    assert got == want and len(got) >= 6 * 3


def test_a_family_after_many_unrelated_pictures_is_searched_in_bounded_chunks(monkeypatch, tmp_path):
    """Rows that hit little let a streamed search's chunks grow; the dense rows of a family
    that follow must not come in one chunk of all their hits (case 22 of ../shared/cases: a
    2.3 GB peak for 6,000 files): every chunk stays within STREAM_OVERSHOOT x STREAM_HITS and
    the pairs are find_candidates' all the same."""
    import numpy as np
    from PIL import Image

    from imgfind import candidates
    from imgfind.analyse import analyse
    from imgfind.index import query_side
    from imgfind.model import PRESETS, FileStat

    from helpers import make_image

    fps = []

    def add(path, im):
        im.save(path)
        st = path.stat()
        fps.append(analyse(FileStat(bytes(path), st.st_size, st.st_mtime_ns)).fingerprint)

    for seed in range(40):  # unrelated pictures first: their rows hit (almost) nothing
        add(tmp_path / f"other{seed}.png", make_image(seed=100 + seed))
    base = np.asarray(make_image(seed=5), np.float32)
    rng = np.random.default_rng(0)
    for n in range(40):  # then a family of near-identical copies: every pair a candidate
        add(tmp_path / f"{n}.png",
            Image.fromarray(np.clip(base + rng.normal(0, 5, base.shape), 0, 255).astype(np.uint8)))
    rule = PRESETS["normal"]
    side = query_side(fps)
    every = candidates.find_candidates(side, side, rule, same=True)
    monkeypatch.setattr(candidates, "STREAM_HITS", 400)
    monkeypatch.setattr(candidates, "STREAM_FIRST_ROWS", 2)
    chunks = list(candidates.iter_candidates(side, side, rule, same=True))
    bound = candidates.STREAM_OVERSHOOT * 400
    assert max(len(c) for c in chunks) <= bound
    pairs = {(int(a), int(b)) for c in chunks for a, b in zip(c.a, c.b)}
    assert pairs == {(int(a), int(b)) for a, b in zip(every.a, every.b)}
    assert len({(a, b) for a, b in pairs if a >= 40 and b >= 40}) == 40 * 39 // 2
