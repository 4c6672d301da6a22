"""Arrow schemas for the tables the build writes (rejects, document index)."""

from __future__ import annotations

import pyarrow as pa

REJECT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("stage", pa.string()),
        ("filter", pa.string()),
        ("reason", pa.string()),
        ("value", pa.float64()),
        ("url", pa.string()),
        ("detail", pa.string()),
        ("record", pa.string()),
        ("excerpt", pa.string()),
    ]
)

_IMAGE_NODE = pa.struct(
    [
        ("src", pa.string()),
        ("alt", pa.string()),
        ("caption", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("member", pa.string()),
        ("sha256", pa.string()),
    ]
)

# One row per document; nodes as parallel lists where exactly one of text/image is set.
DOCUMENT_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("crawl_date", pa.string()),
        ("source_file", pa.string()),
        ("source_offset", pa.int64()),
        ("language", pa.string()),
        ("texts", pa.list_(pa.string())),
        ("images", pa.list_(_IMAGE_NODE)),
    ]
)

IMAGE_TEXT_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("caption", pa.string()),
        ("url", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("sha256", pa.string()),
        ("source", pa.string()),
    ]
)

VIDEO_TEXT_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("caption", pa.string()),
        ("url", pa.string()),
        ("duration", pa.float64()),
        ("fps", pa.float64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("codec", pa.string()),
        ("timestamps", pa.list_(pa.float64())),
    ]
)
