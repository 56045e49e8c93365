"""Read the pages of a local website copy and find which image files each page shows.

A source is a folder (a static site build, a ``wget --mirror`` copy: every ``*.html``,
``*.htm`` and ``*.xhtml`` under it, and wget's ``page.html?p=2`` / ``page.php?id=3.html``
names), one HTML file, or a WordPress export (WXR: the RSS/XML file of Tools > Export; each
published post and page is one page, its HTML is ``content:encoded``). Anything else given
as the source is refused (ImgfindError); inside a folder, FIFOs, sockets and devices are
never opened and binary files named ``.html`` are not parsed: both are listed in
SiteReading.skipped.

Page URLs are the base URL joined with the file's path under the folder (wget's names:
``index.html?p=2.html`` is ``index.html?p=2``; for WXR: each item's ``<link>``; the base URL
defaults to ``wp:base_site_url``). Image URLs are resolved as a browser does (``<base href>``,
relative and absolute URLs, ``\\`` read as ``/``, dot segments and ``%2e%2e`` removed,
default ports dropped; urllib.parse, RFC 3986 and the WHATWG URL standard) and those under
the base URL are mapped to local files under ``files`` (the folder the base URL stands for;
by default the site folder). A URL with a query string is first looked up as wget saves it
(a file named ``logo.png?v=3``). Found in:

- ``<img src>``, ``data-src`` (lazy loading), ``srcset``/``data-srcset`` of ``<img>`` and
  ``<source>`` (every candidate), ``<video poster>``, ``<input type=image src>``, SVG
  ``<image href>``/``xlink:href`` ("img"/"srcset"), ``<a href>`` to an image file ("link"),
  ``<meta property="og:image">``/``twitter:image`` ("meta"), a WXR post's featured image
  (``_thumbnail_id``, "featured") and ``[gallery ids="..."]`` shortcodes ("gallery");
- CSS ``url(...)`` and ``image-set("a.jpg" 1x, ...)`` in ``style`` attributes and ``<style>``
  elements ("css") and in the site's own stylesheets (``<link rel=stylesheet>`` and
  ``@import``, read from the local copy, URLs relative to the stylesheet: "stylesheet
  <url>"). ``@import`` and ``@font-face`` sources are not images; nor is any reference whose
  local file has no image extension and is not recognised as an image by a decoder.

A reference is the file it names when that file exists. Only when it does not, a WordPress
resized copy (``photo-300x200.jpg``, ``photo-scaled.jpg``) counts as showing the full-size
``photo.jpg`` when that file exists ("resized copy <url>"). HTML is parsed with Beautiful
Soup 4 and Python's html.parser (lenient with real-world markup, pure Python); the WXR XML
with defusedxml (a DTD is refused: no entity is ever expanded). CSS and srcset are split with
small regular expressions (the CSS Syntax and HTML srcset grammars, simplified: no escapes).
Never raises for one bad page: it is listed in SiteReading.unreadable.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat as statmod
import logging
import warnings
from collections.abc import Iterator
from functools import lru_cache
from urllib.parse import quote, unquote, urljoin, urlsplit

from .errors import ImgfindError, not_regular
from .model import SitePage, SiteReading
from .regular import NotRegular, open_regular

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
IMAGE_SUFFIXES = frozenset((".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".heic", ".heif",
                            ".bmp", ".tif", ".tiff", ".svg", ".ico", ".jxl"))
#: Used to resolve root-relative URLs when no base URL is given; never shown.
LOCAL_BASE = "http://local.invalid/"
#: Pages and stylesheets larger than this are not read (bytes).
MAX_PAGE_BYTES = 32 << 20
MAX_CSS_BYTES = 4 << 20
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)""", re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)"""
                         r"""|"([^"]*)"|'([^']*)')[^;]*;?""", re.IGNORECASE)
_CSS_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}?", re.IGNORECASE)
_CSS_IMAGE_SET = re.compile(r"(?:-webkit-)?image-set\(((?:[^()]|\([^()]*\))*)\)", re.IGNORECASE)
_CSS_FUNCTION = re.compile(r"[\w-]+\([^()]*\)")
_CSS_STRING = re.compile(r""""([^"]*)"|'([^']*)'""")
_WP_RESIZED = re.compile(r"^(?P<stem>.+?)-(?:\d+x\d+|scaled)(?P<ext>\.[A-Za-z0-9]+)$")
_GALLERY = re.compile(r"""\[gallery\b[^\]]*?\bids\s*=\s*["']?([\d,\s]+)""", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
WP = "{http://wordpress.org/export/1.2/}"


@lru_cache(maxsize=1)
def image_extensions() -> frozenset[str]:
    """Extensions that name image files: IMAGE_SUFFIXES, every extension a decoder reads
    and the known formats no installed decoder reads (a .heic without pillow-heif)."""
    from .decoders import REGISTRY  # noqa: PLC0415

    return IMAGE_SUFFIXES | REGISTRY.known_extensions()


def _first(groups: tuple[str | None, ...]) -> str:
    return next((g for g in groups if g is not None), "")


def css_refs(css: str) -> tuple[list[str], list[str]]:
    """The image URLs of a piece of CSS (``url(...)``, ``image-set("a.jpg" 1x)``) and the
    stylesheets it imports (``@import``). ``@font-face`` blocks (fonts) are left out.

    >>> css_refs("@import url(b.css); @font-face{src:url(f.woff2)} a{background:url(x.png)}"
    ...          " b{background:image-set('y.jpg' 1x, url(z.jpg) 2x)}")
    (['x.png', 'z.jpg', 'y.jpg'], ['b.css'])
    """
    css = _CSS_COMMENT.sub(" ", css)
    imports = [_first(m.groups()) for m in _CSS_IMPORT.finditer(css)]
    css = _CSS_FONT_FACE.sub(" ", _CSS_IMPORT.sub(" ", css))
    urls = css_urls(css)
    for m in _CSS_IMAGE_SET.finditer(css):
        inner = m.group(1)
        while True:  # drop url(...) (counted above) and type("image/avif") and the like
            cut = _CSS_FUNCTION.sub(" ", inner)
            if cut == inner:
                break
            inner = cut
        urls += [_first(s.groups()) for s in _CSS_STRING.finditer(inner)]
    return [u for u in urls if u.strip()], [u for u in imports if u.strip()]


def css_urls(css: str) -> list[str]:
    """The URLs of ``url(...)`` in a piece of CSS.

    >>> css_urls("background-image: url('a.jpg'), url(b.png); x: url( \\"c d.gif\\" )")
    ['a.jpg', 'b.png', 'c d.gif']
    """
    return [next(g for g in m.groups() if g is not None) for m in _CSS_URL.finditer(css)
            if any(m.groups())]


def srcset_urls(srcset: str) -> list[str]:
    """The URLs of a ``srcset`` (candidates split on commas, descriptors dropped).

    >>> srcset_urls("a-300x200.jpg 300w, a-1024x683.jpg 1024w,a.jpg 2x")
    ['a-300x200.jpg', 'a-1024x683.jpg', 'a.jpg']
    """
    out = []
    for part in re.split(r",(?=\s*\S)", srcset):
        words = part.split()
        if words and not words[0].startswith("data:"):
            out.append(words[0])
    return out


def _ext(url_or_path: str) -> str:
    """The extension of a URL's path (or a file name), lower case; "" when it has none."""
    try:
        path = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path.split("?")[0]
    except ValueError:
        return ""
    return posixpath.splitext(posixpath.basename(path))[1].lower()


def _may_be_image(url: str) -> bool:
    """A URL from CSS or a link counts when it has an image extension or none at all."""
    ext = _ext(url)
    return not ext or ext in image_extensions()


def page_refs(html: bytes | str, page_url: str) -> tuple[str, list[tuple[str, str]]]:
    """Parse one page: return (title, [(absolute URL, how)]) in document order. Stylesheets
    to read come as (URL, "stylesheet") pairs."""
    from bs4 import BeautifulSoup  # noqa: PLC0415

    # Beautiful Soup says "Some characters could not be decoded" (U+FFFD stands in for them)
    # through logging (bs4.dammit), other things as warnings: neither reaches the user.
    quiet = logging.getLogger("bs4")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(html, "html.parser")
    finally:
        quiet.setLevel(level)
    base = soup.find("base", href=True)
    base_url = (_join(page_url, _clean(str(base["href"]))) if base else None) or page_url
    refs: list[tuple[str, str]] = []

    def add(url: object, how: str) -> None:
        url = _clean(str(url or ""))
        if url and not url.startswith(("data:", "#", "javascript:", "mailto:", "about:")):
            joined = _join(base_url, url)
            if joined is not None:  # a malformed URL ("http://[::1/a.jpg") names nothing
                refs.append((joined, how))

    def add_css(css: str) -> None:
        images, imports = css_refs(css)
        for url in images:
            if _may_be_image(url):
                add(url, "css")
        for url in imports:
            add(url, "stylesheet")

    for tag in soup.find_all(True):
        name = tag.name.lower()
        if name in ("img", "source"):
            add(tag.get("src"), "img")
            add(tag.get("data-src"), "img")
            for attr in ("srcset", "data-srcset"):
                for url in srcset_urls(str(tag.get(attr) or "")):
                    add(url, "srcset")
        elif name == "video":
            add(tag.get("poster"), "img")
        elif name == "input" and str(tag.get("type") or "").lower() == "image":
            add(tag.get("src"), "img")
        elif name == "image":  # SVG <image href> (SVG 2) or xlink:href (SVG 1.1)
            add(tag.get("href") or tag.get("xlink:href"), "img")
        elif name == "a" and tag.get("href"):
            href = _clean(str(tag["href"]))
            if _ext(_join(base_url, href) or "") in image_extensions():
                add(href, "link")
        elif name == "meta" and tag.get("content"):
            if str(tag.get("property") or tag.get("name") or "").lower() in (
                    "og:image", "og:image:url", "twitter:image"):
                add(tag["content"], "meta")
        elif name == "link" and tag.get("href"):
            rel = tag.get("rel") or []
            rels = {r.lower() for r in (rel.split() if isinstance(rel, str) else rel)}
            if "stylesheet" in rels:
                add(tag["href"], "stylesheet")
        elif name == "style":
            add_css(tag.get_text())
        if tag.get("style"):
            add_css(str(tag["style"]))
    title = ""
    if soup.title and soup.title.get_text(strip=True):
        title = soup.title.get_text(" ", strip=True)
    else:
        og = soup.find("meta", attrs={"property": "og:title"})
        h1 = soup.find("h1")
        title = str(og["content"]) if og and og.get("content") else \
            h1.get_text(" ", strip=True) if h1 else ""
    return " ".join(title.split())[:300], refs


def _clean(url: str) -> str:
    """A URL as the WHATWG URL parser reads it before resolving: surrounding spaces and
    control characters dropped, tabs and newlines inside removed, ``\\`` read as ``/``
    (browsers do so for http and https URLs)."""
    url = re.sub(r"[\t\n\r]", "", url.strip(" \t\n\r\f\x00"))
    scheme = url.split(":", 1)[0].lower() if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url) else ""
    return url.replace("\\", "/") if scheme in ("", "http", "https") else url


def _join(base: str, url: str) -> str | None:
    """urljoin(base, url), or None when either cannot be split (urllib.parse raises
    ValueError for an unclosed IPv6 bracket and the like)."""
    try:
        return urljoin(base, url)
    except ValueError:
        return None


def shown_url(url: str) -> str:
    """*url* as the user sees it: the LOCAL_BASE placeholder host is never shown (a
    root-relative ``/img/a.jpg`` instead)."""
    return "/" + url[len(LOCAL_BASE):] if url.startswith(LOCAL_BASE) else url


def _site_key(scheme: str, netloc_url) -> tuple[str, int | None] | None:  # noqa: ANN001
    """(host, port) of a split URL, the default port of its scheme as None; None when its
    port is malformed."""
    try:
        port = netloc_url.port
    except ValueError:
        return None
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    return ((netloc_url.hostname or "").lower(), port)


def _clean_path(path: str) -> str:
    """A URL path with its escapes decoded and its dot segments removed; never above "/"."""
    path = unquote(path)
    out = posixpath.normpath("/" + path.lstrip("/"))
    return "/" if out in ("/", "//") else out


def _is_regular(path: str) -> bool:
    try:
        return statmod.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False




def read_regular(path: str, cap: int) -> bytes:
    """The bytes of *path* when it is a regular file of at most *cap* bytes; a FIFO, socket or
    device is never opened (regular.open_regular).

    Raises:
        OSError: cannot be read, or too large (its strerror says why).
        ValueError: not a regular file (regular.NotRegular: the message says what it is).
    """
    with open_regular(path) as f:
        if os.fstat(f.fileno()).st_size > cap:
            raise OSError(0, f"larger than {cap >> 20} MiB; not read")
        return f.read(cap + 1)[:cap]


#: First bytes of the common image formats (Pillow's decoder reads by content and sniffs none).
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
                b"MM\x00*", b"\x00\x00\x01\x00", b"8BPS")


def _image_head(head: bytes) -> bool:
    """True when *head* starts like an image file (a magic above, WebP, or a format a
    registered or missing decoder sniffs: HEIF, AVIF, JPEG XL, RAW)."""
    from .decoders import REGISTRY  # noqa: PLC0415

    return head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") \
        or any(d.sniff(head) for d in REGISTRY.decoders) or any(m.sniff(head) for m in REGISTRY.missing)


def _binary(head: bytes) -> bool:
    """True for content that is no text page: an image, NUL bytes (without a UTF-16 byte
    order mark), or more than 10% control characters other than white space."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    head = head[:8192]
    if b"\x00" in head or _image_head(head):
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls * 10 > len(head)


class _Mapper:
    """Turns absolute image URLs into local files under *files* (see the module doc)."""

    def __init__(self, base_url: str, files: str):
        self.base = urlsplit(base_url)
        self.base_key = _site_key(self.base.scheme, self.base)
        base_path = _clean_path(self.base.path or "/")
        self.base_path = base_path if base_path.endswith("/") else base_path + "/"
        self.files = os.path.abspath(files)
        self.external = 0
        self.not_images = 0
        self.missing: list[str] = []
        self._sheets: dict[str, list[tuple[str, str]]] = {}

    def local(self, url: str) -> list[str] | None:
        """The local paths *url* may stand for, most likely first (existing or not), or
        None: another site. With a query string, wget's name (``logo.png?v=3``) comes first.
        A copy of the uploads folder alone is looked in too: its paths start after
        ``wp-content/uploads/``."""
        try:
            u = urlsplit(url)
        except ValueError:
            return None
        if u.scheme not in ("http", "https", "") or self.base_key is None or \
                _site_key(u.scheme or self.base.scheme, u) != self.base_key:
            return None
        path = _clean_path(u.path)
        if not (path + "/").startswith(self.base_path):
            return None
        rels = [path[len(self.base_path):]]
        if "/wp-content/uploads/" in path:
            rels.append(path.split("/wp-content/uploads/", 1)[1])
        out = []
        for rel in rels:
            if not rel or rel.startswith("..") or rel == ".":
                continue
            local = os.path.join(self.files, *rel.split("/"))
            if u.query:
                out += [local + "?" + q for q in dict.fromkeys((u.query, unquote(u.query)))]
            out.append(local)
        return out or None

    def _is_image_file(self, path: str) -> bool:
        """An image extension (before wget's ``?query`` too), or content a decoder knows."""
        name = os.path.basename(path)
        if posixpath.splitext(name)[1].lower() in image_extensions() or \
                posixpath.splitext(name.split("?", 1)[0])[1].lower() in image_extensions():
            return True
        try:
            head = _head(path, 4096)
        except (OSError, ValueError):
            return False
        return _image_head(head)

    def stylesheet(self, url: str, seen: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
        """The image references of the local copy of the stylesheet at *url* (and of those it
        imports), resolved against the stylesheet's own URL; [] when it is not local."""
        if url in self._sheets:
            return self._sheets[url]
        self._sheets[url] = []  # an import loop ends here
        refs: list[tuple[str, str]] = []
        path = next((p for p in self.local(url) or () if _is_regular(p)), None)
        if path is not None:
            try:
                css = read_regular(path, MAX_CSS_BYTES).decode("utf-8", "replace")
            except (OSError, ValueError):
                css = ""
            images, imports = css_refs(css)
            for ref in images:
                joined = _join(url, _clean(ref))
                if joined is not None and _may_be_image(ref) and not ref.startswith(("data:", "#")):
                    refs.append((joined, f"stylesheet {shown_url(url)}"))
            for ref in imports:
                joined = _join(url, _clean(ref))
                if joined is not None and joined not in seen:
                    refs += self.stylesheet(joined, seen | {url})
        self._sheets[url] = refs
        return refs

    def images(self, refs: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        seen: set[tuple[str, str]] = set()

        def add(path: str, url: str, how: str) -> None:
            if (path, how) not in seen:
                seen.add((path, how))
                out.append((path, shown_url(url), how))

        expanded: list[tuple[str, str]] = []
        for url, how in refs:
            expanded += self.stylesheet(url) if how == "stylesheet" else [(url, how)]
        for url, how in expanded:
            paths = self.local(url)
            if paths is None:
                self.external += 1
                continue
            named = next((p for p in paths if _is_regular(p)), None)
            if named is not None:  # the file the URL names, whatever its name looks like
                if self._is_image_file(named):
                    add(named, url, how)
                else:
                    self.not_images += 1
                continue
            for path in paths:  # absent: a WordPress resized copy stands for its full size
                m = _WP_RESIZED.match(os.path.basename(path))
                full = os.path.join(os.path.dirname(path), m["stem"] + m["ext"]) if m else None
                if full and _is_regular(full):
                    add(full, url, f"resized copy {shown_url(url)}")
                    break
            else:
                self.missing.append(shown_url(url))
        return out


def read_site(source: str, base_url: str | None = None, files: str | None = None) -> SiteReading:
    """Read a site folder, an HTML file or a WXR export (see the module doc).

    Raises:
        ImgfindError: *source* does not exist, is not a folder, an HTML page or a WXR export
            (a FIFO, an image, binary content, another XML file), a WXR file is not XML or
            has a DTD, or *base_url* is not an http(s) URL.
    """
    if base_url is not None and (_scheme(base_url) not in ("http", "https")
                                 or _netloc(base_url) is None):
        raise ImgfindError(f"--base-url {base_url}: not an http or https URL")
    try:
        st = os.stat(source)
    except OSError as exc:
        raise ImgfindError(f"{source}: {exc.strerror or 'no such file or folder'}") from None
    source = os.path.abspath(source)
    if not statmod.S_ISDIR(st.st_mode):
        if not statmod.S_ISREG(st.st_mode):
            raise ImgfindError(f"{source}: {not_regular(st.st_mode)}")
        try:
            head = _head(source)
        except (OSError, ValueError) as exc:
            raise ImgfindError(f"{source}: {getattr(exc, 'strerror', None) or exc}") from None
        if _is_wxr(head):
            return _read_wxr(source, base_url, files)
        if _is_html_name(os.path.basename(source)):
            if _binary(head):
                raise ImgfindError(f"{source}: binary content, not an HTML page; not read")
        elif source.lower().endswith(".xml"):
            raise ImgfindError(f"{source}: not a WordPress export (WXR: an <rss> file of "
                               "Tools > Export)")
        else:
            raise ImgfindError(f"{source}: not a folder, an HTML page (.html, .htm, .xhtml) "
                               "or a WordPress export (.xml)")
    root = source if statmod.S_ISDIR(st.st_mode) else os.path.dirname(source)
    if files and not statmod.S_ISDIR(st.st_mode) and \
            os.path.abspath(source).startswith(os.path.abspath(files) + os.sep):
        root = os.path.abspath(files)  # a single page of the folder the base URL stands for
    base = base_url or LOCAL_BASE
    if not base.endswith("/"):
        base += "/"
    mapper = _Mapper(base, files or root)
    pages, unreadable, skipped = [], [], []
    for path in ([source] if not statmod.S_ISDIR(st.st_mode) else _html_files(root)):
        url = page_url(base, os.path.relpath(path, root).replace(os.sep, "/"))
        try:
            data = read_regular(path, MAX_PAGE_BYTES)
        except ValueError as exc:  # a FIFO, a socket, a device: never opened
            skipped.append((path, str(exc)))
            continue
        except OSError as exc:
            unreadable.append((path, exc.strerror or str(exc)))
            continue
        if _binary(data[:65536]):
            skipped.append((path, "binary content, not an HTML page; not read"))
            continue
        try:
            title, refs = page_refs(data, url)
        except (ValueError, RecursionError) as exc:
            unreadable.append((path, str(exc)))
            continue
        shown = url if base_url else path
        pages.append(SitePage(shown, title or os.path.basename(path), path,
                              tuple(mapper.images(refs))))
    return SiteReading(tuple(pages), mapper.external, tuple(dict.fromkeys(mapper.missing)),
                       tuple(unreadable), tuple(skipped), mapper.not_images)


def page_url(base: str, rel: str) -> str:
    """The URL of the page file at *rel* (a path under the site folder, "/"-separated) on
    the site at *base*. wget names a page with a query string ``page?query`` and, with
    --adjust-extension, adds ``.html`` (``index.html?p=2.html``): such a name is the URL
    ``page?query``.

    >>> page_url("https://ex.com/", "blog/index.html?p=2.html")
    'https://ex.com/blog/index.html?p=2'
    >>> page_url("https://ex.com/", "a b.html")
    'https://ex.com/a%20b.html'
    """
    path, sep, query = rel.partition("?")
    if sep and query.lower().endswith(".html"):
        query = query[:-len(".html")]
    return urljoin(base, quote(path) + (sep + quote(query, safe="=&;%/:+,@!$'()*~") if sep else ""))


def _scheme(url: str) -> str:
    """The scheme of *url*, or "" when urllib.parse cannot split it."""
    try:
        return urlsplit(url).scheme
    except ValueError:
        return ""


def _netloc(url: str) -> str | None:
    try:
        u = urlsplit(url)
        u.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    return u.netloc or None


def _head(path: str, size: int = 1 << 16) -> bytes:
    with open_regular(path) as f:
        return f.read(size)


def _is_html_name(name: str) -> bool:
    """An HTML page's name: ``.html``, ``.htm``, ``.xhtml``, or wget's ``page.html?query``."""
    lower = name.lower()
    return lower.endswith(HTML_SUFFIXES) or lower.split("?", 1)[0].endswith(HTML_SUFFIXES)


def _html_files(root: str) -> Iterator[str]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if _is_html_name(name):
                yield os.path.join(folder, name)


def _is_wxr(head: bytes) -> bool:
    return b"<rss" in head and b"wordpress.org/export" in head


def _read_wxr(path: str, base_url: str | None, files: str | None) -> SiteReading:
    from defusedxml import ElementTree  # noqa: PLC0415
    from defusedxml.common import DefusedXmlException, DTDForbidden  # noqa: PLC0415

    try:
        with open_regular(path) as f:
            root = ElementTree.parse(f, forbid_dtd=True).getroot()
    except DTDForbidden:
        raise ImgfindError(f"{path}: the export has a DTD (<!DOCTYPE ...>); refused: its "
                           "entities are never expanded") from None
    except NotRegular as exc:
        raise ImgfindError(f"{path}: {exc}") from None
    except (ElementTree.ParseError, DefusedXmlException, OSError) as exc:
        raise ImgfindError(f"{path}: not a readable WordPress export ({exc})") from None
    channel = root.find("channel")
    site = (channel.findtext(WP + "base_site_url") or channel.findtext("link") or "") \
        if channel is not None else ""
    site = site.strip()
    notes = []
    if site and (_scheme(site) not in ("http", "https") or _netloc(site) is None):
        if not base_url:
            notes.append(f"the export has no usable site URL (base_site_url {site!r}): "
                         "root-relative image URLs are looked up under --files; give --base-url "
                         "to name the site")
        site = ""
    elif not site and not base_url:
        notes.append("the export has no site URL (base_site_url): give --base-url to name the site")
    base = base_url or site or LOCAL_BASE
    if not base.endswith("/"):
        base += "/"
    mapper = _Mapper(base, files or os.path.dirname(path))
    pages, unreadable = [], []
    unpublished = 0
    attachments = {(item.findtext(WP + "post_id") or "").strip(): item.findtext(WP + "attachment_url")
                   for item in root.iter("item") if item.findtext(WP + "post_type") == "attachment"}
    for item in root.iter("item"):
        kind = item.findtext(WP + "post_type") or "post"
        if kind in ("attachment", "nav_menu_item", "revision"):
            continue
        status = (item.findtext(WP + "status") or "publish").strip().lower()
        if status != "publish":  # draft, pending, private, future, trash: not on the site
            unpublished += 1
            continue
        post_id = (item.findtext(WP + "post_id") or "").strip()
        link = (item.findtext("link") or "").strip()
        url = link if link and _netloc(link) is not None and _scheme(link) in ("http", "https") \
            else _join(base, f"?p={post_id}") if base != LOCAL_BASE else f"{path}#post-{post_id}"
        url = url or base
        title = " ".join((item.findtext("title") or "").split()) or url
        html = item.findtext(CONTENT) or ""
        at = url if _scheme(url) in ("http", "https") else base  # what its URLs are relative to
        try:
            _, refs = page_refs(html, at)
        except (ValueError, RecursionError) as exc:
            unreadable.append((f"{path}#{url}", str(exc)))
            continue
        ids = [i for m in _GALLERY.finditer(html) for i in re.split(r"[\s,]+", m.group(1)) if i]
        for post, how in ((i, "gallery") for i in ids):
            attached = attachments.get(post)
            joined = _join(at, attached) if attached else None
            if joined is not None:
                refs.append((joined, how))
        for meta in item.iter(WP + "postmeta"):  # the featured image: an attachment's id
            if meta.findtext(WP + "meta_key") == "_thumbnail_id":
                attached = attachments.get((meta.findtext(WP + "meta_value") or "").strip())
                joined = _join(at, attached) if attached else None
                if joined is not None:
                    refs.append((joined, "featured"))
        pages.append(SitePage(url, title, path, tuple(mapper.images(refs))))
    if unpublished:
        notes.append(f"{unpublished} unpublished {'post' if unpublished == 1 else 'posts'} "
                     "(draft, pending, private, scheduled or trashed) not listed")
    return SiteReading(tuple(pages), mapper.external, tuple(dict.fromkeys(mapper.missing)),
                       tuple(unreadable), (), mapper.not_images, unpublished, tuple(notes))
