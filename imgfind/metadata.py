"""Merge the metadata of a copy into the kept file, never touching its pixels.

Fields merged when the kept file lacks them: capture time, GPS (as one block), keywords,
creator and rating, from EXIF, IPTC and XMP. With pyexiv2 (the Exiv2 library, in the
``metadata`` extra) the kept file's metadata segments are rewritten in memory and the result
written to a temporary name and renamed over it: the compressed picture data is copied as it
was. Without pyexiv2, or for a format Exiv2 cannot write, the fields go to an XMP sidecar
(``photo.jpg.xmp``) written here as a small XML packet from what Pillow reads.
"""

from __future__ import annotations

import os
from typing import Any
from xml.sax.saxutils import escape

#: Fields copied one by one when the kept file lacks them.
FIELDS = (
    "Exif.Photo.DateTimeOriginal", "Exif.Photo.DateTimeDigitized", "Exif.Image.Artist",
    "Exif.Image.Copyright", "Exif.Image.Rating",
    "Iptc.Application2.Keywords", "Iptc.Application2.Byline",
    "Xmp.dc.subject", "Xmp.dc.creator", "Xmp.xmp.Rating", "Xmp.photoshop.DateCreated",
)
GPS = "Exif.GPSInfo."


def _exiv2() -> Any | None:
    try:
        import pyexiv2  # noqa: PLC0415
    except Exception:  # ImportError, or its shared library failing to load
        return None
    return pyexiv2


def _read_all(data: bytes, pyexiv2: Any) -> dict[str, dict[str, Any]]:
    with pyexiv2.ImageData(data) as img:
        return {"exif": img.read_exif(), "iptc": img.read_iptc(), "xmp": img.read_xmp()}


def _missing(source: dict[str, dict[str, Any]], kept: dict[str, dict[str, Any]]
             ) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"exif": {}, "iptc": {}, "xmp": {}}
    for key in FIELDS:
        family = key.split(".")[0].lower()
        if key in source[family] and key not in kept[family]:
            out[family][key] = source[family][key]
    if not any(k.startswith(GPS) for k in kept["exif"]):
        out["exif"].update({k: v for k, v in source["exif"].items() if k.startswith(GPS)})
    return out


def merge(kept: str, source: str) -> tuple[list[str], str]:
    """Copy into *kept* the fields of *source* that *kept* lacks.

    Returns (names of the fields merged, where: "file" or the sidecar's path). Raises
    OSError when a file cannot be read or written.
    """
    pyexiv2 = _exiv2()
    if pyexiv2 is not None:
        with open(kept, "rb") as f:
            kept_data = f.read()
        with open(source, "rb") as f:
            src_data = f.read()
        try:
            todo = _missing(_read_all(src_data, pyexiv2), _read_all(kept_data, pyexiv2))
            names = [k for fam in todo.values() for k in fam]
            if not names:
                return [], "file"
            with pyexiv2.ImageData(kept_data) as img:
                if todo["exif"]:
                    img.modify_exif(todo["exif"])
                if todo["iptc"]:
                    img.modify_iptc(todo["iptc"])
                if todo["xmp"]:
                    img.modify_xmp(todo["xmp"])
                new = img.get_bytes()
        except RuntimeError:
            return _sidecar(kept, source)  # a format Exiv2 reads but cannot write
        tmp = os.path.join(os.path.dirname(kept), f".imgfind-merge-{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, kept)
        return names, "file"
    return _sidecar(kept, source)


def _pillow_fields(path: str) -> dict[str, str]:
    from PIL import Image  # noqa: PLC0415

    out: dict[str, str] = {}
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            sub = exif.get_ifd(0x8769)
            gps = exif.get_ifd(0x8825)
    except (OSError, ValueError):
        return out
    if sub.get(0x9003):
        out["exif:DateTimeOriginal"] = str(sub[0x9003]).replace(":", "-", 2).replace(" ", "T")
    if exif.get(0x013B):
        out["dc:creator"] = str(exif[0x013B])
    if exif.get(0x8298):
        out["dc:rights"] = str(exif[0x8298])
    for tag, name in ((2, "exif:GPSLatitude"), (4, "exif:GPSLongitude")):
        ref = gps.get(tag - 1)
        if gps.get(tag) and ref:
            d, m, s = (float(x) for x in gps[tag])
            out[name] = f"{int(d)},{m + s / 60:.6f}{ref}"
    return out


def _sidecar(kept: str, source: str) -> tuple[list[str], str]:
    """Write the fields of *source* that *kept* lacks to ``kept + '.xmp'`` (XMP packet)."""
    have = _pillow_fields(kept)
    todo = {k: v for k, v in _pillow_fields(source).items() if k not in have}
    if not todo:
        return [], "file"
    props = "\n".join(f"   <{k}>{escape(v)}</{k}>" for k, v in sorted(todo.items()))
    packet = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
              '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
              ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
              '  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
              ' xmlns:exif="http://ns.adobe.com/exif/1.0/">\n'
              f"{props}\n  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
              '<?xpacket end="w"?>\n')
    path = kept + ".xmp"
    with open(path, "x", encoding="utf-8") as f:
        f.write(packet)
    return list(todo), path
