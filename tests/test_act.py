"""Acting on duplicates: keep rules, plans, apply with re-checks, journal and undo, ignore,
--against/--unique and metadata merging, on real files in temporary folders."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import invoke, make_image
from imgfind import act
from imgfind import plan as plan_mod
from imgfind.keep import choose, parse_rules
from imgfind.model import PRESETS, FileRecord, Rule


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def own_trash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    from send2trash import plat_other  # it reads XDG_DATA_HOME once, at import

    home = os.fsencode(tmp_path / "xdg")
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", home)
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.path.join(home, b"Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", str(tmp_path / "xdg" / "Trash"))


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    """Three pictures, each with a recompressed copy (the original is the bigger file)."""
    d = tmp_path / "lib"
    (d / "copies").mkdir(parents=True)
    for seed in (1, 2, 3):
        im = make_image(d / f"p{seed}.png", seed=seed)
        im.save(d / "copies" / f"p{seed}.jpg", quality=85)
    return d


def make_plan(runner, db: str, *args: str, out: Path) -> dict:
    invoke(runner, db, "dedupe", *args, "--plan", str(out))
    return json.loads(out.read_text())


def rec(path: str, w: int = 100, h: int = 100, fmt: str = "JPEG", size: int = 1000,
        mtime: int = 0, **meta: str) -> FileRecord:
    return FileRecord(0, path, size, mtime, w, h, fmt, dict(meta))


# ----------------------------------------------------------------------------- keep rules
def test_keep_rules_order_and_deciding_rule() -> None:
    big, small = rec("/x/big.jpg", 200, 200), rec("/x/small.jpg", 100, 100, size=5000)
    d = choose([small, big], parse_rules("resolution,size"))
    assert (d.kept.path, d.rule) == ("/x/big.jpg", "resolution")
    d = choose([small, big], parse_rules("size,resolution"))
    assert (d.kept.path, d.rule) == ("/x/small.jpg", "size")
    old, new = rec("/a/1.jpg", mtime=1, taken="2001:01:01 00:00:00"), rec("/a/2.jpg", mtime=0)
    assert choose([new, old], ["oldest"]).kept.path == "/a/1.jpg"
    assert choose([new, old], ["newest"]).kept.path == "/a/1.jpg"  # the only capture time
    assert choose([rec("/a/1.jpg", mtime=1), rec("/a/2.jpg", mtime=5)], ["newest"]).kept.path == "/a/2.jpg"
    png = rec("/a/z.png", fmt="PNG")
    d = choose([rec("/a/a.jpg"), png], ["lossless-format"])
    assert (d.kept.path, d.rule) == ("/a/z.png", "lossless-format")
    d = choose([rec("/a/keepme/x.jpg"), rec("/a/x.jpg")], ["shortest-path"])
    assert d.kept.path == "/a/x.jpg"
    d = choose([rec("/a/x.jpg"), rec("/a/keepme/x.jpg")], ["path-pattern:*/keepme/*", "shortest-path"])
    assert (d.kept.path, d.rule) == ("/a/keepme/x.jpg", "path-pattern:*/keepme/*")
    d = choose([big, rec("/ref/tiny.jpg", 10, 10)], ["resolution"], references=["/ref"])
    assert (d.kept.path, d.rule, d.references) == ("/ref/tiny.jpg", "reference",
                                                   frozenset({"/ref/tiny.jpg"}))
    with pytest.raises(ValueError, match="unknown keep rule"):
        parse_rules("biggest")


def test_unknown_keep_rule_is_a_usage_error(runner, db, pairs) -> None:
    r = invoke(runner, db, "dedupe", str(pairs), "--keep", "prettiest", ok=False)
    assert r.exit_code == 2 and "unknown keep rule" in r.stderr


def test_dedupe_text_shows_kept_file_and_rule(runner, db, pairs) -> None:
    out = invoke(runner, db, "dedupe", str(pairs), "--keep", "lossless-format").stdout
    assert out.count("kept by rule: lossless-format") == 3
    assert f"keep   {pairs}/p1.png" in out and f"remove {pairs}/copies/p1.jpg" in out


# ----------------------------------------------------------------------------- plan
def test_plan_records_state_as_indexed(runner, db, pairs, tmp_path) -> None:
    doc = make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    assert doc["format"] == "imgfind-plan/1" and len(doc["groups"]) == 3
    g = next(g for g in doc["groups"] if g["kept"].endswith("p1.png"))
    copy = next(f for f in g["files"] if f["path"].endswith("copies/p1.jpg"))
    st = os.stat(copy["path"])
    assert (copy["action"], copy["bytes"], copy["mtime_ns"]) == ("remove", st.st_size, st.st_mtime_ns)
    assert len(copy["fingerprint"]) == 64 and copy["similarity"] > 0.9
    plan = plan_mod.load(tmp_path / "plan.json")
    assert plan_mod.to_json(plan)["groups"] == doc["groups"]


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(format="imgfind-plan/9"), "newer"),
    (lambda d: d["groups"][0].update(kept="/nowhere.jpg"), "not among its files"),
    (lambda d: d["groups"][0]["files"][0].update(action="remove"), "has action"),
    (lambda d: d["groups"][1]["files"].append(d["groups"][0]["files"][1]), "twice"),
    (lambda d: d["groups"][0]["files"][1].update(action="shred"), "not one of"),
])
def test_bad_plans_are_one_line_errors(runner, db, pairs, tmp_path, edit, message) -> None:
    doc = make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    edit(doc)
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    r = invoke(runner, db, "apply", str(tmp_path / "plan.json"), ok=False)
    assert r.exit_code == 1 and message in r.stderr and "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- apply
def test_dry_run_changes_nothing(runner, db, pairs, tmp_path) -> None:
    make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    before = {p: sha(p) for p in pairs.rglob("*") if p.is_file()}
    r = invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--delete")
    assert r.stdout.count("rm ") == 3 and "would be deleted" in r.stderr
    assert {p: sha(p) for p in pairs.rglob("*") if p.is_file()} == before


def test_file_changed_after_indexing_is_skipped(runner, db, pairs, tmp_path) -> None:
    make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    changed = pairs / "copies" / "p2.jpg"
    make_image(seed=9).save(changed, quality=85)  # another picture under the same name
    r = invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--delete", "--yes")
    assert f"skip {changed}: changed since the plan" in r.stdout
    assert changed.exists() and not (pairs / "copies" / "p1.jpg").exists()


def test_same_size_and_time_but_other_content_is_skipped(runner, db, pairs, tmp_path) -> None:
    make_plan(runner, db, str(pairs), out=tmp_path / "plan2.json")
    target = pairs / "copies" / "p3.jpg"
    st = target.stat()
    Image.open(pairs / "p1.png").convert("RGB").save(target, quality=85)
    os.truncate(target, st.st_size) if target.stat().st_size > st.st_size else None
    with open(target, "ab") as f:
        f.write(b"\0" * (st.st_size - target.stat().st_size))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    r = invoke(runner, db, "apply", str(tmp_path / "plan2.json"), "--delete", "--yes")
    assert target.stat().st_mtime_ns == st.st_mtime_ns and target.stat().st_size == st.st_size
    assert target.exists() and "changed since the plan (fingerprint differs)" in r.stdout


def test_last_copy_is_never_removed(runner, db, pairs, tmp_path) -> None:
    make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    (pairs / "p1.png").unlink()  # the kept file is gone: its copy is now the last one
    os.link(pairs / "p2.png", tmp_path / "p2-hard.png")
    (pairs / "copies" / "p2.jpg").unlink()
    os.link(pairs / "p2.png", pairs / "copies" / "p2.jpg")  # a link to the kept file itself
    doc = json.loads((tmp_path / "plan.json").read_text())
    g2 = next(g for g in doc["groups"] if g["kept"].endswith("p2.png"))
    kept = os.stat(g2["kept"])
    for f in g2["files"]:  # describe the linked copy as it is now, so only samefile stops it
        if f["path"].endswith("p2.jpg"):
            f.update(bytes=kept.st_size, mtime_ns=kept.st_mtime_ns,
                     fingerprint=next(x for x in g2["files"] if x["path"] == g2["kept"])["fingerprint"])
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    r = invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--delete", "--yes")
    assert (pairs / "copies" / "p1.jpg").exists() and "kept file" in r.stdout
    assert (pairs / "copies" / "p2.jpg").exists() and "last copy" in r.stdout
    assert not (pairs / "copies" / "p3.jpg").exists()


def test_pair_that_does_not_match_directly_is_skipped(runner, db, pairs, tmp_path) -> None:
    doc = make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    g1, g2 = doc["groups"][0], doc["groups"][1]
    # a hand-edited plan that puts another picture in a group
    stranger = next(f for f in g2["files"] if f["action"] == "remove")
    g2["files"].remove(stranger)
    g1["files"].append(stranger)
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    r = invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--delete", "--yes")
    assert "does not match the kept file directly at the strict preset" in r.stdout
    assert os.path.exists(stranger["path"])


def test_plan_records_its_rule_and_how_each_file_matched(runner, db, pairs, tmp_path) -> None:
    doc = make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    assert doc["match_rule"] == {"threshold": 10, "min_similarity": 0.8, "min_window": 0.4}
    for g in doc["groups"]:
        assert {f["joined_by"] for f in g["files"] if f["path"] == g["kept"]} == {"kept"}
        assert {f["joined_by"] for f in g["files"] if f["path"] != g["kept"]} <= {"pHash", "dHash"}
    again = plan_mod.from_json(doc)
    assert again.match_rule == Rule(10, 0.8, 0.4)
    assert plan_mod.to_json(again)["match_rule"] == doc["match_rule"]


def test_apply_rechecks_at_the_plans_rule_where_it_is_stricter(runner, db, pairs, tmp_path) -> None:
    # New-user trial: apply's re-check was the strict preset whatever rule made the groups;
    # groups made by a stricter rule than it were re-checked by a weaker one.
    doc = make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    removed = [f["path"] for g in doc["groups"] for f in g["files"] if f["action"] == "remove"]
    assert removed
    doc["match_rule"] = {"threshold": 10, "min_similarity": 0.9999, "min_window": 0.4}
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    r = invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--delete", "--yes")
    assert r.stdout.count("does not match the kept file directly at the strict preset and the "
                          "plan's rule, whichever is stricter") == len(removed), r.stdout
    assert all(os.path.exists(p) for p in removed)
    stricter = act.recheck_rule(plan_mod.from_json(doc))
    assert (stricter.threshold, stricter.min_similarity, stricter.min_window) == (8, 0.9999, 0.45)
    looser = {"threshold": 12, "min_similarity": None, "min_window": 0.1}
    assert act.recheck_rule(plan_mod.from_json({**doc, "match_rule": looser})) == PRESETS["strict"]
    doc.pop("match_rule")  # a plan written before plans had a rule: the strict preset, as before
    assert act.recheck_rule(plan_mod.from_json(doc)) == PRESETS["strict"]


def test_reference_folder_is_never_touched(runner, db, pairs, tmp_path) -> None:
    ref = pairs / "copies"
    doc = make_plan(runner, db, str(pairs), "--reference", str(ref), out=tmp_path / "plan.json")
    assert all(g["kept"].startswith(str(ref)) and g["rule"] == "reference" for g in doc["groups"])
    before = {p: (sha(p), p.stat().st_mtime_ns) for p in ref.iterdir()}
    # even a hand edit asking to remove a reference file is refused
    for g in doc["groups"]:
        g["kept"] = next(f["path"] for f in g["files"] if not f["path"].startswith(str(ref)))
        for f in g["files"]:
            f["action"] = "keep" if f["path"] == g["kept"] else "remove"
            f["reference"] = False
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    r = invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--delete", "--yes")
    assert r.stdout.count("under a reference folder") == 3
    assert {p: (sha(p), p.stat().st_mtime_ns) for p in ref.iterdir()} == before


@pytest.mark.parametrize("method", ["--trash", "--move-to", "--hardlink", "--symlink"])
def test_undo_restores_byte_identical(runner, db, pairs, tmp_path, method) -> None:
    make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    before = {p: sha(p) for p in pairs.rglob("*") if p.is_file()}
    args = [method] + ([str(tmp_path / "moved")] if method == "--move-to" else [])
    invoke(runner, db, "apply", str(tmp_path / "plan.json"), *args, "--yes")
    copies = sorted((pairs / "copies").iterdir()) if (pairs / "copies").exists() else []
    if method == "--trash":
        assert copies == [] and len(list((tmp_path / "xdg" / "Trash" / "files").iterdir())) == 3
    elif method == "--move-to":
        assert copies == [] and (tmp_path / "moved" / "copies" / "p1.jpg").exists()
    elif method == "--hardlink":
        assert all(os.path.samefile(c, pairs / (c.stem + ".png")) for c in copies)
    else:
        assert all(c.is_symlink() for c in copies)
    listed = invoke(runner, db, "undo", "--list").stdout
    assert "3 done of 3  applied" in listed
    r = invoke(runner, db, "undo")
    assert r.stdout.count("restored") == 3, r.stdout
    after = {p: sha(p) for p in pairs.rglob("*") if p.is_file()}
    assert after == before
    assert not any(p.is_symlink() for p in pairs.rglob("*"))
    assert all(p.stat().st_nlink == 1 for p in pairs.rglob("*") if p.is_file())
    assert "undone" in invoke(runner, db, "undo", "--list").stdout
    assert invoke(runner, db, "undo", ok=False).exit_code == 1


def test_delete_is_reported_as_not_undoable(runner, db, pairs, tmp_path) -> None:
    make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--delete", "--yes")
    r = invoke(runner, db, "undo", ok=False)
    assert r.exit_code == 1
    assert r.stdout.count("cannot undo") == 3 and "deleted for good" in r.stdout


def test_metadata_merged_into_kept_file(runner, db, tmp_path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    im = make_image(d / "kept.jpg", seed=4, size=(640, 480), quality=95)
    exif = Image.Exif()
    exif[0x013B] = "Ann Example"
    exif.get_ifd(0x8769)[0x9003] = "2019:07:14 12:30:00"
    im.resize((320, 240)).save(d / "copy.jpg", quality=80, exif=exif.tobytes())
    pixels = np.asarray(Image.open(d / "kept.jpg"))
    original = sha(d / "kept.jpg")
    make_plan(runner, db, str(d), out=tmp_path / "plan.json")
    r = invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--merge-metadata", "--yes")
    assert "merged" in r.stdout and not (d / "copy.jpg").exists()
    with Image.open(d / "kept.jpg") as merged:
        assert merged.getexif()[0x013B] == "Ann Example"
        assert merged.getexif().get_ifd(0x8769)[0x9003] == "2019:07:14 12:30:00"
        assert np.array_equal(np.asarray(merged), pixels)
    r = invoke(runner, db, "undo")
    assert "restored metadata" in r.stdout, r.stdout
    assert sha(d / "kept.jpg") == original and (d / "copy.jpg").exists()


# ----------------------------------------------------------------------------- ignore
def test_ignored_pair_stays_apart_after_renames(runner, db, tmp_path) -> None:
    d = tmp_path / "i"
    d.mkdir()
    im = make_image(d / "a.png", seed=5)
    im.save(d / "b.jpg", quality=80)
    make_image(d / "c.png", seed=6)

    def groups() -> list:
        return json.loads(invoke(runner, db, "dedupe", str(d), "--format", "json").stdout)["groups"]

    assert len(groups()) == 1
    invoke(runner, db, "ignore", str(d / "a.png"), str(d / "b.jpg"))
    assert groups() == []
    (d / "sub").mkdir()
    os.rename(d / "a.png", d / "sub" / "renamed-a.png")
    os.rename(d / "b.jpg", d / "other-b.jpg")
    assert groups() == []
    listed = invoke(runner, db, "ignore", "--list").stdout
    assert "a.png" in listed and "b.jpg" in listed
    invoke(runner, db, "ignore", "--remove", str(d / "sub" / "renamed-a.png"), str(d / "other-b.jpg"))
    assert len(groups()) == 1


def test_not_a_duplicate_in_plan_is_remembered(runner, db, pairs, tmp_path) -> None:
    doc = make_plan(runner, db, str(pairs), out=tmp_path / "plan.json")
    for f in doc["groups"][0]["files"]:
        if f["path"] != doc["groups"][0]["kept"]:
            f.update(action="keep", ignore=True)
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    invoke(runner, db, "apply", str(tmp_path / "plan.json"), "--delete", "--yes")
    # the other groups' copies are gone; the pair marked 'not a duplicate' no longer groups
    assert json.loads(invoke(runner, db, "dedupe", str(pairs), "--format", "json").stdout)["groups"] == []
    assert len(list((pairs / "copies").iterdir())) == 1
    assert len(invoke(runner, db, "ignore", "--list").stdout.splitlines()) == 1


# ----------------------------------------------------------------------------- against
def test_against_and_unique(runner, db, tmp_path) -> None:
    phone, archive = tmp_path / "phone", tmp_path / "archive"
    phone.mkdir()
    archive.mkdir()
    make_image(seed=7).save(phone / "backed-up.jpg", quality=80)
    make_image(archive / "original.png", seed=7)
    make_image(phone / "new.jpg", seed=8)
    r = invoke(runner, db, "dedupe", str(phone), "--against", str(archive))
    assert r.stdout == f"{phone}/backed-up.jpg\t{archive}/original.png\n"
    r = invoke(runner, db, "dedupe", str(phone), "--against", str(archive), "--unique")
    assert r.stdout == f"{phone}/new.jpg\n"
    assert invoke(runner, db, "dedupe", "--against", str(archive), ok=False).exit_code == 2


# ----------------------------------------------------------------------------- kill -9
#: Apply runs tried, at most, until a kill lands in the middle of one. Where it lands depends
#: on the machine's speed (a starved test process may wake after the apply is done); a run
#: that ended first is undone and another library tried with an earlier kill. Only an apply
#: that cannot be interrupted at all (a fault) uses them all.
KILL_ATTEMPTS = 5


@pytest.mark.slow
def test_kill_during_apply_leaves_done_or_untouched_and_undo_works(runner, tmp_path) -> None:
    n = 60
    wait_for = 10  # intents journaled before the kill; 1 after a run that ended first
    for attempt in range(KILL_ATTEMPTS):
        base = tmp_path / f"try{attempt}"
        landed = _kill_apply_once(runner, str(base / "i.db"), base, n, wait_for)
        if landed:
            return
        wait_for = 1
    pytest.fail(f"{KILL_ATTEMPTS} apply runs all ended before their kill")


def _kill_apply_once(runner, db: str, base: Path, n: int, wait_for: int) -> bool:
    """Plan and apply a move of n copies, kill -9 the apply once *wait_for* intents are
    journaled; check done-or-untouched and undo. False when the apply ended before the kill
    (then undone, nothing else checked)."""
    d = base / "many"
    (d / "copies").mkdir(parents=True)
    for seed in range(n):
        im = make_image(d / f"p{seed:02d}.png", seed=100 + seed, size=(256, 192))
        im.save(d / "copies" / f"p{seed:02d}.jpg", quality=85)
    make_plan(runner, db, str(d), out=base / "plan.json")
    before = {p: sha(p) for p in d.rglob("*") if p.is_file()}
    moved = base / "moved"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "imgfind", "--db", db, "apply",
                             str(base / "plan.json"), "--move-to", str(moved), "--yes"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = Path(db + ".act") / "journal" / "000001.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count('"intent"') >= wait_for:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    text = journal.read_text()
    intents = {json.loads(line)["path"] for line in text.splitlines() if '"intent"' in line}
    assert len(intents) >= wait_for, "the apply journaled nothing before it ended"
    finished = len(intents) == n and all((moved / "copies" / f"p{s:02d}.jpg").exists()
                                         for s in range(n))
    if not finished:
        for seed in range(n):
            src = d / "copies" / f"p{seed:02d}.jpg"
            dst = moved / "copies" / f"p{seed:02d}.jpg"
            assert src.exists() != dst.exists()  # exactly one: done or untouched, never both
            if dst.exists():
                assert str(src) in intents and sha(dst) == before[src]
            else:
                assert sha(src) == before[src]
    invoke(runner, db, "undo")
    assert {p: sha(p) for p in d.rglob("*") if p.is_file()} == before
    assert not any(p.is_file() for p in moved.rglob("*"))
    return not finished


def test_null_separated_paths_hold_with_remembered_decisions(runner, db, tmp_path) -> None:
    """-0 goes through the acting path too (dedupe honours ignored pairs there)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    for seed in (1, 2, 3):
        make_image(lib / f"p{seed}.png", seed=seed)
        make_image(lib / f"p{seed}-copy.jpg", seed=seed)
    invoke(runner, db, "index", str(lib))
    invoke(runner, db, "ignore", str(lib / "p1.png"), str(lib / "p1-copy.jpg"))
    out = invoke(runner, db, "dedupe", "-0").stdout
    assert "\n" not in out and out.endswith("\0"), repr(out)
    names = sorted(os.path.basename(p) for p in out.split("\0") if p)
    assert names == ["p2-copy.jpg", "p2.png", "p3-copy.jpg", "p3.png"], names


def test_default_keep_keeps_the_unedited_jpeg_and_its_copies_over_an_edited_png(
        runner, db, tmp_path) -> None:
    """New-user trial (issue 11): a photo, an exact copy of it, and an edit of it saved as PNG
    (brighter, same size; its name sorts first, all three of one minute). The default keep
    order kept the edited PNG (lossless format) and trashed the JPEG and its copy. The
    version with copies is the likely original, and the default keeps the likely original."""
    folder = tmp_path / "photos"
    folder.mkdir()
    pic = make_image(None, seed=31, size=(800, 600))
    pic.save(folder / "photo.jpg", quality=90)
    (folder / "photo (1).jpg").write_bytes((folder / "photo.jpg").read_bytes())
    pic.point(lambda v: min(255, int(v * 1.12) + 6)).save(folder / "a-edit.png")
    t = time.time_ns() // 60_000_000_000 * 60_000_000_000  # all three in one minute
    for name in ("photo.jpg", "photo (1).jpg", "a-edit.png"):
        os.utime(folder / name, ns=(t, t))
    doc = make_plan(runner, db, str(folder), out=tmp_path / "plan.json")
    (group,) = doc["groups"]
    kept = [f for f in group["files"] if f["action"] == "keep"]
    assert [os.path.basename(f["path"]) for f in kept] == ["photo.jpg"], group
    removed = sorted(os.path.basename(f["path"]) for f in group["files"] if f["action"] == "remove")
    assert removed == ["a-edit.png", "photo (1).jpg"], group
    report = json.loads(invoke(runner, db, "dedupe", str(folder), "--format", "json").stdout)
    first = report["groups"][0]["files"][0]
    assert os.path.basename(first["path"]) == "photo.jpg" and first["original"], first


def test_keep_rule_original_prefers_the_given_order() -> None:
    a, b = rec("/p/b.jpg"), rec("/p/a.png", fmt="PNG")
    d = choose([a, b], parse_rules("original,lossless-format"))
    assert (d.kept.path, d.rule) == ("/p/b.jpg", "original")
    assert choose([b, a], ["original"]).kept.path == "/p/a.png"
