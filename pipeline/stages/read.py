"""Beam sources: WARC/ARC files and URL lists, both ending as WebRecords.

`ReadInputs` returns ``{"records": WebRecords, "rejects": one stream of read-reject lists per
reader, "files": (path, records_read, ended_cleanly)}``: one files row per input file, counted
by the reader where it reads, so the funnel can check records_read against the records and
rejects that arrive downstream. Only pages and images travel on as records: every other
record read (a WARC's request and metadata records, redirects, non-HTML payloads, fetch
errors) becomes a read reject where it is read, a reader's rejects batched into lists of up
to SKIP_BATCH. A Common Crawl file holds about two such records for each page, and one
element a record would cost the runner more than the reject itself.

- WARC/ARC files are read whole, one file per call (a gzip stream has no split points).
  records_read counts every record read from the file, pages and images and read rejects,
  the one `error` reject of a file that breaks midway included; ended_cleanly is False after
  a read error, a corrupt stream or a truncated record (scrapers.warc_read.ReadStatus).
- URL lists are read in splits: text files by byte range (a line belongs to the split holding
  its first byte), parquet files by row group. records_read is the number of URLs read (one
  page or read reject each, after fetching); ended_cleanly is False when a split could not be
  read to its end (then one `error` reject stands for the rest of that split).
- A file of unknown kind is one read reject: (path, 1, True).

Fetching is keyed by a hash of the URL's host into FETCH_GROUPS groups, so one worker (and one
rate limiter) sees all of a host's requests; a group's URLs are streamed, never held whole, and
fetched in batches of URL_BATCH. A host with many URLs is fetched at its per-host rate and
holds up its group meanwhile: politeness, not the grouping, bounds how fast it goes. Each
batch is archived as one WARC whose name is derived from the batch's sorted URLs, so a retried
batch rewrites the same file. Fetched records carry the final URL after redirects
(`meta["requested_url"]` keeps the one listed) and the crawl date (scrapers.fetch.crawl_date);
the archived record has them as its WARC-Target-URI and WARC-Date.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from pipeline import progress
from pipeline.file_shuffle import RUNNER, Shuffle
from pipeline.imports.formats import MMC4, OBELICS, corpus_format, input_format, parquet_footer
from pipeline.rejects import REJECTS
from schemas import Reject
from scrapers.warc_read import ReadStatus, WebRecord, classify_payload, iter_records, mime_type

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
URL_LIST_SUFFIXES = (".txt", ".urls", ".parquet")


def input_kind(path: str) -> str:
    """The kind of input file: "warc", "urls" or "unknown", by file name."""
    p = path.lower()
    name = os.path.basename(p)
    if p.endswith(WARC_SUFFIXES) or ".warc" in name or ".arc." in name:
        return "warc"
    if p.endswith(URL_LIST_SUFFIXES):
        return "urls"
    return "unknown"


def input_route(path: str, input_format: str = "auto") -> tuple[str, int | None]:
    """Where ReadInputs sends a file: its corpus format ("obelics", "mmc4": a file to import,
    see pipeline.imports.formats), else its input_kind; and a Parquet file's row-group count
    (None when its footer cannot be read, and for any other file). Decided once per file, from
    one read of a Parquet footer: it tells an OBELICS file from a URL list, and gives the
    pieces the file is read in (row_group_pieces)."""
    columns, groups = (parquet_footer(path) if path.lower().endswith(".parquet")
                       else (None, None))
    return corpus_format(path, input_format, columns) or input_kind(path), groups


def check_inputs(patterns: list[str]) -> None:
    """Fail before the build starts when a pattern matches nothing (a typo, not bad data)."""
    for pattern in patterns:
        found = FileSystems.match([pattern])[0].metadata_list
        if not found:
            raise ValueError(f"--input {pattern}: no file matches")


READ_FILTER = "read/v1"  # the filter named by read rejects (a skipped or broken input)
BRANCHES = "branches"
FILES = "files"  # the per-file counts output of ReadInputs
CORPUS = "corpus"  # (path, format, row groups) of the files to import (pipeline.imports)
SPLIT_BYTES = 64 << 20  # a text URL list is read in splits of this many bytes
MAX_LINE = 64 << 10  # a longer line is cut (it is no usable URL; it still counts as one)
FETCH_GROUPS = 1 << 16  # host-hash groups: the upper bound on parallel fetching
URL_BATCH = 64  # URLs per fetch call, and per archived WARC
SKIP_BATCH = 512  # read rejects of one WARC file given as one list element


def read_reject(rec: WebRecord) -> Reject:
    """The reject of a record that is neither a page nor an image (rec.kind "skipped")."""
    return Reject(source=rec.source_id, stage="read", filter=READ_FILTER,
                  reason=rec.reason or "unknown", url=rec.url, detail=rec.detail)


def _error_reject(path: str, offset: int, exc: BaseException) -> Reject:
    return read_reject(WebRecord(kind="skipped", url="", source=os.path.basename(path),
                                 offset=offset, reason="error",
                                 detail=f"{type(exc).__name__}: {exc}"[:500]))


def open_input(path: str) -> IO[bytes]:
    # UNCOMPRESSED: the readers inflate gzip members themselves, and offsets are file offsets.
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class ReadWarcFn(beam.DoFn):
    """A WARC/ARC path -> its pages and images as WebRecords, its other records as lists of
    read rejects (output REJECTS), and one (path, records_read, ended_cleanly) row."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def process(self, path: str) -> Iterator[Any]:
        status = ReadStatus()
        try:
            fh = open_input(path)
        except Exception as exc:
            progress.add("records_read")
            yield TaggedOutput(REJECTS, [_error_reject(path, 0, exc)])
            yield TaggedOutput(FILES, (path, 1, False))
            return
        skipped: list[Reject] = []
        with fh:
            for rec in iter_records(fh, path, self.max_bytes, status):
                progress.add("records_read")
                if rec.kind != "skipped":
                    yield rec
                    continue
                skipped.append(read_reject(rec))
                if len(skipped) >= SKIP_BATCH:
                    yield TaggedOutput(REJECTS, skipped)
                    skipped = []
        if skipped:
            yield TaggedOutput(REJECTS, skipped)
        yield TaggedOutput(FILES, (path, status.records, status.clean))


# -- URL lists -------------------------------------------------------------------------------

def url_list_splits(path: str, size: int, split_bytes: int = SPLIT_BYTES
                    ) -> Iterator[tuple[str, int, int]]:
    """(path, start, end) pieces of one URL list: byte ranges of a text file, row-group
    ranges [start, end) of a parquet file (end -1: up to the last row group). Every file has
    at least one piece, so every file gets its counts row."""
    if path.lower().endswith(".parquet"):
        yield path, 0, -1  # row groups are known once the footer is read: see split_parquet
        return
    step = max(1, split_bytes)
    for start in range(0, max(size, 1), step):
        yield path, start, min(start + step, max(size, 1))


def _text_lines(fh: IO[bytes], start: int, end: int) -> Iterator[bytes]:
    """Lines whose first byte lies in [start, end), each cut to MAX_LINE bytes."""
    pos = start
    if start > 0:
        fh.seek(start - 1)
        pos = start - 1 + skip_line(fh)  # the line holding byte start-1 is the previous split's
    else:
        fh.seek(0)
    while pos < end:
        line = fh.readline(MAX_LINE)
        if not line:
            return
        pos += len(line)
        if not line.endswith(b"\n") and len(line) == MAX_LINE:
            pos += skip_line(fh)
        yield line


def skip_line(fh: IO[bytes]) -> int:
    """Read to just past the next newline (or the end); the bytes consumed."""
    n = 0
    while True:
        part = fh.readline(MAX_LINE)
        n += len(part)
        if not part or part.endswith(b"\n"):
            return n


def _url_of(line: bytes) -> str | None:
    text = line.decode("utf-8", "replace").strip()
    return text if text and not text.startswith("#") else None


class ReadUrlSplitFn(beam.DoFn):
    """(path, start, end) -> its URLs; a (path, urls_read, clean) counts row per piece; an
    unreadable piece also gives one `error` read reject (output REJECTS, a list of one)."""

    def process(self, split: tuple[str, int, int]) -> Iterator[Any]:
        path, start, end = split
        n = 0
        try:
            if path.lower().endswith(".parquet"):
                urls: Iterable[str | None] = self._parquet(path, start, end)
            else:
                urls = self._text(path, start, end)
            for url in urls:
                if url:
                    n += 1
                    yield url
        except Exception as exc:  # a bad list must not stop the build; its counts say so
            progress.add("records_read")
            yield TaggedOutput(REJECTS, [_error_reject(path, start, exc)])
            yield TaggedOutput("counts", (path, (n + 1, False)))
            return
        yield TaggedOutput("counts", (path, (n, True)))

    def _text(self, path: str, start: int, end: int) -> Iterator[str | None]:
        with open_input(path) as fh:
            for line in _text_lines(fh, start, end):
                yield _url_of(line)

    def _parquet(self, path: str, start: int, end: int) -> Iterator[str | None]:
        import pyarrow.parquet as pq

        with open_input(path) as fh:
            pf = pq.ParquetFile(fh)
            stop = pf.num_row_groups if end < 0 else min(end, pf.num_row_groups)
            for group in range(start, stop):
                for url in pf.read_row_group(group, columns=["url"]).column("url").to_pylist():
                    yield url if isinstance(url, str) and url.strip() else None


def split_parquet(split: tuple[str, int, int], groups_per_split: int = 1
                  ) -> Iterator[tuple[str, int, int]]:
    """A whole-file parquet piece -> one piece per row group (footer read only)."""
    path, start, end = split
    if not path.lower().endswith(".parquet") or end >= 0:
        yield split
        return
    yield from row_group_pieces(path, parquet_footer(path)[1], groups_per_split)


def row_group_pieces(path: str, groups: int | None, groups_per_split: int = 1
                     ) -> Iterator[tuple[str, int, int]]:
    """A parquet file of ``groups`` row groups -> one piece per row group; the whole file as
    one piece when its footer could not be read (None: the reader reports it as an error)."""
    if groups is None:
        yield path, 0, -1
        return
    for g in range(0, max(groups, 1), groups_per_split):
        yield path, g, g + groups_per_split


def list_pieces(path: str, size: int, groups: int | None) -> Iterator[tuple[str, int, int]]:
    """A routed URL list -> its pieces: byte ranges of a text file, row groups of a parquet
    file (``groups``: its row-group count, from input_route's footer read)."""
    if path.lower().endswith(".parquet"):
        return row_group_pieces(path, groups)
    return url_list_splits(path, size)


def merge_counts(values: Iterable[tuple[int, bool]]) -> tuple[int, bool]:
    n, clean = 0, True
    for v_n, v_clean in values:
        n, clean = n + v_n, clean and v_clean
    return n, clean


class CountPerFile(beam.PTransform):
    """(path, (records, clean)) counts, one per piece read -> one (path, records_read,
    ended_cleanly) row per file."""

    def expand(self, counts):
        return (counts
                | "Merge" >> beam.CombinePerKey(merge_counts)
                | "Rows" >> beam.Map(lambda kv: (kv[0], kv[1][0], kv[1][1])))


def read_url_list(path: str) -> list[str]:
    """Every URL of one list, in order (a small helper for tools and tests; the build reads
    lists in splits with ReadUrlSplitFn)."""
    fn = ReadUrlSplitFn()
    size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    out: list[str] = []
    for piece in url_list_splits(path, size):
        for sub in split_parquet(piece):
            out.extend(u for u in fn.process(sub) if isinstance(u, str))
    return out


# -- fetching --------------------------------------------------------------------------------

def host_group(url: str, groups: int = FETCH_GROUPS) -> int:
    """The fetch group of `url`: a stable hash of its host, so a host is fetched in one place."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        host = ""
    digest = hashlib.sha1(host.encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:8], "big") % groups


def archive_name(urls: list[str]) -> str:
    """The WARC name of one fetch batch: derived from its sorted URLs only."""
    return "fetch-" + hashlib.sha1("\n".join(sorted(urls)).encode()).hexdigest()[:16] + ".warc.gz"


class FetchPagesFn(beam.DoFn):
    """(group, URLs) -> a WebRecord per URL fetched as a page, a read reject for any other
    (output REJECTS, one list a batch), fetched politely in batches of URL_BATCH; each batch
    optionally archived to a WARC. The group is streamed, never held whole."""

    def __init__(self, fetch_cfg: dict[str, Any], archive_dir: str | None, max_bytes: int,
                 batch: int = URL_BATCH):
        self.fetch_cfg = fetch_cfg
        self.archive_dir = archive_dir
        self.max_bytes = max_bytes
        self.batch = batch
        self._fetcher = None

    def setup(self) -> None:
        from pipeline.stages.fetching import make_fetcher

        self._fetcher = make_fetcher(self.fetch_cfg)

    def teardown(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()  # its idle keep-alive connections

    def process(self, group: tuple[int, Iterable[str]]) -> Iterator[Any]:
        batch: list[str] = []
        for url in group[1]:
            batch.append(url)
            if len(batch) >= self.batch:
                yield from self.fetch_batch(batch)
                batch = []
        if batch:
            yield from self.fetch_batch(batch)

    def fetch_batch(self, batch: list[str]) -> Iterator[Any]:
        urls = sorted(batch)
        distinct = sorted(set(urls))
        results = dict(zip(distinct, self._fetcher.fetch_many(  # type: ignore[union-attr]
            distinct, threads=self.fetch_cfg["threads"])))
        offsets: dict[str, tuple[str, int]] = {}
        if self.archive_dir:
            offsets = self._archive(distinct, results)
        seen: set[str] = set()
        skipped: list[Reject] = []
        for url in urls:
            progress.add("records_read")
            res = results[url]
            if url in seen:  # fetched once; a second record would repeat its source id
                skipped.append(read_reject(WebRecord(
                    kind="skipped", url=url, source=url, offset=0, date=res.date,
                    reason="duplicate_url", detail="named again in its batch")))
                continue
            seen.add(url)
            rec = self._record(url, res, offsets)
            if rec.kind == "skipped":
                skipped.append(read_reject(rec))
            else:
                yield rec
        if skipped:
            yield TaggedOutput(REJECTS, skipped)

    def _record(self, url: str, res: Any, offsets: dict[str, tuple[str, int]]) -> WebRecord:
        source, offset = offsets.get(url, (url, 0))
        final = res.final_url or url
        rec = WebRecord(kind="skipped", url=url, source=source, offset=offset, date=res.date,
                        status=res.status, headers=dict(res.headers or {}))
        if res.error:
            if final != url:
                rec.meta["final_url"] = final
            rec.reason, rec.detail = f"fetch_{res.error}", res.detail[:500]
            return rec
        if final != url:  # the page lives at the final URL: its links resolve against it
            rec.url = final
            rec.meta["requested_url"] = url
        rec.content_type = rec.headers.get("content-type", "")
        rec.mime = mime_type(rec.content_type)
        body = res.body or b""
        kind = classify_payload(rec.mime, final, body[:1024])
        if kind != "html":
            rec.reason, rec.detail = "non_html", rec.mime
            return rec
        rec.kind = "html"
        if len(body) > self.max_bytes:
            rec.reason = "too_large"
        else:
            rec.payload = body
        return rec

    def _archive(self, urls: list[str], results: dict[str, Any]) -> dict[str, tuple[str, int]]:
        import io

        from pipeline.outputs.atomic import write_atomic
        from scrapers.warc_writer import WarcWriter

        name = archive_name(urls)
        path = FileSystems.join(self.archive_dir, name)
        buf = io.BytesIO()
        offsets = {}
        with WarcWriter(buf, gzip=True) as w:
            for url in urls:
                res = results[url]
                if res.body is None or res.status is None:
                    continue
                headers = [(k, v) for k, v in (res.headers or {}).items()
                           if k not in ("content-encoding", "transfer-encoding", "content-length")]
                # The record names the page where it was found, at the time it was fetched.
                offsets[url] = (name, w.write_response(res.final_url or url, res.body,
                                                       status=res.status, headers=headers,
                                                       date=res.date or None))
        if offsets:
            write_atomic(path, buf.getvalue())
        return offsets


def unknown_input(path: str) -> list[Reject]:
    """A file that is neither an archive nor a URL list: one read reject."""
    progress.add("records_read")
    return [read_reject(WebRecord(kind="skipped", url="", source=os.path.basename(path),
                                  offset=0, reason="unknown_input", detail=path))]


class ReadInputs(beam.PTransform):
    """All inputs (globs of WARCs and URL lists) -> {"records": WebRecords of pages and
    images, "rejects": streams (a list) of lists of read rejects, "files": one (path,
    records_read, ended_cleanly) per input file}; see the module docstring. Corpus files
    to import are not read here: they come out as (path, format, row groups) in "corpus"
    (their counts are pipeline.imports' to give).

    Globs are matched inside the pipeline, and each file is routed by its own name: a file
    that is neither an archive nor a URL list becomes one read reject, not a failure."""

    def __init__(self, patterns: list[str], cfg: dict[str, Any], out_dir: str,
                 flatten: bool = True, shuffle: Shuffle = RUNNER) -> None:
        """``flatten=False``: no "records", only the "branches" (see the end of expand).
        ``shuffle`` makes the groups of URLs by host (pipeline.file_shuffle)."""
        super().__init__()
        self.patterns = patterns
        self.cfg = cfg
        self.out_dir = out_dir
        self.flatten, self.sh = flatten, shuffle

    def expand(self, pbegin):
        max_bytes = self.cfg["extract"]["max_page_bytes"]
        fetch_cfg = self.cfg["fetch"]
        archive = FileSystems.join(self.out_dir, "crawl") if fetch_cfg["archive"] else None
        kinds = {"warc": 0, "urls": 1, "unknown": 2, OBELICS: 3, MMC4: 3}
        fmt = input_format(self.cfg)
        files = (
            pbegin
            | "Globs" >> beam.Create(sorted(set(self.patterns)))
            | "Match" >> fileio.MatchAll()
            | "Paths" >> beam.Map(lambda m: (m.path, int(m.size_in_bytes or 0)))
            | "Distinct" >> beam.Distinct()
            | "Route" >> beam.Map(lambda f: (*f, *input_route(f[0], fmt)))
            | "ByType" >> beam.Partition(lambda f, _: kinds[f[2]], 4)
        )
        warc = (
            files[0]
            | "WarcPaths" >> beam.Map(lambda f: f[0])
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadWarc" >> beam.ParDo(ReadWarcFn(max_bytes)).with_outputs(
                FILES, REJECTS, main="records")
        )
        lists = (
            files[1]
            | "UrlSplits" >> beam.FlatMap(lambda f: list_pieces(f[0], f[1], f[3]))
            | "SpreadSplits" >> beam.Reshuffle()
            | "ReadUrlSplits" >> beam.ParDo(ReadUrlSplitFn()).with_outputs(
                "counts", REJECTS, main="urls")
        )
        list_files = lists.counts | "CountPerList" >> CountPerFile()
        fetched = (
            self.sh.group("GroupHosts", lists.urls | "ByHost" >> beam.Map(
                lambda u: (host_group(u), u)))
            | "FetchPages" >> beam.ParDo(FetchPagesFn(fetch_cfg, archive, max_bytes)).with_outputs(
                REJECTS, main="records")
        )
        unknown_paths = files[2] | "UnknownPaths" >> beam.Map(lambda f: f[0])
        unknown = unknown_paths | "Unknown" >> beam.Map(unknown_input)
        unknown_files = unknown_paths | "UnknownFiles" >> beam.Map(lambda p: (p, 1, True))
        branches = [warc.records, fetched.records]
        # Each reader's rejects stay a stream of their own, parked where they are made (see
        # pipeline.outputs.reject_files): a Flatten of several stages' outputs is held whole
        # by the local runner until its consumer runs.
        rejects = [warc[REJECTS], fetched[REJECTS], lists[REJECTS], unknown]
        per_file = ((warc[FILES], list_files, unknown_files) | "AllFiles" >> beam.Flatten())
        # "branches": the records before any Flatten. A runner may materialise a Flatten whose
        # inputs come from different stages, payloads included (the local runner holds all of
        # them), so the build asks for no "records", extracts each branch where it is read and
        # flattens only what extraction leaves.
        corpus = files[3] | "CorpusFiles" >> beam.Map(lambda f: (f[0], f[2], f[3]))
        out = {FILES: per_file, BRANCHES: branches, CORPUS: corpus, REJECTS: rejects}
        if self.flatten:
            out["records"] = tuple(branches) | "AllRecords" >> beam.Flatten()
        return out
