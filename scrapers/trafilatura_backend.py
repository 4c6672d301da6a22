"""Second extraction backend: trafilatura, mapped to the same Document shape.

trafilatura's XML output keeps block structure and (with include_images) <graphic> elements in
place, so text and images come out in its order. Slower than `scrapers.extract` (about 10x);
used to compare and as a fallback choice in the build config.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from schemas.document import Document, ImageNode, Node, TextNode
from scrapers.charset import decode_html
from scrapers.extract_images import classify

# trafilatura XML element -> our TextNode tag
_TAGS = {"p": "p", "item": "li", "cell": "td", "quote": "blockquote", "code": "pre",
         "head": "h2", "lb": ""}
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_BLOCKS = frozenset({"p", "item", "cell", "quote", "code", "head"})


def extract_trafilatura(html: bytes, url: str, content_type: str | None = None) -> Document | None:
    """Main content by trafilatura as a Document (None when it finds none)."""
    import trafilatura  # heavy import, only for this backend

    text = html if isinstance(html, str) else decode_html(html or b"", content_type)
    if not text.strip():
        return None
    try:
        xml = trafilatura.extract(text, url=url, output_format="xml", include_images=True,
                                  include_tables=True, include_comments=False)
    except Exception:  # trafilatura raises on some malformed input; treat as no content
        return None
    if not xml:
        return None
    try:
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(recover=True, huge_tree=True))
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    main = root.find("main")
    nodes: list[Node] = []
    _collect(main if main is not None else root, url, nodes)
    if not any(isinstance(n, TextNode) for n in nodes):
        return None
    # trafilatura's metadata pass costs more than the extraction: read <title> ourselves.
    m = _TITLE.search(text, 0, 200_000)
    title = " ".join(html_lib.unescape(m.group(1)).split()) if m else ""
    return Document(url=url, nodes=nodes, title=title)


def _collect(el: Any, url: str, nodes: list[Node]) -> None:
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "graphic":
            _image(child, url, nodes)
        elif tag in _BLOCKS and not any(c.tag in _BLOCKS for c in child):
            out = _TAGS[tag]
            if tag == "head":
                rend = (child.get("rend") or "").lower()
                out = rend if rend in ("h1", "h2", "h3", "h4", "h5", "h6") else "h2"
            raw = "".join(t for t in child.itertext())
            s = raw.strip("\n") if tag == "code" else " ".join(raw.split())
            if s:
                nodes.append(TextNode(s, out))
            for g in child.iter("graphic"):
                _image(g, url, nodes)
        else:
            _collect(child, url, nodes)


def _image(g: Any, url: str, nodes: list[Node]) -> None:
    src = (g.get("src") or "").strip()
    if not src or src.startswith("data:"):
        return
    try:
        src = urljoin(url, src)
    except ValueError:
        return
    if not src.startswith(("http://", "https://")) or classify(src, {}, None, None):
        return
    nodes.append(ImageNode(src, g.get("alt") or "", g.get("title") or ""))
