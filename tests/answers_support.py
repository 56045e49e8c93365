"""Pictures with written provenance (EXIF by Pillow, XMP packets, IPTC APP13) and a small
generated website, for the answer, pages and info tests."""

from __future__ import annotations

import struct
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image

from helpers import make_image


def exif_bytes(*, artist: str | None = None, copyright: str | None = None,
               make: str | None = None, model: str | None = None, software: str | None = None,
               taken: str | None = None, gps: bool = False) -> bytes:
    """EXIF as Pillow writes it: IFD0 fields, DateTimeOriginal in the Exif IFD, a GPS IFD."""
    exif = Image.Exif()
    for tag, value in ((0x013B, artist), (0x8298, copyright), (0x010F, make),
                       (0x0110, model), (0x0131, software)):
        if value is not None:
            exif[tag] = value
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    return exif.tobytes()


def xmp_packet(*, creator: str | None = None, rights: str | None = None,
               created: str | None = None, tool: str | None = None) -> bytes:
    """An XMP packet (RDF/XML) with dc:creator (Seq), dc:rights (Alt), xmp:CreateDate and
    xmp:CreatorTool (as attributes, the short form)."""
    attrs = []
    if created:
        attrs.append(f' xmp:CreateDate="{escape(created)}"')
    if tool:
        attrs.append(f' xmp:CreatorTool="{escape(tool)}"')
    body = ""
    if creator:
        body += f"<dc:creator><rdf:Seq><rdf:li>{escape(creator)}</rdf:li></rdf:Seq></dc:creator>"
    if rights:
        body += (f'<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">{escape(rights)}'
                 "</rdf:li></rdf:Alt></dc:rights>")
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            f'xmlns:xmp="http://ns.adobe.com/xap/1.0/"{"".join(attrs)}>{body}'
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode("utf-8")


def add_iptc(path: Path, *, byline: str, copyright: str | None = None) -> None:
    """Insert an APP13 Photoshop 3.0 segment with IPTC-IIM 2:80 (and 2:116) after the SOI."""
    iim = b""
    for dataset, value in ((80, byline), (116, copyright)):
        if value:
            data = value.encode("utf-8")
            iim += b"\x1c\x02" + bytes([dataset]) + struct.pack(">H", len(data)) + data
    block = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iim)) + iim
    if len(iim) % 2:
        block += b"\x00"
    payload = b"Photoshop 3.0\x00" + block
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    raw = path.read_bytes()
    assert raw[:2] == b"\xff\xd8"
    path.write_bytes(raw[:2] + segment + raw[2:])


def family(folder: Path, seed: int = 3) -> dict[str, Path]:
    """One picture in four copies with different provenance:

    - ``camera/IMG_0001.jpg`` 640x480, EXIF artist, copyright, camera, DateTimeOriginal
      2019-05-01, GPS; IPTC by-line
    - ``web/photo-big.png`` 1280x960 (an upscale made later: no capture time), XMP creator and
      rights
    - ``web/photo-small.jpg`` 320x240, XMP CreateDate 2021-01-02 (a later export)
    - ``misc/copy.webp`` 400x300, nothing
    """
    im = make_image(seed=seed, size=(640, 480))
    paths = {}
    for name in ("camera", "web", "misc"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    p = folder / "camera" / "IMG_0001.jpg"
    im.save(p, quality=95, exif=exif_bytes(artist="Ann Example", copyright="(c) 2019 Ann Example",
                                           make="Canon", model="EOS 80D", software="Firmware 1.0",
                                           taken="2019:05:01 10:20:30", gps=True))
    add_iptc(p, byline="Ann Example (IPTC)", copyright="Ann Example Photography")
    paths["camera"] = p
    p = folder / "web" / "photo-big.png"
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp",
                  xmp_packet(creator="Studio Web", rights="CC BY 4.0").decode("utf-8"))
    im.resize((1280, 960), Image.Resampling.LANCZOS).save(p, pnginfo=info)
    paths["big"] = p
    p = folder / "web" / "photo-small.jpg"
    im.resize((320, 240), Image.Resampling.LANCZOS).save(
        p, quality=80, xmp=xmp_packet(created="2021-01-02T03:04:05", tool="GIMP 2.10"))
    paths["small"] = p
    p = folder / "misc" / "copy.webp"
    im.resize((400, 300), Image.Resampling.LANCZOS).save(p, quality=85)
    paths["webp"] = p
    return paths


def website(folder: Path, seed: int = 11) -> dict[str, Path]:
    """A small static site under *folder*/site (base URL https://example.com/) and a
    WordPress export *folder*/export.xml with its uploads copy *folder*/uploads:

    - ``site/img/photo.jpg`` 800x600 and its WordPress-style resized copy
      ``site/img/photo-300x225.jpg``; ``site/img/logo.png`` (another picture);
      ``site/img/hero.jpg`` (a third)
    - ``site/index.html`` "Home": <img src> of the resized copy, <a href> to the full size
    - ``site/blog/post.html`` "Old post": srcset (root-relative and absolute), a style
      attribute background-image (relative ../img/hero.jpg), a <style> url() of the logo, an
      image on another site
    - ``site/about/index.html`` "About": only the logo, through <base href>
    - ``export.xml`` (WXR 1.2): a post "WP post" with <img> of ``photo-1024x768.jpg`` (no such
      file: the full size ``uploads/2020/01/photo.jpg`` is there) and a page "WP page" with the
      logo as featured image (_thumbnail_id of an attachment)
    """
    site = folder / "site"
    (site / "img").mkdir(parents=True)
    (site / "blog").mkdir()
    (site / "about").mkdir()
    photo = make_image(seed=seed, size=(800, 600))
    photo.save(site / "img" / "photo.jpg", quality=92)
    photo.resize((300, 225), Image.Resampling.LANCZOS).save(site / "img" / "photo-300x225.jpg")
    make_image(site / "img" / "logo.png", seed=seed + 1, size=(200, 200))
    make_image(site / "img" / "hero.jpg", seed=seed + 2, size=(640, 360))
    (site / "index.html").write_text(
        "<!doctype html><html><head><title>Home</title></head><body>"
        '<a href="img/photo.jpg"><img src="img/photo-300x225.jpg" alt=""></a></body></html>')
    (site / "blog" / "post.html").write_text(
        "<html><head><title>Old post</title><style>.brand { background-image: "
        'url("https://example.com/img/logo.png") }</style></head><body>'
        '<div class="hero" style="background-image: url(\'../img/hero.jpg\')"></div>'
        '<picture><source srcset="/img/photo-300x225.jpg 300w, https://example.com/img/photo.jpg 800w">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt=""></picture>'
        '<img src="https://cdn.other.org/x.jpg"></body></html>')
    (site / "about" / "index.html").write_text(
        '<html><head><base href="https://example.com/img/"><title>About us</title></head>'
        '<body><h1>About</h1><img src="logo.png"></body></html>')
    uploads = folder / "uploads" / "2020" / "01"
    uploads.mkdir(parents=True)
    photo.save(uploads / "photo.jpg", quality=92)
    make_image(uploads / "logo-wp.png", seed=seed + 1, size=(200, 200))
    wxr = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:wp="http://wordpress.org/export/1.2/">
<channel><title>My blog</title><link>https://blog.example.org</link>
<wp:base_site_url>https://blog.example.org</wp:base_site_url>
<item><title>WP post</title><link>https://blog.example.org/2020/01/wp-post/</link>
<wp:post_id>5</wp:post_id><wp:post_type>post</wp:post_type>
<content:encoded><![CDATA[<p>Hello</p><img class="size-large"
 src="https://blog.example.org/wp-content/uploads/2020/01/photo-1024x768.jpg"
 srcset="https://blog.example.org/wp-content/uploads/2020/01/photo-1024x768.jpg 1024w" />]]></content:encoded>
</item>
<item><title>WP page</title><link>https://blog.example.org/about/</link>
<wp:post_id>6</wp:post_id><wp:post_type>page</wp:post_type>
<content:encoded><![CDATA[<p>No picture in the text</p>]]></content:encoded>
<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key><wp:meta_value>7</wp:meta_value></wp:postmeta>
</item>
<item><title>logo-wp</title><wp:post_id>7</wp:post_id><wp:post_type>attachment</wp:post_type>
<wp:attachment_url>https://blog.example.org/wp-content/uploads/2020/01/logo-wp.png</wp:attachment_url>
</item>
</channel></rss>
"""
    (folder / "export.xml").write_text(wxr)
    return {"site": site, "photo": site / "img" / "photo.jpg", "resized": site / "img" / "photo-300x225.jpg",
            "logo": site / "img" / "logo.png", "hero": site / "img" / "hero.jpg",
            "export": folder / "export.xml", "uploads": folder / "uploads",
            "wp_photo": uploads / "photo.jpg", "wp_logo": uploads / "logo-wp.png"}
