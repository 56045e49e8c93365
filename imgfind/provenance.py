"""Who made a picture, when and where: the XMP, IPTC and GPS fields read at index time.

``read(im)`` takes an open Pillow image and returns flat string fields that the decoder adds
to the file's metadata (stored as ``files.metadata`` JSON), so that ``query`` and ``info``
answer "who made it" from the index without opening matched files again:

- XMP (the packet of a JPEG APP1, WebP, PNG iTXt ``XML:com.adobe.xmp`` or TIFF tag 700),
  parsed with defusedxml (entity expansion and DTDs refused: the packet comes from any
  file): ``xmp_creator`` (dc:creator, several joined by "; "), ``xmp_rights`` (dc:rights),
  ``xmp_created`` (xmp:CreateDate, else photoshop:DateCreated, else exif:DateTimeOriginal),
  ``xmp_tool`` (xmp:CreatorTool), ``camera_make``/``camera_model`` (tiff:Make/Model) and GPS.
- IPTC-IIM (JPEG APP13, TIFF; ``PIL.IptcImagePlugin.getiptcinfo``): ``iptc_byline`` (2:80),
  ``iptc_copyright`` (2:116), ``iptc_credit`` (2:110).
- ``gps``: "yes" when EXIF GPSInfo or XMP holds a latitude (absent: no GPS).
- ``captured``: the capture time as ISO 8601 (``2019-05-01T14:03:09``, an offset kept when
  the file gives one), from EXIF DateTimeOriginal, else XMP CreateDate. Missing when neither.

Never raises: a broken packet only loses its fields. Values are single-line, at most
MAX_FIELD characters. Source: the XMP specification (Adobe, part 1 and 2 namespaces) and
IPTC-IIM 4.2 dataset numbers; the code is ours.
"""

from __future__ import annotations

import re
from typing import Any

MAX_FIELD = 200

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
XMP = "{http://ns.adobe.com/xap/1.0/}"
PHOTOSHOP = "{http://ns.adobe.com/photoshop/1.0/}"
EXIF_NS = "{http://ns.adobe.com/exif/1.0/}"
TIFF_NS = "{http://ns.adobe.com/tiff/1.0/}"

#: XMP property -> metadata key (the first found wins for a key).
XMP_FIELDS = (
    (DC + "creator", "xmp_creator"),
    (DC + "rights", "xmp_rights"),
    (XMP + "CreateDate", "xmp_created"),
    (PHOTOSHOP + "DateCreated", "xmp_created"),
    (EXIF_NS + "DateTimeOriginal", "xmp_created"),
    (XMP + "CreatorTool", "xmp_tool"),
    (TIFF_NS + "Make", "xmp_make"),
    (TIFF_NS + "Model", "xmp_model"),
    (EXIF_NS + "GPSLatitude", "xmp_gps"),
)
#: IPTC-IIM (record, dataset) -> metadata key.
IPTC_FIELDS = {(2, 80): "iptc_byline", (2, 116): "iptc_copyright", (2, 110): "iptc_credit"}
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003
_EXIF_TIME = re.compile(r"^(\d{4})[:-](\d\d)[:-](\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?(.*)$")


def read(im: Any) -> dict[str, str]:
    """Return the XMP, IPTC and GPS fields of the open Pillow image *im* (see the module doc)."""
    out: dict[str, str] = {}
    for fn in (_xmp, _iptc, _gps):
        try:
            out.update({k: v for k, v in fn(im).items() if v and k not in out})
        except Exception:  # noqa: BLE001 - hostile metadata must never stop a decode
            pass
    if out.pop("xmp_gps", None):
        out["gps"] = "yes"
    for key in ("xmp_make", "xmp_model"):  # camera from XMP only when EXIF has none (decoder)
        if key in out:
            out[key.replace("xmp_", "camera_")] = out.pop(key)
    try:
        taken = im.getexif().get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL)
    except Exception:  # noqa: BLE001
        taken = None
    captured = iso_time(_clean(taken)) if taken else ""
    if not captured and out.get("xmp_created"):
        captured = iso_time(out["xmp_created"])
    if captured:
        out["captured"] = captured
    return out


def iso_time(text: str) -> str:
    """Return an EXIF (``2019:05:01 14:03:09``) or XMP (``2019-05-01T14:03:09+02:00``,
    ``2019-05-01``) time as ISO 8601 (``2019-05-01T14:03:09``, offset kept), or "" when
    it is not a time.

    >>> iso_time("2019:05:01 14:03:09"), iso_time("2019-05-01"), iso_time("soon")
    ('2019-05-01T14:03:09', '2019-05-01', '')
    """
    text = text.strip()
    m = _EXIF_TIME.match(text)
    if m:
        y, mo, d, h, mi, s, rest = m.groups()
        if y == "0000":
            return ""
        rest = re.sub(r"^\.\d+", "", rest)  # fractions of a second
        offset = rest.strip() if re.fullmatch(r"\s*(Z|[+-]\d\d:?\d\d)?\s*", rest) else ""
        return f"{y}-{mo}-{d}T{h}:{mi}:{s or '00'}{offset}"
    if re.fullmatch(r"\d{4}(-\d\d){0,2}", text):
        return text
    return ""


def _packet(im: Any) -> bytes | None:
    info = im.info if isinstance(getattr(im, "info", None), dict) else {}
    for key in ("xmp", "XML:com.adobe.xmp"):
        value = info.get(key)
        if value:
            return value.encode("utf-8") if isinstance(value, str) else bytes(value)
    tags = getattr(im, "tag_v2", None)
    if tags is not None and 700 in tags:  # TIFF XMLPacket
        value = tags[700]
        return value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return None


def _xmp(im: Any) -> dict[str, str]:
    packet = _packet(im)
    if not packet:
        return {}
    from defusedxml import ElementTree  # noqa: PLC0415 - only for files that carry XMP

    start = packet.find(b"<x:xmpmeta")
    if start < 0:
        start = packet.find(b"<rdf:RDF")
    end_marks = (b"</x:xmpmeta>", b"</rdf:RDF>")
    for mark in end_marks:
        end = packet.rfind(mark)
        if start >= 0 and end > start:
            packet = packet[start:end + len(mark)]
            break
    root = ElementTree.fromstring(packet, forbid_dtd=True)
    out: dict[str, str] = {}
    for desc in root.iter(RDF + "Description"):
        for prop, key in XMP_FIELDS:
            if key in out:
                continue
            if prop in desc.attrib:  # the short form: a property as an attribute
                out[key] = _clean(desc.attrib[prop])
                continue
            el = desc.find(prop)
            if el is not None:
                items = [_clean(li.text or "") for li in el.iter(RDF + "li")]
                items = [i for i in items if i]
                out[key] = "; ".join(items) if items else _clean(el.text or "")
    return {k: v for k, v in out.items() if v}


def _iptc(im: Any) -> dict[str, str]:
    if getattr(im, "format", None) not in ("JPEG", "TIFF", "MPO"):
        return {}
    from PIL import IptcImagePlugin  # noqa: PLC0415

    info = IptcImagePlugin.getiptcinfo(im) or {}
    out = {}
    for dataset, key in IPTC_FIELDS.items():
        value = info.get(dataset)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        out[key] = "; ".join(_clean(v) for v in values if v)
    return out


def _gps(im: Any) -> dict[str, str]:
    gps = im.getexif().get_ifd(GPS_IFD)
    return {"gps": "yes"} if gps and (gps.get(2) or gps.get(4)) else {}


def _clean(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = " ".join(str(value).replace("\x00", " ").split())
    return text[:MAX_FIELD]
