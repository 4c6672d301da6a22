"""The trafilatura backend gives the same Document shape as the default one."""

from schemas.document import Document, ImageNode, TextNode
from scrapers.trafilatura_backend import extract_trafilatura

URL = "https://example.org/news/item.html"
PARA = ("The committee published its annual report on Monday, describing a year of steady "
        "growth in membership and a number of new projects in the northern districts. ")


def test_same_document_shape():
    html = f"""<html><head><title>Report</title></head><body>
        <nav><a href="/">Home</a><a href="/a">About</a></nav>
        <article><h1>Annual report</h1><p>{PARA * 3}</p>
        <figure><img src="/img/chart.png" alt="Chart"></figure>
        <p>{PARA * 2}</p><ul><li>First point of the list</li><li>Second point</li></ul>
        </article><footer>Imprint</footer></body></html>""".encode()
    doc = extract_trafilatura(html, URL)
    assert isinstance(doc, Document) and doc.url == URL and doc.title == "Report"
    texts = [n for n in doc.nodes if isinstance(n, TextNode)]
    assert any(PARA.strip() in n.text and n.tag == "p" for n in texts)
    assert ("li", "Second point") in [(n.tag, n.text) for n in texts]
    assert "Home" not in doc.text and "Imprint" not in doc.text
    imgs = [n for n in doc.nodes if isinstance(n, ImageNode)]
    assert [i.src for i in imgs] == ["https://example.org/img/chart.png"]


def test_no_content_and_junk():
    assert extract_trafilatura(b"", URL) is None
    assert extract_trafilatura(b"<html><body></body></html>", URL) is None
    assert extract_trafilatura(bytes(range(256)) * 10, URL) is None
