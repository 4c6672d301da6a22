"""Quality filters as a Beam stage. Node-level filters run first (a bad paragraph leaves its
document), then document-level ones (a bad document leaves the build). With
``filters.tag_only`` every measured value is written into the document's meta and nothing is
dropped, so thresholds can be tuned on real data before they are applied."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from filters.base import Filter, enabled_filters, run_filters
from pipeline.rejects import REJECTS, excerpt
from schemas import Document, Reject, TextNode

NODE_STAGE = "node"  # rejects that remove one text node
FILTER_STAGE = "filter"  # rejects that remove a whole document
TEXT_LEFT_FILTER = "text_left/v1"  # a document whose every text node was removed
TEXT_LEFT_REASONS = ("no_text_left",)


@dataclass
class FilterSet:
    node: list[Filter]
    document: list[Filter]
    tag_only: bool


def filter_set(cfg: dict[str, Any]) -> FilterSet:
    """The filters a build config turns on, in config order (cheap ones are listed first)."""
    fcfg = cfg["filters"]
    return FilterSet(enabled_filters(fcfg["node"]), enabled_filters(fcfg["document"]),
                     fcfg["tag_only"])


def filter_document(doc: Document, fs: FilterSet) -> tuple[Document | None, list[Reject]]:
    """Apply node then document filters: (kept document or None, rejects). In tag_only mode
    measures go to ``doc.meta["filters"]`` and nothing is dropped. ``doc`` itself is never
    changed (Beam may hand the same object to another consumer or to a retried bundle): the
    kept document is a copy."""
    from filters.text_stats import TextItem

    rejects: list[Reject] = []
    tags: dict[str, Any] = {}
    nodes = []
    node_tags: list[dict[str, Any]] = []
    for node in doc.nodes:
        if not isinstance(node, TextNode) or not fs.node:
            nodes.append(node)
            continue
        item = TextItem(node.text, doc.url)
        drop, measured = run_filters(fs.node, item, fs.tag_only)
        if fs.tag_only:
            node_tags.append(measured)
        if drop is not None and not fs.tag_only:
            name, d = drop
            rejects.append(Reject(doc.key, NODE_STAGE, name, d.reason, d.value, doc.url,
                                  excerpt(node.text)))
            continue
        nodes.append(node)
    kept_text = sum(1 for n in nodes if isinstance(n, TextNode))
    if fs.node and kept_text == 0 and not fs.tag_only:
        rejects.append(Reject(doc.key, FILTER_STAGE, TEXT_LEFT_FILTER, "no_text_left", 0.0,
                              doc.url, excerpt=excerpt(doc.text)))
        return None, rejects
    doc = dataclasses.replace(doc, nodes=nodes, meta=dict(doc.meta))
    if fs.document:
        drop, measured = run_filters(fs.document, TextItem(doc.text, doc.url), fs.tag_only)
        tags.update(measured)
        if drop is not None and not fs.tag_only:
            name, d = drop
            rejects.append(Reject(doc.key, FILTER_STAGE, name, d.reason, d.value, doc.url,
                                  d.detail, excerpt=excerpt(doc.text)))
            return None, rejects
    _fill_language(doc, fs)
    if fs.tag_only:
        doc.meta["filters"] = tags
        if node_tags:
            doc.meta["node_filters"] = node_tags
    return doc, rejects


def _fill_language(doc: Document, fs: FilterSet) -> None:
    """The language filter has just measured this document: keep what it detected."""
    for f in fs.document:
        if f.key == "language":
            doc.language = f.last_language or doc.language
            if f.last_language:
                doc.meta["language_score"] = round(f.last_score, 4)


class FilterFn(beam.DoFn):
    """Wraps filter_document; filters are built once per worker in setup()."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self._fs: FilterSet | None = None

    def setup(self) -> None:
        self._fs = filter_set(self.cfg)

    def process(self, doc: Document) -> Iterator[Any]:
        assert self._fs is not None
        try:
            kept, rejects = filter_document(doc, self._fs)
        except Exception as exc:  # one bad document must not stop a build
            kept, rejects = None, [Reject(
                doc.key, FILTER_STAGE, "filters/v1", f"error:{type(exc).__name__}", None,
                doc.url, str(exc)[:500])]
        for r in rejects:
            yield pvalue.TaggedOutput(REJECTS, r)
        if kept is not None:
            yield kept


class FilterDocuments(beam.PTransform):
    """Documents -> filtered documents (main) and rejects."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        return docs | "ApplyFilters" >> beam.ParDo(FilterFn(self.cfg)).with_outputs(
            REJECTS, main="docs")
