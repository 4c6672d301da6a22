"""Write WARC files (warcio): fetched pages archived for a reproducible crawl, and sample sites.

Given a fixed ``date``, output is byte-identical across runs: record IDs are derived from the
URL, date and record type instead of random UUIDs.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timezone
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

_NS = uuid.UUID("6f1c1f0e-3b7e-4d3c-9a53-0f1d5b7a2c11")
_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_id(*parts: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(_NS, '|'.join(parts))}>"


class WarcWriter:
    """A context manager writing response (and request) records to a path or binary file."""

    def __init__(self, target: str | IO[bytes], gzip: bool = True) -> None:
        self._own = isinstance(target, str)
        self._fh: IO[bytes] = open(target, "wb") if isinstance(target, str) else target
        self._start = self._fh.tell() if self._fh.seekable() else 0
        self._w = WARCWriter(self._fh, gzip=gzip)

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fh.flush()
        if self._own:
            self._fh.close()

    def _offset(self) -> int:
        return self._fh.tell() - self._start

    def write_warcinfo(self, fields: dict[str, Any], filename: str = "m3w.warc.gz",
                       date: str | None = None) -> int:
        offset = self._offset()
        date = date or _now()
        rec = self._w.create_warcinfo_record(filename, dict(fields))
        rec.rec_headers.replace_header("WARC-Date", date)
        rec.rec_headers.replace_header("WARC-Record-ID", _record_id("warcinfo", filename, date))
        self._w.write_record(rec)
        return offset

    def write_request(self, url: str, date: str | None = None,
                      headers: list[tuple[str, str]] | None = None) -> int:
        offset = self._offset()
        date = date or _now()
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = [("Host", parts.netloc)] if parts.netloc else []
        http = StatusAndHeaders(f"GET {target} HTTP/1.1", host + list(headers or []),
                                is_http_request=True)
        rec = self._w.create_warc_record(
            url, "request", payload=io.BytesIO(b""), http_headers=http,
            warc_headers_dict={"WARC-Date": date,
                               "WARC-Record-ID": _record_id("request", url, date)})
        self._w.write_record(rec)
        return offset

    def write_response(self, url: str, body: bytes, *, status: int = 200,
                       headers: list[tuple[str, str]] | None = None, date: str | None = None,
                       with_request: bool = True) -> int:
        """Write one HTTP response (after its request, by default); returns its offset."""
        date = date or _now()
        if with_request:
            self.write_request(url, date)
        offset = self._offset()
        reason = _REASONS.get(status, "Status")
        hdrs = [(k, v) for k, v in (headers or [])]
        if not any(k.lower() == "content-length" for k, _ in hdrs):
            hdrs.append(("Content-Length", str(len(body))))
        http = StatusAndHeaders(f"{status} {reason}", hdrs, protocol="HTTP/1.1")
        rec = self._w.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http,
            warc_headers_dict={"WARC-Date": date,
                               "WARC-Record-ID": _record_id("response", url, date)})
        self._w.write_record(rec)
        return offset

    def write_revisit(self, url: str, refers_to_digest: str, date: str | None = None) -> int:
        offset = self._offset()
        date = date or _now()
        rec = self._w.create_revisit_record(url, digest=refers_to_digest, refers_to_uri=url,
                                            refers_to_date=date)
        rec.rec_headers.replace_header("WARC-Date", date)
        rec.rec_headers.replace_header("WARC-Record-ID", _record_id("revisit", url, date))
        self._w.write_record(rec)
        return offset
