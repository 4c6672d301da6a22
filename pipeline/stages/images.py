"""Images: join each document's image URLs with images stored in the WARCs, fetch the rest,
decode and check them, then put the survivors back into their documents.

Data flow, built so that no step holds a popular URL's requests or a host's URLs in memory:

1. One combine per URL gives the number of documents using it (each document names a URL
   once) and where one stored copy is, the record of the smallest source id (its input path
   and offset: the bytes are read again when the image is checked): a badge on ten million
   pages, stored in a thousand WARCs, is one number and one location, never a group. URLs over
   ``dedup.image_urls.max_documents`` are condemned (``too_common``) right there: nothing is
   read, decoded or fetched.
2. Each distinct URL is resolved once (one decode, at most one fetch), whatever the number of
   documents using it. URLs to fetch are keyed by host and grouped, so one worker fetches all
   of a host's URLs with one fetcher: its rate limiter and robots.txt cache then hold for the
   whole cluster, not per worker. A host's URLs are read lazily and fetched through one thread
   pool per worker, a bounded window of fetches in flight.
3. A checked image is parked in the build's image store (``pipeline.outputs.image_store``) and
   its outcome carries the path: outcomes fan back out to every (document, position) asking
   for them by a join whose requests side is read lazily, then documents are reassembled,
   and no image's bytes cross either join.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urlsplit, urlunsplit

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.utils.shared import Shared
from apache_beam.utils.windowed_value import WindowedValue

from pipeline import progress
from pipeline.file_shuffle import RUNNER, Shuffle, marked
from pipeline.imports.embedded import EmbeddedImage
from pipeline.outputs.image_store import member_bytes
from pipeline.outputs.spool import ReadingFn, SpoolRef, park
from pipeline.outputs.work_files import OpenFiles, reading
from pipeline.rejects import REJECTS, excerpt
from pipeline.stages.image_dedup import IMAGE_DEDUP_REASONS, DuplicateImages, reiterable
from schemas import Document, ImageNode, Reject, TextNode, image_member
from scrapers.warc_read import WebRecord

FETCH_FILTER = "fetch/v1"
CHECK_FILTER = "image_check/v1"
MIN_IMAGES_FILTER = "min_images/v1"
MAX_IMAGES_FILTER = "max_images/v1"
URL_COUNT_FILTER = "image_url_count/v1"  # a URL used by too many pages: a logo, a banner
URL_COUNT_REASONS = ("too_common",)
PRE_FETCH_FILTERS = ("image_url",)  # image filters that need only the URL run before fetching
# Stage "image", filter MIN_IMAGES_FILTER: a checked, stored image whose document was then
# dropped for too few images, so every image node ends in exactly one place.
DOCUMENT_DROPPED_REASONS = ("document_dropped",)
_FETCH = "fetch"  # tagged output: (host, (url, n_docs)) left to fetch


@dataclass
class ImageOutcome:
    ok: bool
    origin: str  # "warc" or "http"
    reason: str | None = None
    filter: str = CHECK_FILTER
    value: float | None = None
    detail: str = ""
    jpeg: bytes | str | None = None  # the JPEG, or its reference in the build's ImageStore
    width: int | None = None
    height: int | None = None
    sha256: str | None = None
    phash: int | None = None
    tags: dict[str, Any] | None = None  # tag_only: every image filter's measures
    record: str = ""  # "PATH@OFFSET" of the input record storing the image, for the report


def normalize_url(url: str) -> str:
    """Join key for image URLs: no fragment, lower-case scheme and host."""
    url = urldefrag(url.strip())[0]
    try:
        p = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), p.path or "/", p.query, ""))


def image_requests(doc: Document) -> Iterator[tuple[str, tuple[str, int, str]]]:
    """(url, (doc key, position, crawl rank)) for each image node; the rank orders image
    duplicates like documents: newest crawl first, then key."""
    from pipeline.stages.dedup import rank  # here: dedup imports this module

    order = rank(doc)
    for i, img in enumerate(doc.images):
        yield normalize_url(img.src), (doc.key, i, order)


def document_urls(doc: Document) -> Iterator[tuple[str, None]]:
    """(url, None) once per distinct URL of a document: one document using it."""
    for url in {normalize_url(img.src) for img in doc.images}:
        yield url, None


Locator = tuple[str, int]  # (input path, record offset)
Parked = str  # a reference to an imported row's parked image bytes (pipeline.imports.embedded)
Stored = tuple[str, bytes | Locator | Parked] | None
Facts = tuple[int, Stored]  # (documents using the URL, the payload of the smallest source)


def stored_payload(rec: WebRecord | EmbeddedImage
                   ) -> Iterator[tuple[str, tuple[str, bytes | Locator | Parked]]]:
    """(url, (source id, where)) of a WARC image record with a payload. ``where`` is the
    record's (input path, offset), read again when the image is checked, so that no image's
    bytes travel through the URL combine; a record read from no file keeps its bytes. An
    imported row's image is where the importer parked it."""
    if isinstance(rec, EmbeddedImage):
        yield normalize_url(rec.url), (rec.source_id, rec.path)
    elif rec.payload:
        where = (rec.path, rec.offset) if rec.path and rec.offset >= 0 else rec.payload
        yield normalize_url(rec.url), (rec.source_id, where)


def stored_bytes(where: bytes | Locator | Parked, max_bytes: int,
                 files: OpenFiles | None = None) -> bytes:
    """The payload of a stored image: the bytes themselves, read again from its record, or
    read from where the importer parked them. ``files`` keeps inputs open between calls."""
    if isinstance(where, bytes):
        return where
    if isinstance(where, str):
        return member_bytes(where, files)
    from scrapers.warc_read import read_record_at

    path, offset = where
    with reading(files) as reader:
        rec = read_record_at(reader.get(path), offset, path, max_bytes)
    if not rec.payload:
        raise ValueError(f"{path}@{offset}: the image record has no payload ({rec.reason})")
    return rec.payload


def record_location(where: bytes | Locator | Parked) -> str:
    """"PATH@OFFSET" of a stored image's record ("" for bytes read from no file, or parked
    by the importer: the work folder is gone after the build)."""
    return "" if isinstance(where, (bytes, str)) else f"{where[0]}@{where[1]}"


class UrlFacts(beam.CombineFn):
    """Per URL: the number of documents using it (one None per document) and the
    (source id, payload) of the smallest source id among the WARC records storing it. A
    combine: never a list, however popular the URL or however many WARCs store it."""

    def create_accumulator(self) -> Facts:
        return 0, None

    def add_input(self, acc: Facts, item: tuple[str, bytes] | None) -> Facts:
        n, stored = acc
        if item is None:
            return n + 1, stored
        return n, item if stored is None or item < stored else stored

    def merge_accumulators(self, accs: Iterable[Facts]) -> Facts:
        n, stored = 0, None
        for m, other in accs:
            n += m
            if other is not None and (stored is None or other < stored):
                stored = other
        return n, stored

    def extract_output(self, acc: Facts) -> Facts:
        return acc


def url_host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def host_parallelism(fcfg: dict[str, Any], threads: int) -> int:
    """Fetches of one host in flight at once. Each reserves the host's next free slot when it
    starts, so the k-th waits (k - 1) intervals: cap k so that wait stays within half the
    per-URL deadline (else polite waits turn into timeouts)."""
    interval = float(fcfg.get("per_host_interval", 1.0))
    if interval <= 0:
        return threads
    deadline = float(fcfg.get("deadline", 30.0))
    return max(1, min(threads, int(deadline / (2 * interval))))


def check_image(data: bytes, origin: str, image_cfg: dict[str, Any],
                url: str = "", checks: ImageChecks | None = None) -> ImageOutcome:
    """Decode and check one image, then run the decoded-image filters and the evaluation-set
    match of ``checks``."""
    from pipeline.stages.imaging import image_config
    from scrapers.images import process_image

    started = time.thread_time()
    res = process_image(data, image_config(image_cfg))
    # decode, resize, hash, statistics and encode alone, for the benches' CPU split
    progress.add(progress.IMAGE_PATH_CPU_US, int((time.thread_time() - started) * 1e6))
    progress.add(progress.IMAGE_PATH_CALLS)
    if not res.ok:
        return ImageOutcome(False, origin, res.reason, CHECK_FILTER, res.value)
    out = ImageOutcome(True, origin, jpeg=res.jpeg, width=res.width, height=res.height,
                       sha256=res.sha256, phash=res.phash)
    if checks is None:
        return out
    out = checks.after_decode(out, res, url)
    if out.ok and checks.store is not None and isinstance(out.jpeg, bytes):
        out.jpeg = checks.store.put(out.jpeg)  # only the reference travels on
    return out


def eval_images(dcfg: dict[str, Any], shared: Shared | None = None) -> Any:
    """The read-only evaluation-image index (a SharedIndex), built once per worker process
    when ``shared`` is given."""
    from pipeline.stages.decontam import image_index, shared_index

    if not dcfg["eval_images"]:
        shared = None
    tag = repr((list(dcfg["eval_images"]), dcfg["max_distance"]))
    return shared_index(lambda: image_index(dcfg), shared, tag)


class ImageChecks:
    """The image filters of a build config, its URL-count limit and its evaluation images."""

    def __init__(self, cfg: dict[str, Any], shared: Shared | None = None,
                 store_dir: str | None = None) -> None:
        from filters.base import enabled_filters
        from pipeline.outputs.image_store import ImageStore

        self.store = ImageStore(store_dir) if store_dir else None

        made = enabled_filters(cfg["filters"]["image"])
        self.pre = [f for f in made if f.key in PRE_FETCH_FILTERS]
        self.post = [f for f in made if f.key not in PRE_FETCH_FILTERS]
        self.tag_only = cfg["filters"]["tag_only"]
        ucfg = cfg["dedup"]["image_urls"]
        self.max_url_docs = ucfg["max_documents"] if ucfg["enabled"] else 0
        self._eval = eval_images(cfg["decontam"], shared)  # kept: Shared holds it weakly
        self.eval_index = self._eval.index

    def end_bundle(self) -> None:
        """Close the image pack of the bundle: its references go on once the bundle ends."""
        if self.store is not None:
            self.store.close()

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


def _merge_tags(early: ImageOutcome | None, out: ImageOutcome) -> ImageOutcome:
    """tag_only: the URL-stage measures join those of the decoded image."""
    if early is not None and early.tags and out.ok:
        out.tags = dict(early.tags, **(out.tags or {}))
    return out


def _error(exc: Exception) -> ImageOutcome:
    return ImageOutcome(False, "http", f"error:{type(exc).__name__}", CHECK_FILTER,
                        detail=str(exc)[:300])


class TriageFn(beam.DoFn):
    """(url, (n_docs, (source_id, payload) or None)) -> (url, ImageOutcome) for URLs resolved
    without the network (condemned by the URL alone, or decoded from the WARC payload), and
    (host, (url, n_docs)) on _FETCH for the rest."""

    def __init__(self, cfg: dict[str, Any], shared: Shared | None = None,
                 store_dir: str | None = None) -> None:
        self.cfg, self._shared, self._store_dir = cfg, shared, store_dir
        self._checks: ImageChecks

    def setup(self) -> None:
        self._checks = ImageChecks(self.cfg, self._shared, self._store_dir)
        # A few inputs kept open: a bundle's URLs often come from the same WARC files, and
        # on an object store each open handle holds a read buffer.
        self._inputs = OpenFiles(keep=4)

    def process(self, item: tuple[str, Facts]) -> Iterator[Any]:
        url, (n_docs, stored) = item
        try:
            early = self._checks.before_fetch(url, n_docs)
            if early is not None and not early.ok:
                out = early  # condemned by its URL: never decoded or fetched
            elif stored is not None:
                data = stored_bytes(stored[1], self.cfg["images"]["max_bytes"], self._inputs)
                out = _merge_tags(early, check_image(data, "warc", self.cfg["images"],
                                                     url, self._checks))
                out.record = record_location(stored[1])
            elif not self.cfg["fetch"]["enabled"]:
                out = ImageOutcome(False, "http", "not_in_warc", FETCH_FILTER)
            else:
                yield pvalue.TaggedOutput(_FETCH, (url_host(url), (url, n_docs)))
                return
        except Exception as exc:  # a bad image must never stop the build
            out = _error(exc)
        progress.add("images_resolved")
        yield url, out

    def finish_bundle(self) -> None:
        self._checks.end_bundle()
        self._inputs.close()

    def teardown(self) -> None:
        if hasattr(self, "_checks"):
            self._checks.end_bundle()
            self._inputs.close()


class FetchHostFn(beam.DoFn):
    """(host, lazy iterable of (url, n_docs)) -> (url, ImageOutcome), fetched and checked.

    All of a host's URLs come in one call, so this worker's fetcher (its per-host rate
    limiter and robots.txt cache) is the only one contacting the host. One thread pool per
    DoFn instance (setup/teardown); fetches stay in flight across calls of a bundle, at most
    2 x threads in all and host_parallelism() per host, and are drained in finish_bundle.
    Results are emitted (and Beam metrics counted) on the bundle's thread, as Beam requires.

    A very large host is fetched by one worker at its polite rate; splitting it over k keys
    would need each key's fetcher to space requests k intervals apart, for the same total
    rate, so it is not split.
    """

    def __init__(self, cfg: dict[str, Any], shared: Shared | None = None,
                 store_dir: str | None = None) -> None:
        self.cfg, self._shared, self._store_dir = cfg, shared, store_dir
        self._pool: ThreadPoolExecutor | None = None
        self._window: deque[tuple[Future, str, str, Any, Any]] = deque()
        self._in_flight: Counter[str] = Counter()

    def setup(self) -> None:
        from pipeline.stages.fetching import make_fetcher

        fcfg = self.cfg["fetch"]
        self._threads = max(1, int(fcfg["threads"]))
        self._per_host = host_parallelism(fcfg, self._threads)
        self._fetcher = make_fetcher(fcfg)
        self._checks = ImageChecks(self.cfg, self._shared, self._store_dir)
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="image-fetch")

    def start_bundle(self) -> None:
        self._window = deque()
        self._in_flight = Counter()

    def _resolve(self, url: str, n_docs: int) -> tuple[ImageOutcome, bool]:
        """Runs in a pool thread: (outcome, whether a request was made). Never raises."""
        try:
            early = self._checks.before_fetch(url, n_docs)  # tag_only measures, if any
            res = self._fetcher.fetch(url)
            if res.error:
                value = float(res.status) if res.status else None
                return ImageOutcome(False, "http", res.error, FETCH_FILTER, value,
                                    res.detail[:300]), True
            out = check_image(res.body or b"", "http", self.cfg["images"], url, self._checks)
            return _merge_tags(early, out), True
        except Exception as exc:
            return _error(exc), False

    def _emit(self) -> WindowedValue:
        future, host, url, window, timestamp = self._window.popleft()
        self._in_flight[host] -= 1
        if not self._in_flight[host]:
            del self._in_flight[host]
        outcome, fetched = future.result()
        if fetched:
            progress.add("images_fetched")
        progress.add("images_resolved")
        return WindowedValue((url, outcome), timestamp, [window])

    def process(self, item: tuple[str, Iterable[tuple[str, int]]],
                window: Any = beam.DoFn.WindowParam,
                timestamp: Any = beam.DoFn.TimestampParam) -> Iterator[WindowedValue]:
        assert self._pool is not None
        host, urls = item
        for url, n_docs in urls:  # lazily: a host may have millions
            while self._window and (len(self._window) >= 2 * self._threads
                                    or self._in_flight[host] >= self._per_host):
                yield self._emit()  # the oldest first: other hosts' fetches are older
            future = self._pool.submit(self._resolve, url, n_docs)
            self._window.append((future, host, url, window, timestamp))
            self._in_flight[host] += 1

    def finish_bundle(self) -> Iterator[WindowedValue]:
        while self._window:
            yield self._emit()
        self._checks.end_bundle()

    def teardown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if hasattr(self, "_checks"):
            self._checks.end_bundle()  # after the pool: no thread puts an image any more
        if getattr(self, "_fetcher", None) is not None:
            self._fetcher.close()  # its idle keep-alive connections


def too_common_outcome(url: str, n_docs: int) -> tuple[str, ImageOutcome]:
    progress.add("images_resolved")
    return url, ImageOutcome(False, "http", "too_common", URL_COUNT_FILTER, float(n_docs))


_OUTCOME, _REQUEST = 0, 1


def fan_out(item: tuple[str, Iterable[tuple[int, Any]]]
            ) -> Iterator[tuple[str, tuple[int, ImageOutcome, str]]]:
    """(url, tagged [outcome and requests]) -> (doc key, (position, outcome, rank)) per
    request. Two lazy passes over the group: find the one outcome, then stream the requests
    (a too-common URL may have millions)."""
    tagged = reiterable(item[1])
    outcome = next((v for tag, v in tagged if tag == _OUTCOME), None)
    if outcome is None:
        # Assembly rejects the positions as missing_outcome
        return
    for tag, value in tagged:
        if tag == _REQUEST:
            doc_key, idx, order = value
            yield doc_key, (idx, outcome, order)


def assemble(doc: Document, outcomes: dict[int, ImageOutcome], image_cfg: dict[str, Any],
             duplicates: dict[int, tuple[int, str, str, float]] | None = None,
             tag_only: bool = False) -> tuple[Document | None, dict[str, bytes], list[Reject]]:
    """Put checked images back at their places; drop failed and duplicate ones; apply the
    per-page counts. In tag_only mode duplicates and image filter measures go to the meta.
    ``doc`` is left as it is (Beam inputs are immutable): the result is a new Document."""
    duplicates = duplicates or {}
    tags: dict[str, Any] = {}
    nodes: list[Any] = []
    members: dict[str, bytes] = {}
    rejects: list[Reject] = []
    stored: list[ImageNode] = []
    records: list[str] = []  # where each stored image's bytes came from, for its rejects
    cap = image_cfg["max_per_document"]
    img_idx = 0
    for node in doc.nodes:
        if isinstance(node, TextNode):
            nodes.append(node)
            continue
        o = outcomes.get(img_idx) or ImageOutcome(False, "http", "missing_outcome")
        dup = duplicates.get(img_idx)
        if o.tags:
            tags[str(img_idx)] = dict(o.tags)
        if dup is not None and o.ok:
            _, dup_filter, survivor, dist = dup
            if tag_only:
                tags.setdefault(str(img_idx), {})[dup_filter] = survivor
            else:
                reason = IMAGE_DEDUP_REASONS[dup_filter][0]
                o = ImageOutcome(False, o.origin, reason, dup_filter, dist, f"survivor {survivor}",
                                 record=o.record)
        img_idx += 1
        if not o.ok:
            rejects.append(Reject(doc.key, "image", o.filter, o.reason or "unknown", o.value,
                                  node.src, o.detail, o.record))
            continue
        if cap and len(stored) >= cap:
            rejects.append(Reject(doc.key, "image", MAX_IMAGES_FILTER, "over_max_per_document",
                                  float(len(stored) + 1), node.src, record=o.record))
            continue
        member = image_member(len(stored))
        members[member] = o.jpeg or b""  # bytes, or the reference of the stored image
        records.append(o.record)
        stored.append(ImageNode(src=node.src, alt=node.alt, caption=node.caption,
                                width=o.width, height=o.height, member=member,
                                sha256=o.sha256))
        nodes.append(stored[-1])
    if len(stored) < image_cfg["min_per_document"]:
        # The images it had stored leave with it, each counted once in the image funnel.
        rejects += [Reject(doc.key, "image", MIN_IMAGES_FILTER, DOCUMENT_DROPPED_REASONS[0],
                           float(len(stored)), n.src, record=where)
                    for n, where in zip(stored, records)]
        rejects.append(Reject(doc.key, "document", MIN_IMAGES_FILTER, "too_few_images",
                              float(len(stored)), doc.url, excerpt=excerpt(doc.text)))
        return None, {}, rejects
    meta = dict(doc.meta)
    if tags:
        meta["image_filters"] = tags
    return dataclasses.replace(doc, nodes=nodes, meta=meta), members, rejects


_DOC, _IMG, _DUP = 0, 1, 2  # what a value of a document's group is


class AssembleFn(ReadingFn):
    """(doc key, [(_DOC, Document or its SpoolRef), (_IMG, (position, outcome, rank)),
    (_DUP, mark)...]) -> (Document, {member: jpeg}) and rejects. Groups hold one document's
    images only."""

    def __init__(self, image_cfg: dict[str, Any], tag_only: bool = False) -> None:
        self.image_cfg, self.tag_only = image_cfg, tag_only

    def process(self, item: tuple[str, Iterable[tuple[int, Any]]]) -> Iterator[Any]:
        doc, outcomes, duplicates = None, {}, {}
        for tag, value in item[1]:
            if tag == _DOC:
                doc = value
            elif tag == _IMG:
                outcomes[value[0]] = value[1]
            else:
                duplicates[value[0]] = value
        if doc is None:
            return
        if isinstance(doc, SpoolRef):  # parked (the reader exists once set up)
            doc = self.spool.read(doc)
        kept, members, rejects = assemble(doc, outcomes, self.image_cfg, duplicates,
                                          self.tag_only)
        for r in rejects:
            yield pvalue.TaggedOutput(REJECTS, r)
        if kept is not None:
            progress.add("documents_kept")
            yield kept, members


class ResolveImages(beam.PTransform):
    """(Documents, WARC image records, ...) -> ((Document, {member: jpeg}) kept, Reject)
    outputs; the records may come as several PCollections, imported rows' EmbeddedImages
    among them."""

    def __init__(self, cfg: dict[str, Any], store_dir: str | None = None,
                 work_dir: str | None = None, shuffle: Shuffle = RUNNER) -> None:
        """``store_dir``: park checked images there and pass their paths on (see
        pipeline.outputs.image_store); None keeps the bytes in the elements. ``work_dir``
        (the build's output folder): the documents wait for their images parked there
        (pipeline.outputs.spool); None sends them through the join. ``shuffle`` makes the
        groups (pipeline.file_shuffle)."""
        super().__init__()
        self.cfg, self.store_dir, self.work_dir = cfg, store_dir, work_dir
        self.sh = shuffle

    def expand(self, inputs):
        # (docs, records, ...): one or more PCollections of WARC image records, each projected
        # to its locations where it is produced, so no payload waits in a Flatten of records.
        docs, *warc_images = inputs
        stored = [im | f"StoredImages{i}" >> beam.FlatMap(stored_payload)
                  for i, im in enumerate(warc_images)]
        cfg, sh = self.cfg, self.sh
        tag_only = cfg["filters"]["tag_only"]
        ucfg = cfg["dedup"]["image_urls"]
        limit = ucfg["max_documents"] if ucfg["enabled"] and not tag_only else 0
        shared = Shared()  # one evaluation-image index per worker process

        # One combine gives each URL its document count and one stored payload.
        facts = sh.combine("UrlFacts", (docs | "DocumentUrls" >> beam.FlatMap(document_urls),
                                        *stored), UrlFacts())
        # 0: used by no document; 1: used by more than the limit; 2: to resolve.
        by_use = facts | "ByUse" >> beam.Partition(
            lambda kv, _: 0 if not kv[1][0] else 1 if limit and kv[1][0] > limit else 2, 3)
        too_common = by_use[1] | "TooCommon" >> beam.MapTuple(
            lambda url, f: too_common_outcome(url, f[0]))  # its payload is dropped here
        triage = TriageFn(cfg, shared, self.store_dir)
        triaged = by_use[2] | "Triage" >> beam.ParDo(triage).with_outputs(_FETCH, main="done")
        fetched = (sh.group("ByHost", triaged[_FETCH])
                   | "FetchByHost" >> beam.ParDo(FetchHostFn(cfg, shared, self.store_dir)))
        # Outcomes come from three stages: each is tagged and grouped where it is made.
        by_url = [marked(pc, f"TagOutcomes{i}", _OUTCOME)
                  for i, pc in enumerate((too_common, triaged.done, fetched))]
        requests = marked(docs | "ImageRequests" >> beam.FlatMap(image_requests), "TagRequests",
                       _REQUEST)
        outcomes = sh.group("ByImageUrl", *by_url, requests) | "FanOut" >> beam.FlatMap(fan_out)
        if self.work_dir is None:
            keyed_docs = docs | "KeyDocs" >> beam.Map(lambda d: (d.key, d))
        else:
            keyed_docs = park(docs, "ParkDocs", self.work_dir)
        groups = [marked(keyed_docs, "TagDoc", _DOC), marked(outcomes, "TagImg", _IMG)]
        icfg = cfg["dedup"]["images"]
        if icfg["enabled"] and (icfg["exact"] or icfg["perceptual"]):
            groups.append(marked(outcomes | "DedupImages" >> DuplicateImages(icfg, sh),
                              "TagDup", _DUP))
        return (
            sh.group("ByDocument", *groups)
            | "Assemble" >> beam.ParDo(AssembleFn(cfg["images"], tag_only)).with_outputs(
                REJECTS, main="kept")
        )
