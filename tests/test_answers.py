"""Issue 14, the answers: who made it, which is the original and the biggest, where it appears
(folders and web pages), query --sort, imgfind pages and imgfind info."""

from __future__ import annotations

import csv
import io
import json
import re
import os
import sqlite3

import pytest
from PIL import Image

from answers_support import family, website
from helpers import invoke, invoke_json, make_image
from imgfind import answers, pages as pages_mod
from imgfind.decode import open_for_hash
from imgfind.index import Index
from imgfind.store import SCHEMA_VERSION, Store


# ----------------------------------------------------------------------------- recorded fields
def test_exif_xmp_iptc_and_gps_are_recorded(tmp_path):
    p = family(tmp_path)
    cam = open_for_hash(p["camera"]).metadata
    assert cam["artist"] == "Ann Example" and cam["camera_model"] == "EOS 80D"
    assert cam["iptc_byline"] == "Ann Example (IPTC)"
    assert cam["iptc_copyright"] == "Ann Example Photography"
    assert cam["gps"] == "yes" and cam["captured"] == "2019-05-01T10:20:30"
    big = open_for_hash(p["big"]).metadata  # XMP in a PNG iTXt chunk
    assert big["xmp_creator"] == "Studio Web" and big["xmp_rights"] == "CC BY 4.0"
    assert "gps" not in big and "captured" not in big
    small = open_for_hash(p["small"]).metadata  # XMP in a JPEG APP1 segment
    assert small["captured"] == "2021-01-02T03:04:05" and small["xmp_tool"] == "GIMP 2.10"


@pytest.mark.parametrize("fmt,save", [
    ("WEBP", lambda packet: {"xmp": packet, "quality": 90}),
    ("TIFF", lambda packet: {"tiffinfo": {700: packet}}),
])
def test_xmp_is_read_from_webp_and_tiff(tmp_path, fmt, save):
    from answers_support import xmp_packet

    path = tmp_path / f"x.{fmt.lower()}"
    make_image(path, seed=6, fmt=fmt, **save(xmp_packet(creator="Kim", rights="CC0",
                                                        created="2020-02-03T04:05:06+01:00")))
    meta = open_for_hash(path).metadata
    assert meta["xmp_creator"] == "Kim" and meta["xmp_rights"] == "CC0"
    assert meta["captured"] == "2020-02-03T04:05:06+01:00"


def test_capture_times_are_read_as_iso():
    from imgfind.provenance import iso_time

    assert iso_time("2019:05:01 14:03:09") == "2019-05-01T14:03:09"
    assert iso_time("2019-05-01T14:03:09.25Z") == "2019-05-01T14:03:09Z"
    assert iso_time("2019-05-01T14:03") == "2019-05-01T14:03:00"
    assert iso_time("0000:00:00 00:00:00") == "" and iso_time("yesterday") == ""


def test_a_hostile_xmp_packet_loses_only_its_fields(tmp_path):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            b"&b;</x:xmpmeta>")
    path = tmp_path / "bomb.jpg"
    make_image(path, seed=4, quality=90, xmp=bomb,
               exif=Image.Exif().tobytes())
    meta = open_for_hash(path).metadata
    assert "xmp_creator" not in meta and meta["jpeg_quality"] == "90"


# ----------------------------------------------------------------------------- query answers
@pytest.fixture
def fam(tmp_path, runner, db):
    paths = family(tmp_path / "lib")
    # File times in the other order than capture times: the capture time must win.
    for i, key in enumerate(("webp", "small", "big", "camera")):
        os.utime(paths[key], (1_600_000_000 + i * 3600,) * 2)
    invoke(runner, db, "-q", "index", str(tmp_path / "lib"))
    return paths


def test_query_answers_biggest_original_places_and_creators(fam, runner, db):
    doc = invoke_json(runner, db, "query", str(fam["small"]), "--format", "json")
    a = doc["queries"][0]["answer"]
    assert a["biggest"] == {"path": str(fam["big"]), "width": 1280, "height": 960, "factor": 4.0}
    assert a["original"]["path"] == str(fam["camera"]) == doc["queries"][0]["original"]
    assert a["original"]["reasons"][0].startswith("earliest capture time 2019-05-01T10:20:30 (EXIF")
    assert any("camera metadata present (Canon EOS 80D)" in r for r in a["original"]["reasons"])
    assert [p["folder"] for p in a["places"]] == sorted(str(fam[k].parent) for k in ("camera", "webp", "big"))
    said = {(c["field"], c["value"]): c["paths"] for c in a["credits"]}
    assert said[("artist", "Ann Example")] == [str(fam["camera"])]
    assert said[("by-line (IPTC)", "Ann Example (IPTC)")] == [str(fam["camera"])]
    assert said[("creator (XMP)", "Studio Web")] == [str(fam["big"])]
    assert said[("rights (XMP)", "CC BY 4.0")] == [str(fam["big"])]
    assert said[("captured", "2021-01-02T03:04:05")] == [str(fam["small"])]  # the query's own
    assert said[("gps", "yes")] == [str(fam["camera"])]
    by_path = {m["path"]: m for m in doc["matches"]}
    cam = by_path[str(fam["camera"])]
    assert cam["original"] is True and cam["captured"] == "2019-05-01T10:20:30"
    assert cam["credits"]["camera"] == "Canon EOS 80D" and cam["credits"]["gps"] == "yes"
    assert by_path[str(fam["big"])]["biggest"] is True
    assert by_path[str(fam["webp"])]["credits"] == {"gps": "no"}
    # the keys that were there before stay
    assert {"path", "distance", "relation", "larger", "original", "evidence", "metadata"} <= set(cam)


def test_query_text_says_it_at_the_top_and_per_match(fam, runner, db):
    out = invoke(runner, db, "query", str(fam["webp"])).stdout
    top = out.split("\n  d=")[0]
    assert f"#   biggest: {fam['big']} (1280x960, 3.20x the query's width and height)" in top
    assert f"#   likely original: {fam['camera']}: earliest capture time" in top
    assert "#     creator (XMP): Studio Web  [photo-big.png]" in top
    assert f"#     {fam['camera'].parent}/: IMG_0001.jpg" in top
    assert "made by: artist Ann Example; copyright (c) 2019 Ann Example" in out


def test_without_capture_times_the_earliest_file_is_said(tmp_path, runner, db):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    im = make_image(seed=8)
    im.save(a)
    im.save(b)
    os.utime(b, (1_500_000_000,) * 2)
    os.utime(a, (1_600_000_000,) * 2)
    invoke(runner, db, "-q", "index", str(b))
    doc = invoke_json(runner, db, "query", str(a), "--format", "json")
    reasons = doc["queries"][0]["answer"]["original"]["reasons"]
    assert doc["queries"][0]["original"] == str(b)
    assert reasons[0].startswith("earliest file time") and "most picture (320x240)" in reasons


def test_a_reason_names_the_test_that_decided_not_the_whole_order(tmp_path, runner, db):
    # New-user trial, session 10: query lake-mirror.jpg named lake.jpg (rightly) "in the
    # order: ..., older file, shorter name", when the mirror was the older file (both made
    # within one minute, so equally old to the order; the name decided).
    lib = tmp_path / "lib"
    lib.mkdir()
    im = make_image(seed=8)
    im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(lib / "lake-mirror.png")
    im.save(lib / "lake.png")
    minute = 1_600_000_020
    os.utime(lib / "lake-mirror.png", (minute, minute))
    os.utime(lib / "lake.png", (minute + 30, minute + 30))
    invoke(runner, db, "-q", "index", str(lib))
    doc = invoke_json(runner, db, "query", str(lib / "lake-mirror.png"), "--format", "json")
    assert doc["queries"][0]["original"] == str(lib / "lake.png")
    reasons = doc["queries"][0]["answer"]["original"]["reasons"]
    said = " ".join(reasons)
    assert "older" not in said and "earliest" not in said, reasons
    assert "before lake-mirror.png: shorter name (extended by theirs)" in said, reasons


def test_each_place_of_the_original_order_has_its_words():
    from imgfind.group import ORIGINAL_KEY_WORDS, deciding_place, original_key
    from imgfind.model import FileRecord

    a = FileRecord(1, "/p/a.jpg", 10, 0, 8, 8, "JPEG")
    b = FileRecord(2, "/p/a-copy.jpg", 10, 120 * 10**9, 8, 8, "JPEG")
    assert len(ORIGINAL_KEY_WORDS) == len(original_key(a))
    assert ORIGINAL_KEY_WORDS[deciding_place(original_key(a), original_key(b))].startswith("older")
    assert deciding_place(original_key(b), original_key(a)) is None


def test_answers_come_from_the_index_not_from_the_matched_files(fam, db, monkeypatch):
    import imgfind.index as index_mod

    opened, analysed = [], []
    real_open, real_analyse = Image.open, index_mod.analyse

    def spy_open(fp, *a, **k):
        opened.append(fp)
        return real_open(fp, *a, **k)

    def spy_analyse(st, *a, **k):
        analysed.append(os.fsdecode(st.path))
        return real_analyse(st, *a, **k)

    monkeypatch.setattr(Image, "open", spy_open)
    monkeypatch.setattr(index_mod, "analyse", spy_analyse)
    with Index.open(db, readonly=True) as idx:
        result = idx.with_pages(idx.query_many([str(fam["webp"])]))[0]
    a = answers.summarize(result)
    assert a.original == str(fam["camera"]) and len(a.credits) > 5
    assert analysed == [str(fam["webp"])] and len(opened) == 1  # the query only


@pytest.mark.parametrize("sort,expect", [
    ("resolution", ["big", "camera", "webp"]),
    ("date", ["camera", "webp", "big"]),  # capture time 2019, then file times
    ("size", ["big", "camera", "webp"]),
])
def test_sort_orders_the_matches(fam, runner, db, sort, expect):
    doc = invoke_json(runner, db, "query", str(fam["small"]), "--format", "json", "--sort", sort)
    assert [m["path"] for m in doc["matches"]] == [str(fam[k]) for k in expect]
    doc = invoke_json(runner, db, "query", str(fam["small"]), "--format", "json", "--sort", sort,
                      "--limit", "1")
    assert [m["path"] for m in doc["matches"]] == [str(fam[expect[0]])]


def test_sort_refuses_an_unknown_order(fam, runner, db):
    r = invoke(runner, db, "query", str(fam["small"]), "--sort", "colour", ok=False)
    assert r.exit_code == 2 and "colour" in r.stderr


def test_csv_has_the_answer_columns(fam, runner, db):
    out = invoke(runner, db, "query", str(fam["small"]), "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    by = {r["path"]: r for r in rows}
    cam = by[str(fam["camera"])]
    assert cam["iptc_byline"] == "Ann Example (IPTC)" and cam["gps"] == "yes"
    assert cam["captured"] == "2019-05-01T10:20:30" and cam["camera"] == "Canon EOS 80D"
    assert cam["original_reasons"].startswith("earliest capture time")
    assert by[str(fam["big"])]["biggest"] == "1" and by[str(fam["big"])]["factor"] == "4.0"
    assert by[str(fam["big"])]["xmp_creator"] == "Studio Web"
    assert cam["folder"] == str(fam["camera"].parent)


# ----------------------------------------------------------------------------- pages
def test_css_and_srcset_parsing():
    assert pages_mod.css_urls("a{background:url(x.png) no-repeat} b{background-image:"
                              "url( 'y z.jpg' )}") == ["x.png", "y z.jpg"]
    assert pages_mod.srcset_urls("a-300x200.jpg 300w,\n a.jpg 1024w, data:x 2x") == [
        "a-300x200.jpg", "a.jpg"]


@pytest.fixture
def site(tmp_path, runner, db):
    w = website(tmp_path)
    invoke(runner, db, "-q", "index", str(w["site"]), str(w["uploads"]))
    return w


def test_pages_records_img_srcset_css_links_and_resized_copies(site, runner, db):
    r = invoke(runner, db, "pages", str(site["site"]), "--base-url", "https://example.com/")
    assert "3 pages" in r.stderr and "1 to other sites" in r.stderr
    doc = invoke_json(runner, db, "query", str(site["photo"]), "--format", "json")
    q = doc["queries"][0]
    shown = {(p["url"], p["how"]) for p in q["pages"]}  # pages showing the query file itself
    assert ("https://example.com/index.html", "link") in shown
    assert ("https://example.com/blog/post.html", "srcset") in shown
    # photo-300x225.jpg exists: the page shows that file, not photo.jpg through the resized rule
    assert not any(how.startswith("resized copy") for _, how in shown)
    resized = next(m for m in doc["matches"] if m["path"] == str(site["resized"]))
    assert {(p["url"], p["title"], p["how"]) for p in resized["pages"]} == {
        ("https://example.com/index.html", "Home", "img"),
        ("https://example.com/blog/post.html", "Old post", "srcset")}
    logo = invoke_json(runner, db, "query", str(site["logo"]), "--format", "json")["queries"][0]
    assert {(p["url"], p["title"], p["how"]) for p in logo["pages"]} == {
        ("https://example.com/blog/post.html", "Old post", "css"),  # <style>
        ("https://example.com/about/index.html", "About us", "img")}  # through <base href>
    hero = invoke_json(runner, db, "query", str(site["hero"]), "--format", "json")["queries"][0]
    assert [(p["url"], p["how"]) for p in hero["pages"]] == [
        ("https://example.com/blog/post.html", "css")]  # a style attribute, ../ relative


def test_pages_reads_a_wordpress_export(site, runner, db):
    r = invoke(runner, db, "-v", "pages", str(site["export"]), "--files", str(site["uploads"]))
    assert "2 pages" in r.stderr
    doc = invoke_json(runner, db, "query", str(site["photo"]), "--format", "json")
    wp = next(m for m in doc["matches"] if m["path"] == str(site["wp_photo"]))
    assert [(p["url"], p["title"]) for p in wp["pages"]] == [
        ("https://blog.example.org/2020/01/wp-post/", "WP post")]
    assert wp["pages"][0]["how"].startswith("resized copy ") and "photo-1024x768.jpg" in wp["pages"][0]["how"]
    logo = invoke_json(runner, db, "query", str(site["wp_logo"]), "--format", "json")["queries"][0]
    assert [(p["title"], p["how"]) for p in logo["pages"]] == [("WP page", "featured")]
    out = invoke(runner, db, "query", str(site["resized"])).stdout
    assert '"WP post"  shows photo.jpg (resized copy' in out


def test_status_counts_the_pages(site, runner, db):
    assert "web pages" not in invoke(runner, db, "status").stdout
    invoke(runner, db, "-q", "pages", str(site["site"]), "--base-url", "https://example.com/")
    # one reference per page and file: Home 2, Old post 4, About 1
    assert "web pages:     3 (7 image references; imgfind pages)" in invoke(runner, db, "status").stdout


def test_reading_a_site_again_replaces_its_pages(site, runner, db):
    invoke(runner, db, "-q", "pages", str(site["site"]), "--base-url", "https://example.com/")
    (site["site"] / "index.html").write_text("<title>Home</title><p>no pictures now</p>")
    invoke(runner, db, "-q", "pages", str(site["site"]), "--base-url", "https://example.com/")
    doc = invoke_json(runner, db, "query", str(site["resized"]), "--format", "json")
    assert {p["url"] for p in doc["queries"][0]["pages"]} == {"https://example.com/blog/post.html"}


def test_pages_says_which_files_are_not_indexed_and_bad_input_is_one_line(tmp_path, runner, db):
    w = website(tmp_path)
    r = invoke(runner, db, "pages", str(w["site"]), "--base-url", "https://example.com/")
    assert "not indexed yet: imgfind index" in r.stderr
    bad = invoke(runner, db, "pages", str(w["site"]), "--base-url", "ftp://example.com/", ok=False)
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "http" in bad.stderr
    broken = tmp_path / "broken.xml"
    broken.write_text('<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><item>')
    bad = invoke(runner, db, "pages", str(broken), ok=False)
    assert bad.exit_code == 1 and "not a readable WordPress export" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_an_index_of_schema_2_gains_the_page_tables(tmp_path):
    path = str(tmp_path / "old.db")
    Store(path).close()
    con = sqlite3.connect(path)
    con.executescript("DROP TABLE page_images; DROP TABLE pages; PRAGMA user_version = 2;")
    con.close()
    with Store(path, readonly=True) as store:  # read as it is: no page tables, no pages
        assert store.pages_showing(["/x.jpg"]) == {}
    with Store(path) as store:
        assert store.version == SCHEMA_VERSION >= 3
        assert store.page_counts() == {"pages": 0, "page_images": 0}
    with Store(path) as store:  # idempotent
        assert store.version == SCHEMA_VERSION


def test_an_upgraded_index_reads_the_new_fields_once_without_fingerprinting_again(tmp_path, runner, db):
    paths = family(tmp_path / "lib")
    invoke(runner, db, "-q", "index", str(tmp_path / "lib"))
    # As an index of schema 2 had it: EXIF fields only, no page tables.
    con = sqlite3.connect(db)
    for path, meta in con.execute("SELECT path, metadata FROM files").fetchall():
        old = {k: v for k, v in json.loads(meta or "{}").items()
               if not k.startswith(("xmp_", "iptc_")) and k not in ("gps", "captured")}
        con.execute("UPDATE files SET metadata = ?, indexed_at = 1 WHERE path = ?",
                    (json.dumps(old) if old else None, path))
    con.executescript("DROP TABLE page_images; DROP TABLE pages; PRAGMA user_version = 2;")
    con.commit()
    con.close()
    doc = invoke_json(runner, db, "query", str(paths["webp"]), "--format", "json")
    cam = next(m for m in doc["matches"] if m["path"] == str(paths["camera"]))
    assert "iptc_byline" not in cam["metadata"]
    assert cam["captured"] == "2019-05-01T10:20:30"  # from the EXIF 'taken' of old rows
    r = invoke(runner, db, "index", str(tmp_path / "lib"))
    assert "0 new, 0 changed, 4 unchanged" in r.stderr
    doc = invoke_json(runner, db, "query", str(paths["webp"]), "--format", "json")
    by = {m["path"]: m for m in doc["matches"]}
    assert by[str(paths["camera"])]["metadata"]["iptc_byline"] == "Ann Example (IPTC)"
    assert by[str(paths["big"])]["metadata"]["xmp_creator"] == "Studio Web"
    with Store(db) as store:
        assert store.stale_metadata([os.fsencode(tmp_path / "lib")]) == []  # once


# ----------------------------------------------------------------------------- info
def test_info_shows_credits_copies_and_pages(site, runner, db):
    invoke(runner, db, "-q", "pages", str(site["site"]), "--base-url", "https://example.com/")
    doc = json.loads(invoke(runner, db, "info", str(site["resized"]), "--format", "json").stdout)
    idx = doc["index"]
    assert idx["indexed"] is True and idx["original"] == str(site["photo"])
    assert {c["path"] for c in idx["copies"]} == {str(site["photo"]), str(site["wp_photo"])}
    assert round(idx["biggest_factor"], 2) == 2.67
    assert ("Home", "img") in {(p["title"], p["how"]) for p in idx["pages"]}
    text = invoke(runner, db, "info", str(site["resized"])).stdout
    assert re.search(r"^indexed +yes", text, re.M), text
    assert re.search(r'^page +https://example\.com/index\.html  "Home"', text, re.M), text


def test_info_of_a_file_outside_the_index(fam, tmp_path, runner, db):
    out = tmp_path / "elsewhere.jpg"
    Image.open(fam["camera"]).save(out, quality=90, exif=Image.open(fam["camera"]).info["exif"])
    text = invoke(runner, db, "info", str(out)).stdout
    assert re.search(r"^indexed +no$", text, re.M), text
    assert re.search(r"^made by +artist Ann Example", text, re.M) and "GPS yes" in text
    assert re.search(rf"^likely original +{re.escape(str(fam['camera']))}", text, re.M), text


def test_info_without_an_index_and_of_an_unreadable_file(tmp_path, runner):
    p = tmp_path / "x.png"
    make_image(p, seed=2)
    db = str(tmp_path / "none.db")
    r = invoke(runner, db, "info", str(p))
    assert re.search(r"^index +none", r.stdout, re.M) and not os.path.exists(db)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    bad = invoke(runner, db, "info", str(junk), ok=False)
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and str(junk) in bad.stderr


def test_pages_map_encoded_names_and_never_leave_the_files_folder(tmp_path):
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    make_image(site / "img" / "my photo.jpg", seed=21)
    make_image(tmp_path / "secret.jpg", seed=22)
    (site / "p.html").write_text(
        '<title>P</title><img src="img/my%20photo.jpg">'
        '<img src="/img/..%2f..%2fsecret.jpg"><img src="/..%2fsecret.jpg">')
    reading = pages_mod.read_site(str(site), "https://ex.com/")
    (page,) = reading.pages
    assert page.url == "https://ex.com/p.html" and page.title == "P"
    assert [(os.path.basename(p), how) for p, _, how in page.images] == [("my photo.jpg", "img")]
    # without a base URL, root-relative URLs are resolved against the folder, pages named by path
    (page,) = pages_mod.read_site(str(site)).pages
    assert page.url == str(site / "p.html") and len(page.images) == 1


def test_a_malformed_url_in_a_page_is_left_out_not_the_page(tmp_path, runner, db):
    """urllib.parse raises ValueError for an unclosed IPv6 bracket or a bad port: such a
    reference names nothing, the page and its other images are still read; a malformed
    --base-url is one line."""
    site = tmp_path / "site"
    site.mkdir()
    make_image(site / "a.jpg", seed=1)
    (site / "index.html").write_text(
        '<html><head><title>T</title></head><body><img src="http://[::1/x.jpg">'
        '<a href="http://[::1:80/y.jpg">y</a><img src="a.jpg"></body></html>')
    reading = pages_mod.read_site(str(site), "https://example.com/")
    assert len(reading.pages) == 1 and not reading.unreadable
    assert [os.path.basename(p) for p, _, _ in reading.pages[0].images] == ["a.jpg"]
    bad = invoke(runner, db, "pages", str(site), "--base-url", "http://[::1/", ok=False)
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "not an http" in bad.stderr


def test_schema_3_holds_the_page_and_keypoint_tables_after_upgrading_from_2(tmp_path):
    # Both branches' schema-3 tables (pages: issue 14, keypoints: issue 12) come from one
    # upgrade, each migration idempotent (run again on a store that has them: no error).
    path = str(tmp_path / "old.db")
    Store(path).close()
    con = sqlite3.connect(path)
    con.executescript("DROP TABLE page_images; DROP TABLE pages; DROP TABLE keypoints; "
                      "PRAGMA user_version = 2;")
    con.close()
    with Store(path, readonly=True) as store:
        assert store.local_features() == {}
    with Store(path) as store:
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"pages", "page_images", "keypoints"} <= names
        store._migrate_pages()
        store._migrate_partial()
        assert store.local_features() == {}


# ----------------------------------------------------------------------------- pages: new-user trial
def _recorded(db: str) -> set[tuple[str, str, str]]:
    """(page url, image file name, how) of every recorded reference."""
    con = sqlite3.connect(db)
    try:
        return {(url, os.path.basename(os.fsdecode(bytes(image))), how) for url, image, how in con.execute(
            "SELECT p.url, i.image, i.how FROM page_images i JOIN pages p ON p.id = i.page_id")}
    finally:
        con.close()


def _page_urls(db: str) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return sorted(r[0] for r in con.execute("SELECT url FROM pages"))
    finally:
        con.close()


class _Alarm:
    """Fail instead of hanging forever (a FIFO opened for reading blocks)."""

    def __enter__(self):
        import signal

        def hang(*_):
            raise AssertionError("imgfind pages hung")
        self.old = signal.signal(signal.SIGALRM, hang)
        signal.alarm(30)

    def __exit__(self, *exc):
        import signal

        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)


def test_pages_never_opens_a_fifo_socket_or_device(tmp_path, runner, db):
    import socket

    site = tmp_path / "site"
    site.mkdir()
    make_image(site / "a.jpg", seed=1)
    (site / "index.html").write_text('<title>T</title><img src="a.jpg">')
    os.mkfifo(site / "stuck.html")
    sock = socket.socket(socket.AF_UNIX)
    sock_path = site / "s.htm"
    try:
        sock.bind(str(sock_path))
    except OSError:  # a path too long for AF_UNIX: the FIFO still tells
        sock_path = None
    try:
        with _Alarm():
            r = invoke(runner, db, "pages", str(site))
            assert "1 page, 1 image reference" in r.stderr, r.stderr
            assert f"skipped: {site / 'stuck.html'}: not a regular file (a FIFO)" in r.stderr
            if sock_path is not None:
                assert f"skipped: {sock_path}: not a regular file (a socket)" in r.stderr
            bad = invoke(runner, db, "pages", str(site / "stuck.html"), ok=False)
            assert bad.exit_code == 1 and bad.stderr.count("\n") == 1
            assert "not a regular file (a FIFO)" in bad.stderr
            bad = invoke(runner, db, "pages", "/dev/null", ok=False)
            assert bad.exit_code == 1 and "not a regular file (a device)" in bad.stderr
    finally:
        sock.close()


def test_css_imports_fonts_and_files_that_are_no_images_are_not_image_references(tmp_path, runner, db):
    site = tmp_path / "site"
    for d in ("img", "css", "fonts", "data"):
        (site / d).mkdir(parents=True)
    make_image(site / "img" / "a.jpg", seed=1)
    (site / "css" / "site.css").write_text("body { color: red }")
    (site / "fonts" / "a.woff2").write_bytes(b"wOF2" + bytes(40))
    (site / "data" / "thing").write_text("just text, no picture")
    (site / "index.html").write_text(
        '<title>T</title><style>@import url("css/site.css"); @import "css/missing.css";'
        '@font-face { font-family: A; src: url(fonts/a.woff2) format("woff2"),'
        ' url(fonts/gone.woff) format("woff") } .x { background: url(img/a.jpg) }</style>'
        '<div style="background: url(data/thing)"></div>'
        '<div style="behavior: url(js/app.js)"></div>')
    r = invoke(runner, db, "-v", "pages", str(site), "--base-url", "https://ex.com/")
    assert _recorded(db) == {("https://ex.com/index.html", "a.jpg", "css")}
    assert "1 image reference to 1 local file" in r.stderr and "no local file" not in r.stderr
    assert "woff" not in r.stderr and ".css" not in r.stderr and "thing" not in r.stderr
    assert f"not indexed yet: imgfind index {site / 'img'}" in r.stderr


def test_a_resized_name_that_exists_is_its_own_picture(tmp_path, runner, db):
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    make_image(site / "img" / "photo.jpg", seed=1)
    make_image(site / "img" / "photo-300x200.jpg", seed=2)  # a banner: another picture
    make_image(site / "img" / "other.jpg", seed=3)  # other-300x200.jpg is not in the copy
    (site / "index.html").write_text('<title>T</title><img src="img/photo-300x200.jpg">'
                                     '<img src="img/other-300x200.jpg">')
    r = invoke(runner, db, "pages", str(site), "--base-url", "https://ex.com/")
    assert _recorded(db) == {
        ("https://ex.com/index.html", "photo-300x200.jpg", "img"),
        ("https://ex.com/index.html", "other.jpg",
         "resized copy https://ex.com/img/other-300x200.jpg")}
    assert "2 image references to 2 local files" in r.stderr, r.stderr


def test_wget_names_query_strings_into_file_names(tmp_path, runner, db):
    from imgfind.crawl import is_image_name

    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    make_image(site / "img" / "logo.png?v=3", seed=1, fmt="PNG")
    make_image(site / "img" / "what?.jpg", seed=2, fmt="JPEG")
    (site / "index.html?p=2.html").write_text(
        '<title>Page 2</title><img src="img/logo.png?v=3"><img src="/img/what%3F.jpg">')
    (site / "feed.html?page=1").write_text('<title>F</title><img src="img/logo.png?v=3">')
    r = invoke(runner, db, "-v", "pages", str(site), "--base-url", "https://ex.com/")
    assert "no local file" not in r.stderr, r.stderr
    assert _recorded(db) == {("https://ex.com/index.html?p=2", "logo.png?v=3", "img"),
                             ("https://ex.com/index.html?p=2", "what?.jpg", "img"),
                             ("https://ex.com/feed.html?page=1", "logo.png?v=3", "img")}
    assert is_image_name(b"logo.png?v=3") and is_image_name(b"what?.jpg")
    assert not is_image_name(b"site.css?v=3")
    r = invoke(runner, db, "index", str(site))  # the crawl takes wget's names as images
    assert "2 new" in r.stderr, r.stderr
    r = invoke(runner, db, "pages", str(site), "--base-url", "https://ex.com/")
    assert "not indexed yet" not in r.stderr


def test_pages_refuses_a_source_that_is_no_site(tmp_path, runner, db):
    import warnings

    make_image(tmp_path / "photo.png", seed=1)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "feed.xml").write_text('<?xml version="1.0"?><rss><channel></channel></rss>')
    (tmp_path / "dtd.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        '<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>&b;</title>'
        "</channel></rss>")
    shutil_copy = (tmp_path / "photo.png").read_bytes()
    (tmp_path / "image.html").write_bytes(shutil_copy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, says in (("photo.png", "not a folder, an HTML page"),
                           ("empty", "not a folder, an HTML page"),
                           ("junk.bin", "not a folder, an HTML page"),
                           ("feed.xml", "not a WordPress export"),
                           ("dtd.xml", "has a DTD"),
                           ("image.html", "binary content, not an HTML page")):
            bad = invoke(runner, db, "pages", str(tmp_path / name), ok=False)
            assert bad.exit_code == 1 and bad.stderr.count("\n") == 1, (name, bad.stderr)
            assert says in bad.stderr and "Traceback" not in bad.stderr, (name, bad.stderr)
        site = tmp_path / "site"
        site.mkdir()
        (site / "ok.html").write_text('<title>OK</title><p>caf\xe9</p>', encoding="latin-1")
        (site / "junk.html").write_bytes(shutil_copy)
        (site / "notes.txt").write_text("<img src='x.jpg'>")
        r = invoke(runner, db, "pages", str(site))
    assert "1 page, 0 image references" in r.stderr, r.stderr
    assert f"skipped: {site / 'junk.html'}: binary content" in r.stderr
    assert "could not be decoded" not in r.stderr and "Warning" not in r.stderr
    assert not [w for w in caught if "bs4" in (w.filename or "") or "Parsed" in str(w.category)]


def test_more_kinds_of_image_references(tmp_path, runner, db):
    site = tmp_path / "site"
    for d in ("img", "css", "blog"):
        (site / d).mkdir(parents=True)
    for i, name in enumerate("e f g h i j k bg bg2".split()):
        make_image(site / "img" / f"{name}.jpg", seed=i + 1)
    (site / "css" / "site.css").write_text(
        "@import 'more.css'; .hero { background: url(../img/bg.jpg) }")
    (site / "css" / "more.css").write_text(".x { background-image: url('/img/bg2.jpg') }"
                                           " @import url(site.css);")  # a loop ends
    (site / "index.html").write_text(
        '<title>T</title><link rel="stylesheet" href="css/site.css">'
        '<img src="img\\e.jpg">'
        '<div style="background-image: image-set(\'img/g.jpg\' 1x, &quot;img/f.jpg&quot; 2x)"></div>'
        '<video poster="img/h.jpg"></video><input type="image" src="img/i.jpg">'
        '<svg><image href="img/j.jpg"/><image xlink:href="img/k.jpg"/></svg>')
    (site / "blog" / "post.html").write_text(
        '<title>P</title><link rel="stylesheet" href="../css/site.css">')
    invoke(runner, db, "pages", str(site), "--base-url", "https://ex.com/")
    got = _recorded(db)
    home = "https://ex.com/index.html"
    assert {(name, how) for url, name, how in got if url == home} == {
        ("e.jpg", "img"), ("g.jpg", "css"), ("f.jpg", "css"), ("h.jpg", "img"), ("i.jpg", "img"),
        ("j.jpg", "img"), ("k.jpg", "img"),
        ("bg.jpg", "stylesheet https://ex.com/css/site.css"),
        ("bg2.jpg", "stylesheet https://ex.com/css/more.css")}
    post = {(name, how) for url, name, how in got if url == "https://ex.com/blog/post.html"}
    assert post == {("bg.jpg", "stylesheet https://ex.com/css/site.css"),
                    ("bg2.jpg", "stylesheet https://ex.com/css/more.css")}


def _wxr(items: str, site: str = "https://blog.example.org") -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            f'xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>B</title>'
            f"<wp:base_site_url>{site}</wp:base_site_url>{items}</channel></rss>")


def _item(title: str, post_id: int, content: str = "", status: str = "publish",
          kind: str = "post", link: str | None = None, extra: str = "") -> str:
    link = f"https://blog.example.org/{title.lower().replace(' ', '-')}/" if link is None else link
    return (f"<item><title>{title}</title><link>{link}</link><wp:post_id>{post_id}</wp:post_id>"
            f"<wp:post_type>{kind}</wp:post_type><wp:status>{status}</wp:status>"
            f"<content:encoded><![CDATA[{content}]]></content:encoded>{extra}</item>")


def _attachment(post_id: int, url: str) -> str:
    return (f"<item><title>a{post_id}</title><wp:post_id>{post_id}</wp:post_id>"
            "<wp:post_type>attachment</wp:post_type><wp:status>inherit</wp:status>"
            f"<wp:attachment_url>{url}</wp:attachment_url></item>")


def test_wordpress_gallery_shortcodes_name_attachments(tmp_path, runner, db):
    up = tmp_path / "uploads" / "2021" / "03"
    up.mkdir(parents=True)
    make_image(up / "one.jpg", seed=1)
    make_image(up / "two.jpg", seed=2)
    u = "https://blog.example.org/wp-content/uploads/2021/03/"
    (tmp_path / "export.xml").write_text(_wxr(
        _item("Gallery", 10, '<p>Trip</p>[gallery columns="2" ids="13, 14"]')
        + _attachment(13, u + "one.jpg") + _attachment(14, u + "two.jpg")))
    invoke(runner, db, "pages", str(tmp_path / "export.xml"), "--files", str(tmp_path / "uploads"))
    assert _recorded(db) == {("https://blog.example.org/gallery/", "one.jpg", "gallery"),
                             ("https://blog.example.org/gallery/", "two.jpg", "gallery")}


def test_unpublished_wordpress_posts_are_not_listed(tmp_path, runner, db):
    up = tmp_path / "uploads"
    up.mkdir()
    make_image(up / "a.jpg", seed=1)
    img = '<img src="https://blog.example.org/wp-content/uploads/a.jpg">'
    (tmp_path / "export.xml").write_text(_wxr(
        _item("Live", 1, img) + _item("Draft", 2, img, status="draft")
        + _item("Secret", 3, img, status="private") + _item("Binned", 4, img, status="trash")
        + _item("Later", 5, img, status="future", kind="page")))
    r = invoke(runner, db, "pages", str(tmp_path / "export.xml"), "--files", str(up))
    assert _recorded(db) == {("https://blog.example.org/live/", "a.jpg", "img")}
    assert "1 page," in r.stderr and "note: 4 unpublished posts" in r.stderr, r.stderr


def test_a_page_is_recorded_once(tmp_path, runner, db):
    site = tmp_path / "site"
    site.mkdir()
    make_image(site / "a.jpg", seed=1)
    (site / "index.html").write_text(
        '<title>Home</title><img src="a.jpg" srcset="a.jpg 1x"><img src="a.jpg">'
        '<a href="a.jpg">big</a>')
    invoke(runner, db, "-q", "index", str(site))
    invoke(runner, db, "pages", str(site))
    invoke(runner, db, "pages", str(site / "index.html"))  # the same page as a single file
    assert _page_urls(db) == [str(site / "index.html")]
    invoke(runner, db, "pages", str(site))  # and back: still once
    assert _page_urls(db) == [str(site / "index.html")]
    text = invoke(runner, db, "info", str(site / "a.jpg")).stdout
    assert len(re.findall(r"^page ", text, re.M)) == 3, text  # img, srcset, link: once each
    doc = invoke_json(runner, db, "query", str(site / "a.jpg"))
    assert sorted(p["how"] for p in doc["queries"][0]["pages"]) == ["img", "link", "srcset"]
    make_image(tmp_path / "copy.jpg", seed=1)
    out = invoke(runner, db, "query", str(tmp_path / "copy.jpg")).stdout
    assert "(img, srcset, link)" in out or "(img, link, srcset)" in out, out
    assert "img, img" not in out
    rows = list(csv.reader(io.StringIO(invoke(runner, db, "query", str(tmp_path / "copy.jpg"),
                                              "--format", "csv").stdout)))
    col = rows[0].index("pages")
    assert rows[1][col] == f"{site / 'index.html'} (Home)"


def test_default_ports_are_the_same_site_and_dot_segments_are_removed(tmp_path, runner, db):
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    make_image(site / "img" / "a.jpg", seed=1)
    make_image(tmp_path / "b.jpg", seed=2)
    (site / "index.html").write_text(
        '<title>T</title><img src="https://x.example:443/blog/img/a.jpg">'
        '<img src="http://X.Example:80/blog/img/a.jpg">'
        '<img src="https://x.example:8443/blog/img/a.jpg">'  # another site
        '<img src="/blog/%2e%2e/b.jpg"><img src="/blog/img/%2E%2E/%2e%2e/%2e%2e/b.jpg">')
    r = invoke(runner, db, "-v", "pages", str(site), "--base-url", "https://x.example/blog/")
    assert _recorded(db) == {("https://x.example/blog/index.html", "a.jpg", "img")}
    assert "3 to other sites" in r.stderr and "no local file" not in r.stderr, r.stderr


def test_pages_list_and_forget(tmp_path, runner, db):
    w = website(tmp_path)
    assert "no index" in invoke(runner, db, "pages", "--list").stderr
    invoke(runner, db, "-q", "pages", str(w["site"]), "--base-url", "https://example.com/")
    invoke(runner, db, "-q", "pages", str(w["export"]), "--files", str(w["uploads"]))
    out = invoke(runner, db, "pages", "--list").stdout.splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"{w['export']}  2 pages, 2 image references, read 20"), out
    assert out[1].startswith(f"{w['site']}  3 pages, 7 image references, read 20"), out
    r = invoke(runner, db, "pages", "--forget", str(w["site"]))
    assert f"forgot 3 pages of {w['site']}" in r.stderr
    assert _page_urls(db) == ["https://blog.example.org/2020/01/wp-post/",
                              "https://blog.example.org/about/"]
    assert len(invoke(runner, db, "pages", "--list").stdout.splitlines()) == 1
    bad = invoke(runner, db, "pages", "--forget", str(w["site"]), ok=False)
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "no pages recorded" in bad.stderr
    bad = invoke(runner, db, "pages", ok=False)
    assert bad.exit_code == 1 and "give a SOURCE" in bad.stderr
    text = invoke(runner, db, "pages", "--help").stdout
    assert "--list" in text and "--forget" in text


def test_an_export_without_a_usable_site_url_says_so(tmp_path, runner, db):
    up = tmp_path / "uploads"
    up.mkdir()
    make_image(up / "a.jpg", seed=1)
    (tmp_path / "export.xml").write_text(_wxr(
        _item("Post", 7, '<img src="/wp-content/uploads/a.jpg"><img src="/wp-content/uploads/no.jpg">',
              link=""), site="not a url"))
    r = invoke(runner, db, "-v", "pages", str(tmp_path / "export.xml"), "--files", str(up))
    assert "note: the export has no usable site URL (base_site_url 'not a url')" in r.stderr
    assert "local.invalid" not in r.stderr + r.stdout
    assert "no local file: /wp-content/uploads/no.jpg" in r.stderr, r.stderr
    assert _recorded(db) == {(f"{tmp_path / 'export.xml'}#post-7", "a.jpg", "img")}
    r = invoke(runner, db, "pages", str(tmp_path / "export.xml"), "--files", str(up),
               "--base-url", "https://blog.example.net/")
    assert "usable site URL" not in r.stderr
    assert _recorded(db) == {("https://blog.example.net/?p=7", "a.jpg", "img")}
    con = sqlite3.connect(db)
    assert "local.invalid" not in str(con.execute("SELECT * FROM page_images").fetchall())
    con.close()
