"""Document deduplication as Beam stages, before any image is fetched (most of the bandwidth a
duplicate would cost is saved that way):

1. exact URL: one document per normalised URL, the newest crawl wins;
2. exact normalised text;
3. near duplicates: MinHash over word n-grams, LSH bands, candidates verified by their
   estimated Jaccard, then clusters resolved by a fixed number of min-label propagation rounds;
4. paragraphs repeated within a domain: boilerplate that survived extraction leaves every
   document of that domain. It runs last so that copies of one page, already gone, do not
   make that page's own paragraphs look like boilerplate.

Every survivor is chosen by ``rank``: newest crawl first, then the smallest document key. The
result never depends on input order, bundling or the number of workers, and every grouping
holds one key's members (one URL, one text, one LSH bucket), never the corpus.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam import pvalue

from pipeline.rejects import REJECTS
from pipeline.stages.images import normalize_url
from schemas import Document, Reject, TextNode

DEDUP_STAGE = "dedup"
NODE_STAGE = "node"
URL_FILTER = "url_dedup/v1"
TEXT_FILTER = "text_dedup/v1"
NEAR_FILTER = "near_dedup/v1"
PARAGRAPH_FILTER = "domain_paragraphs/v1"
DEDUP_REASONS = {
    URL_FILTER: ("duplicate_url",),
    TEXT_FILTER: ("duplicate_text",),
    NEAR_FILTER: ("near_duplicate",),
    PARAGRAPH_FILTER: ("repeated_in_domain", "no_text_left"),
}

_DIGITS_DOWN = str.maketrans("0123456789", "9876543210")
_NON_WORD = re.compile(r"[\W_]+")


def rank(doc: Document) -> str:
    """Sort key of survivors: the newest crawl first (digits inverted), then the key."""
    date = doc.crawl_date.translate(_DIGITS_DOWN) if doc.crawl_date else "~"
    return f"{date}|{doc.key}"


def _key_of(rank_str: str) -> str:
    return rank_str.rsplit("|", 1)[1]


def normalized_text(text: str) -> str:
    """Case, punctuation and whitespace folded: copies differing only in those match."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(normalized_text(text).encode(), digest_size=16).digest()


def domain_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _duplicate(doc: Document, filter_name: str, reason: str, survivor: str, tag_only: bool
               ) -> Any:
    """What becomes of a duplicate: a reject naming its survivor, or with tag_only the
    document itself, marked."""
    if tag_only:
        doc.meta.setdefault("duplicate_of", {})[filter_name] = survivor
        return doc
    return pvalue.TaggedOutput(REJECTS, Reject(doc.key, DEDUP_STAGE, filter_name, reason, None,
                                               doc.url, f"survivor {survivor}"))


def _joined_doc(groups: dict[str, Iterable[Any]]) -> Document | None:
    """The document of a join keyed by document key (None when only other sides matched)."""
    return next(iter(groups["doc"]), None)


class _KeepBestFn(beam.DoFn):
    """(group key, docs) -> the best-ranked doc; the others become rejects (or, with
    tag_only, are kept and marked)."""

    def __init__(self, filter_name: str, reason: str, tag_only: bool) -> None:
        self.filter_name, self.reason, self.tag_only = filter_name, reason, tag_only

    def process(self, item: tuple[Any, Iterable[Document]]) -> Iterator[Any]:
        docs = sorted(item[1], key=rank)
        best = docs[0]
        yield best
        for doc in docs[1:]:
            yield _duplicate(doc, self.filter_name, self.reason, best.key, self.tag_only)


def _keep_best(docs, label: str, key_fn, filter_name: str, reason: str, tag_only: bool):
    return (
        docs
        | f"{label}Key" >> beam.Map(lambda d: (key_fn(d), d))
        | f"{label}Group" >> beam.GroupByKey()
        | f"{label}Best" >> beam.ParDo(_KeepBestFn(filter_name, reason, tag_only)).with_outputs(
            REJECTS, main="docs")
    )


# --- paragraphs repeated within a domain --------------------------------------------------

def _paragraph_keys(doc: Document, min_chars: int) -> Iterator[tuple[tuple[str, bytes], str]]:
    seen = set()
    domain = domain_of(doc.url)
    for node in doc.nodes:
        if isinstance(node, TextNode) and len(node.text) >= min_chars:
            h = text_hash(node.text)
            if h not in seen:
                seen.add(h)
                yield (domain, h), doc.key


def _repeated(item: tuple[tuple[str, bytes], Iterable[str]], min_documents: int
              ) -> Iterator[tuple[str, tuple[bytes, int]]]:
    keys = sorted(set(item[1]))
    if len(keys) >= min_documents:
        for key in keys:
            yield key, (item[0][1], len(keys))


class _StripParagraphsFn(beam.DoFn):
    def __init__(self, min_chars: int, tag_only: bool) -> None:
        self.min_chars, self.tag_only = min_chars, tag_only

    def process(self, item: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        doc = _joined_doc(item[1])
        if doc is None:
            return
        repeated = dict(item[1]["rep"])
        if not repeated:
            yield doc
            return
        nodes, n_text = [], 0
        for node in doc.nodes:
            if isinstance(node, TextNode) and len(node.text) >= self.min_chars:
                count = repeated.get(text_hash(node.text))
                if count is not None:
                    if self.tag_only:
                        doc.meta.setdefault("repeated_paragraphs", []).append(node.text[:200])
                    else:
                        yield pvalue.TaggedOutput(REJECTS, Reject(
                            doc.key, NODE_STAGE, PARAGRAPH_FILTER, "repeated_in_domain",
                            float(count), doc.url, node.text[:200]))
                        continue
            n_text += isinstance(node, TextNode)
            nodes.append(node)
        if n_text == 0 and not self.tag_only:
            yield pvalue.TaggedOutput(REJECTS, Reject(
                doc.key, DEDUP_STAGE, PARAGRAPH_FILTER, "no_text_left", 0.0, doc.url))
            return
        doc.nodes = nodes
        yield doc


def _strip_domain_paragraphs(docs, pcfg: dict[str, Any], tag_only: bool):
    min_chars, min_docs = pcfg["min_chars"], pcfg["min_documents"]
    repeated = (
        docs
        | "ParaKeys" >> beam.FlatMap(_paragraph_keys, min_chars)
        | "ParaGroup" >> beam.GroupByKey()
        | "ParaRepeated" >> beam.FlatMap(_repeated, min_docs)
    )
    keyed = docs | "ParaKeyDocs" >> beam.Map(lambda d: (d.key, d))
    return (
        {"doc": keyed, "rep": repeated}
        | "ParaJoin" >> beam.CoGroupByKey()
        | "ParaStrip" >> beam.ParDo(_StripParagraphsFn(min_chars, tag_only)).with_outputs(
            REJECTS, main="docs")
    )


# --- near duplicates ----------------------------------------------------------------------

class _SignFn(beam.DoFn):
    """Batches of documents -> (band key, rank) per LSH band (main) and (rank, signature)
    once per document (tagged "sigs"): signatures travel once, not once per band."""

    def __init__(self, ncfg: dict[str, Any]) -> None:
        self.ncfg = ncfg

    def process(self, batch: list[Document]) -> Iterator[Any]:
        from filters.minhash import band_keys_batch, minhash_batch

        c = self.ncfg
        sigs = minhash_batch([d.text for d in batch], num_perm=c["bands"] * c["rows"],
                             ngram=c["ngram"])
        for doc, sig, bands in zip(batch, sigs, band_keys_batch(sigs, c["bands"], c["rows"])):
            r = rank(doc)
            yield pvalue.TaggedOutput("sigs", (r, sig.tobytes()))
            for band in bands:
                yield band, r


def _bucket_candidates(item: tuple[Any, Iterable[str]]) -> Iterator[tuple[str, str]]:
    """One LSH bucket -> (member, best-ranked member) candidate pairs. A star per bucket keeps
    the work linear in the bucket size; the propagation rounds join what stars leave apart."""
    members = sorted(set(item[1]))
    for member in members[1:]:
        yield member, members[0]


def _member_signature(item: tuple[str, dict[str, Iterable[Any]]]
                      ) -> Iterator[tuple[str, tuple[str, bytes]]]:
    member, groups = item
    blobs = list(groups["sig"])
    for head in set(groups["head"]):
        yield head, (member, blobs[0])


class _VerifyFn(beam.DoFn):
    """(head, {sig, members}) -> edges both ways to the members whose estimated Jaccard with
    the head reaches the threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def process(self, item: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        import numpy as np

        from filters.near_dup import verified

        head_rank, groups = item
        blobs = list(groups["sig"])
        if not blobs:
            return
        head = np.frombuffer(blobs[0], dtype=np.uint32)  # minhash_batch's signature type
        for member, blob in groups["members"]:
            if verified(head, np.frombuffer(blob, dtype=np.uint32), self.threshold):
                yield head_rank, member
                yield member, head_rank


def _propagate(item: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[tuple[str, str]]:
    node, groups = item
    labels = list(groups["label"])
    label = min(labels) if labels else node
    yield node, label
    for nbr in set(groups["adj"]):
        yield nbr, label


def _near_duplicates(docs, ncfg: dict[str, Any]):
    """Documents -> (doc key, survivor key) for every document that is not its cluster's
    survivor."""
    signed = (
        docs
        | "NearBatch" >> beam.BatchElements(min_batch_size=64, max_batch_size=512)
        | "NearSign" >> beam.ParDo(_SignFn(ncfg)).with_outputs("sigs", main="bands")
    )
    candidates = (
        signed.bands
        | "NearBuckets" >> beam.GroupByKey()
        | "NearCandidates" >> beam.FlatMap(_bucket_candidates)
        | "NearCandidatesUnique" >> beam.Distinct()
    )
    with_sigs = (
        {"sig": signed.sigs, "head": candidates}
        | "NearMemberSigs" >> beam.CoGroupByKey()
        | "NearToHead" >> beam.FlatMap(_member_signature)
    )
    edges = (
        {"sig": signed.sigs, "members": with_sigs}
        | "NearHeadSigs" >> beam.CoGroupByKey()
        | "NearVerify" >> beam.ParDo(_VerifyFn(ncfg["threshold"]))
    )
    labels = edges | "NearLabels0" >> beam.Map(lambda e: (e[0], e[0])) | "NearL0" >> (
        beam.CombinePerKey(min))
    for i in range(ncfg["rounds"]):
        labels = (
            {"label": labels, "adj": edges}
            | f"NearJoin{i}" >> beam.CoGroupByKey()
            | f"NearSpread{i}" >> beam.FlatMap(_propagate)
            | f"NearMin{i}" >> beam.CombinePerKey(min)
        )
    return (
        labels
        | "NearLosers" >> beam.Filter(lambda kv: kv[0] != kv[1])
        | "NearByKey" >> beam.Map(lambda kv: (_key_of(kv[0]), _key_of(kv[1])))
    )


class _ApplyNearFn(beam.DoFn):
    def __init__(self, tag_only: bool) -> None:
        self.tag_only = tag_only

    def process(self, item: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        doc = _joined_doc(item[1])
        if doc is None:
            return
        survivors = sorted(item[1]["dup"])
        yield _duplicate(doc, NEAR_FILTER, "near_duplicate", survivors[0], self.tag_only) \
            if survivors else doc


class Deduplicate(beam.PTransform):
    """Documents -> deduplicated documents (main) and rejects. Each step is switched on by
    its section of the ``dedup`` config."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        dcfg, tag_only = self.cfg["dedup"], self.cfg["filters"]["tag_only"]
        rejects = []
        if dcfg["url"]["enabled"]:
            out = _keep_best(docs, "Url", lambda d: normalize_url(d.url), URL_FILTER,
                             "duplicate_url", tag_only)
            docs = out.docs
            rejects.append(out[REJECTS])
        if dcfg["text"]["enabled"]:
            out = _keep_best(docs, "Text", lambda d: text_hash(d.text), TEXT_FILTER,
                             "duplicate_text", tag_only)
            docs = out.docs
            rejects.append(out[REJECTS])
        if dcfg["near"]["enabled"]:
            losers = _near_duplicates(docs, dcfg["near"])
            keyed = docs | "NearKeyDocs" >> beam.Map(lambda d: (d.key, d))
            out = (
                {"doc": keyed, "dup": losers}
                | "NearJoinDocs" >> beam.CoGroupByKey()
                | "NearApply" >> beam.ParDo(_ApplyNearFn(tag_only)).with_outputs(
                    REJECTS, main="docs")
            )
            docs = out.docs
            rejects.append(out[REJECTS])
        if dcfg["domain_paragraphs"]["enabled"]:
            out = _strip_domain_paragraphs(docs, dcfg["domain_paragraphs"], tag_only)
            docs = out.docs
            rejects.append(out[REJECTS])
        all_rejects = (tuple(rejects) | "DedupRejects" >> beam.Flatten(pipeline=docs.pipeline)
                       if rejects else None)
        return docs, all_rejects
