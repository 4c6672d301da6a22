"""WarcWriter: records read back with warcio, offsets point at them, fixed dates, fixed bytes."""

from __future__ import annotations

import gzip
import io

from warcio.archiveiterator import ArchiveIterator

from scrapers.warc_writer import WarcWriter

DATE = "2024-05-06T07:08:09Z"


def _write(date: str | None = DATE, gz: bool = True) -> tuple[bytes, list[int]]:
    buf = io.BytesIO()
    with WarcWriter(buf, gzip=gz) as w:
        offs = [w.write_warcinfo({"software": "test", "seed": 1}, date=date),
                w.write_response("http://a.example/p?q=1", "<p>café</p>".encode(),
                                 headers=[("Content-Type", "text/html; charset=utf-8"),
                                          ("Content-Length", "999")], date=date),
                w.write_response("http://a.example/i.png", b"\x89PNG...", status=404,
                                 headers=[("Content-Type", "image/png")], date=date,
                                 with_request=False),
                w.write_revisit("http://a.example/p?q=1", "sha1:AAAA", date=date)]
    return buf.getvalue(), offs


def _records(data: bytes) -> list:
    out = []
    for rec in ArchiveIterator(io.BytesIO(data)):
        out.append((rec.rec_type, rec.rec_headers, rec.http_headers, rec.content_stream().read()))
    return out


def test_fixed_date_gives_identical_bytes_and_fresh_ids_otherwise():
    assert _write()[0] == _write()[0]
    assert _write(None)[0] != _write(None)[0]


def test_records_read_back_with_headers_and_bodies():
    data, _ = _write()
    recs = _records(data)
    assert [r[0] for r in recs] == ["warcinfo", "request", "response", "response", "revisit"]
    _, req_h, req_http, _ = recs[1]
    _, resp_h, resp_http, body = recs[2]
    assert req_http.protocol == "GET" and req_http.get_header("Host") == "a.example"
    assert req_h.get_header("WARC-Concurrent-To") == resp_h.get_header("WARC-Record-ID")
    assert resp_h.get_header("WARC-Date") == DATE
    assert resp_h.get_header("WARC-Target-URI") == "http://a.example/p?q=1"
    assert resp_http.get_statuscode() == "200"
    assert resp_http.get_header("Content-Type") == "text/html; charset=utf-8"
    assert resp_http.get_header("Content-Length") == str(len(body))  # the stale 999 is replaced
    assert body == "<p>café</p>".encode()
    assert recs[3][2].get_statuscode() == "404" and recs[3][3] == b"\x89PNG..."
    assert recs[4][1].get_header("WARC-Payload-Digest") == "sha1:AAAA"
    ids = [r[1].get_header("WARC-Record-ID") for r in recs]
    assert len(set(ids)) == len(ids)


def test_offsets_point_at_records_each_its_own_gzip_member():
    data, offs = _write()
    kinds = ["warcinfo", "response", "response", "revisit"]
    for off, kind in zip(offs, kinds):
        rec = next(iter(ArchiveIterator(io.BytesIO(data[off:]))))
        assert rec.rec_type == kind
    # every member decompresses alone, and carries mtime 0 (reproducible files)
    bounds = offs[1:] + [len(data)]
    for start, end in zip(offs, bounds):
        assert data[start:start + 2] == b"\x1f\x8b" and data[start + 4:start + 8] == b"\0\0\0\0"
        assert gzip.decompress(data[start:end]).startswith(b"WARC/1.0")


def test_uncompressed_and_non_seekable_streams():
    data, offs = _write(gz=False)
    assert data.startswith(b"WARC/1.0")
    assert data[offs[1]:].startswith(b"WARC/1.0") and b"WARC-Type: response" in data[offs[1]:][:300]

    class Sink:  # a pipe-like stream: write only, no tell()
        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def write(self, b: bytes) -> int:
            self.chunks.append(bytes(b))
            return len(b)

        def flush(self) -> None:
            pass

    sink = Sink()
    with WarcWriter(sink) as w:  # type: ignore[arg-type]
        w.write_response("http://b.example/", b"x", date=DATE)
        off = w.write_response("http://b.example/2", b"y", date=DATE)
    raw = b"".join(sink.chunks)
    rec = next(iter(ArchiveIterator(io.BytesIO(raw[off:]))))
    assert rec.rec_headers.get_header("WARC-Target-URI") == "http://b.example/2"


def test_same_url_and_date_twice_gets_distinct_ids(tmp_path):
    path = str(tmp_path / "x.warc.gz")
    with WarcWriter(path) as w:
        w.write_response("http://c.example/", b"1", date=DATE)
        w.write_response("http://c.example/", b"2", date=DATE)
        assert w.records == 4
    with open(path, "rb") as fh:
        ids = [r.rec_headers.get_header("WARC-Record-ID") for r in ArchiveIterator(fh)]
    assert len(ids) == 4 and len(set(ids)) == 4
