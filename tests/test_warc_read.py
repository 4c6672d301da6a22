import gzip
import io

import pytest

from scrapers.warc_read import iter_records
from tests.warcgen import PROSE, page, warc_bytes


def kinds(data: bytes, **kw):
    return [(r.kind, r.reason) for r in iter_records(io.BytesIO(data), "t.warc.gz", **kw)]


def test_every_record_yields_one_webrecord_with_its_kind():
    data = warc_bytes([
        {"type": "warcinfo"},
        {"type": "request", "url": "http://a.example/"},
        {"url": "http://a.example/", "body": page("A", [PROSE], ["/x.jpg"])},
        {"url": "http://a.example/x.jpg", "body": b"\xff\xd8jpeg", "ctype": "image/jpeg"},
        {"url": "http://a.example/s.css", "body": b"body{}", "ctype": "text/css"},
        {"url": "http://a.example/r", "body": b"", "status": 301,
         "headers": [("Location", "/")]},
        {"url": "http://a.example/missing", "body": b"nope", "status": 404},
        {"type": "revisit", "url": "http://a.example/"},
    ])
    assert kinds(data) == [
        ("skipped", "warc_type"), ("skipped", "warc_type"), ("html", None), ("image", None),
        ("skipped", "non_html"), ("skipped", "http_redirect"), ("skipped", "http_status"),
        ("skipped", "revisit"),
    ]


def test_offsets_point_at_records_and_payload_is_read():
    data = warc_bytes([{"url": "http://a.example/", "body": b"<html><p>hi</p></html>"}] * 2)
    recs = list(iter_records(io.BytesIO(data), "dir/t.warc.gz"))
    assert recs[0].offset == 0 and recs[1].offset > 0
    assert recs[0].source == "t.warc.gz" and recs[0].source_id == "t.warc.gz@0"
    assert recs[1].payload == b"<html><p>hi</p></html>"
    assert recs[1].content_type == "text/html; charset=utf-8"
    # the second record starts a gzip member at its offset
    assert gzip.decompress(data[recs[1].offset:])[:8] == b"WARC/1.0"


def test_truncated_gzip_ends_with_an_error_record_after_the_good_ones():
    good = warc_bytes([{"url": f"http://a.example/{i}", "body": page("A", [PROSE], [])}
                       for i in range(3)])
    cut = good[: len(good) - 40]
    out = kinds(cut)
    assert out[:2] == [("html", None), ("html", None)]
    assert out[-1] in (("skipped", "error"), ("skipped", "truncated"))
    assert len(out) == 3


def test_wrong_content_length_does_not_crash_and_is_counted():
    body = page("A", [PROSE], [])
    raw = warc_bytes([{"url": "http://a.example/", "body": body}], gzip=False)
    # claim more bytes than the record holds, then append a second, valid record
    head, rest = raw.split(b"\r\n\r\n", 1)
    lines = [ln if not ln.startswith(b"Content-Length") else b"Content-Length: 99999"
             for ln in head.split(b"\r\n")]
    broken = b"\r\n".join(lines) + b"\r\n\r\n" + rest
    out = kinds(broken + raw)
    assert out, "a broken record must still be reported"
    assert all(k in ("html", "skipped") for k, _ in out)


def test_oversized_page_keeps_its_kind_without_payload():
    data = warc_bytes([{"url": "http://a.example/", "body": b"<html>" + b"a" * 5000}])
    (rec,) = list(iter_records(io.BytesIO(data), "t.warc", max_bytes=1000))
    assert rec.kind == "html" and rec.reason == "too_large" and rec.payload is None


def test_uncompressed_warc_and_html_sniffing_without_content_type():
    data = warc_bytes([{"url": "http://a.example/p", "body": b"<!DOCTYPE html><html></html>",
                        "ctype": "application/octet-stream"},
                       {"url": "http://a.example/i.png", "body": b"\x89PNG",
                        "ctype": "application/octet-stream"}], gzip=False)
    assert kinds(data) == [("html", None), ("image", None)]


def test_garbage_input_yields_only_skipped_records():
    for junk in (b"this is not a warc file at all\n" * 10, bytes(range(256)) * 40, b""):
        out = kinds(junk)
        assert all(kind == "skipped" for kind, _ in out)


def test_warc_writer_round_trips_deterministically():
    from scrapers.warc_writer import WarcWriter

    def write() -> tuple[bytes, list[int]]:
        buf = io.BytesIO()
        with WarcWriter(buf) as w:
            offs = [w.write_response("http://a.example/p?q=1", b"<html>x</html>",
                                     headers=[("Content-Type", "text/html")],
                                     date="2024-05-06T07:08:09Z"),
                    w.write_response("http://a.example/i.png", b"\x89PNG", status=200,
                                     headers=[("Content-Type", "image/png")],
                                     date="2024-05-06T07:08:09Z", with_request=False)]
        return buf.getvalue(), offs

    (data, offs), (again, _) = write(), write()
    assert data == again
    recs = list(iter_records(io.BytesIO(data), "w.warc.gz"))
    assert [(r.kind, r.reason) for r in recs] == [("skipped", "warc_type"), ("html", None),
                                                  ("image", None)]
    assert [r.offset for r in recs[1:]] == offs
    assert recs[1].payload == b"<html>x</html>" and recs[1].date == "2024-05-06T07:08:09Z"


@pytest.mark.parametrize("gz", [True, False])
def test_a_record_is_read_again_from_its_offset(tmp_path, gz):
    from scrapers.warc_read import read_record_at

    records = [{"url": f"http://x.test/{i}.jpg", "body": bytes([i]) * (100 + i),
                "ctype": "image/jpeg"} for i in range(3)]
    path = tmp_path / ("a.warc.gz" if gz else "a.warc")
    path.write_bytes(warc_bytes(records, gzip=gz))
    with open(path, "rb") as fh:
        first = list(iter_records(fh, str(path)))
    assert [r.path for r in first] == [str(path)] * 3
    with open(path, "rb") as fh:
        for rec in reversed(first):  # any order: each read seeks
            again = read_record_at(fh, rec.offset, str(path))
            assert (again.url, again.payload, again.offset) == (rec.url, rec.payload, rec.offset)
