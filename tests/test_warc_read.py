import gzip
import io
import random

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


def _member(headers: list[str], block: bytes) -> bytes:
    """One gzip member holding one WARC record, written by hand so that it can be odd."""
    head = "\r\n".join(["WARC/1.0", *headers, f"Content-Length: {len(block)}"])
    return gzip.compress(head.encode("latin-1") + b"\r\n\r\n" + block + b"\r\n\r\n")


def _response(url: str, http_head: str, body: bytes) -> bytes:
    block = http_head.replace("\n", "\r\n").encode("latin-1") + b"\r\n\r\n" + body
    return _member(["WARC-Type: response", f"WARC-Target-URI: {url}",
                    "WARC-Date: 2024-01-02T03:04:05Z",
                    "Content-Type: application/http; msgtype=response"], block)


def _odd_warc() -> bytes:
    """Plain members between members that only warcio reads in full."""
    html = page("A", [PROSE], ["/x.jpg"])
    photo = random.Random(1).randbytes(9000)  # incompressible: members cross read blocks
    plain = warc_bytes([{"type": "warcinfo"}, {"type": "request", "url": "http://a.example/"},
                        {"url": "http://a.example/", "body": html},
                        {"url": "http://a.example/x.jpg", "body": b"\xff\xd8" + photo,
                         "ctype": "image/jpeg"},
                        {"type": "revisit", "url": "http://a.example/"}])
    chunked = _response("http://a.example/c", "HTTP/1.1 200 OK\nContent-Type: text/html\n"
                        "Transfer-Encoding: chunked", b"5\r\n<html\r\n1\r\n>\r\n0\r\n\r\n")
    zipped = _response("http://a.example/z", "HTTP/1.1 200 OK\nContent-Type: text/html\n"
                       "Content-Encoding: gzip", gzip.compress(html))
    latin = _response("http://a.example/l", "HTTP/1.1 200 OK\nContent-Type: text/html\n"
                      "X-Name: caf\xe9", html)
    folded = _response("http://a.example/f", "HTTP/1.1 200 OK\nContent-Type: text/html;\n"
                       " charset=utf-8", html)
    odd_uri = _response("<http://a.example/w>", "HTTP/1.0 200 OK\nContent-Type: text/html",
                        html)
    http2 = _response("http://a.example/2", "HTTP/2 404\ncontent-type: text/html", b"gone")
    one_member = gzip.compress(gzip.decompress(plain))  # every record in one gzip member
    return (plain + chunked + zipped + latin + plain + folded + odd_uri + http2 + plain
            + one_member)


def _last_member(data: bytes) -> bytes:
    """The last gzip member of a file."""
    return data[data.rindex(b"\x1f\x8b\x08"):]


def _read(data: bytes, max_bytes: int = 20_000_000,
          fast: bool = True) -> tuple[list[dict], tuple[int, bool]]:
    import dataclasses

    from scrapers.warc_read import ReadStatus

    st = ReadStatus()
    recs = [dataclasses.asdict(r) for r in
            iter_records(io.BytesIO(data), "t.warc.gz", max_bytes, st, fast=fast)]
    return recs, (st.records, st.clean)


def _fast_alone(data: bytes) -> tuple[list, list[int]]:
    """The records the fast reader reads itself, and the length of each stream it hands to
    warcio (given a warcio that reads nothing)."""
    from scrapers import warc_fast

    handed: list[int] = []
    plain = list(warc_fast.records(io.BytesIO(data), 10**8,
                                   lambda fh: handed.append(len(fh.read())) or iter(())))
    return plain, handed


def test_the_fast_reader_reads_every_file_as_warcio_does():
    data = _odd_warc()
    rng = random.Random(3)
    variants = [data, data[: len(data) // 3], data[:-7], data + b"\0" * 40, data[::-1][:5000]]
    for _ in range(40):  # flipped bits: corrupt members, wrong lengths, broken headers
        flipped = bytearray(data)
        for _ in range(2):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        variants.append(bytes(flipped))
    fast = [_read(v, mb) for v in variants for mb in (20_000_000, 500)]
    # what the fast reader leaves to warcio: each odd member alone, then the member holding
    # several records, from there to the end of the file
    plain, handed = _fast_alone(data)
    assert len(plain) == 3 * 5 + 1  # the three plain runs and the HTTP/2 response
    assert len(handed) == 6 and handed[-1] == len(_last_member(data))
    slow = [_read(v, mb, fast=False) for v in variants for mb in (20_000_000, 500)]
    assert fast == slow
    kinds_read = [(r["url"], r["kind"], r["reason"]) for r in fast[0][0]]
    assert ("http://a.example/c", "html", None) in kinds_read  # de-chunked by warcio
    # 15 written by warcio, 6 by hand, then warcio reads the first record of the several-record
    # member and stops with an error
    assert len(fast[0][0]) == 15 + 6 + 1 + 1
    assert fast[0][0][-1]["reason"] == "error" and fast[0][1] == (23, False)


def test_a_record_read_again_is_read_as_warcio_reads_it(tmp_path):
    import dataclasses

    from scrapers.warc_read import read_record_at

    path = tmp_path / "odd.warc.gz"
    path.write_bytes(_odd_warc())
    with open(path, "rb") as fh:
        offsets = [r.offset for r in iter_records(fh, str(path))]

    def again(fast: bool) -> list[dict]:
        with open(path, "rb") as fh:
            return [dataclasses.asdict(read_record_at(fh, o, str(path), fast=fast))
                    for o in offsets[:-5]]

    fast = again(True)
    assert fast == again(False)
    assert {r["url"] for r in fast} >= {"http://a.example/x.jpg", "http://a.example/c"}


def test_a_file_of_odd_members_is_left_to_warcio():
    from scrapers import warc_fast

    plain = warc_bytes([{"url": "http://a.example/", "body": page("A", [PROSE], [])}])
    chunked = _response("http://a.example/c", "HTTP/1.1 200 OK\nContent-Type: text/html\n"
                        "Transfer-Encoding: chunked", b"5\r\n<html\r\n1\r\n>\r\n0\r\n\r\n")
    data = plain + chunked * 10 + plain
    plain_read, handed = _fast_alone(data)
    # the first odd members one by one, then the rest of the file in one piece
    assert len(plain_read) == 1 and len(handed) == warc_fast.ODD_RUN
    assert handed[:-1] == [len(chunked)] * (warc_fast.ODD_RUN - 1)
    assert handed[-1] == len(chunked) * (11 - warc_fast.ODD_RUN) + len(plain)
    fast = _read(data)
    assert fast == _read(data, fast=False) and len(fast[0]) == 12
