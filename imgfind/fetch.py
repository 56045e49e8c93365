"""Download a query image from an http or https URL, bounded in size and time.

urllib3 does the HTTP (TLS with certificate checks, chunked and compressed bodies, proxies
from nothing: no environment surprises). Redirects are followed here, not by urllib3, so that
each hop's scheme is checked: a redirect to file://, ftp:// or any scheme but http and https
is refused. The body is streamed to a file and the download stops as soon as it passes the
size cap; the time limits are per read (a server that stops sending) and for the whole
download (a server that trickles).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .errors import ImgfindError

#: Default cap on a downloaded query image.
MAX_BYTES = 50 * 2**20
#: Default limit on the whole download, seconds (connect and each read are bounded by it too).
TIMEOUT = 30.0
#: Most redirects followed.
MAX_REDIRECTS = 5
#: Bytes read at a time.
CHUNK = 64 * 1024
#: Content types that are certainly not a picture (anything else is decoded and judged).
_NOT_IMAGE = re.compile(r"^(text/|application/(json|xml|xhtml|javascript|pdf|zip))", re.I)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class FetchError(ImgfindError):
    """A URL could not be fetched as an image (message: one line, with the URL)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A downloaded image: where it was saved, from which final URL, what the server said."""

    path: str
    url: str
    content_type: str
    size: int  # bytes


def looks_like_url(text: str) -> bool:
    """True when *text* starts with a scheme and ``://`` (http, https or any other)."""
    return bool(_URL.match(text))


def fetch(url: str, folder: str, *, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT,
          max_redirects: int = MAX_REDIRECTS) -> Fetched:
    """Download the image at *url* (http or https) into a new file in *folder*.

    Raises:
        FetchError: another scheme (also after a redirect), too many redirects, an HTTP error
            status, a text/HTML/JSON/... content type, more than *max_bytes* (by Content-Length
            or while reading), no answer within *timeout* seconds in all, or a network error.
    """
    import urllib3

    _check_scheme(url, url)
    deadline = time.monotonic() + timeout
    http = urllib3.PoolManager(retries=False)
    current = url
    for _ in range(max_redirects + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError(f"{url}: no answer within {timeout:g} s")
        try:
            resp = http.request("GET", current, preload_content=False, redirect=False,
                                timeout=urllib3.Timeout(connect=left, read=left),
                                headers={"Accept": "image/*", "User-Agent": "imgfind"})
        except urllib3.exceptions.NewConnectionError as exc:  # a TimeoutError subclass too
            raise FetchError(f"{url}: cannot connect: {_reason(exc)}") from None
        except urllib3.exceptions.TimeoutError:
            raise FetchError(f"{url}: no answer within {timeout:g} s") from None
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"{url}: cannot fetch: {_reason(exc)}") from None
        try:
            if resp.status in _REDIRECTS:
                target = resp.headers.get("Location")
                if not target:
                    raise FetchError(f"{url}: redirect ({resp.status}) without a Location")
                try:
                    current = urljoin(current, target)
                except ValueError as exc:  # urlsplit: "Invalid IPv6 URL" and the like
                    raise FetchError(f"{url}: redirected to {target}: not a valid URL ({exc})") from None
                _check_scheme(url, current)
                _discard(resp)
                continue
            if resp.status != 200:
                raise FetchError(f"{url}: HTTP {resp.status} {resp.reason or ''}".rstrip())
            return _save(url, current, resp, folder, max_bytes, deadline, timeout)
        finally:
            resp.release_conn()
    raise FetchError(f"{url}: more than {max_redirects} redirects")


#: Most bytes of a redirect's body read so that its connection can be used again; a longer
#: body is not read: the connection is closed instead.
REDIRECT_BODY = 64 * 1024


def _discard(resp) -> None:  # noqa: ANN001 - urllib3 response
    """Finish a redirect response before the next request: on a kept-alive (HTTP/1.1)
    connection the pool would otherwise send the next request behind the unread body
    (urllib3: ResponseNotReady). A body over REDIRECT_BODY bytes closes the connection."""
    import urllib3

    read = 0
    try:
        for chunk in resp.stream(16 * 1024, decode_content=False):
            read += len(chunk)
            if read > REDIRECT_BODY:
                resp.close()
                return
    except (urllib3.exceptions.HTTPError, OSError):
        resp.close()


def _check_scheme(url: str, target: str) -> None:
    """Refuse *target* (the URL given, or where it redirected) unless it is a well-formed
    http(s) URL with a host and, if any, a port in 1..65535.

    Raises:
        FetchError: another scheme, or a URL urllib.parse cannot split (an unclosed IPv6
            bracket, a port that is not a number or is out of range, no host).
    """
    where = "" if target == url else f"redirected to {target}: "
    try:
        parts = urlsplit(target)
        port = parts.port  # ValueError: not a number, or out of 0..65535
    except ValueError as exc:
        raise FetchError(f"{url}: {where}not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        slashes = target[len(scheme) + 1:].startswith("//") or not scheme
        shown = f"{scheme or '?'}://" if slashes else f"{scheme}:"  # data:, mailto: have none
        raise FetchError(f"{url}: {where}only http and https URLs are fetched, not {shown}")
    if not parts.hostname:
        raise FetchError(f"{url}: {where}not a valid URL (no host)")
    if port == 0:
        raise FetchError(f"{url}: {where}not a valid URL (port 0)")


def _save(url: str, final: str, resp, folder: str, max_bytes: int,  # noqa: ANN001 - urllib3 response
          deadline: float, timeout: float) -> Fetched:
    import urllib3

    ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if _NOT_IMAGE.match(ctype):
        raise FetchError(f"{url}: not an image (the server says {ctype})")
    length = resp.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"{url}: too large ({_mb(int(length))}, the limit is {_mb(max_bytes)})")
    ext = os.path.splitext(urlsplit(final).path)[1].lower()
    fd, path = _new_file(folder, ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else "")
    size = 0
    with os.fdopen(fd, "wb") as out:
        try:
            while True:
                # read1: whatever has arrived (up to CHUNK), so the deadline is checked however
                # slowly the bytes trickle in
                chunk = resp.read1(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url}: too large (more than the limit of {_mb(max_bytes)})")
                if time.monotonic() > deadline:
                    raise FetchError(f"{url}: too slow (not complete within {timeout:g} s)")
                out.write(chunk)
        except urllib3.exceptions.TimeoutError:
            raise FetchError(f"{url}: too slow (not complete within {timeout:g} s)") from None
        except urllib3.exceptions.ProtocolError:
            raise FetchError(f"{url}: the connection broke before the image was complete") from None
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"{url}: cannot fetch: {_reason(exc)}") from None
    if size == 0:
        raise FetchError(f"{url}: empty response")
    return Fetched(path, final, ctype, size)


def _new_file(folder: str, ext: str) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix="query-", suffix=ext, dir=folder)


def _mb(n: int) -> str:
    return size_text(n)


def size_text(n: int) -> str:
    """A byte count for a limit or a download, 1024-based, in the unit that keeps it readable:
    ``900 B``, ``51.2 KiB`` (under 1 MiB), ``50.0 MiB``, ``10.0 GiB``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _reason(exc: BaseException) -> str:
    """The innermost reason of a urllib3 error, one line ('Connection refused')."""
    inner = getattr(exc, "reason", None) or exc
    text = str(inner).strip().splitlines()
    text = text[0] if text else type(inner).__name__
    text = re.sub(r"^<[^>]*>:\s*", "", text)
    return re.sub(r"^\w+\(host=[^)]*\):\s*", "", text)
