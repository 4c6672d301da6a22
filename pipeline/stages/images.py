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
from pipeline.rejects import REJECTS
from pipeline.stages.image_dedup import IMAGE_DEDUP_REASONS, DuplicateImages
from schemas import Document, ImageNode, Reject, TextNode, image_member
from scrapers.warc_read import WebRecord

FETCH_FILTER = "fetch/v1"
CHECK_FILTER = "image_check/v1"
MIN_IMAGES_FILTER = "min_images/v1"
MAX_IMAGES_FILTER = "max_images/v1"
URL_COUNT_FILTER = "image_url_count/v1"  # a URL used by too many pages: a logo, a banner
URL_COUNT_REASONS = ("too_common",)
PRE_FETCH_FILTERS = ("image_url",)  # image filters that need only the URL run before fetching


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
    phash: int | None = None
    tags: dict[str, Any] | None = None  # tag_only: every image filter's measures


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


def check_image(data: bytes, origin: str, image_cfg: dict[str, Any],
                url: str = "", checks: ImageChecks | None = None) -> ImageOutcome:
    """Decode and check one image, then run the decoded-image filters and the evaluation-set
    match of ``checks``."""
    from pipeline.stages.imaging import image_config
    from scrapers.images import process_image

    res = process_image(data, image_config(image_cfg))
    if not res.ok:
        return ImageOutcome(False, origin, res.reason, CHECK_FILTER, res.value)
    out = ImageOutcome(True, origin, jpeg=res.jpeg, width=res.width, height=res.height,
                       sha256=res.sha256, phash=res.phash)
    return checks.after_decode(out, res, url) if checks is not None else out


class ImageChecks:
    """The image filters of a build config, its URL-count limit and its evaluation images."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        from filters.base import enabled_filters
        from pipeline.stages.decontam import image_index

        made = enabled_filters(cfg["filters"]["image"])
        self.pre = [f for f in made if f.key in PRE_FETCH_FILTERS]
        self.post = [f for f in made if f.key not in PRE_FETCH_FILTERS]
        self.tag_only = cfg["filters"]["tag_only"]
        ucfg = cfg["dedup"]["image_urls"]
        self.max_url_docs = ucfg["max_documents"] if ucfg["enabled"] else 0
        self.eval_index = image_index(cfg["decontam"])

    def _run(self, filters: list[Any], facts: Any, out: ImageOutcome) -> ImageOutcome:
        from filters.base import run_filters

        first, measured = run_filters(filters, facts, self.tag_only)
        if measured:
            out.tags = dict(out.tags or {}, **measured)
        if first is not None and not self.tag_only:
            name, drop = first
            return ImageOutcome(False, out.origin, drop.reason, name, drop.value, drop.detail)
        return out

    def before_fetch(self, url: str, n_docs: int) -> ImageOutcome | None:
        """A failed outcome when the URL alone condemns the image (no fetch), else None."""
        from filters.image_rules import ImageFacts

        out = ImageOutcome(True, "http")
        if self.max_url_docs and n_docs > self.max_url_docs:
            if not self.tag_only:
                return ImageOutcome(False, "http", "too_common", URL_COUNT_FILTER,
                                    float(n_docs))
            out.tags = {URL_COUNT_FILTER: {"documents": n_docs}}
        out = self._run(self.pre, ImageFacts(url=url), out)
        return None if out.ok and not out.tags else out

    def after_decode(self, out: ImageOutcome, res: Any, url: str) -> ImageOutcome:
        from filters.image_rules import ImageFacts
        from pipeline.stages.decontam import IMAGE_FILTER

        facts = ImageFacts(url=url, width=res.orig_width or 0, height=res.orig_height or 0,
                           format=res.format or "", gray_std=res.gray_std, colors=res.colors)
        out = self._run(self.post, facts, out)
        if out.ok and self.eval_index is not None:
            hit = self.eval_index.match(out.sha256, out.phash)
            if hit is not None and not self.tag_only:
                return ImageOutcome(False, out.origin, "eval_image_match", IMAGE_FILTER,
                                    detail=f"eval item {hit}")
            if hit is not None:
                out.tags = dict(out.tags or {}, eval_image_match=hit)
        return out


class ResolveImagesFn(beam.DoFn):
    """(url, {'req': [(doc_key, idx)], 'warc': [(source_id, payload, reason)]}) batches
    -> (doc_key, (idx, ImageOutcome)). Fetches run in a thread pool per batch."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self._fetcher = None
        self._checks: ImageChecks

    def setup(self) -> None:
        if self.cfg["fetch"]["enabled"]:
            from pipeline.stages.fetching import make_fetcher

            self._fetcher = make_fetcher(self.cfg["fetch"])
        self._checks = ImageChecks(self.cfg)

    def _resolve(self, url: str, n_docs: int,
                 stored: list[tuple[str, bytes | None, str | None]]) -> ImageOutcome:
        try:
            checks = self._checks
            early = checks.before_fetch(url, n_docs)
            if early is not None and not early.ok:
                return early  # condemned by its URL: never fetched
            out = self._fetch_and_check(url, stored, checks)
            if early is not None and early.tags and out.ok:
                out.tags = dict(early.tags, **(out.tags or {}))
            return out
        except Exception as exc:  # a bad image must never stop the build
            return ImageOutcome(False, "http", f"error:{type(exc).__name__}", CHECK_FILTER,
                                detail=str(exc)[:300])

    def _fetch_and_check(self, url: str, stored: list[tuple[str, bytes | None, str | None]],
                         checks: ImageChecks) -> ImageOutcome:
        usable = sorted((s for s in stored if s[1]), key=lambda s: s[0])
        if usable:
            return check_image(usable[0][1], "warc", self.cfg["images"], url, checks)
        if self._fetcher is None:
            return ImageOutcome(False, "http", "not_in_warc", FETCH_FILTER)
        res = self._fetcher.fetch(url)
        progress.add("images_fetched")
        if res.error:
            value = float(res.status) if res.status else None
            return ImageOutcome(False, "http", res.error, FETCH_FILTER, value, res.detail[:300])
        return check_image(res.body or b"", "http", self.cfg["images"], url, checks)

    def process(self, batch: list[tuple[str, dict[str, Iterable[Any]]]]) -> Iterator[Any]:
        wanted = [(url, list(g["req"]), list(g["warc"])) for url, g in batch if list(g["req"])]
        threads = max(1, min(self.cfg["fetch"]["threads"], len(wanted)))
        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(
                lambda w: self._resolve(w[0], len({k for k, _ in w[1]}), w[2]), wanted))
        for (_url, reqs, _), outcome in zip(wanted, outcomes):
            progress.add("images_resolved")
            for doc_key, idx in reqs:
                yield doc_key, (idx, outcome)


def assemble(doc: Document, outcomes: dict[int, ImageOutcome], image_cfg: dict[str, Any],
             duplicates: dict[int, tuple[int, str, str, float]] | None = None,
             tag_only: bool = False) -> tuple[Document | None, dict[str, bytes], list[Reject]]:
    """Put checked images back at their places; drop failed and duplicate ones; apply the
    per-page counts. In tag_only mode duplicates and image filter measures go to the meta."""
    duplicates = duplicates or {}
    tags: dict[str, Any] = {}
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
        dup = duplicates.get(img_idx)
        if o.tags:
            tags[str(img_idx)] = o.tags
        if dup is not None and o.ok:
            _, dup_filter, survivor, dist = dup
            if tag_only:
                tags.setdefault(str(img_idx), {})[dup_filter] = survivor
            else:
                reason = IMAGE_DEDUP_REASONS[dup_filter][0]
                o = ImageOutcome(False, o.origin, reason, dup_filter, dist, f"survivor {survivor}")
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
    if tags:
        doc.meta["image_filters"] = tags
    return doc, members, rejects


class AssembleFn(beam.DoFn):
    def __init__(self, image_cfg: dict[str, Any], tag_only: bool = False) -> None:
        self.image_cfg, self.tag_only = image_cfg, tag_only

    def process(self, item: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        _key, groups = item
        docs = list(groups["doc"])
        if not docs:
            return
        outcomes = dict(groups["img"])
        duplicates = {mark[0]: mark for mark in groups.get("dup", ())}
        doc, members, rejects = assemble(docs[0], outcomes, self.image_cfg, duplicates,
                                         self.tag_only)
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
        groups = {"doc": keyed_docs, "img": outcomes}
        icfg = self.cfg["dedup"]["images"]
        if icfg["enabled"] and (icfg["exact"] or icfg["perceptual"]):
            groups["dup"] = outcomes | "DedupImages" >> DuplicateImages(icfg)
        tag_only = self.cfg["filters"]["tag_only"]
        return (
            groups
            | "ByDocument" >> beam.CoGroupByKey()
            | "Assemble" >> beam.ParDo(AssembleFn(self.cfg["images"], tag_only)).with_outputs(
                REJECTS, main="kept")
        )
