"""Interleaved documents -> MMC4's layout as OpenFlamingo's MMC4 loader reads it: WebDataset
tars whose ``KEY.json`` holds ``url``, ``text_list`` (the document's paragraphs), ``image_info``
(per image: ``raw_url``, ``image_name``, ``matched_text_index``, ``matched_sim``, and
``image_base64`` with the stored JPEG) and ``similarity_matrix`` (images x texts).

MMC4 matches each image to a sentence by CLIP similarity; we know each image's true place, so
each is matched to the paragraph that follows it, with ``matched_sim`` MATCHED_SIM: above the
loader's threshold in every version (0.24 now, 0.32 before), so none is dropped, and the loader
puts each image back where the page had it. The matrix is MATCHED_SIM at each image's
paragraph and 0 elsewhere: positions, not CLIP scores. A document ending with images gets an
empty last paragraph for them to precede.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pipeline.commands.export.sinks import FormatSink, Limits, RollingFiles, TarSink
from pipeline.outputs.tar import Sample

SOURCES = ("interleaved",)
MATCHED_SIM = 1.0


def mmc4_document(sample: Sample) -> tuple[dict[str, Any], int]:
    """(MMC4 document object, images left out for want of bytes) of one interleaved sample."""
    key, members = sample
    doc = json.loads(members["json"])
    text_list: list[str] = []
    image_info: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    missing = 0

    def place(nodes: list[dict[str, Any]], index: int) -> None:
        nonlocal missing
        for node in nodes:
            data = members.get(node.get("member") or "")
            if not data:
                missing += 1
                continue
            image_info.append({
                "raw_url": node.get("src", ""), "image_name": f"{key}.{node.get('member')}",
                "matched_text_index": index, "matched_sim": MATCHED_SIM,
                "image_base64": base64.b64encode(data).decode("ascii"),
                "alt_text": node.get("alt", ""), "width": node.get("width"),
                "height": node.get("height"), "sha256": node.get("sha256")})

    for node in doc.get("nodes", []):
        if node.get("type") == "image":
            pending.append(node)
            continue
        place(pending, len(text_list))
        pending = []
        text_list.append(node.get("text", ""))
    if pending:
        text_list.append("")
        place(pending, len(text_list) - 1)
    matrix = [[MATCHED_SIM if t == info["matched_text_index"] else 0.0
               for t in range(len(text_list))] for info in image_info]
    out = {"url": doc.get("url", ""), "text_list": text_list, "image_info": image_info,
           "similarity_matrix": matrix,
           "m3w": {k: doc.get(k) for k in ("key", "crawl_date", "language", "title",
                                           "source_file", "source_offset")}}
    return out, missing


class Mmc4Sink(FormatSink):
    """Interleaved samples -> MMC4 tars of bounded size (images always embedded: the loader
    reads nothing else)."""

    def __init__(self, out_dir: str, stem: str, limits: Limits, embed: bool = True) -> None:
        super().__init__()
        self.files = TarSink(out_dir, stem, limits)

    def parts(self) -> list[RollingFiles]:
        return [self.files]

    def add(self, source: str, sample: Sample) -> None:
        obj, missing = mmc4_document(sample)
        self.skipped += missing
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.files.add(sample[0], [("json", data)])
        self.images += len(obj["image_info"])
