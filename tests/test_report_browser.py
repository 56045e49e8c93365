"""The HTML report in a real headless browser (Debian's chromium driven by Playwright).

Skips with its reason where chromium or Playwright is absent; .ci/run installs both.
Leaves a screenshot at $IMGFIND_SCREENSHOT (if set) for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import invoke, make_image
from imgfind import html as html_mod
from imgfind import plan as plan_mod

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH "
                                "(apt-get install -y chromium)")

EVIL = "<img src=x onerror=alert(1)>.jpg"


@pytest.fixture
def report(runner, db, tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "lib"
    d.mkdir()
    for seed in (1, 2):
        im = make_image(d / f"photo{seed}.png", seed=seed)
        im.save(d / f"copy{seed}.jpg", quality=80)
    (d / "copy1.jpg").rename(d / EVIL)
    out = tmp_path / "report.html"
    invoke(runner, db, "report", str(d), "-o", str(out), "--keep", "lossless-format")
    return out, d


def test_report_renders_escapes_and_builds_a_plan(report, runner, db, tmp_path) -> None:
    out, d = report
    text = out.read_text()
    assert "<img src=x" not in text  # never as markup, not even inside the JSON
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 760},
                                accept_downloads=True)
        dialogs: list[str] = []
        page.on("dialog", lambda dlg: (dialogs.append(dlg.message), dlg.dismiss()))
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(out.as_uri())
        page.wait_for_selector(".group")
        assert errors == [] and dialogs == []
        assert page.locator(".group").count() == 2
        assert page.get_by_text(str(d / EVIL), exact=True).count() == 1  # shown as text
        assert page.locator(".file.kept").count() == 2
        assert page.get_by_text("kept by rule: lossless-format").count() == 2
        # every picture loads from the disk, offline
        page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        shot = os.environ.get("IMGFIND_SCREENSHOT")
        if shot:
            page.screenshot(path=shot, full_page=True)
        # keep the copy instead in the group of the evil name; mark the other copy not a duplicate
        evil_group = page.locator(".group", has_text=EVIL)
        evil_group.locator(".file", has_text=EVIL).get_by_role("button").click()
        other = page.locator(".group").filter(has_not_text=EVIL)
        other.locator(".file:not(.kept) .ignore-cb").check()
        with page.expect_download() as info:
            page.click("#download")
        saved = tmp_path / "edited-plan.json"
        info.value.save_as(saved)
        assert dialogs == [] and errors == []
        browser.close()
    plan = plan_mod.load(saved)  # a valid plan, read by the same code as apply
    by_kept = {os.path.basename(g.kept): g for g in plan.groups}
    assert set(by_kept) == {EVIL, "photo2.png"}
    assert by_kept[EVIL].rule == "chosen in the report"
    assert [f.action for f in by_kept[EVIL].files if f.path != by_kept[EVIL].kept] == ["remove"]
    ignored = [f for f in by_kept["photo2.png"].files if f.ignore]
    assert [os.path.basename(f.path) for f in ignored] == ["copy2.jpg"]
    r = invoke(runner, db, "apply", str(saved))
    assert f"trash {d}/photo1.png" in r.stdout and "imgfind ignore" in r.stdout


def test_report_pages_ten_thousand_groups(tmp_path: Path) -> None:
    f = {"path": "/nowhere/a.jpg", "action": "keep", "bytes": 1, "mtime_ns": 0,
         "fingerprint": "0" * 64, "width": 1, "height": 1, "format": "JPEG", "taken": "",
         "distance": 0, "similarity": 1.0, "relation": "kept", "reference": False, "ignore": False}
    groups = [{"kept": f"/nowhere/{i}.jpg", "rule": "size",
               "files": [{**f, "path": f"/nowhere/{i}.jpg"},
                         {**f, "path": f"/nowhere/{i}-copy.jpg", "action": "remove"}]}
              for i in range(10_000)]
    doc = {"format": plan_mod.FORMAT, "version": "x", "created": "", "similarity": None,
           "keep_rules": [], "references": [], "base": "/", "groups": groups}
    out = tmp_path / "big.html"
    out.write_text(html_mod.render(doc))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(out.as_uri())
        page.wait_for_selector(".group")
        ms = page.evaluate("performance.now()")
        assert page.locator(".group").count() == html_mod.PAGE_SIZE
        assert page.locator("#pageinfo").text_content() == "page 1 of 200 (10000 groups)"
        page.click("#next")
        assert page.locator(".group h2").first.text_content().startswith("Group 51 ")
        built = page.evaluate("window.imgfindBuildPlan().groups.length")
        browser.close()
    assert built == 10_000
    assert ms < 10_000, f"the page took {ms:.0f} ms to render"
    json.dumps(doc)  # the document itself stays plain JSON
