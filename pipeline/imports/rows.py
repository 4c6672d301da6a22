"""What the row converters share: the reasons a row is refused, and what a good row gives."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from schemas import Document, make_key

IMPORT_FILTER = "import/v1"
IMPORT_REASONS = (
    "missing_columns",  # a column (OBELICS) or key (MMC4) the schema requires is absent
    "bad_row",  # a value of the wrong type: not a list, not a string, not an object
    "bad_json",  # a line, or a metadata column, that is not valid JSON
    "misaligned",  # OBELICS lists of different lengths
    "bad_position",  # both or neither of text and image at a position; an image index out of range
    "bad_base64",  # image bytes that do not decode
    "too_large",  # a line longer than the reader takes
    "too_little_text",  # less text than extract.min_text_chars
)


class BadRow(ValueError):
    """A row the importer refuses: ``reason`` is one of IMPORT_REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass
class Imported:
    """A converted row: its Document, and the bytes the row held for some of its images,
    as {image index in doc.images: bytes}."""

    doc: Document
    embedded: dict[int, bytes] = field(default_factory=dict)


def new_document(url: Any, source: str, row: int, fmt: str) -> Document:
    """An empty Document for row ``row`` of input ``source`` (a base name): its key is made as
    a WARC page's is, from URL, input and place, so every row has its own."""
    if not isinstance(url, str) or not url.strip():
        raise BadRow("missing_columns", "url")
    url = url.strip()
    return Document(url=url, key=make_key(url, source, row), source_file=source,
                    source_offset=row, meta={"imported": {"format": fmt, "row": row}})


def json_value(value: Any, what: str) -> Any:
    """A JSON column's value: parsed when a string, as it is when already a structure."""
    if value is None or not isinstance(value, (str, bytes)):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise BadRow("bad_json", f"{what}: {exc}") from None


def text_or_none(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadRow("bad_row", f"{what} is {type(value).__name__}, not a string")


def list_of(value: Any, what: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    raise BadRow("bad_row", f"{what} is {type(value).__name__}, not a list")


def decode_base64(value: Any, what: str) -> bytes:
    """Image bytes given as base64 text (MMC4's ``image_base64``)."""
    import base64
    import binascii

    if not isinstance(value, (str, bytes)):
        raise BadRow("bad_base64", f"{what} is {type(value).__name__}")
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRow("bad_base64", f"{what}: {exc}") from None
    if not data:
        raise BadRow("bad_base64", f"{what} is empty")
    return data


def image_source(url: Any, data: bytes | None, what: str) -> str:
    """An image's URL; an image known only by its bytes is named by their SHA-256, so that
    copies of one picture still meet in the image stage's per-URL combine."""
    import hashlib

    if isinstance(url, str) and url.strip():
        return url.strip()
    if url is not None and not isinstance(url, str):
        raise BadRow("bad_row", f"{what}: the URL is {type(url).__name__}")
    if data is None:
        raise BadRow("bad_position", f"{what}: an image with neither URL nor bytes")
    return "urn:sha256:" + hashlib.sha256(data).hexdigest()
