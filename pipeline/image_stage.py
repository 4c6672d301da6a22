"""Images: join each document's image URLs with images stored in the WARCs, fetch the rest,
decode and check them, then put the survivors back into their documents.

Each distinct URL is resolved once (one fetch, one decode) whatever the number of documents
that use it; the outcome is then fanned back out to every (document, position) asking for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urlsplit, urlunsplit

import apache_beam as beam
from apache_beam import pvalue

from pipeline import progress
from schemas import Document, ImageNode, Reject, TextNode, image_member
from scrapers.warc_read import WebRecord

REJECTS = "rejects"
FETCH_FILTER = "fetch/v1"
CHECK_FILTER = "image_check/v1"
MIN_IMAGES_FILTER = "min_images/v1"
MAX_IMAGES_FILTER = "max_images/v1"


@dataclass
class ImageOutcome:
    ok: bool
    origin: str  # "warc" or "http"
    reason: str | None = None
    filter: str = CHECK_FILTER
    value: float | None = None
    detail: str = ""
    jpeg: bytes | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None


def normalize_url(url: str) -> str:
    """Join key for image URLs: no fragment, lower-case scheme and host."""
    url = urldefrag(url.strip())[0]
    try:
        p = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), p.path or "/", p.query, ""))


def image_requests(doc: Document) -> Iterator[tuple[str, tuple[str, int]]]:
    for i, img in enumerate(doc.images):
        yield normalize_url(img.src), (doc.key, i)


def warc_image(rec: WebRecord) -> tuple[str, tuple[str, bytes | None, str | None]]:
    return normalize_url(rec.url), (rec.source_id, rec.payload, rec.reason)


def check_image(data: bytes, origin: str, image_cfg: dict[str, Any]) -> ImageOutcome:
    from pipeline.imaging import image_config
    from scrapers.images import process_image

    res = process_image(data, image_config(image_cfg))
    if not res.ok:
        return ImageOutcome(False, origin, res.reason, CHECK_FILTER, res.value)
    return ImageOutcome(True, origin, jpeg=res.jpeg, width=res.width, height=res.height,
                        sha256=res.sha256)


class ResolveImagesFn(beam.DoFn):
    """(url, {'req': [(doc_key, idx)], 'warc': [(source_id, payload, reason)]}) batches
    -> (doc_key, (idx, ImageOutcome)). Fetches run in a thread pool per batch."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self._fetcher = None

    def setup(self) -> None:
        if self.cfg["fetch"]["enabled"]:
            from pipeline.fetching import make_fetcher

            self._fetcher = make_fetcher(self.cfg["fetch"])

    def _resolve(self, url: str, stored: list[tuple[str, bytes | None, str | None]]
                 ) -> ImageOutcome:
        try:
            usable = sorted((s for s in stored if s[1]), key=lambda s: s[0])
            if usable:
                return check_image(usable[0][1], "warc", self.cfg["images"])
            if self._fetcher is None:
                return ImageOutcome(False, "http", "not_in_warc", FETCH_FILTER)
            res = self._fetcher.fetch(url)
            progress.add("images_fetched")
            if res.error:
                value = float(res.status) if res.status else None
                return ImageOutcome(False, "http", res.error, FETCH_FILTER, value, res.detail[:300])
            return check_image(res.body or b"", "http", self.cfg["images"])
        except Exception as exc:  # a bad image must never stop the build
            return ImageOutcome(False, "http", f"error:{type(exc).__name__}", CHECK_FILTER,
                                detail=str(exc)[:300])

    def process(self, batch: list[tuple[str, dict[str, Iterable[Any]]]]) -> Iterator[Any]:
        wanted = [(url, list(g["req"]), list(g["warc"])) for url, g in batch if list(g["req"])]
        threads = max(1, min(self.cfg["fetch"]["threads"], len(wanted)))
        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(lambda w: self._resolve(w[0], w[2]), wanted))
        for (_url, reqs, _), outcome in zip(wanted, outcomes):
            progress.add("images_resolved")
            for doc_key, idx in reqs:
                yield doc_key, (idx, outcome)


def assemble(doc: Document, outcomes: dict[int, ImageOutcome], image_cfg: dict[str, Any]
             ) -> tuple[Document | None, dict[str, bytes], list[Reject]]:
    """Put checked images back at their places; drop failed ones; apply the per-page counts."""
    nodes: list[Any] = []
    members: dict[str, bytes] = {}
    rejects: list[Reject] = []
    stored = 0
    cap = image_cfg["max_per_document"]
    img_idx = 0
    for node in doc.nodes:
        if isinstance(node, TextNode):
            nodes.append(node)
            continue
        o = outcomes.get(img_idx) or ImageOutcome(False, "http", "missing_outcome")
        img_idx += 1
        if not o.ok:
            rejects.append(Reject(doc.key, "image", o.filter, o.reason or "unknown", o.value,
                                  node.src, o.detail))
            continue
        if cap and stored >= cap:
            rejects.append(Reject(doc.key, "image", MAX_IMAGES_FILTER, "over_max_per_document",
                                  float(stored + 1), node.src))
            continue
        member = image_member(stored)
        members[member] = o.jpeg or b""
        nodes.append(ImageNode(src=node.src, alt=node.alt, caption=node.caption, width=o.width,
                               height=o.height, member=member, sha256=o.sha256))
        stored += 1
    if stored < image_cfg["min_per_document"]:
        rejects.append(Reject(doc.key, "document", MIN_IMAGES_FILTER, "too_few_images",
                              float(stored), doc.url))
        return None, {}, rejects
    doc.nodes = nodes
    return doc, members, rejects


class AssembleFn(beam.DoFn):
    def __init__(self, image_cfg: dict[str, Any]) -> None:
        self.image_cfg = image_cfg

    def process(self, item: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        _key, groups = item
        docs = list(groups["doc"])
        if not docs:
            return
        outcomes = dict(groups["img"])
        doc, members, rejects = assemble(docs[0], outcomes, self.image_cfg)
        for r in rejects:
            yield pvalue.TaggedOutput(REJECTS, r)
        if doc is not None:
            progress.add("documents_kept")
            yield doc, members


class ResolveImages(beam.PTransform):
    """Documents + WARC image records -> ((Document, {member: jpeg}) kept, Reject) outputs."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, inputs):
        docs, warc_images = inputs
        requests = docs | "ImageRequests" >> beam.FlatMap(image_requests)
        stored = warc_images | "StoredImages" >> beam.Map(warc_image)
        outcomes = (
            {"req": requests, "warc": stored}
            | "ByImageUrl" >> beam.CoGroupByKey()
            | "BatchUrls" >> beam.BatchElements(min_batch_size=32, max_batch_size=128)
            | "Resolve" >> beam.ParDo(ResolveImagesFn(self.cfg))
        )
        keyed_docs = docs | "KeyDocs" >> beam.Map(lambda d: (d.key, d))
        return (
            {"doc": keyed_docs, "img": outcomes}
            | "ByDocument" >> beam.CoGroupByKey()
            | "Assemble" >> beam.ParDo(AssembleFn(self.cfg["images"])).with_outputs(
                REJECTS, main="kept")
        )
