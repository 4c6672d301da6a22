"""HTML records -> Documents, with a Reject for every page that yields none (and one for each
image its rules leave out), a page's rejects in one list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from pipeline import progress
from pipeline.rejects import REJECTS, excerpt
from schemas import Document, Reject, make_key
from scrapers.warc_read import WebRecord

EXTRACT_FILTER = "extract/v1"
IMAGE_RULES_FILTER = "image_rules/v1"

# Reasons the extract stage can give for a page.
EXTRACT_REASONS = ("too_large", "empty", "no_content", "too_little_text")


def doc_key(rec: WebRecord) -> str:
    return make_key(rec.url, rec.source, rec.offset)


def extract_record(rec: WebRecord, cfg: dict[str, Any]) -> tuple[Document | None, list[Reject]]:
    """The pure core of the stage: one HTML record -> (Document or None, rejects)."""
    key = doc_key(rec)
    ecfg = cfg["extract"]

    def reject(reason: str, value: float | None = None, detail: str = "", text: str = ""
               ) -> Reject:
        return Reject(source=rec.source_id, stage="extract", filter=EXTRACT_FILTER,
                      reason=reason, value=value, url=rec.url, detail=detail,
                      excerpt=excerpt(text))

    if rec.reason == "too_large":
        return None, [reject("too_large", detail=rec.detail)]
    if not rec.payload or not rec.payload.strip():
        return None, [reject("empty", 0.0)]
    if ecfg["backend"] == "trafilatura":
        from scrapers.trafilatura_backend import extract_trafilatura

        doc, skipped = extract_trafilatura(rec.payload, rec.url, rec.content_type), []
    else:
        from scrapers.extract import extract_detailed

        ex = extract_detailed(rec.payload, rec.url, rec.content_type, image_rules=True)
        doc, skipped = ex.document, ex.skipped_images
    rejects = [
        Reject(source=key, stage="image", filter=IMAGE_RULES_FILTER, reason=reason,
               url=src[:2000])
        for src, reason in skipped
    ]
    if doc is None:
        return None, rejects + [reject("no_content")]
    n_chars = len(doc.text)
    if n_chars < ecfg["min_text_chars"]:
        return None, rejects + [reject("too_little_text", float(n_chars), text=doc.text)]
    doc.key = key
    doc.url = rec.url
    doc.crawl_date = rec.date
    if rec.meta:  # e.g. the URL a list asked for, when the page came from a redirect
        doc.meta.update(rec.meta)
    doc.source_file = rec.source
    doc.source_offset = rec.offset
    return doc, rejects


class ExtractFn(beam.DoFn):
    """Wraps extract_record; an unexpected exception becomes an `error:<Type>` reject."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg

    def process(self, rec: WebRecord) -> Iterator[Any]:
        try:
            doc, rejects = extract_record(rec, self.cfg)
        except Exception as exc:  # one bad page must not stop a build
            doc, rejects = None, [Reject(
                source=rec.source_id, stage="extract", filter=EXTRACT_FILTER,
                reason=f"error:{type(exc).__name__}", url=rec.url, detail=str(exc)[:500])]
        if rejects:  # one element a page (pipeline.rejects.rejects_in)
            yield pvalue.TaggedOutput(REJECTS, rejects)
        if doc is not None:
            progress.add("documents_extracted")
            yield doc
