"""Issue 14's answers in corner cases found by a new-user trial: --limit never changes which
copy is the biggest, a crop's answer names the picture it lies inside, the pages of a query
with no copies are shown, and the reasons printed are the ones that hold."""

from __future__ import annotations

import json
import os
import shutil

from helpers import invoke, invoke_json, textured
from PIL import Image


def _exif(when: str) -> bytes:
    exif = Image.Exif()
    exif[0x8769] = {0x9003: when}  # DateTimeOriginal in the Exif IFD
    return exif.tobytes()


def test_limit_does_not_change_the_biggest_copy(tmp_path, runner, db):
    lib = tmp_path / "lib"
    lib.mkdir()
    pic = textured(3, 1024, 768)
    pic.save(lib / "big.jpg", quality=92)
    pic.save(lib / "big-q40.jpg", quality=40)  # as many pixels: a tie the original breaks
    pic.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(lib / "a-mirrored.jpg", quality=92)
    pic.resize((512, 384)).save(lib / "small.jpg", quality=92)
    query = tmp_path / "q.jpg"
    shutil.copy(lib / "small.jpg", query)  # nearest match: small.jpg
    invoke(runner, db, "index", str(lib))
    answers = []
    for extra in ([], ["--limit", "1"], ["--limit", "2"], ["--sort", "size", "--limit", "1"]):
        doc = invoke_json(runner, db, "query", str(query), *extra)
        answers.append(doc["queries"][0]["answer"])
        assert answers[-1]["biggest"]["path"] == str(lib / "big.jpg"), extra
        text = invoke(runner, db, "query", str(query), *extra).stdout
        assert f"#   biggest: {lib / 'big.jpg'} (1024x768" in text, text
    assert all(a["original"] == answers[0]["original"] for a in answers), answers
    # A query as big as the copies: the biggest is the likely original, not the query itself.
    shutil.copy(lib / "big-q40.jpg", tmp_path / "q40.jpg")
    for extra in ([], ["--limit", "1"]):
        doc = invoke_json(runner, db, "query", str(tmp_path / "q40.jpg"), *extra)
        assert doc["queries"][0]["answer"]["biggest"]["path"] == str(lib / "big.jpg"), extra


def test_a_crop_is_answered_with_the_picture_it_lies_inside(tmp_path, runner, db):
    lib = tmp_path / "lib"
    lib.mkdir()
    textured(7, 800, 600).save(lib / "source.jpg", quality=92)
    textured(2, 800, 600).save(lib / "other.jpg", quality=92)
    query = tmp_path / "crop.jpg"
    textured(7, 800, 600).crop((120, 90, 680, 510)).save(query, quality=90)
    invoke(runner, db, "index", str(lib))
    doc = invoke_json(runner, db, "query", str(query))
    q = doc["queries"][0]
    assert q["original"] == str(lib / "source.jpg")
    assert q["answer"]["biggest"]["path"] == str(lib / "source.jpg")
    reasons = q["answer"]["original"]["reasons"]
    assert reasons[0].startswith("contains the query") and "% of it" in reasons[0], reasons
    (match,) = doc["matches"]
    assert match["original"] is True and match["partial"] is not None
    text = invoke(runner, db, "query", str(query)).stdout
    assert f"#   likely original: {lib / 'source.jpg'}: contains the query" in text, text


def test_pages_of_a_query_without_copies_are_shown_in_text(tmp_path, runner, db):
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    textured(4, 400, 300).save(site / "img" / "bowl.jpg", quality=90)
    (site / "index.html").write_text('<title>Bowl page</title><img src="img/bowl.jpg">'
                                     '<img src="/img/bowl.jpg">')
    invoke(runner, db, "index", str(site))
    invoke(runner, db, "pages", str(site), "--base-url", "https://x.example/")
    text = invoke(runner, db, "query", str(site / "img" / "bowl.jpg")).stdout
    assert "0 matches" in text and "this file is indexed" in text
    assert "#   shown on 1 page:" in text and '"Bowl page"' in text, text
    assert "(img, img)" not in text  # one page, one way of showing it, said once


def test_reasons_say_what_decided_and_the_query_line_agrees(tmp_path, runner, db):
    lib = tmp_path / "lib"
    lib.mkdir()
    pic = textured(5, 1024, 768)
    pic.save(lib / "big-new.jpg", quality=92)
    pic.resize((300, 225)).save(lib / "small-old.jpg", quality=92)
    os.utime(lib / "small-old.jpg", (1_500_000_000,) * 2)
    os.utime(lib / "big-new.jpg", (1_700_000_000,) * 2)
    query = tmp_path / "q.jpg"
    pic.resize((500, 375)).save(query, quality=92)
    invoke(runner, db, "index", str(lib))
    reasons = invoke_json(runner, db, "query", str(query))["queries"][0]["answer"]["original"]["reasons"]
    assert reasons[0].startswith("most picture") and not any("in the order" in r for r in reasons)
    # Two copies with as many pixels: then the order that chose between them is named.
    pic.save(lib / "big-twin.png")
    invoke(runner, db, "index", str(lib))
    reasons = invoke_json(runner, db, "query", str(query))["queries"][0]["answer"]["original"]["reasons"]
    assert any(r.startswith("2 copies of about as many pixels") for r in reasons), reasons
    # The query is the original by its capture time, not by pixels: the closing line says so.
    dated = tmp_path / "dated.jpg"
    pic.resize((600, 450)).save(dated, quality=92, exif=_exif("2018:01:01 00:00:00"))
    text = invoke(runner, db, "query", str(dated)).stdout
    assert "#   likely original: the query itself: earliest capture time" in text, text
    assert "the query itself looks like the original (earliest capture time" in text, text
    assert "(most pixels)" not in text


def test_info_names_stdin_not_its_scratch_file_and_takes_an_empty_index_file(tmp_path, runner):
    from imgfind.cli import cli

    run = runner.invoke(cli, ["--db", str(tmp_path / "i.db"), "info", "-"],
                        input=b"\x00not a picture" * 40)
    assert run.exit_code != 0 and "(stdin)" in run.stderr, run.stderr
    assert "imgfind-query-" not in run.stderr, run.stderr
    (tmp_path / "empty.db").write_bytes(b"")
    textured(1, 200, 150).save(tmp_path / "p.png")
    run = runner.invoke(cli, ["--db", str(tmp_path / "empty.db"), "info", str(tmp_path / "p.png")])
    assert run.exit_code == 0, run.output
    assert "PNG" in run.stdout and "none (no index file)" in run.stdout, run.stdout


def test_a_reason_names_a_file_by_its_path_when_two_copies_share_its_name(tmp_path, runner, db):
    pic = textured(8, 1200, 900)
    for folder, size, when in (("cam", (600, 450), "2018:01:01 00:00:00"), ("web", (1200, 900), None),
                               ("old", (400, 300), None)):
        (tmp_path / folder).mkdir()
        extra = {"exif": _exif(when)} if when else {}
        pic.resize(size).save(tmp_path / folder / "IMG_0001.jpg", quality=92, **extra)
    query = tmp_path / "q.jpg"
    pic.resize((500, 375)).save(query, quality=92)
    invoke(runner, db, "index", str(tmp_path / "cam"), str(tmp_path / "web"), str(tmp_path / "old"))
    doc = invoke_json(runner, db, "query", str(query))
    reasons = doc["queries"][0]["answer"]["original"]["reasons"]
    assert doc["queries"][0]["original"] == str(tmp_path / "cam" / "IMG_0001.jpg")
    assert f"not the most pixels: {tmp_path / 'web' / 'IMG_0001.jpg'} has 1200x900" in \
        "; ".join(reasons), reasons
    text = invoke(runner, db, "query", str(query)).stdout
    assert f"captured: 2018-01-01T00:00:00  [{tmp_path / 'cam' / 'IMG_0001.jpg'}]" in text, text


def test_a_page_in_an_undeclared_charset_is_read_quietly(tmp_path, runner, db):
    site = tmp_path / "site"
    site.mkdir()
    textured(6, 300, 200).save(site / "a.jpg", quality=90)
    (site / "latin.html").write_bytes(b'<html><title>caf\xe9 \x81\x8d</title><img src="a.jpg"></html>')
    invoke(runner, db, "index", str(site))
    run = invoke(runner, db, "pages", str(site))
    assert "could not be decoded" not in run.stderr, run.stderr
    assert "1 page" in run.stderr + run.stdout
