"""HTML -> Document: main content, boilerplate removal, tags, title."""

import pytest

from schemas.document import ImageNode, TextNode
from scrapers.extract import Extraction, extract, extract_detailed

URL = "https://news.example.com/2024/05/story.html"
PROSE = (
    "The council voted on Tuesday to expand the riverside park, a decision that ends a debate "
    "which has divided the town for nearly a decade. Supporters said the plan, which adds "
    "walking paths and a small library, would bring families back to the old quarter."
)
PROSE2 = (
    "Opponents, however, argued that the money would be better spent on roads, and several "
    "shop owners worried about the months of construction. The mayor promised a review of the "
    "budget in the autumn, and said residents would be consulted again before any work begins."
)
PROSE3 = (
    "Work is expected to start next spring. The first section, near the old mill, should open "
    "within a year, while the library will follow once funding from the regional government "
    "has been confirmed, according to the planning office."
)


def page(content: str, chrome: str = "", head: str = "<title>Park plan</title>") -> bytes:
    """A page with a typical layout around `content`; `chrome` is extra boilerplate."""
    return f"""<!doctype html><html><head>{head}</head><body>
    <header class="site-header"><a href="/"><img src="/img/logo.png" alt="News"></a>
      <ul class="menu"><li><a href="/world">World</a></li><li><a href="/local">Local</a></li>
      <li><a href="/sport">Sport</a></li></ul></header>
    <nav><a href="/a">Home</a> <a href="/b">Politics</a> <a href="/c">Business</a></nav>
    <div id="main"><article>{content}</article>
    <aside class="sidebar"><h3>Most read</h3><ul><li><a href="/x">Another story entirely</a>
      </li></ul></aside></div>{chrome}
    <footer><p>Copyright 2024 Example News. All rights reserved.</p><a href="/imprint">Imprint</a>
    </footer></body></html>""".encode()


def texts(doc) -> list[str]:
    return [n.text for n in doc.nodes if isinstance(n, TextNode)]


def test_main_content_and_tags():
    html = page(f"""<h1>Town approves park</h1><p>{PROSE}</p><h2>Costs</h2><p>{PROSE2}</p>
        <ul><li>Walking paths along the river</li><li>A small public library</li></ul>
        <blockquote>We listened to everyone, and we will keep listening.</blockquote>
        <table><tr><td>Budget</td><td>4.2 million</td></tr></table>
        <pre>phase 1: paths
phase 2: library</pre><p>{PROSE3}</p>""")
    doc = extract(html, URL)
    assert doc is not None and doc.url == URL
    got = [(n.tag, n.text) for n in doc.nodes if isinstance(n, TextNode)]
    assert ("h1", "Town approves park") in got
    assert ("p", PROSE) in got and ("p", PROSE3) in got
    assert ("h2", "Costs") in got
    assert ("li", "A small public library") in got
    assert ("blockquote", "We listened to everyone, and we will keep listening.") in got
    assert ("td", "4.2 million") in got
    assert ("pre", "phase 1: paths\nphase 2: library") in got
    # document order is page order
    order = [t for _, t in got]
    assert order.index(PROSE) < order.index(PROSE2) < order.index(PROSE3)
    assert doc.text == "\n".join(order)


@pytest.mark.parametrize("chrome", [
    '<div class="cookie-banner"><p>We use cookies to improve your experience. By using this '
    'site you accept our cookie policy and privacy terms.</p></div>',
    '<div id="comments"><h3>3 comments</h3><div class="comment"><p>Great article, I totally '
    'agree with everything that was said here, thanks for writing.</p></div></div>',
    '<div class="share-bar"><a href="/s1">Share on Facebook</a><a href="/s2">Tweet</a></div>',
    '<div class="related-posts"><h3>Related</h3><ul><li><a href="/r1">The park debate: a '
    'history of the old quarter</a></li><li><a href="/r2">Library funding explained</a></li>'
    '</ul></div>',
    '<div class="ad-slot"><p>Advertisement: buy the new phone today, the best deal of the '
    'season, only for a limited time.</p></div>',
    '<div role="navigation"><a href="/p1">Previous page of results</a></div>',
])
def test_boilerplate_blocks_are_dropped(chrome):
    doc = extract(page(f"<h1>Park</h1><p>{PROSE}</p><p>{PROSE2}</p>", chrome=chrome), URL)
    assert doc is not None
    body = doc.text
    assert PROSE in body and PROSE2 in body
    for junk in ("cookie", "agree with everything", "Facebook", "Library funding",
                 "Advertisement", "Previous page", "Home", "Politics", "World", "Most read",
                 "Copyright", "Imprint"):
        assert junk not in body, junk


def test_boilerplate_inside_article_is_dropped():
    html = page(f"""<h1>Park</h1><p>{PROSE}</p>
        <div class="social-share"><a href="/f">Facebook</a> <a href="/t">Twitter</a></div>
        <p>{PROSE2}</p><div class="tags"><a href="/t/parks">parks</a></div>
        <h3>Read more</h3><ul><li><a href="/1">Council budget row</a></li>
        <li><a href="/2">Mayor under pressure</a></li></ul>""")
    body = extract(html, URL).text
    assert PROSE in body and PROSE2 in body
    for junk in ("Facebook", "parks", "Read more", "Council budget row"):
        assert junk not in body


def test_link_lists_without_class_hints_are_dropped():
    links = "".join(f'<li><a href="/n{i}">Navigation entry {i}</a></li>' for i in range(12))
    html = f"""<html><body><div><ul>{links}</ul></div>
        <div><div><p>{PROSE}</p><p>{PROSE2}</p></div></div><div><ul>{links}</ul></div>
        </body></html>""".encode()
    doc = extract(html, URL)
    assert texts(doc) == [PROSE, PROSE2]


def test_wrapper_with_misleading_class_is_not_dropped():
    html = f"""<html><body><div class="content-sidebar-wrap"><div class="entry">
        <p>{PROSE}</p><p>{PROSE2}</p><p>{PROSE3}</p></div>
        <div class="sidebar"><p>Subscribe to our newsletter for weekly updates.</p></div>
        </div></body></html>""".encode()
    doc = extract(html, URL)
    assert texts(doc) == [PROSE, PROSE2, PROSE3]


def test_hidden_elements_are_dropped():
    html = page(f'<p>{PROSE}</p><div style="display:none"><p>Secret hidden text that nobody '
                f'sees on the page at all.</p></div><p hidden>Also hidden.</p><p>{PROSE2}</p>')
    body = extract(html, URL).text
    assert "Secret" not in body and "Also hidden" not in body and PROSE2 in body


def test_title_from_title_or_og():
    assert extract(page(f"<p>{PROSE}</p>"), URL).title == "Park plan"
    head = '<meta property="og:title" content="OG park title">'
    assert extract(page(f"<p>{PROSE}</p>", head=head), URL).title == "OG park title"
    assert extract(page(f"<p>{PROSE}</p>", head=""), URL).title == ""


def test_no_main_content_gives_none():
    assert extract(b"", URL) is None
    assert extract(b"<html><body></body></html>", URL) is None
    assert extract(b"<html><body><nav><a href='/'>Home</a></nav></body></html>", URL) is None
    r = extract_detailed(b"<html><body>   </body></html>", URL)
    assert isinstance(r, Extraction) and r.document is None and r.skipped_images == []


def test_plain_text_body_and_br_lines():
    doc = extract(f"<html><body>{PROSE}<br>{PROSE2}</body></html>".encode(), URL)
    assert doc.text == f"{PROSE}\n{PROSE2}"


def test_charset_from_header_is_used():
    html = f"<html><body><p>Caf\u00e9 cr\u00e8me. {PROSE}</p></body></html>".encode("cp1252")
    doc = extract(html, URL, "text/html; charset=windows-1252")
    assert doc.text.startswith("Caf\u00e9 cr\u00e8me.")


def test_deterministic():
    html = page(f"<h1>Park</h1><p>{PROSE}</p><img src='a.jpg'><p>{PROSE2}</p>")
    a, b = extract_detailed(html, URL), extract_detailed(html, URL)
    assert a == b
    assert any(isinstance(n, ImageNode) for n in a.document.nodes)


def test_big_widget_inside_article_body_does_not_replace_the_article():
    """A class-named gallery widget holding most of the text, inside a marked article body:
    the article body is the region, with its own images."""
    legends = "".join(f"<li><h2>{i}/30 Item</h2><p>Legend number {i} of the business "
                      f"gallery, a long enough sentence to count as prose here.</p></li>"
                      for i in range(30))
    # a list of links in the body weighs against it: the widget alone would score higher
    links = "".join(f'<li><a href="/r{i}">Another related story with a long title, number {i}'
                    f'</a></li>' for i in range(12))
    html = f"""<html><body><nav><a href="/">Home</a></nav>
        <div itemprop="articleBody" class="text-wrapper">
        <p>Hotel rooms are not always as clean as they look, say the hotel owners we asked.</p>
        <figure><img src="/photo.jpg"></figure>
        <p>Blankets in particular are rarely washed between stays, even in the best hotels.</p>
        <ul>{links}</ul>
        <div class="gallery-widget-wrapper"><ul>{legends}</ul></div></div></body></html>"""
    doc = extract(html.encode(), "https://news.example.com/a")
    assert "Hotel rooms are not always" in doc.text
    assert [i.src for i in doc.images] == ["https://news.example.com/photo.jpg"]
