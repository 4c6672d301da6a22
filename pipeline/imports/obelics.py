"""An OBELICS-schema row -> a Document.

The schema (one row per document): ``texts`` and ``images``, lists aligned position by
position, exactly one of the two set at each; ``general_metadata``, a JSON object with the
page's ``url`` (and, in OBELICS, its WARC file and offset); optionally ``metadata``, a JSON list
with one entry per position (an image's ``alt_text``; ``m3w export`` adds the text's ``tag``);
optionally ``image_bytes`` (what ``m3w export --embed-images`` adds), the image's bytes at its
position, as binary or base64 text.
"""

from __future__ import annotations

from typing import Any

from pipeline.imports.formats import OBELICS
from pipeline.imports.rows import (
    BadRow,
    Imported,
    decode_base64,
    image_source,
    json_value,
    list_of,
    new_document,
    text_or_none,
)
from schemas import ImageNode, TextNode

REQUIRED = ("texts", "images", "general_metadata")
EMBED_COLUMN = "image_bytes"
COLUMNS = (*REQUIRED, "metadata", EMBED_COLUMN)
_DOCUMENT_FIELDS = ("url", "crawl_date", "language", "title")


def _aligned(value: Any, n: int, what: str) -> list[Any]:
    """An optional per-position column: None means nothing at any position."""
    if value is None:
        return [None] * n
    items = list_of(value, what)
    if len(items) != n:
        raise BadRow("misaligned", f"{what} has {len(items)} positions, texts {n}")
    return items


def _image_bytes(value: Any, what: str) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value or None
    return decode_base64(value, what)


def obelics_document(row: dict[str, Any], source: str, row_no: int) -> Imported:
    """Row ``row_no`` of input ``source`` as a Document; raises BadRow for a bad row."""
    missing = [c for c in REQUIRED if c not in row]
    if missing:
        raise BadRow("missing_columns", ", ".join(missing))
    texts, images = list_of(row["texts"], "texts"), list_of(row["images"], "images")
    n = len(texts)
    if len(images) != n:
        raise BadRow("misaligned", f"{n} texts, {len(images)} images")
    general = json_value(row["general_metadata"], "general_metadata")
    if not isinstance(general, dict):
        raise BadRow("bad_row", "general_metadata is not a JSON object")
    metadata = _aligned(json_value(row.get("metadata"), "metadata"), n, "metadata")
    blobs = _aligned(row.get(EMBED_COLUMN), n, EMBED_COLUMN)

    doc = new_document(general.get("url"), source, row_no, OBELICS)
    doc.crawl_date = str(general.get("crawl_date") or "")
    doc.language = str(general.get("language") or "")
    doc.title = str(general.get("title") or "")
    # What else the row says of its page (WARC file and offset, an exporting build's key).
    doc.meta["imported"].update({k: v for k, v in general.items() if k not in _DOCUMENT_FIELDS})
    out = Imported(doc)
    image_count = 0  # doc.images rebuilds its list: counted here instead
    for i in range(n):
        text = text_or_none(texts[i], f"texts[{i}]")
        src = text_or_none(images[i], f"images[{i}]")
        if (text is None) == (src is None):
            which = "both" if text is not None else "neither"
            raise BadRow("bad_position", f"position {i}: {which} of text and image")
        info = metadata[i] if isinstance(metadata[i], dict) else {}
        data = _image_bytes(blobs[i], f"{EMBED_COLUMN}[{i}]")
        if text is not None:
            if data is not None:
                raise BadRow("bad_position", f"position {i}: image bytes at a text")
            if text.strip():
                doc.nodes.append(TextNode(text=text, tag=str(info.get("tag") or "p")))
            continue
        if data is not None:
            out.embedded[image_count] = data
        doc.nodes.append(ImageNode(src=image_source(src, data, f"images[{i}]"),
                                   alt=str(info.get("alt_text") or ""),
                                   caption=str(info.get("caption") or "")))
        image_count += 1
    return out
