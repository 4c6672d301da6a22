"""The extractor never crashes: random, broken, huge and deeply nested input."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.document import Document
from scrapers.extract import Extraction, extract, extract_detailed

URL = "http://example.com/a/b.html"
TAGS = ["div", "p", "a", "span", "img", "ul", "li", "table", "td", "tr", "nav", "footer",
        "article", "h1", "br", "pre", "blockquote", "figure", "figcaption", "picture", "source",
        "script", "style", "noscript", "svg", "base", "meta", "title", "header", "aside"]
ATTRS = ['', ' class="nav"', ' id="comments"', ' src="x.jpg"', ' srcset="a.jpg 2x, b.jpg 9w"',
         ' data-src="//cdn/x.png"', ' href="javascript:void(0)"', ' src="data:,x"',
         ' width="1" height="1"', ' style="display:none"', ' hidden', ' src="http://[::1"',
         ' charset="bogus"', ' href="http://a b"', ' role="main"']


def _ok(result: object) -> None:
    assert result is None or isinstance(result, Document)
    if result is not None:
        assert isinstance(result.text, str)
        for img in result.images:
            assert img.src.startswith(("http://", "https://"))


fragments = st.lists(
    st.one_of(
        st.builds(lambda t, a: f"<{t}{a}>", st.sampled_from(TAGS), st.sampled_from(ATTRS)),
        st.builds(lambda t: f"</{t}>", st.sampled_from(TAGS)),
        st.text(max_size=40),
        st.sampled_from(["<!--", "-->", "<![CDATA[", "<", ">", "&amp", "&#0;", "\x00", "\ufeff"]),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fragments, st.sampled_from([None, "text/html", "text/html; charset=utf-16",
                                   "text/html; charset=nonsense", "charset="]))
def test_random_tag_soup(parts, content_type):
    html = "".join(parts).encode("utf-8", "surrogatepass")
    _ok(extract(html, URL, content_type))


@settings(max_examples=100, deadline=None, database=None)
@given(st.binary(max_size=2000))
def test_binary_junk(data):
    r = extract_detailed(data, URL)
    assert isinstance(r, Extraction)
    _ok(r.document)


def test_empty_and_whitespace():
    assert extract(b"", URL) is None
    assert extract(b"   \n\t ", URL) is None
    _ok(extract(b"\x00\x00\x00", URL))


def test_deep_nesting_10k():
    depth = 10_000
    html = ("<div>" * depth + "<p>" + "deep text, with words. " * 20 + "</p>" + "</div>" * depth)
    doc = extract(html.encode(), URL)
    assert doc is not None and "deep text" in doc.text
    unclosed = "<div><span><b>" * 4000 + "text without end"
    _ok(extract(unclosed.encode(), URL))


def test_unclosed_tags_and_bad_urls():
    html = (b"<html><body><article><p>Some text here that goes on, and on, and on."
            b"<p>More text, still not closed<img src='http://[bad'><img srcset=','>"
            b"<a href='x'><li><td>cell<table><tr><td>x")
    _ok(extract(html, "not a url"))
    _ok(extract(html, ""))


def test_ten_megabytes_of_text():
    html = b"<html><body><p>" + b"lorem ipsum dolor sit amet, " * 360_000 + b"</p></body></html>"
    assert len(html) > 10_000_000
    doc = extract(html, URL)
    assert doc is not None and len(doc.text) > 9_000_000


def test_many_images_and_links():
    imgs = "".join(f'<a href="/{i}"><img src="/i{i}.jpg" width="300"></a>' for i in range(5000))
    _ok(extract(f"<body><p>{'word ' * 100}</p>{imgs}</body>".encode(), URL))
