"""Make the README's reverse-search demo: copies of examples/photos/nuthatch.jpg with written
provenance (EXIF, IPTC, XMP) and a tiny website that shows them.

    python examples/make_answers_demo.py /tmp/demo

writes /tmp/demo/library/{camera,web,old-site} and /tmp/demo/site (base URL
https://birds.example/): index.html (a resized copy), blog/feeder.html (srcset and a CSS
background). The EXIF and XMP are written with Pillow; the IPTC by-line as an APP13 segment.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from PIL import Image, PngImagePlugin

HERE = Path(__file__).resolve().parent

XMP = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
       'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"{attrs}>'
       '{body}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def iptc_byline(path: Path, name: str) -> None:
    data = name.encode()
    iim = b"\x1c\x02\x50" + struct.pack(">H", len(data)) + data
    block = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim + b"\x00" * (len(iim) % 2)
    payload = b"Photoshop 3.0\x00" + block
    raw = path.read_bytes()
    path.write_bytes(raw[:2] + b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload + raw[2:])


def main(out: Path) -> None:
    im = Image.open(HERE / "photos" / "nuthatch.jpg").convert("RGB")
    lib, site = out / "library", out / "site"
    for d in (lib / "camera", lib / "web", lib / "old-site", site / "img", site / "blog"):
        d.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif.update({0x013B: "Jo Birder", 0x8298: "(c) 2022 Jo Birder", 0x010F: "NIKON",
                 0x0110: "D7500", 0x0131: "Ver.1.10"})
    exif.get_ifd(0x8769)[0x9003] = "2022:04:09 07:41:12"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 5.0, 3.0), 3: "E", 4: (4.0, 18.0, 9.0)})
    cam = lib / "camera" / "DSC_0412.jpg"
    im.save(cam, quality=95, exif=exif.tobytes())
    iptc_byline(cam, "Jo Birder")
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP.format(
        attrs=' xmp:CreateDate="2023-02-01T10:00:00" xmp:CreatorTool="Upscaler 2.1"',
        body="<dc:creator><rdf:Seq><rdf:li>Birds Weekly</rdf:li></rdf:Seq></dc:creator>"
             '<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">All rights reserved</rdf:li>'
             "</rdf:Alt></dc:rights>"))
    im.resize((2048, 1152), Image.Resampling.LANCZOS).save(lib / "web" / "nuthatch-2048.png", pnginfo=info)
    im.resize((640, 360), Image.Resampling.LANCZOS).save(lib / "old-site" / "bird.jpg", quality=70)
    im.save(site / "img" / "nuthatch.jpg", quality=85)
    im.resize((300, 169), Image.Resampling.LANCZOS).save(site / "img" / "nuthatch-300x169.jpg", quality=80)
    (site / "index.html").write_text(
        '<html><head><title>Birds at home</title></head><body>'
        '<img src="img/nuthatch-300x169.jpg" alt="nuthatch"></body></html>\n')
    (site / "blog" / "feeder.html").write_text(
        '<html><head><title>Who visits the feeder</title></head><body>'
        '<header style="background-image: url(/img/nuthatch.jpg)"></header>'
        '<img srcset="../img/nuthatch-300x169.jpg 300w, ../img/nuthatch.jpg 1024w"></body></html>\n')


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo"))
