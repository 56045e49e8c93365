"""The likely original of a crop is the picture it was cut from at the highest resolution,
never a phone screenshot that shows that picture (new-user trial of session 10, issue 12).
The screenshot letterboxes the photo across its width (shown 1.05x) and has more pixels, so
with both found the crop named the screenshot; a picture that lies wholly inside another
holder of the query is the picture, and the other merely shows it (its keypoints stop at the
photo: index.SPARSE_OUTSIDE). Pictures are generated with Pillow."""

from __future__ import annotations

import pytest
from helpers import invoke, invoke_json
from PIL import Image
from test_canvas_copies import phone
from test_partial_whole import photo_like

from imgfind import keypoints
from imgfind.model import LocalFeatures


def _query(runner, tmp_path, lib, crop: Image.Image) -> dict:
    crop.save(tmp_path / "crop.jpg", quality=90)
    db = str(tmp_path / "i.db")
    invoke(runner, db, "index", str(lib))
    return invoke_json(runner, db, "query", str(tmp_path / "crop.jpg"))["queries"][0]


# Each failed on main cbc7d04: the screenshot named the crop's original.
@pytest.mark.parametrize("seed,size,edge", [
    (1, (1024, 768), 0.10), (2, (1024, 768), 0.15), (3, (960, 600), 0.15), (3, (1024, 768), 0.10),
])
def test_a_crop_never_names_a_screenshot_of_its_photo(runner, tmp_path, seed, size, edge):
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = photo_like(seed, *size)
    photo.save(lib / "photo.jpg", quality=92)
    phone(photo).save(lib / "screenshot.png")
    photo_like(seed + 100, *size).save(lib / "other.jpg", quality=92)
    w, h = size
    crop = photo.crop((int(w * edge), int(h * edge), int(w * (1 - edge)), int(h * (1 - edge))))
    q = _query(runner, tmp_path, lib, crop)
    assert q["original"].rsplit("/", 1)[1] == "photo.jpg", q["answer"]


# A crop of a web-size copy: the original is the full-size photo, not the copy nor the
# screenshot (which has more pixels than the 1600 px photo). Failed on main cbc7d04.
@pytest.mark.parametrize("seed", [2, 3])
def test_a_crop_of_a_small_copy_names_the_full_size_photo(runner, tmp_path, seed):
    lib = tmp_path / "lib"
    lib.mkdir()
    photo = photo_like(seed, 1600, 1200)
    photo.save(lib / "photo.jpg", quality=92)
    small = photo.resize((1024, 768), Image.Resampling.LANCZOS)
    small.save(lib / "photo-web.jpg", quality=90)
    phone(small).save(lib / "screenshot.png")
    photo_like(seed + 100, 1024, 768).save(lib / "other.jpg", quality=92)
    q = _query(runner, tmp_path, lib, small.crop((102, 77, 922, 691)))
    assert q["original"].rsplit("/", 1)[1] == "photo.jpg", q["answer"]


def test_density_outside_reads_the_keypoints_past_a_box():
    xy = [(0.1, 0.1), (0.2, 0.2), (0.6, 0.6), (0.7, 0.7)]
    local = LocalFeatures(100, 100, bytes().join(
        int(v * 65535).to_bytes(2, "little") for p in xy for v in p), bytes(8 * len(xy)))
    assert keypoints.density_outside(local, (0.5, 0.5, 1.0, 1.0)) == pytest.approx(0.5 / 0.75)
    assert keypoints.density_outside(local, (0.0, 0.0, 1.0, 1.0)) == 1.0
