"""A folder of symbolic links indexed (--follow-symlinks) before the real folder: the real
path is the file and the link its other name, whatever the order; a plan never keeps the
link, and apply --symlink points at the real file (no chain of links)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import invoke, make_image


@pytest.mark.parametrize("order", ["links-first", "real-first"])
def test_real_path_is_the_file_and_the_link_its_other_name(runner, db, tmp_path, order) -> None:
    lib, links = tmp_path / "lib", tmp_path / "links"
    lib.mkdir()
    links.mkdir()
    im = make_image(lib / "city.png", seed=7, size=(320, 240))
    im.save(lib / "city-copy.jpg", quality=85)
    make_image(lib / "other.png", seed=8, size=(320, 240))
    (links / "city.png").symlink_to(lib / "city.png")
    runs = [[str(links), "--follow-symlinks"], [str(lib)]]
    for args in runs if order == "links-first" else runs[::-1]:
        invoke(runner, db, "index", *args)
    doc = json.loads(invoke(runner, db, "dedupe", "--format", "json").stdout)
    [group] = doc["groups"]
    files = {f["path"]: f for f in group["files"]}
    assert set(files) == {str(lib / "city.png"), str(lib / "city-copy.jpg")}, sorted(files)
    names = [(n["path"], n["link"]) for n in files[str(lib / "city.png")]["other_names"]]
    assert names == [(str(links / "city.png"), "symbolic link")]
    text = invoke(runner, db, "dedupe").stdout
    assert f"same file: symbolic link {links / 'city.png'}" in text, text
    plan = tmp_path / "plan.json"
    invoke(runner, db, "dedupe", "--plan", str(plan))
    assert json.loads(plan.read_text())["groups"][0]["kept"] == str(lib / "city.png")
    invoke(runner, db, "apply", str(plan), "--symlink", "--yes")
    assert os.readlink(lib / "city-copy.jpg") == str(lib / "city.png")
    # indexing again, in either order, changes nothing
    for args in runs:
        invoke(runner, db, "index", *args)
    doc = json.loads(invoke(runner, db, "dedupe", "--format", "json").stdout)
    assert all(not Path(f["path"]).is_symlink() for g in doc["groups"] for f in g["files"])


def test_apply_symlink_links_to_the_real_file_even_when_the_plan_keeps_a_link(
        runner, db, tmp_path) -> None:
    """A plan made from an index built before this fix may keep a symbolic link: the links
    made still name the real file, and undo recognises them."""
    lib, links = tmp_path / "lib", tmp_path / "links"
    lib.mkdir()
    links.mkdir()
    im = make_image(lib / "city.png", seed=7, size=(320, 240))
    im.save(lib / "city-copy.jpg", quality=85)
    copy_bytes = (lib / "city-copy.jpg").read_bytes()
    (links / "city.png").symlink_to(lib / "city.png")
    invoke(runner, db, "index", str(lib))
    plan = tmp_path / "plan.json"
    invoke(runner, db, "dedupe", "--plan", str(plan))
    text = plan.read_text().replace(json.dumps(str(lib / "city.png"))[1:-1],
                                    json.dumps(str(links / "city.png"))[1:-1])
    plan.write_text(text)
    assert json.loads(text)["groups"][0]["kept"] == str(links / "city.png")
    r = invoke(runner, db, "apply", str(plan), "--symlink", "--yes")
    assert "1 files symlinked" in r.stderr, r.stdout + r.stderr
    assert os.readlink(lib / "city-copy.jpg") == str(lib / "city.png")
    r = invoke(runner, db, "undo")
    assert "restored" in r.stdout
    assert (lib / "city-copy.jpg").read_bytes() == copy_bytes
