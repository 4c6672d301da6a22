"""alt_text: image/alt-text pairs harvested from the kept web pages (the ALIGN recipe).

For each stored image of a kept document, the first of its texts (alt, then figcaption by
default) that passes the alt-text rules becomes the caption. ALIGN also drops alt texts shared
by more than 10 images (boilerplate such as "product photo"); that count is global, so it is
done in two passes: light (text, image hash) pairs find the over-shared texts, which are few
and go to the candidates as a side input. The image is copied: it stays in its document too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from pipeline.file_shuffle import RUNNER, Shuffle, marked
from pipeline.rejects import REJECTS, make_reject
from pipeline.sources.common import caption_rules
from pipeline.stages.image_dedup import reiterable
from schemas import Document, ImageNode, ImageTextPair, make_key
from scrapers.captions import ALT_TEXT_FILTER, CaptionRules, check_caption, normalize_key

STAGE = "alt_text"
SHARED_FILTER = "alt_text_shared/v1"
SIZE_FILTER = "alt_text_image/v1"


def _candidates(doc: Document, images: dict[str, bytes], scfg: dict[str, Any],
                rules: CaptionRules) -> Iterator[Any]:
    """(text key, pair dict) for each image with a good text; a Reject for every other one."""
    min_side = int(scfg.get("min_side") or 0)
    for node in doc.images:
        if not node.member or node.member not in images:
            continue
        rid = f"{doc.key}#{node.member}"
        if min_side and min(node.width or 0, node.height or 0) < min_side:
            yield make_reject(STAGE, rid, SIZE_FILTER, "too_small",
                              float(min(node.width or 0, node.height or 0)), node.src)
            continue
        first_fail = None
        chosen = None
        for field_name in scfg["text_sources"]:
            text = getattr(node, field_name, "") or ""
            if not text.strip():
                continue
            verdict = check_caption(text, rules, title=doc.title)
            if verdict.ok:
                chosen = (field_name, verdict.text)
                break
            first_fail = first_fail or (field_name, verdict)
        if chosen is None:
            if first_fail is None:
                yield make_reject(STAGE, rid, ALT_TEXT_FILTER, "empty", 0.0, node.src)
            else:
                name, v = first_fail
                yield make_reject(STAGE, rid, ALT_TEXT_FILTER, v.reason or "unknown", v.value,
                                  node.src, f"{name}: {v.text[:200]}")
            continue
        page = {"key": doc.key, "url": doc.url, "title": doc.title,
                "source_file": doc.source_file}
        yield normalize_key(chosen[1]), {"doc": page, "node": node, "from": chosen[0],
                                         "caption": chosen[1], "jpeg": images[node.member]}


class CandidatesFn(beam.DoFn):
    def __init__(self, scfg: dict[str, Any]) -> None:
        self.scfg = scfg
        self.rules = caption_rules(scfg)

    def process(self, item: tuple[Document, dict[str, bytes]]) -> Iterator[Any]:
        doc, images = item
        try:
            for out in _candidates(doc, images, self.scfg, self.rules):
                yield out if isinstance(out, tuple) else pvalue.TaggedOutput(REJECTS, out)
        except Exception as exc:  # one odd document must not stop the build
            yield pvalue.TaggedOutput(REJECTS, make_reject(
                STAGE, doc.key, ALT_TEXT_FILTER, f"error:{type(exc).__name__}", url=doc.url,
                detail=str(exc)))


def image_identity(node: ImageNode) -> str:
    return node.sha256 or node.src


def pair_sample(c: dict[str, Any]) -> tuple[str, dict[str, bytes]]:
    doc, node = c["doc"], c["node"]
    key = make_key(STAGE, doc["key"], node.member)
    pair = ImageTextPair(
        key=key, caption=c["caption"], url=node.src, width=node.width, height=node.height,
        sha256=node.sha256, source=STAGE,
        meta={"document": doc["key"], "page_url": doc["url"], "page_title": doc["title"],
              "text_from": c["from"], "member": node.member,
              "source_file": doc["source_file"]})
    meta = json.dumps(asdict(pair), ensure_ascii=False, sort_keys=True).encode()
    return key, {"json": meta, "txt": c["caption"].encode(), "jpg": c["jpeg"]}


_COUNT, _CANDIDATE = 0, 1


def _split_shared(item: tuple[str, Iterable[tuple[int, Any]]], limit: int) -> Iterator[Any]:
    """(text key, tagged [image count and candidates]) -> samples, or rejects when the text is
    shared by more than ``limit`` images. Two lazy passes: find the count, then stream the
    candidates (a text like "image" may be on millions of them)."""
    text_key, tagged = item
    tagged = reiterable(tagged)
    count = next((v for tag, v in tagged if tag == _COUNT), 0)
    for tag, c in tagged:
        if tag != _CANDIDATE:
            continue
        if count > limit:
            node = c["node"]
            yield pvalue.TaggedOutput(REJECTS, make_reject(
                STAGE, f"{c['doc']['key']}#{node.member}", SHARED_FILTER, "shared_alt_text",
                float(count), node.src, c["caption"][:200]))
        else:
            yield pair_sample(c)


class AltTextPairs(beam.PTransform):
    """Kept (Document, {member: jpeg}) -> `samples` ((key, {ext: bytes})) and `rejects` (a
    list of Reject streams, one per stage that makes them)."""

    def __init__(self, scfg: dict[str, Any], shuffle: Shuffle = RUNNER) -> None:
        super().__init__()
        self.scfg, self.sh = scfg, shuffle

    def expand(self, kept):
        cands = kept | "Candidates" >> beam.ParDo(CandidatesFn(self.scfg)).with_outputs(
            REJECTS, main="pairs")
        limit = int(self.scfg.get("max_shared") or 0)
        if not limit:
            samples = cands.pairs | "Samples" >> beam.MapTuple(lambda _text, c: pair_sample(c))
            return {"samples": samples, REJECTS: [cands[REJECTS]]}
        # Images per text, combined before the shuffle; then one join by text.
        sh = self.sh
        pairs = sh.distinct("Distinct", cands.pairs | "TextImage" >> beam.Map(
            lambda kv: (kv[0], image_identity(kv[1]["node"]))))
        counts = marked(sh.count("CountImages", pairs), "TagCounts", _COUNT)
        out = (
            sh.group("ByText", counts, marked(cands.pairs, "TagCandidates", _CANDIDATE))
            | "Samples" >> beam.FlatMap(_split_shared, limit).with_outputs(REJECTS, main="samples")
        )
        # Two stages' rejects, kept apart (parked where made: see pipeline.outputs.reject_files)
        return {"samples": out.samples, REJECTS: [cands[REJECTS], out[REJECTS]]}
