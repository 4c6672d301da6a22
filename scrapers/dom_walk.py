"""One iterative pass over the DOM: block elements, their text blocks and images, in order.

The walk is the only per-node Python work in the extractor, so it touches as little as it can:
the tag of every node, text of text nodes, class/id/role of block elements, attributes of
images. No recursion: 10k-deep documents are fine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scrapers.dom_hints import (
    BLOCK_TAGS,
    BOILER,
    CAPTION,
    HINT_CACHE,
    MAIN_CONTENT,
    NEUTRAL,
    OUT_TAG,
    SEMANTIC,
    SKIP_TAGS,
    TAG_HINT,
    class_hint,
)
from scrapers.extract_images import source_of

BR = "\x00"  # line-break marker inside a block (NUL never survives HTML parsing)
WRAP_MIN = 200  # raw text (whitespace included) of a box that may wrap an article body
FIGURE_TEXT = 300  # text (a caption, a credit) of a class-named box that is an image embed
# Table row parts: their class names say nothing their table does not; not worth a lookup.
_UNHINTED = frozenset({"tbody", "thead", "tfoot", "tr"})


@dataclass(slots=True)
class TextBlock:
    eid: int  # innermost block element holding the text
    text: str
    tag: str  # output tag (p, h1..h6, li, td, blockquote, figcaption, pre)
    length: int
    link_chars: int


@dataclass(slots=True)
class ImageItem:
    """An <img> (or <picture>) as found; resolved only once we know whether it is kept."""

    eid: int
    attrs: dict[str, str | None]
    sources: list[str]  # srcset values of <picture><source>
    link: Any = None  # the <a> element it sits in, if any (its href is read only when asked)


@dataclass
class Walk:
    """Block elements in pre-order (id 0 is the walk root) and the items found under them."""

    tag: list[str] = field(default_factory=lambda: ["body"])
    parent: list[int] = field(default_factory=lambda: [-1])
    end: list[int] = field(default_factory=lambda: [0])  # last descendant id (subtree range)
    hint: list[int] = field(default_factory=lambda: [0])
    items: list[TextBlock | ImageItem] = field(default_factory=list)


def _norm(raw: str) -> str:
    if BR in raw:
        return "\n".join(s for s in (" ".join(p.split()) for p in raw.split(BR)) if s)
    return " ".join(raw.split())


def walk(root: Any, total: int = 0, skip_share: float = 0.25) -> Walk:
    """Walk the subtree under `root` (a selectolax node, usually <body>).

    `total` is the length of the page's text. An element with a boilerplate class/id is skipped
    unless it holds `skip_share` of it: a wrapper holding much of the page is not a sidebar,
    whatever its class says; it is walked and judged on its prose by `extract_select`.
    """
    w = Walk()
    etag, epar, eend, ehint, items = w.tag, w.parent, w.end, w.hint, w.items
    # Walk state in plain locals (the loop runs once per node): the text of the open block
    # so far, the block it belongs to, open <a> elements and the link text in `buf`, open
    # pre-formatted blocks and blockquotes.
    buf: list[str] = []
    add = buf.append
    cur = link_chars = pre = quote = 0
    links: list[Any] = []  # open <a> elements
    nomain: list[int] = []  # open blocks known to hold no MAIN_CONTENT element
    stack: list[tuple[Any, int]] = []
    kinds, names, hint_cache = _KINDS, _NAMES, HINT_CACHE
    node = root.first_child
    while node is not None:
        action = -1  # what to undo when leaving the node: -1 nothing, -2 link, >=0 block
        # Text nodes (most nodes) are told apart by their text: None for any other node.
        s = node.text_content
        if s is not None:
            # Whitespace between tags only matters as a separator inside a block.
            if s and (buf or not s.isspace()):
                add(s)
                if links:
                    link_chars += len(" ".join(s.split()))
            # A text node has nothing to leave: go straight to the next one.
            nxt = node.next
            if nxt is not None:
                node = nxt
                continue
        else:
            # Dispatch on lexbor's integer tag id: reading `.tag` builds a string per node.
            tid = node.tag_id
            kind = kinds.get(tid)
            if kind is None:
                kind = _kind(node, tid)
            if kind == _BLOCK:
                if buf:
                    _flush(buf, items, cur, etag[cur], ehint[cur], link_chars, pre, quote)
                    link_chars = 0
                tag = names[tid]
                # One dict of all attributes: 3x cheaper than three node.attrs.get calls.
                attrs = None if tag in _UNHINTED else node.attributes
                if attrs:
                    key = (tag, attrs.get("class"), attrs.get("id"), attrs.get("role"))
                    h = hint_cache.get(key)
                    if h is None:
                        h = class_hint(*key)
                else:
                    h = TAG_HINT.get(tag, NEUTRAL)
                eid = len(etag)
                etag.append(tag)
                epar.append(cur)
                eend.append(eid)
                ehint.append(h)
                cur = action = eid
                if tag in _PRE_TAGS:
                    pre += 1
                elif tag == "blockquote":
                    quote += 1
                elif tag == "figure" and attrs:
                    _figure_image(node, attrs, eid, items)
                if h != BOILER and h != SEMANTIC:
                    child = node.first_child
                    if child is not None:
                        stack.append((node, action))
                        node = child
                        continue
                else:
                    h, skip_len, imgs = _judge_box(node, h, total, nomain, eid)
                    if h == SEMANTIC or 0 <= skip_len < total * skip_share:
                        # nav/aside/footer, or a class-named sidebar/comments/share box that does
                        # not hold much of the page: never content, so not walked; only its images
                        # listed. A text-less placeholder keeps a class-named box's weight in the
                        # scoring.
                        if h == BOILER and skip_len > 0:
                            items.append(TextBlock(eid, "", "", skip_len, skip_len))
                        ehint[eid] = SEMANTIC
                        for img in node.css("img") if imgs is None else imgs:
                            items.append(ImageItem(eid, img.attributes, []))
                    else:
                        ehint[eid] = h
                        child = node.first_child
                        if child is not None:
                            stack.append((node, action))
                            node = child
                            continue
            elif kind == _INLINE or kind == _LINK:
                if kind == _LINK:
                    links.append(node)
                    action = -2
                child = node.first_child
                if child is not None:
                    stack.append((node, action))
                    node = child
                    continue
            elif kind == _BR:
                add(BR)
            elif kind == _IMAGE:
                item = _image(node, names[tid], cur, links[-1] if links else None)
                if item is not None:
                    # Text already in the block comes before the image: split the block there.
                    if buf and "".join(buf).strip():
                        _flush(buf, items, cur, etag[cur], ehint[cur], link_chars, pre, quote)
                        link_chars = 0
                    items.append(item)
        # Leave the node, then each ancestor whose last child it was.
        while True:
            if action >= 0:
                if buf:
                    _flush(buf, items, cur, etag[cur], ehint[cur], link_chars, pre, quote)
                    link_chars = 0
                eend[action] = len(etag) - 1
                if nomain and nomain[-1] == action:
                    nomain.pop()
                cur = epar[action]
                t = etag[action]
                if t in _PRE_TAGS:
                    pre -= 1
                elif t == "blockquote":
                    quote -= 1
            elif action == -2:
                links.pop()
            nxt = node.next
            if nxt is not None:
                node = nxt
                break
            if not stack:
                node = None
                break
            node, action = stack.pop()
    if buf:
        _flush(buf, items, cur, etag[cur], ehint[cur], link_chars, pre, quote)
    eend[0] = len(etag) - 1
    return w


def _flush(buf: list[str], items: list[Any], cur: int, tag: str, hint: int, link_chars: int,
           pre: int, quote: int) -> None:
    """Turn the text gathered in `buf` (then emptied) into a TextBlock of block `cur`."""
    raw = "".join(buf)
    buf.clear()
    if pre:
        text = raw.replace(BR, "\n").strip("\n")
        if not text.strip():
            return
        out = "pre"
    else:
        text = _norm(raw)
        if not text:
            return
        out = OUT_TAG.get(tag, "p")
        if quote and out == "p":
            out = "blockquote"
    if hint == CAPTION and out == "p":
        out = "figcaption"
    n = len(text)
    items.append(TextBlock(cur, text, out, n, link_chars if link_chars < n else n))


# Node kinds, by tag id. Ids of HTML's own tags are fixed in lexbor; a custom element's id is
# a per-document pointer (large), never cached: custom elements are inline.
_TEXT, _BLOCK, _INLINE, _LINK, _BR, _IMAGE, _SKIP = range(7)
_KINDS: dict[int, int] = {}
_NAMES: dict[int, str] = {}
_FIXED_IDS = 1 << 16
_PRE_TAGS = frozenset({"pre", "listing", "xmp"})


def _kind(node: Any, tid: int) -> int:
    tag = node.tag
    if tag == "-text":
        kind = _TEXT
    elif tag is None or tag[0] == "-" or tag in SKIP_TAGS:
        kind = _SKIP
    elif tag in BLOCK_TAGS:
        kind = _BLOCK
    elif tag == "a":
        kind = _LINK
    elif tag == "br":
        kind = _BR
    elif tag == "img" or tag == "picture":
        kind = _IMAGE
    else:
        kind = _INLINE
    if tid < _FIXED_IDS:
        _KINDS[tid] = kind
        _NAMES[tid] = tag
    elif kind == _BLOCK or kind == _IMAGE:
        kind = _INLINE  # not a tag lexbor knows, so not one of ours
    return kind


def _judge_box(node: Any, h: int, total: int, nomain: list[int],
               eid: int) -> tuple[int, int, list[Any] | None]:
    """A boilerplate-hinted block: its final hint, its text length (-1: walk it whatever its
    size) and its <img> elements when they were already looked up (None otherwise)."""
    text = node.text(deep=True) if total else ""
    skip_len = len(text) if total else -1
    if h == BOILER and (skip_len < 0 or skip_len >= WRAP_MIN):
        # e.g. a sticky share bar around the article (a box with less text than WRAP_MIN
        # holds no article: not worth the query, which scans the box). Inside a box already
        # found without one, the answer is known.
        if not nomain:
            if node.css_first(MAIN_CONTENT) is not None:
                return NEUTRAL, -1, None
            nomain.append(eid)
    elif h == SEMANTIC and skip_len * 2 > total:
        h = BOILER  # a <nav> or <footer> wrapping the page: judge it
    imgs = None
    if h == BOILER and 0 <= skip_len < 4 * FIGURE_TEXT:
        # An image with at most a caption and no link in a class-named box ("widget",
        # "banner") is an editor's image embed: sidebars, promos and share bars link out.
        # The images are listed anyway if the box is skipped; links are looked for only then.
        imgs = node.css("img")
        if imgs and len("".join(text.split())) < FIGURE_TEXT and node.css_first("a") is None:
            return NEUTRAL, -1, None
    return h, skip_len, imgs


def _figure_image(node: Any, attrs: dict[str, str | None], eid: int, items: list[Any]) -> None:
    """A <figure> with no image inside but an image URL in an attribute is a picture a
    script inserts (the page ships the address, not the element): take it from there."""
    if source_of(attrs, [])[1] == "real" and node.css_first("img, picture") is None:
        items.append(ImageItem(eid, attrs, []))


def _image(node: Any, tag: str, eid: int, link: Any) -> ImageItem | None:
    sources: list[str] = []
    if tag == "picture":
        for s in node.css("source"):
            a = s.attrs
            v = a.get("srcset") or a.get("data-srcset")
            if v:
                sources.append(v)
        img = node.css_first("img")
        if img is None:
            return None  # a <picture> renders only through its <img>: without one, nothing shows
        return ImageItem(eid, img.attributes, sources, link)
    return ImageItem(eid, node.attributes, sources, link)
