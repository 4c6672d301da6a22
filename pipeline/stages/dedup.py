"""Document deduplication as Beam stages, before any image is fetched (most of the bandwidth a
duplicate would cost is saved that way):

1. exact URL: one document per normalised URL, the newest crawl wins;
2. exact normalised text;
3. near duplicates: MinHash over word n-grams, LSH bands, each bucket member verified against
   the bucket's few best-ranked members by estimated Jaccard, then clusters resolved to a
   fixed point (min-label propagation, old roots hooked to the smallest label their members
   saw, pointer jumping: rounds grow with the log of a chain's length, not its length);
4. paragraphs repeated within a domain: boilerplate that survived extraction leaves every
   document of that domain. It runs last so that copies of one page, already gone, do not
   make that page's own paragraphs look like boilerplate.

Every survivor is chosen by ``rank``: newest crawl first, then the smallest document key. The
result never depends on input order, bundling or the number of workers.

How it scales: each document is read once into a small projection (rank, URL and text hashes,
a compact signature, its paragraphs' hashes salted with its domain) and every decision runs
on projections.
Winners of exact groups come from ``CombinePerKey(min)``, which combines before the shuffle;
groups that may be hot (one text shared by millions of soft-404 pages, one LSH bucket, one
boilerplate paragraph) are only ever iterated, in at most two passes, never listed or sorted.
The verdicts (document key -> what happens to it) meet the documents in one final join, where
a document is a reference to its parked bytes (``pipeline.outputs.spool``). Every group is
made by the build's ``Shuffle`` (``pipeline.file_shuffle``): the runner's, or sorted run files.

Metrics (namespace ``dedup``): ``near_rounds_used``, a distribution whose max is the last round
that changed a label; ``near_label_changes``; ``near_unresolved``, documents kept because the
bound ``dedup.near.rounds`` was reached first (a warning is logged then).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import heapq
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from pipeline.file_shuffle import RUNNER, Shuffle, Spread, marked
from pipeline.outputs.spool import ReadingFn, SpoolRef, park
from pipeline.rejects import REJECTS, excerpt
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
# Each bucket member is verified against this many best-ranked members of its bucket (those
# ranked before it): a chance collision at the head then does not hide the true duplicates
# among the others, and the work per member stays bounded however large the bucket.
BUCKET_HEADS = 4

_DIGITS_DOWN = str.maketrans("0123456789", "9876543210")
_NON_WORD = re.compile(r"[\W_]+")
_log = logging.getLogger(__name__)

# Verdict kinds, in the order a document meets the steps.
_URL, _TEXT, _NEAR, _PARA = "url", "text", "near", "para"
_DUPLICATE_KINDS = ((_URL, URL_FILTER, "duplicate_url"), (_TEXT, TEXT_FILTER, "duplicate_text"),
                    (_NEAR, NEAR_FILTER, "near_duplicate"))


def rank(doc: Document) -> str:
    """Sort key of survivors: the newest crawl first (digits inverted), then the key."""
    date = doc.crawl_date.translate(_DIGITS_DOWN) if doc.crawl_date else "~"
    return f"{date}|{doc.key}"


def _key_of(rank_str: str) -> str:
    return rank_str.rsplit("|", 1)[1]


def normalized_text(text: str) -> str:
    """Case, punctuation and whitespace folded: copies differing only in those match.
    Whitespace is never a word character, so the one substitution leaves single spaces
    between words and at most one at either end."""
    return _NON_WORD.sub(" ", text.lower()).strip(" ")


def text_hash(text: str) -> bytes:
    return _joined_hash([normalized_text(text)])


def _joined_hash(norms: list[str]) -> bytes:
    """``text_hash`` of text nodes joined by "\\n", from each node's normalized text: the
    newline folds into the space between them, and an empty node leaves no trace."""
    return hashlib.blake2b(" ".join(n for n in norms if n).encode(), digest_size=16).digest()


_PARA_KEY = 8  # bytes of a paragraph key: plenty to tell apart the paragraphs of one domain


def domain_salt(domain: str) -> bytes:
    return hashlib.blake2b(domain.encode(), digest_size=16).digest()


def paragraph_key(domain: str, text: str) -> bytes:
    """A paragraph of one domain, as one short key: the domain salts the hash of the text."""
    return _salted_key(normalized_text(text), domain_salt(domain))


def _salted_key(norm: str, salt: bytes) -> bytes:
    return hashlib.blake2b(norm.encode(), digest_size=_PARA_KEY, salt=salt).digest()


def _url_hash(url: str) -> bytes:
    return hashlib.blake2b(normalize_url(url).encode(), digest_size=16).digest()


def domain_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


# --- projections ----------------------------------------------------------------------------

class _ProjectFn(beam.DoFn):
    """Batches of documents -> small projections, each tagged output keyed by rank, each only
    when a step needs it: main (rank, (URL hash, text hash)) for exact dedup (None for the
    hash no step uses); "sig" (rank, compact MinHash signature) for near dedup; "para" (rank,
    its paragraph keys joined in one bytes) for paragraph dedup."""

    def __init__(self, url: bool, text: bool, ncfg: dict[str, Any] | None,
                 min_chars: int | None) -> None:
        self.url, self.text, self.ncfg, self.min_chars = url, text, ncfg, min_chars

    def process(self, batch: list[Document]) -> Iterator[Any]:
        # Each document's text nodes are listed once: for its text (Document.text joins
        # them), and normalized once for the text hash and the paragraph keys.
        node_texts = [[n.text for n in d.nodes if isinstance(n, TextNode)] for d in batch]
        sigs = None
        if self.ncfg is not None:
            from filters.minhash import compact_signatures, minhash_batch

            c = self.ncfg
            sigs = compact_signatures(minhash_batch(
                ["\n".join(nodes) for nodes in node_texts],
                num_perm=c["bands"] * c["rows"], ngram=c["ngram"]))
        normalize = self.text or self.min_chars is not None
        for i, doc in enumerate(batch):
            r = rank(doc)
            nodes = node_texts[i]
            norms = [normalized_text(t) for t in nodes] if normalize else []
            if self.url or self.text:
                yield r, (_url_hash(doc.url) if self.url else None,
                          _joined_hash(norms) if self.text else None)
            if sigs is not None:
                yield pvalue.TaggedOutput("sig", (r, sigs[i].tobytes()))
            if self.min_chars is not None:
                keys = _paragraph_keys(domain_of(doc.url), nodes, norms, self.min_chars)
                if keys:
                    yield pvalue.TaggedOutput("para", (r, keys))


def _paragraph_keys(domain: str, texts: list[str], norms: list[str], min_chars: int) -> bytes:
    """Distinct keys of a document's long text nodes (a document counts once per paragraph),
    concatenated. ``norms``: the nodes' normalized texts."""
    salt = domain_salt(domain)
    seen: dict[bytes, None] = {}
    for text, norm in zip(texts, norms):
        if len(text) >= min_chars:
            seen.setdefault(_salted_key(norm, salt))
    return b"".join(seen)


# --- joins that never hold a group ----------------------------------------------------------

_HEAD, _MEMBER = 0, 1


def _lazy_join(label: str, sh: Shuffle, heads, members, head_type: type | None = None,
               min_values: int = 1):
    """(key, head) and (key, member) streams -> (key, iterable of values) from one
    group; ``members`` may be a tuple of streams (made in different stages, so never
    flattened: see ``Shuffle.group``). Unlike CoGroupByKey, which builds lists, the values
    stay an iterable that the consumer reads in at most two passes (Beam's grouped values may
    be iterated again), so a key with millions of members never sits in memory. With
    ``head_type`` heads are told from members by their type; otherwise each value is tagged
    (tag, value). Keys with fewer than ``min_values`` values (head included) are dropped.
    A member stream may be a ``Spread`` when heads are told by type."""
    members = members if isinstance(members, tuple) else (members,)
    if head_type is None:
        heads = marked(heads, f"{label}TagHead", _HEAD)
        members = tuple(marked(m, f"{label}TagMember{i}", _MEMBER) for i, m in enumerate(members))
    return sh.group(label, heads, *members, min_values=min_values)


def _head_of(values: Iterable[Any], head_type: type | None = None) -> Any:
    """First pass: the key's head value (None when it has none); stops as soon as found."""
    for value in values:
        if head_type is None:
            if value[0] == _HEAD:
                return value[1]
        elif isinstance(value, head_type):
            return value
    return None


def _members_of(values: Iterable[Any], head_type: type | None = None) -> Iterator[Any]:
    """Second pass: the members, one at a time."""
    for value in values:
        if head_type is None:
            if value[0] == _MEMBER:
                yield value[1]
        elif not isinstance(value, head_type):
            yield value


# Markers of a document still in the running / dropped by near dedup. Groups keyed by document
# tell their streams apart by a value's type or marker, so they need no tagging pass.
_IN, _OUT = True, False


def _marker(pcoll, label: str, value: bool):
    return pcoll | label >> beam.Map(lambda kv, v: (kv[0], v), value)


# --- exact duplicates -----------------------------------------------------------------------

class _ResolveExactFn(beam.DoFn):
    """(group key, {winner rank, members (rank, carried)}) -> survivors (rank, carried) on
    the main output, and ("verdict", (loser key, (kind, survivor key))) for the others."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def process(self, item: tuple[Any, Iterable[tuple[int, Any]]]) -> Iterator[Any]:
        winner = _head_of(item[1], str)
        survivor = _key_of(winner)
        for member_rank, carried in _members_of(item[1], str):
            if member_rank == winner:
                yield member_rank, carried
            else:
                yield pvalue.TaggedOutput("verdict", (_key_of(member_rank),
                                                      (self.kind, survivor)))


def _exact(label: str, kind: str, members, sh: Shuffle):
    """members: (group key, (rank, carried)). Returns (survivors (rank, carried), verdicts)."""
    winners = sh.combine(f"{label}Winner",
                         members | f"{label}Ranks" >> beam.Map(lambda kv: (kv[0], kv[1][0])), min)
    out = (_lazy_join(label, sh, winners, members, str)
           | f"{label}Resolve" >> beam.ParDo(_ResolveExactFn(kind)).with_outputs(
               "verdict", main="survivors"))
    return out.survivors, out.verdict


# --- near duplicates ------------------------------------------------------------------------

def _survivor_sigs(item: tuple[str, Iterable[Any]]) -> Iterator[tuple[str, bytes]]:
    """(rank, {signature, still-in marker}) -> (rank, signature) of documents still in."""
    values = list(item[1])  # one document's: its signature and at most one marker
    if _IN in values:
        for value in values:
            if isinstance(value, bytes):
                yield item[0], value


def _bands(batch: list[tuple[str, bytes]], bands: int, rows: int
           ) -> Iterator[tuple[bytes, str]]:
    """A batch of (rank, signature) -> (band key, rank) for each of their LSH bands."""
    import numpy as np

    from filters.minhash import band_keys_batch

    sigs = np.frombuffer(b"".join(sig for _, sig in batch), dtype=np.uint16)
    keys = band_keys_batch(sigs.reshape(len(batch), -1), bands, rows)
    for (node, _), node_keys in zip(batch, keys):
        for band in node_keys:
            yield band, node


def _bucket_candidates(item: tuple[bytes, Iterable[str]], heads: int
                       ) -> Iterator[tuple[str, str]]:
    """One LSH bucket -> (member, earlier member) candidate pairs: each member against the
    bucket's ``heads`` best-ranked members ranked before it. First pass finds those (a heap
    of ``heads`` ranks), the second streams the members: bounded memory and work."""
    best = sorted(set(heapq.nsmallest(heads, item[1])))
    if len(best) < 2:
        return
    for member in item[1]:
        for head in best:
            if head >= member:
                break
            yield member, head


class _SendSignatureFn(beam.DoFn):
    """(doc, {its signature, (doc -> head) candidates, head markers}) -> the doc's signature
    to each head it is a candidate of, and once to itself when it is a head."""

    def process(self, item: tuple[str, Iterable[tuple[int, Any]]]) -> Iterator[Any]:
        node, values = item
        sig = _head_of(values, bytes)
        if sig is None:
            return
        is_head = False
        for head in _members_of(values, bytes):
            if head is None:
                is_head = True
            else:
                yield head, (node, sig)
        if is_head:
            yield pvalue.TaggedOutput("own", (node, sig))


class _VerifyFn(beam.DoFn):
    """(head, {its signature, (member, signature)...}) -> (member, head) for each member
    whose estimated Jaccard with the head reaches the threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def process(self, item: tuple[str, Iterable[tuple[int, Any]]]) -> Iterator[Any]:
        import numpy as np

        from filters.near_dup import verified

        head, values = item
        blob = _head_of(values, bytes)
        if blob is None:
            return
        head_sig = np.frombuffer(blob, dtype=np.uint16)
        for member, member_blob in _members_of(values, bytes):
            if verified(head_sig, np.frombuffer(member_blob, dtype=np.uint16), self.threshold):
                yield member, head


class _MinLabel(beam.CombineFn):
    """(label, previous label or None) values -> (smallest label, the node's previous label,
    which exactly one value of each key carries)."""

    def create_accumulator(self) -> tuple[str | None, str | None]:
        return None, None

    def add_input(self, acc, value):
        return self.merge_accumulators([acc, value])

    def merge_accumulators(self, accs):
        low = old = None
        for a_low, a_old in accs:
            if a_low is not None and (low is None or a_low < low):
                low = a_low
            old = a_old if a_old is not None else old
        return low, old

    def extract_output(self, acc):
        return acc


def _spread(item: tuple[str, Iterable[tuple[int, Any]]]) -> Iterator[Any]:
    """(node, {label, neighbours}) -> its label to itself (as its previous label too) and to
    each neighbour."""
    node, values = item
    label = _head_of(values)
    yield node, (label, label)
    for nbr in _members_of(values):
        yield nbr, (label, None)


def _hook(item: tuple[str, tuple[str, str]]) -> Iterator[tuple[str, tuple[str, str | None]]]:
    """(node, (new label, previous label)) -> the new label to the node and to its previous
    label: a cluster's old root adopts the smallest label any of its members has seen."""
    node, (label, old) = item
    yield node, (label, old)
    if old != node:
        yield old, (label, None)


class _JumpFn(beam.DoFn):
    """(label x, {x's own new label, members (node, old label) pointing at x}) -> each member
    takes x's label (pointer jumping). Counts the labels that changed; a change in the last
    round means the bound on rounds was reached."""

    def __init__(self, round_no: int, last: bool) -> None:
        self.round_no, self.last = round_no, last
        self.changed = Metrics.counter("dedup", "near_label_changes")
        self.used = Metrics.distribution("dedup", "near_rounds_used")
        self.warned = False

    def process(self, item: tuple[str, Iterable[tuple[int, Any]]]) -> Iterator[Any]:
        top = _head_of(item[1], str)
        for node, old in _members_of(item[1], str):
            new = min(top, item[0]) if top is not None else item[0]
            if new != old:
                self.changed.inc()
                self.used.update(self.round_no)
                if self.last and not self.warned:
                    self.warned = True
                    _log.warning("near-duplicate clusters still changing after %d rounds "
                                 "(dedup.near.rounds); unresolved documents are kept",
                                 self.round_no)
            yield node, new


class _NearLosersFn(beam.DoFn):
    """(label x, {x's label, members}) -> (member rank, x) for members of a resolved cluster
    (x is its own label, so x survives). Members of a cluster still unresolved when the
    rounds ran out are kept: a reject never names a document that is itself rejected."""

    def __init__(self) -> None:
        self.unresolved = Metrics.counter("dedup", "near_unresolved")

    def process(self, item: tuple[str, Iterable[tuple[int, Any]]]) -> Iterator[Any]:
        root = _head_of(item[1]) == item[0]
        for node in _members_of(item[1]):
            if node == item[0]:
                continue
            if root:
                yield node, item[0]
            else:
                self.unresolved.inc()


def _near_losers(sigs, ncfg: dict[str, Any], sh: Shuffle):
    """(rank, signature) of the documents in the running -> (loser rank, survivor rank).

    Candidates: pairs sharing an LSH bucket, each member against the bucket's best-ranked
    members before it. Signatures travel to the heads they are checked against, once per
    candidate pair. Verified pairs become edges; each round then (1) gives every node the
    smallest label among itself and its neighbours, (2) hooks each node's previous label (its
    old root) to that label, (3) replaces every label by its label's label. Labels are ranks
    of cluster members, so the fixed point labels each cluster with its best-ranked member."""
    bands, rows = ncfg["bands"], ncfg["rows"]
    batches = sigs | "NearBatch" >> beam.BatchElements(min_batch_size=64, max_batch_size=512)
    buckets = sh.group("NearBuckets", Spread(batches, functools.partial(
        _bands, bands=bands, rows=rows)), min_values=2)
    candidates = sh.distinct("NearCandidatesUnique", buckets
                             | "NearCandidates" >> beam.FlatMap(_bucket_candidates, BUCKET_HEADS))
    heads = sh.distinct("NearHeadsUnique",
                        candidates | "NearHeadMarks" >> beam.Map(lambda c: (c[1], None)))
    sent = (_lazy_join("NearSigs", sh, sigs, (candidates, heads), bytes)
            | "NearSend" >> beam.ParDo(_SendSignatureFn()).with_outputs("own", main="sent"))
    edges = (_lazy_join("NearCheck", sh, sent.own, sent.sent, bytes)
             | "NearVerify" >> beam.ParDo(_VerifyFn(ncfg["threshold"])))
    # Both directions of each edge; two streams, never flattened (see Shuffle.group).
    adjacency = (edges, edges | "NearBack" >> beam.Map(lambda e: (e[1], e[0])))
    # Round 0: each node's label is the smallest of itself and its neighbours.
    labels = sh.combine("NearLabel0", tuple(a | f"NearSelf{i}" >> beam.FlatMap(
        lambda e: [(e[0], e[1]), (e[0], e[0])]) for i, a in enumerate(adjacency)), min)
    rounds = ncfg["rounds"]
    for i in range(1, rounds + 1):
        pushed = (_lazy_join(f"NearSpread{i}", sh, labels, adjacency)
                  | f"NearPush{i}" >> beam.FlatMap(_spread))
        hooked = (sh.combine(f"NearMin{i}", pushed, _MinLabel())
                  | f"NearHook{i}" >> beam.FlatMap(_hook))
        spread = sh.combine(f"NearHooked{i}", hooked, _MinLabel())
        pointers = spread | f"NearPoint{i}" >> beam.Map(lambda kv: (kv[1][0], (kv[0], kv[1][1])))
        own = spread | f"NearOwn{i}" >> beam.Map(lambda kv: (kv[0], kv[1][0]))
        labels = (_lazy_join(f"NearJump{i}", sh, own, pointers, str)
                  | f"NearJumped{i}" >> beam.ParDo(_JumpFn(i, i == rounds)))
    return (_lazy_join("NearRoots", sh, labels, labels | "NearByLabel" >> beam.Map(
                lambda kv: (kv[1], kv[0])))
            | "NearLosers" >> beam.ParDo(_NearLosersFn()))


# --- paragraphs repeated within a domain ----------------------------------------------------

def _split_keys(item: tuple[str, bytes]) -> Iterator[tuple[bytes, str]]:
    rank_str, keys = item
    for i in range(0, len(keys), _PARA_KEY):
        yield keys[i: i + _PARA_KEY], rank_str


def _running(item: tuple[str, Iterable[Any]], gated: bool) -> Iterator[tuple[bytes, str]]:
    """(rank, {paragraph keys, still-in marker, near-loser marker}) -> (paragraph key, rank)
    for the documents still in the running."""
    values = list(item[1])  # one document's records
    if (gated and _IN not in values) or _OUT in values:
        return
    for value in values:
        if isinstance(value, bytes):
            yield from _split_keys((item[0], value))


def _repeated(item: tuple[bytes, Iterable[tuple[int, Any]]]
              ) -> Iterator[tuple[str, tuple[str, tuple[bytes, int]]]]:
    count = _head_of(item[1], int)
    if count is None:
        return
    for member in _members_of(item[1], int):
        yield _key_of(member), (_PARA, (item[0], count))


def _paragraph_verdicts(para, gate, near_out, pcfg: dict[str, Any], sh: Shuffle):
    """Paragraph projections of the documents still in the running -> per-document verdicts
    (doc key, ("para", (paragraph key, documents sharing it)))."""
    min_docs = pcfg["min_documents"]
    # One element a document, spread into (paragraph key, rank) pairs where they are written:
    # a page has several paragraphs.
    if gate is None and near_out is None:
        members = Spread(para, _split_keys)
    else:
        members = Spread(
            sh.group("ParaGate", para, *(g for g in (gate, near_out) if g is not None)),
            functools.partial(_running, gated=gate is not None))
    counts = sh.count("ParaCount", members, at_least=min_docs)
    # A repeated paragraph's key holds its count and at least min_docs members; any other
    # key (most paragraphs: said once) holds members alone, fewer than min_docs of them.
    return (_lazy_join("ParaMembers", sh, counts, members, int, min_values=min_docs + 1)
            | "ParaVerdicts" >> beam.FlatMap(_repeated))


# --- applying the verdicts ------------------------------------------------------------------

class _ApplyFn(ReadingFn):
    """(doc key, its documents, or their SpoolRefs, and verdicts) -> the document as the
    verdicts leave it (copied before any change: Beam inputs are never mutated) and its
    rejects."""

    def __init__(self, min_chars: int, tag_only: bool) -> None:
        self.min_chars, self.tag_only = min_chars, tag_only

    def process(self, item: tuple[str, Iterable[Any]]) -> Iterator[Any]:
        verdicts: dict[str, Any] = {}
        repeated: dict[bytes, int] = {}
        docs = []
        for value in item[1]:
            if isinstance(value, Document):
                docs.append(value)
            elif isinstance(value, SpoolRef):
                docs.append(self.spool.read(value))
            elif value[0] == _PARA:
                repeated[value[1][0]] = value[1][1]
            else:
                verdicts[value[0]] = value[1]
        for doc in docs:
            yield from self._apply(doc, verdicts, repeated)

    def _apply(self, doc: Document, verdicts: dict[str, str], repeated: dict[bytes, int]
               ) -> Iterator[Any]:
        if not verdicts and not repeated:
            yield doc
            return
        if not self.tag_only:
            for kind, filter_name, reason in _DUPLICATE_KINDS:
                if kind in verdicts:
                    yield pvalue.TaggedOutput(REJECTS, Reject(
                        doc.key, DEDUP_STAGE, filter_name, reason, None, doc.url,
                        f"survivor {verdicts[kind]}", excerpt=excerpt(doc.text)))
                    return
        meta = dict(doc.meta)
        if verdicts:
            marks = dict(meta.get("duplicate_of", {}))
            for kind, filter_name, _ in _DUPLICATE_KINDS:
                if kind in verdicts:
                    marks[filter_name] = verdicts[kind]
            meta["duplicate_of"] = marks
        nodes, n_text, tags = [], 0, list(meta.get("repeated_paragraphs", []))
        salt = domain_salt(domain_of(doc.url)) if repeated else b""
        for node in doc.nodes:
            if repeated and isinstance(node, TextNode) and len(node.text) >= self.min_chars:
                count = repeated.get(_salted_key(normalized_text(node.text), salt))
                if count is not None:
                    if self.tag_only:
                        tags.append(node.text[:200])
                    else:
                        yield pvalue.TaggedOutput(REJECTS, Reject(
                            doc.key, NODE_STAGE, PARAGRAPH_FILTER, "repeated_in_domain",
                            float(count), doc.url, node.text[:200]))
                        continue
            n_text += isinstance(node, TextNode)
            nodes.append(node)
        if n_text == 0 and not self.tag_only:
            yield pvalue.TaggedOutput(REJECTS, Reject(
                doc.key, DEDUP_STAGE, PARAGRAPH_FILTER, "no_text_left", 0.0, doc.url,
                excerpt=excerpt(doc.text)))
            return
        if tags:
            meta["repeated_paragraphs"] = tags
        yield dataclasses.replace(doc, nodes=nodes, meta=meta)


class Deduplicate(beam.PTransform):
    """Documents -> deduplicated documents (main) and rejects. Each step is switched on by
    its section of the ``dedup`` config; with ``filters.tag_only`` nothing is dropped and
    every step sees every document, duplicates being marked in ``meta`` instead.

    With ``work_dir`` (the build's output folder) the documents wait for their verdicts
    parked there (``pipeline.outputs.spool``), not in the final join. ``shuffle`` makes the
    groups (the runner's own by default; ``pipeline.file_shuffle``)."""

    def __init__(self, cfg: dict[str, Any], work_dir: str | None = None,
                 shuffle: Shuffle = RUNNER) -> None:
        super().__init__()
        self.cfg, self.work_dir, self.sh = cfg, work_dir, shuffle

    def expand(self, docs):
        dcfg, tag_only = self.cfg["dedup"], self.cfg["filters"]["tag_only"]
        on = {k: dcfg[k]["enabled"] for k in ("url", "text", "near", "domain_paragraphs")}
        if not any(on.values()):
            return docs, None
        pcfg = dcfg["domain_paragraphs"]
        proj = (docs
                | "DedupBatch" >> beam.BatchElements(min_batch_size=64, max_batch_size=512)
                | "DedupProject" >> beam.ParDo(_ProjectFn(
                    on["url"], on["text"], dcfg["near"] if on["near"] else None,
                    pcfg["min_chars"] if on["domain_paragraphs"] else None)).with_outputs(
                        "sig", "para", main="light"))
        verdicts = []
        # (rank, text hash) of the documents still in the running; None while that is all.
        running = None
        if on["url"]:
            members = proj.light | "UrlMembers" >> beam.Map(
                lambda kv: (kv[1][0], (kv[0], kv[1][1])))
            survivors, lost = _exact("Url", _URL, members, self.sh)
            verdicts.append(lost)
            if not tag_only:
                running = survivors
        if on["text"]:
            current = running if running is not None else (
                proj.light | "DedupTextKeys" >> beam.Map(lambda kv: (kv[0], kv[1][1])))
            members = current | "TextMembers" >> beam.Map(lambda kv: (kv[1], (kv[0], None)))
            survivors, lost = _exact("Text", _TEXT, members, self.sh)
            verdicts.append(lost)
            if not tag_only:
                running = survivors
        gate = None if running is None else _marker(running, "DedupRunning", _IN)
        near_out = None
        if on["near"]:
            sigs = proj.sig
            if gate is not None:
                sigs = self.sh.group("NearGate", sigs, gate) | "NearRunning" >> beam.FlatMap(
                    _survivor_sigs)
            losers = _near_losers(sigs, dcfg["near"], self.sh)
            verdicts.append(losers | "NearVerdicts" >> beam.Map(
                lambda kv: (_key_of(kv[0]), (_NEAR, _key_of(kv[1])))))
            if not tag_only:
                near_out = _marker(losers, "NearOut", _OUT)
        if on["domain_paragraphs"]:
            verdicts.append(_paragraph_verdicts(proj.para, gate, near_out, pcfg, self.sh))
        if self.work_dir is None:
            keyed = docs | "DedupKeyDocs" >> beam.Map(lambda d: (d.key, d))
        else:
            keyed = park(docs, "DedupPark", self.work_dir)
        out = (self.sh.group("DedupApply", keyed, *verdicts)
               | "DedupApplied" >> beam.ParDo(_ApplyFn(pcfg["min_chars"], tag_only))
               .with_outputs(REJECTS, main="docs"))
        return out.docs, out[REJECTS]
