"""HTML -> Document: the page's main content as ordered text and image nodes.

Pure and deterministic. Parsing is lexbor (selectolax); then one Python pass over the tree
(`dom_walk`), a linear scoring of the block elements (`extract_select`), and the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from schemas.document import Document, ImageNode, Node, TextNode
from scrapers.charset import decode_html_codec
from scrapers.dom_hints import CAPTION, STRIP_QUERY
from scrapers.dom_walk import ImageItem, TextBlock, Walk, walk
from scrapers.extract_images import image_info, picture_key, resolve_src, source_of
from scrapers.extract_select import Selection, select

# Hidden by the author: never shown, so never content. Guarded by size in `_drop_hidden`.
_HIDDEN = '[hidden], [aria-hidden="true"], [style*="display:none"], [style*="display: none"]'
_CAPTION_SCOPE = 3  # levels above an image searched for its figure / caption wrapper
# A boilerplate-named element with less than this share of the page's text is not walked at
# all; bigger ones are walked and judged on their prose (see extract_select.DOMINANT_SHARE).
SKIP_SHARE = 0.15


@dataclass
class Extraction:
    """The document (None when the page has no main content) and the images not taken."""

    document: Document | None
    skipped_images: list[tuple[str, str]] = field(default_factory=list)  # (src, reason code)


def extract(html: bytes, url: str, content_type: str | None = None, *,
            image_rules: bool = False) -> Document | None:
    """The main content of an HTML page as a Document, or None when there is none.

    Its images are every picture of the main content with a usable source, in page order.
    With `image_rules`, those the URL rules skip (icons, pixels, ads: `classify`) are left out,
    as the build does.
    """
    return _extract(html, url, content_type, None, image_rules).document


def extract_detailed(html: bytes, url: str, content_type: str | None = None, *,
                     image_rules: bool = False) -> Extraction:
    """Like `extract`, plus every image that was not taken and why."""
    return _extract(html, url, content_type, [], image_rules)


def _extract(html: bytes, url: str, content_type: str | None,
             skipped: list[tuple[str, str]] | None, image_rules: bool) -> Extraction:
    """`skipped` collects the images not taken; None skips that work (resolving their URLs)."""
    if isinstance(html, str):
        text, codec = html, ""
    else:
        text, codec = decode_html_codec(html or b"", content_type)
    out = [] if skipped is None else skipped
    if not text or text.isspace():
        return Extraction(None, out)
    # lexbor reads UTF-8 bytes directly: skip re-encoding the text we only decoded to check.
    tree = LexborHTMLParser(html if codec == "utf-8" else text)
    title = _title(tree)
    base = _base_url(tree, url)
    body = tree.body
    if body is None:
        return Extraction(None, out)
    _strip_never_content(body)
    total = _drop_hidden(body, base, skipped)
    w = walk(body, total, SKIP_SHARE)
    sel = select(w)
    nodes = _nodes(w, sel, base, skipped, image_rules)
    if not any(type(n) is TextNode for n in nodes):
        return Extraction(None, out)
    return Extraction(Document(url=url, nodes=nodes, title=title), out)


def _title(tree: Any) -> str:
    head = tree.head or tree  # searching <head> only is ~10x cheaper than the whole page
    node = head.css_first("title")
    if node is not None:
        t = " ".join(node.text(deep=True).split())
        if t:
            return t
    for sel in ('meta[property="og:title"]', 'meta[name="twitter:title"]'):
        node = head.css_first(sel)
        if node is not None:
            t = " ".join((node.attrs.get("content") or "").split())
            if t:
                return t
    return ""


def _base_url(tree: Any, url: str) -> str:
    node = (tree.head or tree).css_first("base[href]")
    if node is None:
        return url
    href = (node.attrs.get("href") or "").strip()
    if not href or href.startswith(("javascript:", "data:")):
        return url
    try:
        return urljoin(url, href)
    except ValueError:
        return url


def _strip_never_content(body: Any) -> None:
    """Remove scripts, styles, forms' widgets and the like (STRIP_TAGS), found in one pass.

    Lazy-loading pages put the real <img> in a <noscript> next to a placeholder, so a
    <noscript> holding an image is unwrapped instead: the parser runs with scripting off, so
    its content is markup. When the element before it is (or holds) an image with a real
    source, the <noscript> copy is a duplicate and goes; a placeholder (a data: URI, a
    blank.gif) is replaced by it. Removal detaches a subtree without freeing it, so elements
    found inside an already removed one are safe to remove too.
    """
    # Every noscript is settled before anything is removed, so the placeholder test sees
    # the page as it came.
    gone = [node for node in body.css(STRIP_QUERY)
            if node.tag != "noscript" or not _unwrap_noscript_image(node)]
    for node in gone:
        node.decompose(recursive=False)


def _unwrap_noscript_image(ns: Any) -> bool:
    """Unwrap `ns` when it holds an image that no real image before it already shows."""
    img = ns.css_first("img")
    if img is None:
        return False
    prev = ns.prev
    while prev is not None and prev.tag == "-text" and prev.text_content.isspace():
        prev = prev.prev
    placeholder = None
    if prev is not None and prev.tag in ("img", "picture", "span", "div", "a", "figure"):
        placeholder = prev if prev.tag == "img" else prev.css_first("img")
    if placeholder is not None:
        if source_of(dict(placeholder.attributes), [])[1] == "real":
            return False
        placeholder.decompose()
    ns.unwrap()
    return True



def _drop_hidden(body: Any, base: str, skipped: list[tuple[str, str]] | None) -> int:
    """Remove hidden elements; return the length of the text left in the body."""
    total = len(body.text(deep=True))
    hidden = body.css(_HIDDEN)
    if not hidden:
        return total
    for node in hidden:
        n = len(node.text(deep=True))
        # An element hiding most of the page is a reveal-on-load trick, not boilerplate.
        if n > total // 2:
            continue
        if skipped is not None:
            for img in node.css("img"):
                skipped.append((resolve_src(img.attributes, [], base), "boilerplate"))
        total -= n
        node.decompose()
    return total


def _nodes(w: Walk, sel: Selection, base: str, skipped: list[tuple[str, str]] | None,
           image_rules: bool) -> list[Node]:
    """Kept items in page order. A caption of a kept image lives on the ImageNode only."""
    items, keep = w.items, sel.keep
    captions = [i for i, it in enumerate(items)
                if keep[i] and type(it) is TextBlock and it.tag == "figcaption"]
    images: dict[int, ImageNode] = {}
    used: set[int] = set()
    seen: set[str] = set()
    last = -1  # the previous image taken, while no kept text came after it
    for i, it in enumerate(items):
        if type(it) is not ImageItem:
            if keep[i]:
                last = -1
            continue
        if not keep[i]:
            if skipped is not None:
                skipped.append((resolve_src(it.attrs, it.sources, base), "boilerplate"))
            continue
        info = image_info(it.attrs, it.sources, base, image_rules)
        if info.reason is not None or info.src in seen:
            if skipped is not None:
                skipped.append((info.src, info.reason or "duplicate"))
        else:
            seen.add(info.src)
            caps = _caption(w, it, items, captions) if captions else []
            used.update(caps)
            text = " ".join(items[c].text for c in caps)
            if last >= 0 and picture_key(images[last].src) == picture_key(info.src):
                # The same picture twice in a row (a blurred placeholder a few dozen pixels
                # wide, then the picture a script loads) is one picture: the later, loaded one.
                if skipped is not None:
                    skipped.append((images[last].src, "duplicate"))
                del images[last]
            images[i] = ImageNode(info.src, info.alt, text, info.width, info.height)
            last = i
    nodes: list[Node] = []
    for i, it in enumerate(items):
        if i in images:
            nodes.append(images[i])
        elif keep[i] and type(it) is TextBlock and i not in used:
            nodes.append(TextNode(it.text, it.tag))
    return nodes


def _caption(w: Walk, img: ImageItem, items: list[Any], captions: list[int]) -> list[int]:
    """Caption blocks inside the image's nearest figure-like ancestor."""
    e = img.eid
    for _ in range(_CAPTION_SCOPE):
        if e <= 0:
            break
        if w.tag[e] == "figure" or w.hint[e] == CAPTION:
            hi = w.end[e]
            found = [c for c in captions if e <= items[c].eid <= hi]
            if found:
                return found
        e = w.parent[e]
    return []
