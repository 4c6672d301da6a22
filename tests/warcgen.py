"""Build small WARC files in tests, broken ones included, with warcio directly."""

from __future__ import annotations

import io

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def warc_bytes(records: list[dict], gzip: bool = True) -> bytes:
    """records: dicts with url, body, and optional status, ctype, type ('response', 'request',
    'revisit', 'warcinfo'), headers."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gzip)
    for r in records:
        rtype = r.get("type", "response")
        date = {"WARC-Date": "2024-01-02T03:04:05Z"}
        if rtype == "warcinfo":
            w.write_record(w.create_warcinfo_record("test.warc", {"software": "tests"}))
            continue
        if rtype == "revisit":
            rec = w.create_revisit_record(r["url"], digest="sha1:AAAA", refers_to_uri=r["url"],
                                          refers_to_date="2024-01-01T00:00:00Z")
            w.write_record(rec)
            continue
        if rtype == "request":
            http = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.com")],
                                    is_http_request=True)
            rec = w.create_warc_record(r["url"], "request", payload=io.BytesIO(b""),
                                       http_headers=http, warc_headers_dict=date)
            w.write_record(rec)
            continue
        status = r.get("status", 200)
        headers = [("Content-Type", r.get("ctype", "text/html; charset=utf-8"))]
        headers += r.get("headers", [])
        http = StatusAndHeaders(f"{status} X", headers, protocol="HTTP/1.1")
        rec = w.create_warc_record(r["url"], "response", payload=io.BytesIO(r["body"]),
                                   http_headers=http, warc_headers_dict=date)
        w.write_record(rec)
    return buf.getvalue()


def page(title: str, paragraphs: list[str], images: list[str]) -> bytes:
    """A simple article page: paragraphs with an image after each of the first ones."""
    parts = [f"<html><head><title>{title}</title></head><body>",
             "<nav><a href='/'>Home</a> <a href='/about'>About</a></nav><article>",
             f"<h1>{title}</h1>"]
    for i, p in enumerate(paragraphs):
        parts.append(f"<p>{p}</p>")
        if i < len(images):
            parts.append(f"<figure><img src='{images[i]}' alt='picture {i}'>"
                         f"<figcaption>Caption {i}</figcaption></figure>")
    parts.append("</article><footer>Copyright footer</footer></body></html>")
    return "".join(parts).encode()


PROSE = (
    "The committee met on a bright morning to discuss the future of the old harbour and the "
    "plans that the town had made for it over the last ten years. Many of the people who "
    "came to the meeting had lived near the water all their lives, and they wanted to be sure "
    "that the new buildings would leave room for the boats, the market and the small shops."
)


# Build tests that are about reading, extraction and images, not curation, reuse PROSE across
# pages; this config section switches off the text filters and text dedup that would drop it.
NO_TEXT_CURATION_YAML = """filters:
  document:
    language: {enabled: false}
    gopher_quality: {enabled: false}
    gopher_repetition: {enabled: false}
dedup:
  domain_paragraphs: {enabled: false}
  text: {enabled: false}
  near: {enabled: false}
"""
