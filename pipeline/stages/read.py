"""Beam sources: WARC/ARC files and URL lists, both ending as WebRecords."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline import progress
from scrapers.warc_read import WebRecord, classify_payload, iter_records, mime_type

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


def check_inputs(patterns: list[str]) -> None:
    """Fail before the build starts when a pattern matches nothing (a typo, not bad data)."""
    for pattern in patterns:
        found = FileSystems.match([pattern])[0].metadata_list
        if not found:
            raise ValueError(f"--input {pattern}: no file matches")


class ReadWarcFn(beam.DoFn):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def process(self, path: str) -> Iterator[WebRecord]:
        # UNCOMPRESSED: warcio reads gzip members itself, and offsets must be file offsets.
        try:
            fh = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
        except Exception as exc:
            yield WebRecord(kind="skipped", url="", source=os.path.basename(path), offset=0,
                            reason="error", detail=f"{type(exc).__name__}: {exc}"[:500])
            return
        with fh:
            for rec in iter_records(fh, path, self.max_bytes):
                progress.add("records_read")
                yield rec


def read_url_list(path: str) -> list[str]:
    """URLs from a text file (one per line, # comments) or a parquet file's `url` column."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        data = fh.read()
    if path.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data), columns=["url"])
        return [u for u in table.column("url").to_pylist() if u]
    lines = data.decode("utf-8", "replace").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]


URL_GROUPS = 4096
URL_BATCH = 64


def _url_group(url: str) -> int:
    return int(hashlib.sha1(url.encode("utf-8", "replace")).hexdigest()[:8], 16) % URL_GROUPS


def _batches(group: tuple[int, Any]) -> Iterator[list[str]]:
    # Batches depend only on the URLs, so archived WARC names are the same on a rerun.
    urls = sorted(set(group[1]))
    for i in range(0, len(urls), URL_BATCH):
        yield urls[i : i + URL_BATCH]


class FetchPagesFn(beam.DoFn):
    """Fetch a batch of page URLs politely; optionally archive the responses to a WARC."""

    def __init__(self, fetch_cfg: dict[str, Any], archive_dir: str | None, max_bytes: int):
        self.fetch_cfg = fetch_cfg
        self.archive_dir = archive_dir
        self.max_bytes = max_bytes
        self._fetcher = None

    def setup(self) -> None:
        from pipeline.stages.fetching import make_fetcher

        self._fetcher = make_fetcher(self.fetch_cfg)

    def process(self, batch: list[str]) -> Iterator[WebRecord]:
        urls = sorted(batch)
        results = list(self._fetcher.fetch_many(urls, threads=self.fetch_cfg["threads"]))
        offsets: dict[str, tuple[str, int]] = {}
        if self.archive_dir:
            offsets = self._archive(urls, results)
        for url, res in zip(urls, results):
            progress.add("records_read")
            source, offset = offsets.get(url, (url, 0))
            rec = WebRecord(kind="skipped", url=url, source=source, offset=offset,
                            status=res.status, headers=dict(res.headers or {}))
            if res.error:
                rec.reason, rec.detail = f"fetch_{res.error}", res.detail[:500]
                yield rec
                continue
            rec.content_type = rec.headers.get("content-type", "")
            rec.mime = mime_type(rec.content_type)
            body = res.body or b""
            kind = classify_payload(rec.mime, res.final_url or url, body[:1024])
            if kind != "html":
                rec.reason, rec.detail = "non_html", rec.mime
                yield rec
                continue
            rec.kind = "html"
            if len(body) > self.max_bytes:
                rec.reason = "too_large"
            else:
                rec.payload = body
            yield rec

    def _archive(self, urls: list[str], results: list) -> dict[str, tuple[str, int]]:
        from scrapers.warc_writer import WarcWriter

        name = "fetch-" + hashlib.sha1("\n".join(urls).encode()).hexdigest()[:16] + ".warc.gz"
        path = FileSystems.join(self.archive_dir, name)
        buf = io.BytesIO()
        offsets = {}
        with WarcWriter(buf, gzip=True) as w:
            for url, res in zip(urls, results):
                if res.body is None or res.status is None:
                    continue
                headers = [(k, v) for k, v in (res.headers or {}).items()
                           if k not in ("content-encoding", "transfer-encoding", "content-length")]
                offsets[url] = (name, w.write_response(url, res.body, status=res.status,
                                                       headers=headers))
        from pipeline.outputs.atomic import write_atomic

        write_atomic(path, buf.getvalue())
        return offsets


def unknown_input(path: str) -> WebRecord:
    progress.add("records_read")
    return WebRecord(kind="skipped", url="", source=os.path.basename(path), offset=0,
                     reason="unknown_input", detail=path)


class ReadInputs(beam.PTransform):
    """All inputs (globs of WARCs and URL lists) -> WebRecords, one per input record.

    Globs are matched inside the pipeline, and each file is routed by its own name: a file
    that is neither an archive nor a URL list becomes one skipped record, not a failure."""

    def __init__(self, patterns: list[str], cfg: dict[str, Any], out_dir: str) -> None:
        super().__init__()
        self.patterns = patterns
        self.cfg = cfg
        self.out_dir = out_dir

    def expand(self, pbegin):
        max_bytes = self.cfg["extract"]["max_page_bytes"]
        fetch_cfg = self.cfg["fetch"]
        archive = FileSystems.join(self.out_dir, "crawl") if fetch_cfg["archive"] else None
        kinds = ("warc", "urls", "unknown")
        files = (
            pbegin
            | "Globs" >> beam.Create(sorted(set(self.patterns)))
            | "Match" >> fileio.MatchAll()
            | "Paths" >> beam.Map(lambda m: m.path)
            | "Distinct" >> beam.Distinct()
            | "ByType" >> beam.Partition(lambda path, _: kinds.index(input_kind(path)), 3)
        )
        warc_records = (
            files[0]
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadWarc" >> beam.ParDo(ReadWarcFn(max_bytes))
        )
        fetched = (
            files[1]
            | "ReadUrlLists" >> beam.FlatMap(read_url_list)
            | "GroupUrls" >> beam.Map(lambda u: (_url_group(u), u))
            | "ByGroup" >> beam.GroupByKey()
            | "BatchUrls" >> beam.FlatMap(_batches)
            | "FetchPages" >> beam.ParDo(FetchPagesFn(fetch_cfg, archive, max_bytes))
        )
        unknown = files[2] | "Unknown" >> beam.Map(unknown_input)
        return (warc_records, fetched, unknown) | "AllRecords" >> beam.Flatten()
