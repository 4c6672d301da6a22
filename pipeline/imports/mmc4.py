"""An MMC4-schema document (one JSON object a line) -> a Document.

The schema: ``url``; ``text_list``, the document's sentences or paragraphs; ``image_info``, one
object per image with ``raw_url``, ``matched_text_index`` (the text it was matched to) and,
where the file holds the images, ``image_base64``. Loaders put each image just before its
matched text, and so does the importer: images matched to one text keep their order in
``image_info``. ``matched_sim`` is not used: the build's own image rules decide. Empty texts
(``m3w export`` adds one after a document's last image) are dropped.
"""

from __future__ import annotations

from typing import Any

from pipeline.imports.formats import MMC4
from pipeline.imports.rows import (
    BadRow,
    Imported,
    decode_base64,
    image_source,
    list_of,
    new_document,
)
from schemas import ImageNode, TextNode

REQUIRED = ("url", "text_list", "image_info")


def mmc4_document(obj: Any, source: str, row_no: int) -> Imported:
    """Line ``row_no`` of input ``source``, parsed, as a Document; raises BadRow."""
    if not isinstance(obj, dict):
        raise BadRow("bad_row", f"a line holds a JSON {type(obj).__name__}, not an object")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise BadRow("missing_columns", ", ".join(missing))
    texts = list_of(obj["text_list"], "text_list")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadRow("bad_row", f"text_list[{i}] is {type(text).__name__}, not a string")
    before: list[list[tuple[ImageNode, bytes | None]]] = [[] for _ in texts]
    for j, info in enumerate(list_of(obj["image_info"], "image_info")):
        what = f"image_info[{j}]"
        if not isinstance(info, dict):
            raise BadRow("bad_row", f"{what} is not an object")
        idx = info.get("matched_text_index")
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(texts):
            raise BadRow("bad_position", f"{what}: matched_text_index {idx!r} with "
                         f"{len(texts)} texts")
        raw = info.get("image_base64")
        data = None if raw is None else decode_base64(raw, f"{what}.image_base64")
        node = ImageNode(src=image_source(info.get("raw_url"), data, what),
                         alt=str(info.get("alt_text") or ""),
                         caption=str(info.get("caption") or ""))
        before[idx].append((node, data))

    doc = new_document(obj["url"], source, row_no, MMC4)
    out = Imported(doc)
    image_count = 0  # doc.images rebuilds its list: counted here instead
    for text, images in zip(texts, before):
        for node, data in images:
            if data is not None:
                out.embedded[image_count] = data
            doc.nodes.append(node)
            image_count += 1
        if text.strip():
            doc.nodes.append(TextNode(text=text))
    return out
