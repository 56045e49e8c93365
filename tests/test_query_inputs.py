"""query's inputs (issue 14): an image URL (against a local HTTP server in a thread: image,
non-image, oversized, slow, redirecting responses), several images, a folder of query images
(one result block per query, in text, json and csv) and standard input."""

from __future__ import annotations

import csv
import io
import json
import re
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import invoke, make_image

from imgfind.fetch import FetchError, fetch
from imgfind.errors import DecodeError
from imgfind.index import Index

#: Longest any handler of the test server sleeps or trickles (it always ends by itself).
SLOW_SECONDS = 3.0


def _png_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    make_image(None, seed=seed, size=(320, 240)).save(buf, "PNG")
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    images: dict[str, bytes] = {}

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str | None, length: int | None = None,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, where: str) -> None:
        self._send(302, b"", None, headers={"Location": where})

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path
        img = self.images["a"]
        if path == "/a.png":
            self._send(200, img, "image/png")
        elif path == "/b.png":
            self._send(200, self.images["b"], "image/png")
        elif path == "/no-type":
            self._send(200, img, None)
        elif path == "/page.html":
            self._send(200, b"<html><body>not a picture</body></html>", "text/html; charset=utf-8")
        elif path == "/garbage.png":
            self._send(200, b"\x00not an image at all" * 50, "image/png")
        elif path == "/big-declared.png":
            self._send(200, b"", "image/png", length=10 * 2**30)
        elif path == "/big-chunked.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\x89PNG" + bytes(64 * 1024 - 4)
            try:
                for _ in range(64):  # 4 MiB at most
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/slow.png":
            time.sleep(SLOW_SECONDS)
            try:
                self._send(200, img, "image/png")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/trickle.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(img)))
            self.end_headers()
            end = time.monotonic() + SLOW_SECONDS
            try:
                for i in range(0, len(img), 64):
                    if time.monotonic() > end:
                        break
                    self.wfile.write(img[i:i + 64])
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/to-file":
            self._redirect("file:///etc/passwd")
        elif path == "/to-data":
            self._redirect("data:image/png;base64,iVBORw0KGgo=")
        elif path == "/to-ftp":
            self._redirect("ftp://127.0.0.1/a.png")
        elif path == "/to-a":
            self._redirect("/a.png")
        elif path == "/to-to-a":
            self._redirect(f"http://127.0.0.1:{self.server.server_port}/to-a")
        elif path == "/to-bad-ipv6":
            self._redirect("http://[::1/x.jpg")
        elif path == "/to-bad-port":
            self._redirect("http://127.0.0.1:99999/x.jpg")
        elif path == "/loop":
            self._redirect("/loop")
        elif path == "/to-a-with-body":
            self._send(301, b"<html>moved to /a.png</html>" * 20, "text/html",
                       headers={"Location": "/a.png"})
        else:
            self._send(404, b"no", "text/plain")


class _KeepAliveHandler(_Handler):
    """The same answers over HTTP/1.1: the connection stays open between requests, as
    nginx, Apache and CDNs keep it."""

    protocol_version = "HTTP/1.1"


def _serve(handler: type[_Handler]):
    """Serve *handler* on a free local port for the module's tests; yields the base URL."""
    _Handler.images = {"a": _png_bytes(41), "b": _png_bytes(42)}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server():
    yield from _serve(_Handler)


@pytest.fixture(scope="module")
def keepalive_server():
    yield from _serve(_KeepAliveHandler)


@pytest.fixture
def indexed(tmp_path, runner):
    """An index of a folder holding the server's picture a (as JPEG) and an unrelated one."""
    lib = tmp_path / "lib"
    lib.mkdir()
    from PIL import Image

    Image.open(io.BytesIO(_png_bytes(41))).save(lib / "a.jpg", quality=90)
    make_image(lib / "other.jpg", seed=43)
    db = str(tmp_path / "i.db")
    invoke(runner, db, "index", str(lib))
    return db, lib


def _fail(runner, db, *args):
    run = runner.invoke(__import__("imgfind.cli").cli.cli, ["--db", db, "query", *args])
    assert run.exit_code == 1, (run.exit_code, run.output)
    assert run.exception is None or isinstance(run.exception, SystemExit)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    return lines[0]


# ----------------------------------------------------------------------------- URLs
@pytest.mark.parametrize("option,value", [("--timeout", "nan"), ("--timeout", "inf"),
                                          ("--max-size", "nan"), ("--max-size", "inf")])
def test_a_limit_that_is_not_a_finite_number_is_a_usage_error(server, indexed, runner,
                                                               option, value):
    db, lib = indexed
    run = runner.invoke(__import__("imgfind.cli").cli.cli,
                        ["--db", db, "query", f"{server}/a.png", option, value])
    assert run.exit_code == 2, (run.exit_code, run.output, run.exception)
    assert f"Invalid value for '{option}'" in run.stderr


def test_query_help_states_the_query_partial_limit(runner):
    run = runner.invoke(__import__("imgfind.cli").cli.cli, ["query", "--help"])
    assert "at most 50,000 files" in " ".join(run.output.split())


def test_an_image_url_is_fetched_and_searched(server, indexed, runner):
    db, lib = indexed
    out = json.loads(invoke(runner, db, "query", f"{server}/a.png", "--format", "json").stdout)
    assert [q["path"] for q in out["queries"]] == [f"{server}/a.png"]
    assert [os.path.basename(m["path"]) for m in out["matches"]] == ["a.jpg"]
    assert out["matches"][0]["query"] == f"{server}/a.png"
    text = invoke(runner, db, "query", f"{server}/a.png").stdout
    assert text.startswith(f"# {server}/a.png  320x240") and "a.jpg" in text


def test_a_response_without_content_type_is_judged_by_its_bytes(server, indexed, runner):
    db, _ = indexed
    out = json.loads(invoke(runner, db, "query", f"{server}/no-type", "--format", "json").stdout)
    assert [os.path.basename(m["path"]) for m in out["matches"]] == ["a.jpg"]


def test_an_http_redirect_to_http_is_followed(server, indexed, runner):
    db, _ = indexed
    out = json.loads(invoke(runner, db, "query", f"{server}/to-to-a", "--format", "json").stdout)
    assert [os.path.basename(m["path"]) for m in out["matches"]] == ["a.jpg"]


@pytest.mark.parametrize("path, message", [
    ("/page.html", "not an image (the server says text/html)"),
    ("/garbage.png", "not an image"),
    ("/big-declared.png", "too large (10.0 GiB, the limit is 1.0 MiB)"),
    ("/big-chunked.png", "too large (more than the limit of 1.0 MiB)"),
    ("/to-file", "redirected to file:///etc/passwd: only http and https URLs are fetched, not file://"),
    ("/to-ftp", "redirected to ftp://127.0.0.1/a.png: only http and https URLs are fetched"),
    ("/to-data", "only http and https URLs are fetched, not data:"),
    ("/loop", "more than 5 redirects"),
    ("/missing.png", "HTTP 404"),
])
def test_bad_responses_are_one_line_errors(server, indexed, runner, path, message):
    db, _ = indexed
    line = _fail(runner, db, f"{server}{path}", "--max-size", "1")
    assert message in line and f"{server}{path}" in line, line


@pytest.mark.parametrize("path", ["/slow.png", "/trickle.png"])
def test_a_slow_response_is_given_up_in_time(server, indexed, runner, path):
    db, _ = indexed
    start = time.monotonic()
    line = _fail(runner, db, f"{server}{path}", "--timeout", "1")
    took = time.monotonic() - start
    assert "within 1 s" in line, line
    assert took < SLOW_SECONDS, took


def test_other_schemes_are_refused_before_any_connection(tmp_path, indexed, runner):
    db, lib = indexed
    line = _fail(runner, db, f"file://{lib}/a.jpg")
    assert "only http and https URLs are fetched, not file://" in line
    assert "not ftp://" in _fail(runner, db, "ftp://127.0.0.1/a.png")


@pytest.mark.parametrize("url, message", [
    ("http://[::1:8765/x.jpg", "not a valid URL (Invalid IPv6 URL)"),
    ("http://127.0.0.1:99999/x.jpg", "not a valid URL (Port out of range 0-65535)"),
    ("http://127.0.0.1:8x/x.jpg", "not a valid URL"),
    ("http://127.0.0.1:0/x.jpg", "not a valid URL (port 0)"),
    ("http:///x.jpg", "not a valid URL (no host)"),
])
def test_a_malformed_url_is_one_line(indexed, runner, url, message):
    line = _fail(runner, indexed[0], url)
    assert message in line and url in line, line


@pytest.mark.parametrize("path, message", [
    ("/to-bad-ipv6", "redirected to http://[::1/x.jpg: not a valid URL (Invalid IPv6 URL)"),
    ("/to-bad-port", "redirected to http://127.0.0.1:99999/x.jpg: not a valid URL (Port out of range"),
])
def test_a_redirect_to_a_malformed_url_is_one_line(server, indexed, runner, path, message):
    line = _fail(runner, indexed[0], f"{server}{path}")
    assert message in line, line


def test_a_refused_connection_is_one_line(indexed, runner):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    line = _fail(runner, indexed[0], f"http://127.0.0.1:{port}/a.png")
    assert "cannot connect" in line and "refused" in line.lower(), line


def test_fetch_keeps_the_download_under_the_cap(server, tmp_path):
    with pytest.raises(FetchError, match="too large"):
        fetch(f"{server}/big-chunked.png", str(tmp_path), max_bytes=100_000)
    assert sum(f.stat().st_size for f in tmp_path.iterdir()) <= 100_000 + 64 * 1024
    got = fetch(f"{server}/to-a", str(tmp_path))
    assert got.url == f"{server}/a.png" and got.content_type == "image/png"
    assert open(got.path, "rb").read() == _Handler.images["a"]


# ----------------------------------------------------------------------------- several, folders, stdin
def _queries(tmp_path):
    from PIL import Image

    q = tmp_path / "queries"
    q.mkdir()
    Image.open(io.BytesIO(_png_bytes(41))).resize((160, 120)).save(q / "1-a-small.png")
    make_image(q / "2-other.png", seed=43)
    make_image(q / "3-unknown.png", seed=44)
    return q


def test_a_folder_is_a_batch_one_block_per_query(tmp_path, indexed, runner):
    db, _ = indexed
    q = _queries(tmp_path)
    (q / "4-broken.jpg").write_bytes(b"not an image")
    run = invoke(runner, db, "query", str(q))
    blocks = run.stdout.strip().split("\n\n")
    assert [b.splitlines()[0].split()[1] for b in blocks] == [
        str(q / "1-a-small.png"), str(q / "2-other.png"), str(q / "3-unknown.png")]
    assert "a.jpg" in blocks[0] and "other.jpg" in blocks[1] and "0 matches" in blocks[2]
    assert f"skipped: {q / '4-broken.jpg'}: not an image" in run.stderr  # not silently

    doc = json.loads(invoke(runner, db, "query", str(q), "--format", "json").stdout)
    assert [os.path.basename(x["path"]) for x in doc["queries"]] == [
        "1-a-small.png", "2-other.png", "3-unknown.png"]
    assert [x["matches"] for x in doc["queries"]] == [1, 1, 0]
    assert {(os.path.basename(m["query"]), os.path.basename(m["path"])) for m in doc["matches"]} == {
        ("1-a-small.png", "a.jpg"), ("2-other.png", "other.jpg")}

    rows = list(csv.reader(io.StringIO(invoke(runner, db, "query", str(q), "--format", "csv").stdout)))
    assert rows[0][:2] == ["query", "path"]
    assert sorted((os.path.basename(r[0]), os.path.basename(r[1])) for r in rows[1:]) == [
        ("1-a-small.png", "a.jpg"), ("2-other.png", "other.jpg")]


def test_several_images_and_a_url_in_one_call(server, tmp_path, indexed, runner):
    db, _ = indexed
    q = _queries(tmp_path)
    doc = json.loads(invoke(runner, db, "query", str(q / "2-other.png"), f"{server}/a.png",
                            "--format", "json").stdout)
    assert [x["path"] for x in doc["queries"]] == [str(q / "2-other.png"), f"{server}/a.png"]


def test_one_query_keeps_its_json_shape(tmp_path, indexed, runner):
    """The bench reads `query FILE --format json`: matches, each an object with "path"."""
    db, lib = indexed
    q = _queries(tmp_path)
    doc = json.loads(invoke(runner, db, "query", str(q / "1-a-small.png"), "--format", "json").stdout)
    assert doc["format"] == "imgfind-query/1" and len(doc["queries"]) == 1
    assert isinstance(doc["matches"], list) and [m["path"] for m in doc["matches"]] == [str(lib / "a.jpg")]


def test_an_unreadable_named_file_is_still_an_error(tmp_path, indexed, runner):
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    assert "broken.jpg" in _fail(runner, indexed[0], str(tmp_path / "broken.jpg"))
    missing = str(tmp_path / "missing.jpg")
    assert _fail(runner, indexed[0], missing) == f"Error: {missing}: no such file"


def test_an_empty_folder_is_an_error(tmp_path, indexed, runner):
    (tmp_path / "empty").mkdir()
    assert "no image files" in _fail(runner, indexed[0], str(tmp_path / "empty"))


def test_standard_input(indexed, runner):
    db, _ = indexed
    from imgfind.cli import cli

    run = runner.invoke(cli, ["--db", db, "query", "-", "--format", "json"], input=_Handler.images["a"]
                        if _Handler.images else _png_bytes(41))
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    assert doc["queries"][0]["path"] == "(stdin)"
    assert [os.path.basename(m["path"]) for m in doc["matches"]] == ["a.jpg"]
    run = runner.invoke(cli, ["--db", db, "query", "-"], input=b"")
    assert run.exit_code == 1 and "standard input is empty" in run.stderr
    run = runner.invoke(cli, ["--db", db, "query", "-", "--max-size", "0.01"], input=_png_bytes(41))
    assert run.exit_code == 1 and "standard input: too large" in run.stderr


# ----------------------------------------------------------------------------- same file
def test_a_hard_link_of_an_indexed_file_says_so(tmp_path, indexed, runner):
    db, lib = indexed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.link(lib / "a.jpg", elsewhere / "same.jpg")
    text = invoke(runner, db, "query", str(elsewhere / "same.jpg")).stdout
    assert "0 matches" in text
    assert f"the same file as indexed {lib / 'a.jpg'}" in text, text
    doc = json.loads(invoke(runner, db, "query", str(elsewhere / "same.jpg"), "--format", "json").stdout)
    assert doc["queries"][0]["same_file"] == str(lib / "a.jpg") and doc["matches"] == []
    doc = json.loads(invoke(runner, db, "query", str(lib / "other.jpg"), "--format", "json").stdout)
    assert doc["queries"][0]["same_file"] == str(lib / "other.jpg")


# ----------------------------------------------------------------------------- info alignment
def test_info_values_start_in_one_column(tmp_path, runner):
    """A long key (metadata.jpeg_quality) no longer pushes its value out of the column."""
    make_image(tmp_path / "q.jpg", seed=45, quality=90)
    out = invoke(runner, str(tmp_path / "i.db"), "info", str(tmp_path / "q.jpg")).stdout
    lines = out.splitlines()
    assert any(line.startswith("metadata.jpeg_quality ") for line in lines)
    # keys are words with dots, or two words ("made by"); the value follows after spaces
    starts = {re.match(r"([a-z_.]+(?: [a-z]+(?= ))?) +", line).end() for line in lines}
    assert len(starts) == 1, out


def test_a_folder_of_unreadable_images_is_one_line_with_the_skipped_list(tmp_path, indexed, runner):
    db, _ = indexed
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.jpg").write_bytes(b"\xff\xd8\xff x")
    (d / "b.jpg").write_bytes(b"")
    from imgfind.cli import cli

    run = runner.invoke(cli, ["--db", db, "query", str(d)])
    assert run.exit_code == 1 and (run.exception is None or isinstance(run.exception, SystemExit)), run
    lines = run.stderr.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["skipped", "skipped", "Error"], run.stderr
    assert str(d / "a.jpg") in lines[0] and str(d / "b.jpg") in lines[1]
    assert lines[2] == "Error: no query image could be read (2 files skipped)"
    assert run.stdout == ""
    with Index.open(db, readonly=True) as idx:  # the library answers nothing, no traceback
        assert idx.query_many([d / "a.jpg"], skip=lambda *_: None) == []


def test_the_likely_original_does_not_depend_on_limit_or_sort(tmp_path, runner):
    """The original is chosen among every match, then --limit cuts the list shown."""
    lib = tmp_path / "lib"
    lib.mkdir()
    big = make_image(None, seed=61, size=(1024, 768))
    big.save(lib / "z-orig.png")
    big.resize((320, 240)).save(lib / "a-copy.png")
    q = tmp_path / "q.png"
    q.write_bytes((lib / "a-copy.png").read_bytes())  # nearest: a-copy (same pixels)
    db = str(tmp_path / "i.db")
    invoke(runner, db, "index", str(lib))
    full = json.loads(invoke(runner, db, "query", str(q), "--format", "json").stdout)
    assert [os.path.basename(m["path"]) for m in full["matches"]] == ["a-copy.png", "z-orig.png"]
    assert os.path.basename(full["queries"][0]["original"]) == "z-orig.png"
    for extra in (["--limit", "1"], ["--limit", "1", "--sort", "size"], ["--limit", "1", "--sort", "date"]):
        doc = json.loads(invoke(runner, db, "query", str(q), "--format", "json", *extra).stdout)
        assert len(doc["matches"]) == 1, extra
        assert doc["queries"][0]["original"] == full["queries"][0]["original"], extra
    text = invoke(runner, db, "query", str(q), "--limit", "1").stdout
    assert f"likely original: {lib / 'z-orig.png'}: " in text and "most picture (1024x768)" in text, text
    with Index.open(db, readonly=True) as idx:
        assert os.path.basename(idx.query(q, limit=1).original) == "z-orig.png"


def test_several_queries_one_unreadable_the_rest_answered(server, tmp_path, indexed, runner):
    """Each argument that gives no image is one 'Error:' line on stderr, the others are
    answered on stdout, and the exit status is 1; one argument alone stays a plain error."""
    db, lib = indexed
    q = _queries(tmp_path)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff broken")
    from imgfind.cli import cli

    good_a, good_b = str(q / "1-a-small.png"), str(q / "2-other.png")
    for bad, message in ((str(tmp_path / "broken.jpg"), str(tmp_path / "broken.jpg")),
                         (f"{server}/missing.png", f"{server}/missing.png: HTTP 404"),
                         (str(tmp_path / "empty-dir"), "no image files in this folder")):
        (tmp_path / "empty-dir").mkdir(exist_ok=True)
        for fmt in ("csv", "json", "text", "paths"):
            run = runner.invoke(cli, ["--db", db, "query", good_a, bad, good_b, "--format", fmt])
            assert run.exit_code == 1, (run.exit_code, run.output)
            assert run.exception is None or isinstance(run.exception, SystemExit)
            errors = run.stderr.strip().splitlines()
            assert len(errors) == 1 and errors[0].startswith("Error: ") and message in errors[0], run.stderr
            if fmt == "csv":
                rows = list(csv.reader(io.StringIO(run.stdout)))
                assert sorted(os.path.basename(r[1]) for r in rows[1:]) == ["a.jpg", "other.jpg"]
            elif fmt == "json":
                doc = json.loads(run.stdout)
                assert [x["path"] for x in doc["queries"]] == [good_a, good_b]
            elif fmt == "paths":
                assert run.stdout == f"{lib / 'a.jpg'}\n\n{lib / 'other.jpg'}\n", run.stdout
            else:
                assert "a.jpg" in run.stdout and "other.jpg" in run.stdout
    assert "broken.jpg" in _fail(runner, db, str(tmp_path / "broken.jpg"))
    assert "HTTP 404" in _fail(runner, db, f"{server}/missing.png")
    run = runner.invoke(cli, ["--db", db, "query", str(tmp_path / "broken.jpg"), f"{server}/missing.png"])
    assert run.exit_code == 1 and run.stdout == ""
    assert run.stderr.strip().splitlines()[-1] == "Error: no query image could be read (2 files unreadable)"


def test_the_answer_is_the_same_by_any_name_of_an_indexed_query(tmp_path, runner):
    """Queried through a hard link or a symbolic link, an indexed file competes for "likely
    original" as its indexed record: same original, same matches, as by its own name. CSV
    has the query_same_file column and the paths and CSV formats say it on stderr."""
    lib, elsewhere = tmp_path / "lib", tmp_path / "zz-elsewhere"  # sorts after lib
    lib.mkdir()
    elsewhere.mkdir()
    make_image(None, seed=62, size=(640, 480)).save(lib / "a.jpg", quality=95)
    (lib / "a-copy.jpg").write_bytes((lib / "a.jpg").read_bytes())  # equal but for the name
    for p in (lib / "a.jpg", lib / "a-copy.jpg"):
        os.utime(p, ns=(1_600_000_000 * 10**9, 1_600_000_000 * 10**9))
    os.link(lib / "a.jpg", elsewhere / "a-link.jpg")
    os.symlink(lib / "a.jpg", elsewhere / "a-sym.jpg")
    db = str(tmp_path / "i.db")
    invoke(runner, db, "index", str(lib))
    names = [str(lib / "a.jpg"), str(elsewhere / "a-link.jpg"), str(elsewhere / "a-sym.jpg")]
    doc = json.loads(invoke(runner, db, "query", *names, "--format", "json").stdout)
    answers = [(q["original"] == q["path"], q["same_file"], q["matches"]) for q in doc["queries"]]
    assert answers == [answers[0]] * 3, answers
    assert answers[0][1] == str(lib / "a.jpg")
    assert answers[0][0]  # "a" is the name "a-copy" extends: the query itself, by every name
    assert {m["path"] for m in doc["matches"]} == {str(lib / "a-copy.jpg")}
    rows = list(csv.DictReader(io.StringIO(invoke(runner, db, "query", *names, "--format", "csv").stdout)))
    assert [r["query_same_file"] for r in rows] == [str(lib / "a.jpg")] * 3
    assert len({r["original"] for r in rows}) == 1
    run = invoke(runner, db, "query", names[1], "--format", "paths")
    assert run.stdout == f"{lib / 'a-copy.jpg'}\n"
    assert f"{names[1]} is the same file as indexed {lib / 'a.jpg'}" in run.stderr, run.stderr


def test_limits_are_shown_in_a_readable_unit_and_an_empty_argument_is_named(server, indexed, runner):
    from imgfind.cli import cli
    from imgfind.fetch import size_text

    db, lib = indexed
    assert [size_text(n) for n in (900, 52428, 50 * 2**20, 10 * 2**30)] == [
        "900 B", "51.2 KiB", "50.0 MiB", "10.0 GiB"]
    line = _fail(runner, db, f"{server}/big-chunked.png", "--max-size", "0.05")
    assert "the limit of 51.2 KiB" in line, line
    run = runner.invoke(cli, ["--db", db, "query", "-", "--max-size", "0.01"], input=_png_bytes(41))
    assert run.exit_code == 1 and "more than 10.2 KiB" in run.stderr, run.stderr
    assert _fail(runner, db, "") == "Error: an empty argument is not an image file, folder or URL"
    run = runner.invoke(cli, ["--db", db, "index", ""])
    assert run.exit_code == 1 and run.stderr.strip() == "Error: an empty path is not a file or folder"
    with Index.open(db, readonly=True) as idx:
        with pytest.raises(DecodeError, match="is a folder, not an image file"):
            idx.query(lib)
        with pytest.raises(DecodeError, match="an empty path"):
            idx.query("")


def test_a_folder_query_names_a_second_hard_link_and_paths_blocks_are_one_per_query(tmp_path, indexed, runner):
    """A folder holding two names of one file queries it once and says so on stderr; in
    the paths format every answered query is one block (empty when nothing matches), in
    order, blocks apart by an empty line (-0: an empty record), -v names each block."""
    db, lib = indexed
    q = _queries(tmp_path)
    os.link(q / "2-other.png", q / "2-other-again.png")
    run = invoke(runner, db, "query", str(q), "--format", "paths")
    assert f"skipped: {q / '2-other-again.png'}: same file as {q / '2-other.png'}" in run.stderr, run.stderr
    assert run.stdout == f"{lib / 'a.jpg'}\n\n{lib / 'other.jpg'}\n\n", run.stdout
    run = invoke(runner, db, "query", str(q), "--format", "paths", "-0")
    assert run.stdout == f"{lib / 'a.jpg'}\0\0{lib / 'other.jpg'}\0\0"
    run = invoke(runner, db, "-v", "query", str(q), "--format", "paths")
    blocks = [ln for ln in run.stderr.splitlines() if ln.startswith("block ")]
    assert blocks == [f"block 1: {q / '1-a-small.png'} (1 match)", f"block 2: {q / '2-other.png'} (1 match)",
                      f"block 3: {q / '3-unknown.png'} (0 matches)"], run.stderr


def test_info_takes_a_url_and_standard_input_like_query(server, indexed, runner):
    """`imgfind info` reads the same sources as query: an http(s) URL, - (standard input);
    a folder is one line saying info takes one image."""
    from imgfind.cli import cli

    db, lib = indexed
    doc = json.loads(invoke(runner, db, "info", f"{server}/a.png", "--format", "json").stdout)
    assert doc["path"] == f"{server}/a.png" and (doc["width"], doc["height"]) == (320, 240)
    assert doc["index"]["indexed"] is False
    assert "a.jpg" in json.dumps(doc["index"])  # its copy in the index
    run = runner.invoke(cli, ["--db", db, "info", "-", "--format", "json"],
                        input=_Handler.images["a"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["path"] == "(stdin)"
    run = runner.invoke(cli, ["--db", db, "info", str(lib)])
    assert run.exit_code == 1 and "info takes one image" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("path", ["/to-a", "/to-to-a", "/to-a-with-body"])
def test_a_redirect_on_a_kept_alive_connection_is_followed(keepalive_server, indexed, runner, path):
    """A same-host redirect over HTTP/1.1 keep-alive (with or without a body): the redirect's
    body is read or the connection dropped before the next request goes out on it."""
    db, _ = indexed
    out = json.loads(invoke(runner, db, "query", f"{keepalive_server}{path}", "--format",
                            "json").stdout)
    assert [os.path.basename(m["path"]) for m in out["matches"]] == ["a.jpg"]


def test_a_redirect_loop_on_a_kept_alive_connection_says_so(keepalive_server, indexed, runner):
    db, _ = indexed
    line = _fail(runner, db, f"{keepalive_server}/loop")
    assert "more than 5 redirects" in line, line


def test_a_redirect_to_a_scheme_without_slashes_is_named_as_written(server, indexed, runner):
    db, _ = indexed
    line = _fail(runner, db, f"{server}/to-data").rstrip()
    assert line.endswith("only http and https URLs are fetched, not data:"), line
