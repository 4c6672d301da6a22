"""Write WARC files (warcio): fetched pages archived for a reproducible crawl, and sample sites.

Each record is its own gzip member (warcio's default; zlib writes mtime 0 in the gzip header),
so a record can be read from its offset alone. Given a fixed ``date``, output is byte-identical
across runs: record IDs are uuid5s of the record type, URL, date and how many times that triple
was already written, instead of random UUIDs. Without a date the current time is used and IDs
are random, as a crawler writing the same URL twice in one second still needs distinct IDs.

    with WarcWriter("crawl.warc.gz") as w:
        w.write_warcinfo({"software": "m3w"}, date="2024-03-01T12:00:00Z")
        off = w.write_response(url, body, headers=[("Content-Type", "text/html")],
                               date="2024-03-01T12:00:00Z")   # request record, then response
"""

from __future__ import annotations

import io
import uuid
from collections import Counter
from datetime import datetime, timezone
from http.client import responses as _REASONS
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

_NS = uuid.UUID("6f1c1f0e-3b7e-4d3c-9a53-0f1d5b7a2c11")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Counting:
    """Counts bytes written, so offsets work on streams that cannot tell() (pipes, sockets)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.n = fh, 0

    def write(self, data: bytes) -> int:
        self.fh.write(data)
        self.n += len(data)
        return len(data)

    def flush(self) -> None:
        self.fh.flush()


class WarcWriter:
    """A context manager writing WARC records to a path or a binary file object.

    Every ``write_*`` method returns the offset of the record it wrote, counted from where the
    writer started (0 for a new file), which is what WARC readers seek to.
    """

    def __init__(self, target: str | IO[bytes], gzip: bool = True) -> None:
        self._own = isinstance(target, str)
        fh: IO[bytes] = open(target, "wb") if isinstance(target, str) else target
        self._out = _Counting(fh)
        self._w = WARCWriter(self._out, gzip=gzip)
        self._seen: Counter[tuple[str, ...]] = Counter()
        self.records = 0

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._out.flush()
        if self._own:
            self._out.fh.close()

    @property
    def offset(self) -> int:
        """Bytes written so far: the offset the next record will have."""
        return self._out.n

    def _ids(self, kind: str, url: str, date: str | None) -> tuple[str, str]:
        """(date, record id): derived from the inputs when the date is given, else fresh."""
        if date is None:
            return _now(), f"<urn:uuid:{uuid.uuid4()}>"
        key = (kind, url, date)
        n = self._seen[key]
        self._seen[key] += 1
        return date, f"<urn:uuid:{uuid.uuid5(_NS, '|'.join(key) + f'|{n}')}>"

    def _write(self, rec: Any) -> int:
        offset = self.offset
        self._w.write_record(rec)
        self.records += 1
        return offset

    def write_warcinfo(self, fields: dict[str, Any], filename: str = "m3w.warc.gz",
                       date: str | None = None) -> int:
        """A warcinfo record (``fields`` become ``key: value`` lines)."""
        date, rid = self._ids("warcinfo", filename, date)
        rec = self._w.create_warcinfo_record(filename, {k: str(v) for k, v in fields.items()})
        rec.rec_headers.replace_header("WARC-Date", date)
        rec.rec_headers.replace_header("WARC-Record-ID", rid)
        return self._write(rec)

    def write_request(self, url: str, date: str | None = None,
                      headers: list[tuple[str, str]] | None = None,
                      concurrent_to: str | None = None) -> int:
        """A GET request record for ``url`` (Host header added)."""
        date, rid = self._ids("request", url, date)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = [("Host", parts.netloc)] if parts.netloc else []
        http = StatusAndHeaders(f"GET {target} HTTP/1.1", host + list(headers or []),
                                is_http_request=True)
        warc = {"WARC-Date": date, "WARC-Record-ID": rid}
        if concurrent_to:
            warc["WARC-Concurrent-To"] = concurrent_to
        rec = self._w.create_warc_record(url, "request", payload=io.BytesIO(b""),
                                         http_headers=http, warc_headers_dict=warc)
        return self._write(rec)

    def write_response(self, url: str, body: bytes, *, status: int = 200,
                       headers: list[tuple[str, str]] | None = None, date: str | None = None,
                       with_request: bool = True) -> int:
        """One HTTP response, after its request record by default; returns the response's offset.

        ``headers`` are the HTTP headers as sent; Content-Length is set to the body's length
        (the body is stored decoded, so a transfer's own length would be wrong)."""
        date, rid = self._ids("response", url, date)
        if with_request:
            self.write_request(url, date, concurrent_to=rid)
        hdrs = [(k, v) for k, v in (headers or []) if k.lower() != "content-length"]
        hdrs.append(("Content-Length", str(len(body))))
        http = StatusAndHeaders(f"{status} {_REASONS.get(status, 'Unknown')}", hdrs,
                                protocol="HTTP/1.1")
        rec = self._w.create_warc_record(url, "response", payload=io.BytesIO(body),
                                         http_headers=http,
                                         warc_headers_dict={"WARC-Date": date,
                                                            "WARC-Record-ID": rid})
        return self._write(rec)

    def write_revisit(self, url: str, refers_to_digest: str, date: str | None = None,
                      refers_to_date: str | None = None) -> int:
        """A revisit record: ``url`` had the same payload (``sha1:...`` digest) as before."""
        date, rid = self._ids("revisit", url, date)
        rec = self._w.create_revisit_record(url, digest=refers_to_digest, refers_to_uri=url,
                                            refers_to_date=refers_to_date or date)
        rec.rec_headers.replace_header("WARC-Date", date)
        rec.rec_headers.replace_header("WARC-Record-ID", rid)
        return self._write(rec)
