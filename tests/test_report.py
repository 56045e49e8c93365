"""The report renderers (text, paths, json, csv) on hand-built records: no index, no disk."""

from __future__ import annotations

import csv
import doctest
import io
import json
import re

import pytest

from imgfind import report
from imgfind.model import (FORMER_FIRST_CHECK, LINKS_CHECK, PRESETS, FileRecord, Group, Match, Member,
                           QueryResult, Rule)
from imgfind.report import words

T = 1_700_000_000 * 10**9
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


def rec(i: int, path: str, size: int = 2048, meta: dict | None = None) -> FileRecord:
    return FileRecord(i, path, size, T, 640, 480, "JPEG", meta or {})


def groups() -> list[Group]:
    return [
        Group((Member(rec(1, "/p/a.jpg"), 0, "same orientation"),
               Member(rec(2, "/p/a\x1b[2J.jpg"), 3, "mirrored"),
               Member(rec(3, "/p/x\nvictim.jpg"), 5, "same orientation")), 6),
        Group((Member(rec(4, "/p/b.png", 1), 0, "same orientation"),
               Member(rec(5, "/p/b.jpg"), 1, "same orientation")), 1),
    ]


def results() -> list[QueryResult]:
    artist = {"artist": "Eve\x1b]0;owned\x07"}
    m = Match(rec(7, "/p/copy.jpg", meta=artist), 2, "rotated 90° clockwise", 0.93, True, True)
    return [QueryResult("/q/probe.png", 320, 240, 1000, "PNG", artist, (m,), "/p/copy.jpg"),
            QueryResult("/q/none.png", 10, 10, 5, "PNG", {}, (), "/q/none.png")]


def render(fn, items, fmt: str, rule: Rule = PRESETS["normal"], **kw) -> tuple[str, list[str]]:
    out = io.StringIO()
    notes = fn(items, fmt, out, rule, **kw)
    return out.getvalue(), notes


def test_text_groups_escape_names_count_in_words_and_show_offsets():
    text, notes = render(report.render_groups, groups(), "text")
    assert notes == []
    assert text.startswith("# 2 groups, 5 files (normal: pHash or dHash distance <= 10 bits")
    assert "group 2: 2 files, max distance 1" in text
    assert "/p/a\\x1b[2J.jpg (mirrored)" in text and "/p/x\\nvictim.jpg" in text
    assert "\x1b" not in text and "victim.jpg\n" not in text.replace("x\\nvictim.jpg\n", "")
    assert len(re.findall(ISO, text)) == 5
    one, _ = render(report.render_groups, groups()[1:], "text", Rule(6, None))
    assert one.startswith("# 1 group, 2 files (pHash distance <= 6 bits)")


def test_text_queries_escape_metadata_and_say_one_match():
    text, _ = render(report.render_queries, results(), "text")
    assert "/q/probe.png  320x240  1000 B: 1 match (normal:" in text
    assert "/q/none.png  10x10  5 B: 0 matches" in text
    assert "the file says: Eve\\x1b]0;owned\\x07" in text
    assert "[rotated 90° clockwise, larger, likely original, Eve\\x1b]0;owned\\x07]" in text
    assert "\x1b" not in text and "\x07" not in text


def test_paths_escape_a_newline_and_say_so_or_keep_bytes_with_null():
    text, notes = render(report.render_groups, groups(), "paths")
    assert text.split("\n") == ["/p/a.jpg", "/p/a\\x1b[2J.jpg", "/p/x\\nvictim.jpg", "",
                                "/p/b.png", "/p/b.jpg", ""]
    assert notes == ["2 names with control characters shown escaped; use -0/--null for names "
                     "byte for byte"]
    raw, notes = render(report.render_groups, groups(), "paths", null=True)
    assert notes == []
    assert raw.split("\0") == ["/p/a.jpg", "/p/a\x1b[2J.jpg", "/p/x\nvictim.jpg", "",
                               "/p/b.png", "/p/b.jpg", ""]
    q, _ = render(report.render_queries, results(), "paths")
    assert q == "/p/copy.jpg\n\n"  # an empty record between the two queries


def test_json_groups_keep_their_keys_and_header():
    text, _ = render(report.render_groups, groups(), "json")
    doc = json.loads(text)
    assert {k: doc[k] for k in ("format", "threshold", "min_similarity", "min_window",
                                "similarity")} == {
        "format": "imgfind-dedupe/1", "threshold": 10, "min_similarity": 0.8,
        "min_window": 0.4, "similarity": "normal"}
    first = doc["groups"][0]["files"][1]
    assert first["path"] == "/p/a\x1b[2J.jpg"  # raw: JSON escapes it itself
    assert first["bytes"] == 2048 and first["relation"] == "mirrored" and not first["original"]
    assert set(first) >= {"path", "width", "height", "bytes", "format", "mtime", "metadata",
                          "distance", "relation", "original"}
    assert re.fullmatch(ISO, first["mtime"])


def test_json_queries_list_queries_and_matches():
    doc = json.loads(render(report.render_queries, results(), "json", Rule(6, None))[0])
    assert doc["format"] == "imgfind-query/1" and doc["similarity"] is None
    assert [q["matches"] for q in doc["queries"]] == [1, 0]
    (match,) = doc["matches"]
    assert match["query"] == "/q/probe.png" and match["similarity"] == 0.93
    assert match["larger"] is True and match["original"] is True


def test_csv_rows_one_per_file_and_per_match():
    rows = list(csv.reader(io.StringIO(render(report.render_groups, groups(), "csv")[0])))
    assert rows[0] == ["group", "path", "distance", "relation", "original", "width", "height",
                       "bytes", "mtime", "overlap_a", "overlap_b", "box_a", "box_b", "scale",
                       "rotation", "mirrored", "first_partial", "joined_by"]  # added at the end
    assert [r[:5] for r in rows[1:3]] == [["1", "/p/a.jpg", "0", "same orientation", "1"],
                                          ["1", "/p/a\x1b[2J.jpg", "3", "mirrored", "0"]]
    assert rows[3][1] == "/p/x\nvictim.jpg" and len(rows) == 6
    assert [r[-2:] for r in rows[1:3]] == [["0", "first file"], ["0", "pHash"]]
    q = list(csv.reader(io.StringIO(render(report.render_queries, results(), "csv")[0])))
    assert q[1][0:3] == ["/q/probe.png", "/p/copy.jpg", "2"] and q[1][q[0].index("creator")] == "Eve\x1b]0;owned\x07"
    assert q[0][-7:] == ["overlap_a", "overlap_b", "box_a", "box_b", "scale", "rotation",
                         "mirrored"]
    assert q[0].index("original_reasons") < q[0].index("overlap_a")
    assert len(q) == 2


def test_csv_says_first_partial_like_the_json():
    # New-user trial, session 10: the JSON had first_partial, the CSV did not.
    g = groups()[1]
    head = Group(g.members, g.max_distance, first_partial=True)
    rows = list(csv.DictReader(io.StringIO(render(report.render_groups, [head, groups()[0]], "csv")[0])))
    assert [(r["group"], r["first_partial"]) for r in rows] == [("1", "1"), ("1", "1"), ("2", "0"),
                                                                ("2", "0"), ("2", "0")]
    doc = json.loads(render(report.render_groups, [head], "json")[0])
    assert doc["groups"][0]["first_partial"] is True


def beyond_groups() -> list[Group]:
    """Whole copies a verified rule let in beyond its threshold of 10, each one way."""
    return [Group((Member(rec(1, "/p/lake.jpg"), 0, "same orientation"),
                   Member(rec(2, "/p/lake-q80.jpg"), 4, "same orientation", 0.95, ("hash", "similarity")),
                   Member(rec(3, "/p/lake-skew.jpg"), 12, "same orientation", 0.86, ("hash", "similarity")),
                   Member(rec(4, "/p/lake-tone.jpg"), 14, "same orientation", 0.83,
                          ("hash", "similarity", f"verified with 2 {LINKS_CHECK}")),
                   Member(rec(5, "/p/lake-mirror.jpg"), 13, "mirrored", 0.9,
                          ("hash", "similarity", FORMER_FIRST_CHECK))), 14)]


def test_members_beyond_the_threshold_say_which_way_they_joined():
    # New-user trial: the header said threshold 10, a 12% skewed copy sat at d=12 as a
    # "pHash" member. Each such member names the way the verified rule let it in.
    doc = json.loads(render(report.render_groups, beyond_groups(), "json")[0])
    assert doc["threshold"] == 10 and doc["rule"].startswith("normal: pHash or dHash distance <= 10")
    assert [f["joined_by"] for f in doc["groups"][0]["files"]] == [
        "first file", "pHash", "dHash", "members", "former first"]
    text, _ = render(report.render_groups, beyond_groups(), "text")
    head = text.splitlines()[0]
    assert "whole copies joined through dHash or other members or a former first file can be " \
           "farther than 10 bits" in head, head
    assert "/p/lake-skew.jpg (joined by dHash)" in text and "/p/lake-q80.jpg\n" in text
    assert "/p/lake-mirror.jpg (mirrored) (joined by former first)" in text
    rows = list(csv.DictReader(io.StringIO(render(report.render_groups, beyond_groups(), "csv")[0])))
    assert [r["joined_by"] for r in rows] == ["first file", "pHash", "dHash", "members", "former first"]
    # a plain rule (no verification) has no other way in: its header stays as it was
    plain, _ = render(report.render_groups, groups(), "text", Rule(6, None))
    assert "farther" not in plain


def test_null_goes_with_paths_only_and_formats_are_checked():
    with pytest.raises(ValueError, match="-0/--null"):
        render(report.render_groups, groups(), "json", null=True)
    with pytest.raises(ValueError, match="unknown format"):
        render(report.render_queries, results(), "yaml")


def test_words_doctests_and_helpers():
    assert doctest.testmod(words).failed == 0
    assert words.human_size(1536) == "1.5 KB" and words.human_size(10) == "10 B"
    assert re.fullmatch(ISO, words.iso_time(T))
    assert words.one_line("tab\there\r\x7f") == "tab\\there\\r\\x7f"
    assert words.creator({"artist": "Ann", "camera_make": "X", "camera_model": "Y",
                          "taken": "2020"}) == "Ann; X Y; taken 2020"


def test_report_imports_records_not_the_index():
    """report renders what it is given: it imports model and itself, never index or store."""
    import ast
    from pathlib import Path

    for path in Path(report.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                # answers: pure functions of the records (who made it, biggest, original)
                assert node.module in (None, "words", "model", "_version", "answers",
                                       *report.FORMATS), (path.name, node.module)
