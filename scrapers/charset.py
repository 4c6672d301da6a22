"""Bytes -> str for HTML: BOM, HTTP charset, <meta> charset, then a safe fallback.

Never raises: unknown charset names are ignored, undecodable bytes become U+FFFD.
"""

from __future__ import annotations

import codecs
import re

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.I)
# <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">
_META_CHARSET = re.compile(rb"<meta[^>]{0,512}?charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.I)
_SNIFF_BYTES = 4096

# Labels that browsers treat as another encoding (WHATWG Encoding Standard).
_ALIASES = {
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "iso-8859-9": "cp1254",
    "unicode": "utf-8",
    "utf8": "utf-8",
    "x-user-defined": "cp1252",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def normalize_charset(name: str | bytes | None) -> str | None:
    """A Python codec name for a charset label, or None when unknown."""
    if not name:
        return None
    if isinstance(name, bytes):
        name = name.decode("ascii", "ignore")
    label = name.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        codec = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    # A page served as UTF-16 without a BOM but declaring it in ASCII is really ASCII-based.
    if codec.startswith("utf-16") or codec.startswith("utf-32"):
        return "utf-8"
    return codec


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, normalized."""
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return normalize_charset(m.group(1)) if m else None


def meta_charset(html: bytes) -> str | None:
    """The charset declared in a <meta> tag near the start of the document."""
    m = _META_CHARSET.search(html[:_SNIFF_BYTES])
    return normalize_charset(m.group(1)) if m else None


def _try(html: bytes, codec: str, tolerance: float) -> str | None:
    """Decode strictly; else with replacement when the damage stays under `tolerance`."""
    try:
        return html.decode(codec)
    except UnicodeDecodeError:
        pass
    except LookupError:
        return None
    text = html.decode(codec, "replace")
    bad = text.count("\ufffd") - html.count(b"\xef\xbf\xbd")
    return text if bad <= tolerance * max(len(text), 1) else None


def _utf8_or_cp1252(html: bytes) -> str:
    """UTF-8 with replacement when most non-ASCII sequences are valid UTF-8, else cp1252."""
    text = html.decode("utf-8", "replace")
    bad = text.count("\ufffd") - html.count(b"\xef\xbf\xbd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if non_ascii - bad >= 2 * bad:
        return text
    return html.decode("cp1252", "replace")


def decode_html(html: bytes, content_type: str | None = None) -> str:
    """Decode an HTML payload (see `decode_html_codec`)."""
    return decode_html_codec(html, content_type)[0]


def decode_html_codec(html: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode an HTML payload; also return the codec, "" when it needed replacements or a BOM.

    Order (as browsers do): a byte-order mark wins, then the HTTP charset, then a <meta>
    declaration, then UTF-8 (with replacement); when UTF-8 fails badly the page is read as
    cp1252, which maps every byte.
    """
    if not html:
        return "", ""
    for bom, codec in _BOMS:
        if html.startswith(bom):
            return html[len(bom) :].decode(codec, "replace"), ""
    tried = set()
    for codec in (header_charset(content_type), meta_charset(html)):
        if codec is None or codec in tried:
            continue
        tried.add(codec)
        # A declared multi-byte encoding with a few broken bytes is still the right one.
        text = _try(html, codec, 0.01)
        if text is not None:
            return text, codec
    try:
        return html.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return _utf8_or_cp1252(html), ""
