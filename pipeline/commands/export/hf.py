"""Image-text pairs -> WebDataset tars that Hugging Face ``datasets`` reads with
``load_dataset("webdataset", data_files=...)``: ``KEY.jpg``, ``KEY.txt`` and ``KEY.json``.

The build's own pair shards have this layout already, but ``datasets`` infers a column type
from a shard's first five samples, so a ``meta`` key those lack is dropped from every later
sample, and a field null in them breaks the load when a later sample sets it. Here every
``KEY.json`` has the same fields with the same types, never null: ``key``, ``caption``, ``url``,
``width``, ``height`` (0 when unknown), ``sha256`` ("" when unknown), ``source``, and ``meta``
as a JSON string.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.commands.export.sinks import FormatSink, Limits, RollingFiles, TarSink
from pipeline.outputs.tar import Sample

SOURCES = ("alt_text", "image_text")


def hf_members(source: str, sample: Sample) -> list[tuple[str, bytes]]:
    key, members = sample
    meta: dict[str, Any] = json.loads(members.get("json") or b"{}")
    caption = members.get("txt", b"").decode("utf-8", "replace") or str(meta.get("caption", ""))
    fixed = {"key": key, "caption": caption, "url": str(meta.get("url") or ""),
             "width": int(meta.get("width") or 0), "height": int(meta.get("height") or 0),
             "sha256": str(meta.get("sha256") or ""), "source": source,
             "meta": json.dumps(meta.get("meta") or {}, ensure_ascii=False, sort_keys=True)}
    return [("jpg", members["jpg"]), ("txt", caption.encode("utf-8")),
            ("json", json.dumps(fixed, ensure_ascii=False).encode("utf-8"))]


class HfSink(FormatSink):
    """Pair samples -> one folder of tars per source, ``OUT/<source>/``; a pair without its
    image is skipped."""

    def __init__(self, out_dir: str, stem: str, limits: Limits, embed: bool = True) -> None:
        super().__init__()
        self.out_dir, self.stem, self.limits = out_dir, stem, limits
        self.by_source: dict[str, TarSink] = {}

    def parts(self) -> list[RollingFiles]:
        return list(self.by_source.values())

    def sink_for(self, source: str) -> TarSink:
        if source not in self.by_source:
            self.by_source[source] = TarSink(self.out_dir, f"{source}/{self.stem}", self.limits)
        return self.by_source[source]

    def add(self, source: str, sample: Sample) -> None:
        if not sample[1].get("jpg"):
            self.skipped += 1
            return
        files = self.sink_for(source)
        files.add(sample[0], hf_members(source, sample))
        self.images += 1
