"""Interleaved documents -> Parquet in OBELICS's published schema, one row per document.

``texts`` and ``images`` are aligned position by position, exactly one of the two set at each
(the image's source URL); ``metadata`` is a JSON list with one object per position (a text's
tag; an image's alt text, caption, stored size, shard member and SHA-256); ``general_metadata``
a JSON object (url, crawl date, source WARC file and offset, language, title, our document
key). ``embed=True`` adds ``image_bytes``: the stored JPEG at each image position.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from pipeline.commands.export.sinks import FormatSink, Limits, ParquetSink, RollingFiles
from pipeline.imports.obelics import EMBED_COLUMN  # the column the importer reads back
from pipeline.outputs.tar import Sample

SOURCES = ("interleaved",)


def schema(embed: bool) -> pa.Schema:
    fields = [("texts", pa.list_(pa.string())), ("images", pa.list_(pa.string())),
              ("metadata", pa.string()), ("general_metadata", pa.string())]
    if embed:
        fields.append((EMBED_COLUMN, pa.list_(pa.binary())))
    return pa.schema(fields)


def general_metadata(doc: dict[str, Any]) -> dict[str, Any]:
    return {"url": doc.get("url", ""), "crawl_date": doc.get("crawl_date", ""),
            "warc_filename": doc.get("source_file", ""),
            "warc_record_offset": doc.get("source_offset", -1),
            "language": doc.get("language", ""), "title": doc.get("title", ""),
            "key": doc.get("key", "")}


def obelics_row(sample: Sample, embed: bool) -> tuple[dict[str, Any], int, int, int]:
    """(row, its size in bytes, its number of images, how many of those lack their bytes
    when embedding: their position keeps the URL, with null bytes) of one interleaved
    sample."""
    key, members = sample
    doc = json.loads(members["json"])
    texts: list[str | None] = []
    images: list[str | None] = []
    metadata: list[dict[str, Any]] = []
    blobs: list[bytes | None] = []
    for node in doc.get("nodes", []):
        if node.get("type") == "image":
            texts.append(None)
            images.append(node.get("src", ""))
            metadata.append({"src": node.get("src", ""), "alt_text": node.get("alt", ""),
                             "caption": node.get("caption", ""), "width": node.get("width"),
                             "height": node.get("height"), "format": "jpeg",
                             "member": f"{key}.{node.get('member')}",
                             "sha256": node.get("sha256")})
            blobs.append(members.get(node.get("member") or ""))
        else:
            texts.append(node.get("text", ""))
            images.append(None)
            metadata.append({"tag": node.get("tag", "p")})
            blobs.append(None)
    row: dict[str, Any] = {
        "texts": texts, "images": images,
        "metadata": json.dumps(metadata, ensure_ascii=False),
        "general_metadata": json.dumps(general_metadata(doc), ensure_ascii=False),
    }
    size = len(members["json"])
    n_images = sum(1 for i in images if i is not None)
    missing = 0
    if embed:
        row[EMBED_COLUMN] = blobs
        size += sum(len(b) for b in blobs if b)
        missing = n_images - sum(1 for b in blobs if b)
    return row, size, n_images, missing


class ObelicsSink(FormatSink):
    """Interleaved samples -> OBELICS Parquet files of bounded size."""

    def __init__(self, out_dir: str, stem: str, limits: Limits, embed: bool = False) -> None:
        super().__init__()
        self.embed = embed
        self.files = ParquetSink(out_dir, stem, limits, schema(embed))

    def parts(self) -> list[RollingFiles]:
        return [self.files]

    def add(self, source: str, sample: Sample) -> None:
        row, size, n_images, missing = obelics_row(sample, self.embed)
        self.files.add(row, size)
        self.images += n_images
        self.skipped += missing
