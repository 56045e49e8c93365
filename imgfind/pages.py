"""Read the pages of a local website copy and find which image files each page shows.

A source is a folder (a static site build, a ``wget --mirror`` copy: every ``*.html``,
``*.htm`` and ``*.xhtml`` under it), one HTML file, or a WordPress export (WXR: the RSS/XML
file of Tools > Export; each post and page is one page, its HTML is ``content:encoded``).

Page URLs are the base URL joined with the file's path under the folder (for WXR: each item's
``<link>``; the base URL defaults to ``wp:base_site_url``). Image URLs are resolved as a
browser does (``<base href>``, relative and absolute URLs; urllib.parse.urljoin, RFC 3986)
and those under the base URL are mapped to local files under ``files`` (the folder the base
URL stands for; by default the site folder). Found in:

- ``<img src>``, ``data-src`` (lazy loading), ``srcset``/``data-srcset`` of ``<img>`` and
  ``<source>`` (every candidate), ``<a href>`` to an image file ("link"),
  ``<meta property="og:image">``/``twitter:image`` ("meta"), a WXR post's featured image
  (``_thumbnail_id``, "featured");
- CSS ``url(...)`` in ``style`` attributes and ``<style>`` elements ("css"), e.g.
  ``background-image: url(hero.jpg)``.

WordPress's resized copies (``photo-300x200.jpg``, ``photo-scaled.jpg``) also count as showing
the full-size ``photo.jpg`` when that file exists ("resized copy <url>"). HTML is parsed with
Beautiful Soup 4 and Python's html.parser (lenient with real-world markup, pure Python); the
WXR XML with defusedxml (no entity expansion from a file). CSS url() and srcset are split with
small regular expressions (the CSS Syntax and HTML srcset grammars, simplified: no escapes).
Never raises for one bad page: it is listed in SiteReading.unreadable.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from urllib.parse import quote, unquote, urljoin, urlsplit

from .errors import ImgfindError
from .model import SitePage, SiteReading

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
IMAGE_SUFFIXES = frozenset((".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".heic", ".heif",
                            ".bmp", ".tif", ".tiff", ".svg", ".ico", ".jxl"))
#: Used to resolve root-relative URLs when no base URL is given; never shown.
LOCAL_BASE = "http://local.invalid/"
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)""", re.IGNORECASE)
_WP_RESIZED = re.compile(r"^(?P<stem>.+?)-(?:\d+x\d+|scaled)(?P<ext>\.[A-Za-z0-9]+)$")
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
WP = "{http://wordpress.org/export/1.2/}"


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


def page_refs(html: bytes | str, page_url: str) -> tuple[str, list[tuple[str, str]]]:
    """Parse one page: return (title, [(absolute image URL, how)]) in document order."""
    from bs4 import BeautifulSoup  # noqa: PLC0415

    soup = BeautifulSoup(html, "html.parser")
    base = soup.find("base", href=True)
    base_url = urljoin(page_url, str(base["href"])) if base else page_url
    refs: list[tuple[str, str]] = []

    def add(url: str | None, how: str) -> None:
        url = (url or "").strip()
        if url and not url.startswith(("data:", "#", "javascript:", "mailto:")):
            refs.append((urljoin(base_url, url), how))

    for tag in soup.find_all(["img", "source"]):
        add(tag.get("src"), "img")
        add(tag.get("data-src"), "img")
        for attr in ("srcset", "data-srcset"):
            for url in srcset_urls(str(tag.get(attr) or "")):
                add(url, "srcset")
    for tag in soup.find_all("a", href=True):
        path = urlsplit(str(tag["href"])).path
        if posixpath.splitext(path)[1].lower() in IMAGE_SUFFIXES:
            add(str(tag["href"]), "link")
    for tag in soup.find_all("meta", content=True):
        if str(tag.get("property") or tag.get("name") or "").lower() in (
                "og:image", "og:image:url", "twitter:image"):
            add(str(tag["content"]), "meta")
    for tag in soup.find_all(style=True):
        for url in css_urls(str(tag["style"])):
            add(url, "css")
    for tag in soup.find_all("style"):
        for url in css_urls(tag.get_text()):
            add(url, "css")
    title = ""
    if soup.title and soup.title.get_text(strip=True):
        title = soup.title.get_text(" ", strip=True)
    else:
        og = soup.find("meta", attrs={"property": "og:title"})
        h1 = soup.find("h1")
        title = str(og["content"]) if og and og.get("content") else \
            h1.get_text(" ", strip=True) if h1 else ""
    return " ".join(title.split())[:300], refs


class _Mapper:
    """Turns absolute image URLs into local files under *files* (see the module doc)."""

    def __init__(self, base_url: str, files: str):
        self.base = urlsplit(base_url)
        self.files = os.path.abspath(files)
        self.external = 0
        self.missing: list[str] = []

    def local(self, url: str) -> list[str] | None:
        """The local paths *url* may stand for, most likely first (existing or not), or
        None: another site. A copy of the uploads folder alone is looked in too: its paths
        start after ``wp-content/uploads/``."""
        u = urlsplit(url)
        if u.scheme not in ("http", "https", "") or u.netloc.lower() != self.base.netloc.lower():
            return None
        base_path = self.base.path if self.base.path.endswith("/") else self.base.path + "/"
        path = unquote(u.path)
        if not (path + "/").startswith(base_path) and path != base_path.rstrip("/"):
            return None
        out = []
        for rel in (path[len(base_path):],
                    *([path.split("/wp-content/uploads/", 1)[1]] if "/wp-content/uploads/" in path else [])):
            rel = posixpath.normpath(rel or ".")
            if not rel.startswith("..") and rel != ".":
                out.append(os.path.join(self.files, *rel.split("/")))
        return out or None

    def images(self, refs: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        seen: set[tuple[str, str]] = set()

        def add(path: str, url: str, how: str) -> None:
            if (path, how) not in seen:
                seen.add((path, how))
                out.append((path, url, how))

        for url, how in refs:
            paths = self.local(url)
            if paths is None:
                self.external += 1
                continue
            found = False
            for path in paths:
                if os.path.isfile(path):
                    add(path, url, how)
                    found = True
                m = _WP_RESIZED.match(os.path.basename(path))
                full = os.path.join(os.path.dirname(path), m["stem"] + m["ext"]) if m else None
                if full and os.path.isfile(full):
                    add(full, url, f"resized copy {url}")
                    found = True
                if found:
                    break
            if not found:
                self.missing.append(url)
        return out


def read_site(source: str, base_url: str | None = None, files: str | None = None) -> SiteReading:
    """Read a site folder, an HTML file or a WXR export (see the module doc).

    Raises:
        ImgfindError: *source* does not exist, a WXR file is not XML, or *base_url* is not an
            http(s) URL.
    """
    if base_url is not None and urlsplit(base_url).scheme not in ("http", "https"):
        raise ImgfindError(f"--base-url {base_url}: not an http or https URL")
    if not os.path.exists(source):
        raise ImgfindError(f"{source}: no such file or folder")
    source = os.path.abspath(source)
    if os.path.isfile(source) and _is_wxr(source):
        return _read_wxr(source, base_url, files)
    root = source if os.path.isdir(source) else os.path.dirname(source)
    base = base_url or LOCAL_BASE
    if not base.endswith("/"):
        base += "/"
    mapper = _Mapper(base, files or root)
    pages, unreadable = [], []
    for path in ([source] if os.path.isfile(source) else _html_files(root)):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        url = urljoin(base, quote(rel))
        try:
            with open(path, "rb") as f:
                title, refs = page_refs(f.read(), url)
        except (OSError, ValueError, RecursionError) as exc:
            unreadable.append((path, getattr(exc, "strerror", None) or str(exc)))
            continue
        shown = url if base_url else path
        pages.append(SitePage(shown, title or os.path.basename(path), path,
                              tuple(mapper.images(refs))))
    return SiteReading(tuple(pages), mapper.external, tuple(dict.fromkeys(mapper.missing)),
                       tuple(unreadable))


def _html_files(root: str) -> Iterator[str]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.lower().endswith(HTML_SUFFIXES):
                yield os.path.join(folder, name)


def _is_wxr(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096)
    return b"<rss" in head and b"wordpress.org/export" in head


def _read_wxr(path: str, base_url: str | None, files: str | None) -> SiteReading:
    from defusedxml import ElementTree  # noqa: PLC0415
    from defusedxml.common import DefusedXmlException  # noqa: PLC0415

    try:
        root = ElementTree.parse(path, forbid_dtd=True).getroot()
    except (ElementTree.ParseError, DefusedXmlException, OSError) as exc:
        raise ImgfindError(f"{path}: not a readable WordPress export ({exc})") from None
    channel = root.find("channel")
    site = (channel.findtext(WP + "base_site_url") or channel.findtext("link") or "") \
        if channel is not None else ""
    base = base_url or site or LOCAL_BASE
    if not base.endswith("/"):
        base += "/"
    mapper = _Mapper(base, files or os.path.dirname(path))
    pages, unreadable = [], []
    attachments = {(item.findtext(WP + "post_id") or "").strip(): item.findtext(WP + "attachment_url")
                   for item in root.iter("item") if item.findtext(WP + "post_type") == "attachment"}
    for item in root.iter("item"):
        kind = item.findtext(WP + "post_type") or "post"
        if kind in ("attachment", "nav_menu_item", "revision"):
            continue
        url = item.findtext("link") or urljoin(base, f"?p={item.findtext(WP + 'post_id') or ''}")
        title = " ".join((item.findtext("title") or "").split()) or url
        html = item.findtext(CONTENT) or ""
        try:
            _, refs = page_refs(html, url)
        except (ValueError, RecursionError) as exc:
            unreadable.append((f"{path}#{url}", str(exc)))
            continue
        for meta in item.iter(WP + "postmeta"):  # the featured image: an attachment's id
            if meta.findtext(WP + "meta_key") == "_thumbnail_id":
                attached = attachments.get((meta.findtext(WP + "meta_value") or "").strip())
                if attached:
                    refs.append((urljoin(url, attached), "featured"))
        pages.append(SitePage(url, title, path, tuple(mapper.images(refs))))
    return SiteReading(tuple(pages), mapper.external, tuple(dict.fromkeys(mapper.missing)),
                       tuple(unreadable))
