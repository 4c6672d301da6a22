"""Read WARC/ARC files into WebRecords: HTML pages, images, or skipped records with a reason.

Every record in the file yields exactly one WebRecord, so the build's funnel can show that
records_read == html + image + skipped. A file that breaks midway (truncated gzip, a record
with a wrong length) yields one skipped record naming the error, then stops: nothing after a
broken gzip member can be located reliably. A `ReadStatus` passed in counts the records as they
are read and says whether the file ended cleanly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator

from scrapers.warc_fast import first_record, records

HTML_TYPES = ("text/html", "application/xhtml+xml")
MEMBER_SLACK = 1 << 20  # headers beside a payload of max_bytes; larger members go to warcio
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif")

# Reason codes for skipped records, declared so the funnel can list them.
SKIP_REASONS = (
    "warc_type",  # request, warcinfo, metadata, conversion: not a payload we use
    "revisit",  # a dedup pointer without payload
    "http_redirect",
    "http_status",  # any other non-2xx response
    "non_html",  # a response that is neither HTML nor an image
    "truncated",  # the record's block is shorter than its Content-Length
    "error",  # the file could not be read past this point
    "duplicate_url",  # a URL list named this URL again in the same fetch batch
)


@dataclass
class ReadStatus:
    """What a reader saw of one input file: records yielded, and whether the file ended
    cleanly (False after a read error, a truncated record or a corrupt stream)."""

    records: int = 0
    clean: bool = True


@dataclass
class WebRecord:
    """One record of an input file. ``kind`` is "html", "image" or "skipped"."""

    kind: str
    url: str
    source: str
    offset: int
    date: str = ""
    mime: str = ""
    content_type: str = ""
    status: int | None = None
    payload: bytes | None = None
    reason: str | None = None
    detail: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)  # e.g. requested_url after redirects
    path: str = ""  # the input file as given (``source`` is its base name): for read_record_at

    @property
    def source_id(self) -> str:
        return f"{self.source}@{self.offset}"


def mime_type(content_type: str) -> str:
    """The bare, lower-case MIME type of a Content-Type header."""
    return content_type.split(";", 1)[0].strip().lower()


def _looks_like_html(head: bytes) -> bool:
    h = head[:1024].lstrip().lower()
    return h.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def classify_payload(mime: str, url: str, payload_head: bytes) -> str:
    """"html", "image" or "skipped" from the MIME type, the URL and the payload's start."""
    if mime in HTML_TYPES:
        return "html"
    if mime.startswith("image/"):
        return "image"
    path = url.split("?", 1)[0].lower()
    if mime in ("", "application/octet-stream", "binary/octet-stream"):
        if path.endswith(IMAGE_EXTENSIONS):
            return "image"
        if _looks_like_html(payload_head):
            return "html"
    if mime == "text/plain" and _looks_like_html(payload_head):
        return "html"
    return "skipped"


def _read_capped(stream: IO[bytes], max_bytes: int) -> tuple[bytes, bool]:
    data = stream.read(max_bytes + 1)
    return data[:max_bytes], len(data) > max_bytes


def iter_records(
    fileobj: IO[bytes], source: str, max_bytes: int = 20_000_000,
    status: ReadStatus | None = None, fast: bool = True,
) -> Iterator[WebRecord]:
    """Yield one WebRecord per record of a WARC or ARC stream (gzipped or not).

    Payloads above ``max_bytes`` are not loaded: the record keeps its kind, with
    ``reason="too_large"`` and no payload, so the stage that owns it can reject it.
    ``status``, when given, is updated as records are read (see ReadStatus). ``fast=False``
    reads every record through warcio (the same records, for comparison).
    """
    st = status if status is not None else ReadStatus()
    name = os.path.basename(source.rstrip("/"))
    offset = 0
    read = (records(fileobj, max_bytes + MEMBER_SLACK, _warcio_records) if fast
            else _warcio_records(fileobj))
    try:
        for rec, record_offset in read:
            # Read the record before asking its offset: warcio skips the payload otherwise.
            web = _to_web_record(rec, name, max_bytes)
            web.offset = offset = record_offset()
            web.path = source
            st.records += 1
            if web.reason == "truncated":
                st.clean = False
            yield web
    except Exception as exc:  # warcio raises several types for a broken file
        st.records += 1
        st.clean = False
        yield WebRecord(
            kind="skipped",
            url="",
            source=name,
            offset=offset,
            reason="error",
            detail=f"{type(exc).__name__}: {exc}"[:500],
        )


def _warcio_records(fileobj: IO[bytes]) -> Iterator[tuple[Any, Callable[[], int]]]:
    it = ArchiveIterator(fileobj, arc2warc=True, check_digests=False)
    for rec in it:
        yield rec, it.get_record_offset


def read_record_at(fileobj: IO[bytes], offset: int, source: str,
                   max_bytes: int = 20_000_000, fast: bool = True) -> WebRecord:
    """The one record starting at ``offset`` of a seekable WARC/ARC stream (each record of a
    .warc.gz is its own gzip member, so reading can start at any record's offset).
    ``fast=False`` reads it through warcio."""
    fileobj.seek(offset)
    rec = first_record(fileobj, max_bytes + MEMBER_SLACK) if fast else None
    if rec is None:
        fileobj.seek(offset)
        found = _warcio_records(fileobj)  # held while the record is read
        rec = next(found, (None, None))[0]
        if rec is None:
            raise ValueError(f"{source}: no record at offset {offset}")
    web = _to_web_record(rec, os.path.basename(source.rstrip("/")), max_bytes)
    web.offset, web.path = offset, source
    return web


def _to_web_record(rec, source: str, max_bytes: int) -> WebRecord:
    h = rec.rec_headers
    wtype = rec.rec_type
    url = h.get_header("WARC-Target-URI") or ""
    date = h.get_header("WARC-Date") or ""
    base = WebRecord(kind="skipped", url=url, source=source, offset=-1, date=date)
    if wtype == "revisit":
        base.reason = "revisit"
        return base
    if wtype not in ("response", "resource"):
        base.reason = "warc_type"
        base.detail = str(wtype)
        return base
    if rec.http_headers is not None and wtype == "response":
        status_line = rec.http_headers.get_statuscode() or "0"
        base.status = int(status_line) if status_line.isdigit() else 0
        base.content_type = rec.http_headers.get_header("Content-Type") or ""
        base.headers = {k.lower(): v for k, v in rec.http_headers.headers}
    else:
        base.status = 200
        base.content_type = h.get_header("Content-Type") or ""
    base.mime = mime_type(base.content_type)
    if base.status and 300 <= base.status < 400:
        base.reason = "http_redirect"
        base.detail = base.headers.get("location", "")
        return base
    if not base.status or not 200 <= base.status < 300:
        base.reason = "http_status"
        base.detail = str(base.status)
        return base
    payload, too_large = _read_capped(rec.content_stream(), max_bytes)
    missing = getattr(rec.raw_stream, "limit", 0)
    if not too_large and missing > 0:
        # The block ended before its Content-Length: a truncated file or a wrong length.
        base.reason = "truncated"
        base.detail = f"{missing} bytes missing"
        return base
    kind = classify_payload(base.mime, url, payload[:1024])
    if kind == "skipped":
        base.reason = "non_html"
        base.detail = base.mime
        return base
    base.kind = kind
    if too_large:
        base.reason = "too_large"
        base.detail = f"over {max_bytes} bytes"
    else:
        base.payload = payload
    return base
